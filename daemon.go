package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// trigger is why a cycle runs. Triggers that arrive while a cycle runs are
// merged into one follow-up cycle.
type trigger struct {
	reasons []string // start, file change, schedule, refresh schedule, signal, retry
	paths   []string // first few changed paths
	more    int      // how many more paths changed
	refresh bool     // read every order from CertCentral first
}

func (t *trigger) merge(o trigger) {
	for _, r := range o.reasons {
		if !contains(t.reasons, r) {
			t.reasons = append(t.reasons, r)
		}
	}
	for _, p := range o.paths {
		switch {
		case contains(t.paths, p):
		case len(t.paths) < maxPathsLogged:
			t.paths = append(t.paths, p)
		default:
			t.more++
		}
	}
	t.more += o.more
	t.refresh = t.refresh || o.refresh
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (t *trigger) reason() string { return strings.Join(t.reasons, "+") }

// triggers holds at most one pending trigger; add never blocks.
type triggers struct {
	mu      sync.Mutex
	pending *trigger
	ready   chan struct{}
}

func newTriggers() *triggers { return &triggers{ready: make(chan struct{}, 1)} }

func (q *triggers) add(t trigger) {
	q.mu.Lock()
	if q.pending == nil {
		q.pending = &trigger{}
	}
	q.pending.merge(t)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *triggers) take() *trigger {
	q.mu.Lock()
	defer q.mu.Unlock()
	t := q.pending
	q.pending = nil
	return t
}

// daemon runs reconcile cycles: never two at once, each from the whole
// desired and known state (level-based), whatever triggered it.
type daemon struct {
	dir            string
	dryRun         bool
	maxRevocations int
	parallelism    int
	log            *slog.Logger
	api            reconcile.API
	store          *state.Store
	cache          *spec.Cache
	met            *metrics
	health         *health
	notify         func(string)
	triggers       *triggers
	// afterCycle runs after each cycle (watch resync).
	afterCycle func()

	// retryFirst is the first wait before a retry after API failures.
	retryFirst time.Duration
	backoff    time.Duration // the current wait; 0 after a clean cycle
	retry      *time.Timer
	busy       atomic.Int64 // Unix nanoseconds when the running cycle started, 0 when idle
	cycleNum   int
}

// Backoff after cycles whose CertCentral calls failed: from 30 s, doubling,
// at most 15 minutes (the default schedule).
const (
	retryFirst = 30 * time.Second
	retryMax   = 15 * time.Minute
)

// loop runs cycles until ctx ends; the cycle in progress then finishes
// (its calls in flight get reconcile's grace period). It returns after the
// last cycle. onFirst runs once the first cycle has ended.
func (d *daemon) loop(ctx context.Context, onFirst func(ok bool)) {
	first := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.triggers.ready:
		}
		t := d.triggers.take()
		if t == nil {
			continue
		}
		ok := d.cycle(ctx, *t)
		if first {
			first = false
			if onFirst != nil {
				onFirst(ok)
			}
		}
	}
}

