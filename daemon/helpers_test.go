package daemon

import (
	"bytes"
	"encoding/json"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/internal/runner"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/spec/spectest"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock whose time moves only when a test advances it;
// timers due by then run in Advance's goroutine, in time order.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.stopped || t.fired {
		return false
	}
	t.stopped = true
	return true
}

// Advance moves the time on by d, running every timer due by then.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.stopped && !t.fired && !t.at.After(end) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		if next.at.After(c.now) {
			c.now = next.at
		}
		next.fired = true
		c.mu.Unlock()
		next.f()
	}
}

// pending returns how long from now each armed timer fires, sorted.
func (c *fakeClock) pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, t := range c.timers {
		if !t.stopped && !t.fired {
			out = append(out, t.at.Sub(c.now))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// logBuffer collects JSON log records without their time.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// reset forgets the records logged so far.
func (b *logBuffer) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

func newLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	h := slog.NewJSONHandler(b, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}})
	return slog.New(h), b
}

// records returns the records logged so far with the given messages (all
// of them if none is given).
func (b *logBuffer) records(t *testing.T, msgs ...string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if len(msgs) == 0 || contains(msgs, r["msg"]) {
			out = append(out, r)
		}
	}
	return out
}

func contains(list []string, v any) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func newDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// asRunner gives r what certform run gives its Reconciler (the quiet
// period is the debounce; a spec cache) and returns its Runner.
func asRunner(r *reconcile.Reconciler, debounce time.Duration) *runner.Runner {
	r.Quiet = debounce
	if r.Cache == nil {
		r.Cache = spec.NewCache()
	}
	return runner.From(r)
}

// reconcilerOf returns the Reconciler of d's Runner.
func reconcilerOf(d *Daemon) *reconcile.Reconciler { return d.run.(*runner.Runner).Reconciler() }

// fakeCertCentral starts the fake CertCentral (key daemon-key, opts) for
// the test and returns it with a client of it that does not retry.
func fakeCertCentral(t *testing.T, opts ...digicerttest.Option) (*digicerttest.Server, *digicert.Client) {
	t.Helper()
	srv := digicerttest.New("daemon-key", opts...)
	url := srv.Start()
	t.Cleanup(srv.Close)
	api, err := digicert.New("daemon-key", digicert.WithBaseURL(url), digicert.WithRetry(digicert.Retry{}))
	if err != nil {
		t.Fatal(err)
	}
	return srv, api
}

// writeSpec writes dir/NAME.yaml: the spec NAME for NAME.example.com in
// organization 1, with the extra lines and a fresh CSR.
func writeSpec(t *testing.T, dir, name, extra string) {
	t.Helper()
	csr, err := spectest.CSR(name + ".example.com")
	if err != nil {
		t.Fatal(err)
	}
	yaml := "name: " + name + "\ncommon_name: " + name + ".example.com\norganization_id: 1\n" + extra + "csr: |\n" + spectest.Indent(csr)
	if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
}
