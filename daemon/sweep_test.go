package daemon

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/certform/certform/internal/runner"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/state"
)

// sweepRunner is a Runner whose toggle sweep is a stub: it tells a rate,
// counts the reads, and can make a read differ or wait until it is ended.
type sweepRunner struct {
	*runner.Runner
	rate float64
	mu   sync.Mutex
	// reads counts SweepNext's calls; differs are the reads (1 for the
	// first) that find an order differing.
	reads   int
	differs []int
	// block makes a read wait for its context to end; started gets a
	// value when such a read began, ended its error when it returned.
	block   bool
	started chan struct{}
	ended   chan error
	// reading is true while a read runs; cycles records, for each cycle
	// Once ran, whether a read was running when it began.
	reading bool
	cycles  []bool
}

func (s *sweepRunner) Rate() float64 { return s.rate }

func (s *sweepRunner) SweepNext(ctx context.Context) (reconcile.SweepResult, error) {
	s.mu.Lock()
	s.reads++
	n, block := s.reads, s.block
	s.reading = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.reading = false
		s.mu.Unlock()
	}()
	if block {
		s.started <- struct{}{}
		<-ctx.Done()
		s.ended <- ctx.Err()
		return reconcile.SweepResult{Name: "a", OrderID: 1}, ctx.Err()
	}
	return reconcile.SweepResult{Name: "a", OrderID: 1, Differs: slices.Contains(s.differs, n)}, nil
}

func (s *sweepRunner) Once(ctx context.Context, step runner.Step) runner.Report {
	s.mu.Lock()
	s.cycles = append(s.cycles, s.reading)
	s.mu.Unlock()
	return s.Runner.Once(ctx, step)
}

func (s *sweepRunner) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// newSweepDaemon returns a daemon over an empty spec folder and a new
// state file, with a fake clock, a sweepRunner telling rate and the given
// budget.
func newSweepDaemon(t *testing.T, rate, budget float64) (*Daemon, *fakeClock, *sweepRunner) {
	t.Helper()
	store, err := state.Open(filepath.Join(t.TempDir(), "s.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log, _ := newLog()
	rn := asRunner(&reconcile.Reconciler{Dir: t.TempDir(), Store: store, Log: log}, time.Millisecond)
	sr := &sweepRunner{Runner: rn, rate: rate, started: make(chan struct{}, 1), ended: make(chan error, 1)}
	clock := newFakeClock()
	d, err := New(Config{Runner: sr, Log: log, Clock: clock, Debounce: time.Millisecond, RefreshBudget: budget})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d, clock, sr
}

// TestDaemon_sweepPace: the sweep reads once per interval, the budget's
// share of the rate (here 0.1 of 10 calls a second: one read a second),
// and skips the reads due while a cycle runs; budget 0 turns it off.
func TestDaemon_sweepPace(t *testing.T) {
	if got := sweepInterval(DefaultRefreshBudget, 1000.0/180); got != 1800*time.Millisecond {
		t.Errorf("the default interval at DigiCert's limits: %v, want 1.8s", got)
	}
	d, clock, sr := newSweepDaemon(t, 10, 0.1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	d.startSweep(ctx)
	if got := clock.pending(); !cmp.Equal(got, []time.Duration{time.Second}) {
		t.Fatalf("timers %v, want one in 1s", got)
	}
	clock.Advance(10 * time.Second)
	if n := sr.count(); n != 10 {
		t.Errorf("%d reads in 10 s, want 10", n)
	}
	d.sweeper.pause() // as a cycle does
	clock.Advance(5 * time.Second)
	if n := sr.count(); n != 10 {
		t.Errorf("%d reads after 5 s of a cycle, want still 10", n)
	}
	d.sweeper.resume()
	clock.Advance(3 * time.Second)
	if n := sr.count(); n != 13 {
		t.Errorf("%d reads 3 s after the cycle, want 13", n)
	}

	off, offClock, offRunner := newSweepDaemon(t, 10, 0)
	off.startSweep(ctx)
	offClock.Advance(time.Hour)
	if n, pending := offRunner.count(), offClock.pending(); n != 0 || len(pending) != 0 {
		t.Errorf("budget 0: %d reads, timers %v", n, pending)
	}
}

// TestDaemon_sweepDiffers: a read that finds an order differing triggers
// a cycle ("toggle sweep"); a trigger waiting holds the reads back until
// the cycle took it.
func TestDaemon_sweepDiffers(t *testing.T) {
	d, clock, sr := newSweepDaemon(t, 10, 0.1)
	sr.differs = []int{2}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	d.startSweep(ctx)
	clock.Advance(time.Second)
	if tr := d.triggers.take(); tr != nil {
		t.Fatalf("trigger %q after a read that matched", tr.reason())
	}
	clock.Advance(3 * time.Second)
	tr := d.triggers.take()
	if tr == nil || tr.reason() != reasonSweep || tr.refresh {
		t.Fatalf("trigger %+v, want %q", tr, reasonSweep)
	}
	if n := sr.count(); n != 2 {
		t.Errorf("%d reads, want 2: none while the cycle waited", n)
	}
}

// TestDaemon_sweepYields: a cycle that begins while a read is under way
// ends the read (its context) and runs at once: the read has returned
// before the cycle's work begins.
func TestDaemon_sweepYields(t *testing.T) {
	d, clock, sr := newSweepDaemon(t, 10, 0.1)
	sr.block = true
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	d.startSweep(ctx)
	advanced := make(chan struct{})
	go func() {
		defer close(advanced)
		clock.Advance(time.Second) // the read runs in the timer's goroutine
	}()
	<-sr.started
	if !d.cycle(ctx, trigger{reasons: []string{reasonSignal}}) {
		t.Error("the cycle failed")
	}
	if err := <-sr.ended; !errors.Is(err, context.Canceled) {
		t.Errorf("the read ended with %v, want context.Canceled", err)
	}
	<-advanced
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if !cmp.Equal(sr.cycles, []bool{false}) {
		t.Errorf("a read ran when the cycle began: %v", sr.cycles)
	}
}

// TestParseBudget: a percentage or a fraction from 0 to 1.
func TestParseBudget(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
		err  string
	}{
		{"10%", 0.1, ""},
		{"0.1", 0.1, ""},
		{"2.5%", 0.025, ""},
		{"0", 0, ""},
		{"0%", 0, ""},
		{"100%", 1, ""},
		{"1", 1, ""},
		{"10", 0, "out of range: give a share from 0 (the sweep off) to 100% (or 1)"},
		{"-5%", 0, "out of range: give a share from 0 (the sweep off) to 100% (or 1)"},
		{"ten", 0, "not a share of the rate limit: give a percentage (10%) or a fraction (0.1)"},
		{"", 0, "not a share of the rate limit: give a percentage (10%) or a fraction (0.1)"},
		{"NaN", 0, "not a share of the rate limit: give a percentage (10%) or a fraction (0.1)"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBudget(tt.in)
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			if msg != tt.err || (err == nil && math.Abs(got-tt.want) > 1e-12) {
				t.Errorf("ParseBudget(%q) = %v, %q; want %v, %q", tt.in, got, msg, tt.want, tt.err)
			}
		})
	}
}
