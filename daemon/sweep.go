package daemon

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certform/certform/digicert"
)

// reasonSweep is the trigger of a cycle that records and plans what the
// toggle sweep found.
const reasonSweep = "toggle sweep"

// DefaultRefreshBudget is the share of the CertCentral client's rate
// limit the toggle sweep spends when certform run is not told otherwise
// (--refresh-budget 10%): at DigiCert's 1000 calls per 3 minutes, about
// one read every 1.8 s, 10,000 orders in about 5 hours.
const DefaultRefreshBudget = 0.1

// sweeper lets the toggle sweep read only between cycles: a cycle pauses
// it, ending the read under way at once, and resumes it when it ends.
// Safe for concurrent use.
type sweeper struct {
	mu     sync.Mutex
	paused bool               // a cycle runs: no read starts
	cancel context.CancelFunc // ends the read under way; nil when none
	done   chan struct{}      // closed when the read under way returned
}

// begin starts a read unless a cycle runs: it returns the read's context
// (ended by pause) and the func that ends the read.
func (s *sweeper) begin(ctx context.Context) (context.Context, func(), bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused {
		return nil, nil, false
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	s.cancel, s.done = cancel, done
	return rctx, func() {
		s.mu.Lock()
		s.cancel, s.done = nil, nil
		s.mu.Unlock()
		cancel()
		close(done)
	}, true
}

// pause stops reads from starting, ends the read under way (its call is
// abandoned, its place in the limiter given up) and returns once it
// returned.
func (s *sweeper) pause() {
	s.mu.Lock()
	s.paused = true
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// resume lets reads start again.
func (s *sweeper) resume() {
	s.mu.Lock()
	s.paused = false
	s.mu.Unlock()
}

// sweepInterval is the wait between two reads of the toggle sweep that
// spends budget (a share) of rate (calls per second); zero when the sweep
// is off (no budget, or an API that tells no rate).
func sweepInterval(budget, rate float64) time.Duration {
	if budget <= 0 || rate <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / (budget * rate))
}

// startSweep starts the toggle sweep (Config.RefreshBudget): every
// interval (see sweepInterval), while no cycle runs or waits to run and
// the last cycle did not fail, one tracked order is read
// (Runner.SweepNext), through the cycles' client and its limiter. An
// order that differs from the state triggers a cycle, which records and
// plans it. A read due while a cycle runs is skipped, not made up: the
// sweep never spends more than its share, and never delays a cycle.
func (d *Daemon) startSweep(ctx context.Context) {
	iv := sweepInterval(d.cfg.RefreshBudget, d.run.Rate())
	if iv <= 0 {
		return
	}
	d.log.Info("toggle sweep: reading the tracked orders one by one in the background", "budget", strconv.FormatFloat(d.cfg.RefreshBudget, 'f', -1, 64),
		"every", iv.Round(time.Millisecond).String())
	d.every(ctx, &d.sweepTimer, iv, func() { d.sweepOnce(ctx) })
}

// sweepOnce makes one read of the toggle sweep, unless a cycle runs or
// waits, the last cycle failed (its retry checks CertCentral first), or
// the daemon does not hold a shared state's lock.
func (d *Daemon) sweepOnce(ctx context.Context) {
	d.mu.Lock()
	failing := d.backoff > 0
	d.mu.Unlock()
	if failing || d.busy.Load() != 0 || d.triggers.waiting() || d.lockLost() != nil {
		return
	}
	rctx, end, ok := d.sweeper.begin(ctx)
	if !ok {
		return
	}
	res, err := d.run.SweepNext(rctx)
	yielded := rctx.Err() != nil
	end()
	var ce *digicert.CheckError
	switch {
	case err != nil && (yielded || errors.As(err, &ce)):
		// A cycle began (and reads the order's changes if any), or
		// CertCentral cannot be reached: the cycles report that.
	case err != nil:
		d.log.Warn("toggle sweep: reading an order failed; the sweep goes on with the next one", "spec", res.Name, "order_id", res.OrderID, "error", err.Error())
	case res.Differs:
		d.log.Info("toggle sweep: an order differs from the state; a cycle records it and plans from it", "spec", res.Name, "order_id", res.OrderID)
		d.triggers.add(trigger{reasons: []string{reasonSweep}})
	case res.Wrapped:
		d.log.Debug("toggle sweep: a pass over the tracked orders begins", "spec", res.Name)
	}
}

// ParseBudget reads certform run's --refresh-budget: a share of the rate
// limit as a percentage ("10%", "2.5%") or a fraction ("0.1"), from 0
// (the sweep off) to 100% (1).
func ParseBudget(s string) (float64, error) {
	text, percent := strings.CutSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("not a share of the rate limit: give a percentage (10%%) or a fraction (0.1)")
	}
	if percent {
		v /= 100
	}
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("out of range: give a share from 0 (the sweep off) to 100%% (or 1)")
	}
	return v, nil
}