// cycle loads the specs, plans, logs the plan and applies it (unless dry
// run). It reports whether everything landed.
func (d *daemon) cycle(ctx context.Context, t trigger) bool {
	start := time.Now()
	d.busy.Store(start.UnixNano())
	defer d.busy.Store(0)
	d.cycleNum++
	attrs := []any{"cycle", d.cycleNum, "trigger", t.reason()}
	if len(t.paths) > 0 {
		attrs = append(attrs, "paths", strings.Join(t.paths, ","))
		if t.more > 0 {
			attrs = append(attrs, "more_paths", t.more)
		}
	}
	if t.refresh {
		attrs = append(attrs, "refresh", true)
	}
	d.log.Info("cycle start", attrs...)

	res, err := spec.LoadWith(d.dir, d.cache)
	if err != nil {
		d.log.Error("cycle failed", "cycle", d.cycleNum, "error", err.Error(), "hint", "check --dir; the next trigger tries again")
		d.finish(t, start, false, 0, nil, nil)
		return false
	}
	for _, e := range res.Errors {
		d.log.Warn("spec error", "error", e.Error())
	}
	p, refreshErrs, err := reconcile.PlanStore(ctx, d.api, d.store, res, reconcile.StoreOptions{
		Refresh: t.refresh, Record: !d.dryRun, MaxRevocations: d.maxRevocations, Parallelism: d.parallelism})
	for _, e := range refreshErrs {
		d.log.Error("refresh failed", "error", e.Error())
	}
	if err != nil {
		d.log.Error("saving what the refresh saw", "error", err.Error())
	}
	apiFailed := len(refreshErrs) > 0
	for _, n := range p.Notes {
		attrs := []any{"kind", n.Kind}
		if n.Name != "" {
			attrs = append(attrs, "spec", n.Name)
		}
		if n.OrderID != 0 {
			attrs = append(attrs, "order_id", n.OrderID)
		}
		attrs = append(attrs, "message", n.Message)
		if n.Hint != "" {
			attrs = append(attrs, "hint", n.Hint)
		}
		level := slog.LevelInfo
		if n.Kind == reconcile.NoteBlocked || n.Kind == reconcile.NoteWarning || n.Kind == reconcile.NoteDuplicate {
			level = slog.LevelWarn
		}
		d.log.Log(ctx, level, "note", attrs...)
	}
	done, failed := 0, 0
	if d.dryRun {
		for _, a := range p.Actions {
			d.log.Info("planned (dry run: not applied)", planAttrs(a)...)
		}
	} else if len(p.Actions) > 0 || len(p.Blocked) > 0 {
		ap := &reconcile.Applier{API: d.api, Store: d.store, Log: d.log, Parallelism: d.parallelism}
		for _, r := range ap.Apply(ctx, p) {
			switch {
			case r.Err == nil:
				done++
			case errors.Is(r.Err, reconcile.ErrStopping):
				failed++
			default:
				failed++
				apiFailed = true
			}
		}
	}
	ok := !apiFailed && failed == 0 && len(p.Blocked) == 0 && len(res.Errors) == 0
	var stats *stateStats
	d.store.View(func(f *state.File) { stats = countState(f) })
	// Metrics, health and systemd status first: whoever sees "cycle done"
	// in the log finds them up to date.
	d.finish(t, start, ok, len(res.Errors), p, stats)
	d.log.Info("cycle done", "cycle", d.cycleNum, "trigger", t.reason(), "duration", time.Since(start).Round(time.Millisecond).String(),
		"specs", len(res.Orders), "spec_errors", len(res.Errors), "planned", len(p.Actions), "done", done, "failed", failed,
		"blocked", len(p.Blocked), "notes", len(p.Notes), "dry_run", d.dryRun)
	d.scheduleRetry(apiFailed && ctx.Err() == nil)
	return ok
}

// planAttrs are the log attributes of a planned action.
func planAttrs(a reconcile.Action) []any {
	attrs := []any{"action", string(a.Kind), "spec", a.Name}
	if a.OrderID != 0 {
		attrs = append(attrs, "order_id", a.OrderID)
	}
	if a.To != nil {
		attrs = append(attrs, "to", *a.To)
	}
	return attrs
}

func (d *daemon) finish(t trigger, start time.Time, ok bool, specErrors int, p *reconcile.Changes, stats *stateStats) {
	if d.met != nil {
		d.met.observeCycle(t.reason(), ok, time.Since(start), specErrors, p, stats)
	}
	if d.health != nil {
		d.health.set(time.Now(), ok, t.reason())
	}
	if d.notify != nil {
		status := "last cycle ok"
		if !ok {
			status = "last cycle had failures"
		}
		if p != nil {
			status += "; planned " + strings.TrimSuffix(strings.TrimPrefix(p.Summary(), "Plan: "), ".")
		}
		d.notify("STATUS=" + status + " (" + time.Now().UTC().Format(time.RFC3339) + ")")
	}
	if d.afterCycle != nil {
		d.afterCycle()
	}
}

// scheduleRetry arms a retry trigger with backoff after API failures and
// resets the backoff after a clean cycle.
func (d *daemon) scheduleRetry(failed bool) {
	if !failed {
		d.backoff = 0
		return
	}
	if d.backoff == 0 {
		d.backoff = d.retryFirst
		if d.backoff <= 0 {
			d.backoff = retryFirst
		}
	} else {
		d.backoff = min(2*d.backoff, retryMax)
	}
	if d.retry != nil {
		d.retry.Stop()
	}
	wait := d.backoff
	d.log.Warn("CertCentral calls failed; retrying later", "in", wait.String())
	d.retry = time.AfterFunc(wait, func() { d.triggers.add(trigger{reasons: []string{"retry"}}) })
}
