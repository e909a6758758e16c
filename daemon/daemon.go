// Package daemon is the long-running side of certform run: it decides when
// a reconcile cycle runs and reports how each went. It owns the triggers
// and their merging (start, file changes, cron schedules, SIGHUP, retries
// after a failed cycle, re-sends of orders that wait), the debounced
// fsnotify watcher, the retry backoff, the events it hands to a Notifier
// (package notify sends them), and a daemon's signal handling. Package
// daemon/serve answers /healthz, /readyz, /status and /metrics and talks
// to systemd; package daemon/leader stands by on a state that several
// servers share (state.Shared) while another server's daemon holds the
// state's lock, and takes over when that lock comes free.
//
// It does not own the steps of a cycle, nor the state: a Runner (package
// internal/runner) runs each cycle (refreshing, loading the specs from a
// quiet tree, consulting CertCentral, planning, applying, delivering, as
// certform plan and apply do) and is the daemon's only way to the state.
// Nor does it parse flags, build the CertCentral client or open the
// state: package internal/cli wires those and hands the daemon a Runner.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/certform/certform/daemon/leader"
	"github.com/certform/certform/daemon/serve"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/runner"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
	"github.com/certform/certform/status"
)

// Config says what a Daemon runs and how.
type Config struct {
	// Runner runs every cycle and reaches the state (the locked state,
	// or on a shared backend a state.Standby) for the daemon; required.
	// Its quiet period should be Debounce (certform run gives both one
	// setting), so that every cycle, whatever triggered it, reads the
	// specs only from a tree that has been quiet that long. The Daemon
	// uses it from one goroutine at a time.
	Runner Runner
	// Log gets the daemon's records; nil discards them.
	Log *slog.Logger
	// Schedule ticks periodic cycles; RefreshSchedule ticks cycles that
	// first read every order from CertCentral. Nil means no such ticks.
	Schedule, RefreshSchedule *Schedule
	// Debounce is the quiet period: a file change is reconciled once no
	// file changed for Debounce, but at most 10x Debounce after the first
	// change. Zero means DefaultDebounce.
	Debounce time.Duration
	// RetryBackoff is the wait before retrying a failed cycle (failed
	// CertCentral calls, a state lock held by another process, an
	// unreadable spec directory); it doubles with each failure in a row,
	// up to 15 minutes, and starts over after a cycle without such
	// failures. Zero means DefaultRetryBackoff.
	RetryBackoff time.Duration
	// PollInterval is how often a cycle runs on its own while an order
	// waits in CertCentral (default DefaultPollInterval).
	PollInterval time.Duration
	// Listen is the address /healthz, /readyz, /status and /metrics are
	// served on, such as 127.0.0.1:9464; empty serves none.
	Listen string
	// Once runs one cycle and returns: no watcher, schedule or listener.
	Once bool
	// Metrics are updated by every cycle; nil makes new ones.
	Metrics *serve.Metrics
	// Notify gets systemd notifications (see SystemdNotify): READY=1
	// after the first cycle, STATUS= after each, STOPPING=1 and
	// WATCHDOG=1. Nil sends none.
	Notify func(state string)
	// Watchdog is systemd's watchdog interval (see SystemdWatchdog):
	// Notify gets WATCHDOG=1 every half of it while the daemon is idle or
	// in a cycle younger than Watchdog plus 10 minutes. Zero sends none.
	Watchdog time.Duration
	// Signals, if set, delivers SIGHUP, SIGINT and SIGTERM (see
	// signal.Notify). SIGHUP reconciles now. The first SIGINT or SIGTERM
	// stops the daemon: no new cycle starts, the one in progress finishes
	// (its calls in flight get the Reconciler's grace period), then Run
	// returns. A second makes Run return ErrInterrupted at once.
	Signals <-chan os.Signal
	// Clock is the daemon's time source; nil is the system clock.
	Clock Clock
	// StandbyPoll is how often a daemon on a shared state (see
	// state.Shared) whose lock another process holds tries to take it
	// (Runner.Reacquire) while it stands by. Zero means
	// DefaultStandbyPoll.
	StandbyPoll time.Duration
	// LockCheck is how often an idle leader on a shared state proves
	// that it still holds the lock (Runner.CheckLock), so that one whose
	// session ended stands by within LockCheck rather than at its next
	// cycle; during a cycle, every write and every CertCentral call
	// proves it anyway. Zero means DefaultLockCheck.
	LockCheck time.Duration
	// TakeOver, if set, is called each time the daemon has taken the
	// lock after standing by, before its first cycle as the leader
	// (certform run checks the state's CertCentral API URL there). Its
	// error is logged and returned by Run: the daemon exits. It is called
	// from Run's loop goroutine.
	TakeOver func() error
	// RefreshBudget is the share of the CertCentral client's rate limit
	// (Runner.Rate) that the toggle sweep spends: between cycles it reads
	// the tracked orders one by one, to see a disable_ct or auto_reissue
	// changed in CertCentral, which the order list of a refresh does not
	// carry (see startSweep). 0.1 spends a tenth; zero (or a Runner that
	// tells no rate) turns the sweep off. Once runs no sweep.
	RefreshBudget float64
	// Notifier, if set, gets the daemon's events (see package notify):
	// destructive_plan and blocked when a plan has them, failed after
	// FailedAfter failures in a row of a spec or of the whole cycle,
	// delivered, hook_failed, expiring, waiting, takeover, and
	// dcv_expiring (from the Reconciler's DomainValidation). An event
	// that stays the same is sent again only after the config's
	// Reminder. Sends never wait for a receiver.
	Notifier Notifier
}

// Defaults of Config's durations.
const (
	// DefaultDebounce is the quiet period when Config.Debounce is zero.
	DefaultDebounce = time.Second
	// DefaultRetryBackoff is the first retry wait when Config.RetryBackoff
	// is zero.
	DefaultRetryBackoff = 30 * time.Second
	// DefaultPollInterval is how often orders waiting in CertCentral are
	// looked at when Config.PollInterval is zero.
	DefaultPollInterval = 5 * time.Minute
	// retryMax caps the retry backoff: the default schedule's interval.
	retryMax = 15 * time.Minute
	// DefaultStandbyPoll is how often a standby tries to take the
	// state's lock when Config.StandbyPoll is zero.
	DefaultStandbyPoll = time.Second
	// DefaultLockCheck is how often an idle leader proves its lock when
	// Config.LockCheck is zero.
	DefaultLockCheck = 5 * time.Second
	// minResendWait is the shortest wait before a "resend" cycle, so that
	// clocks that disagree cannot make cycles follow each other at once.
	minResendWait = time.Second
)

// stuckAfter is how long past the watchdog interval a cycle may run before
// the daemon stops pinging the watchdog, so that systemd restarts a daemon
// stuck in a cycle: with the unit's WatchdogSec=10min, a cycle older than
// 20 minutes.
const stuckAfter = 10 * time.Minute

// ErrFailed is what Run returns with Config.Once when the cycle did not
// land everything: a call failed or waits, an action was blocked, a spec
// was invalid, or the cycle failed before its plan.
var ErrFailed = errors.New("the cycle did not land everything")

// ErrInterrupted is what Run returns at once on a second SIGINT or
// SIGTERM; a cycle in progress may still be running.
var ErrInterrupted = errors.New("interrupted by a second signal")

// Daemon runs reconcile cycles: never two at once, each from the whole
// desired and known state (level-based), whatever triggered it. Triggers
// that arrive during a cycle are merged into one follow-up cycle.
type Daemon struct {
	cfg      Config
	run      Runner
	log      *slog.Logger
	clock    Clock
	notify   func(string)
	met      *serve.Metrics
	health   *serve.Health
	triggers *queue
	watch    *watcher // nil with Once
	ln       net.Listener
	srv      *http.Server

	busy   atomic.Int64 // Unix nanoseconds (Clock) when the running cycle started; 0 when idle
	cycles int          // cycles begun; used by the loop goroutine only
	ready  bool         // READY=1 was sent; used by the loop goroutine only
	memory
	timers
	sweeper   sweeper // lets the toggle sweep read only between cycles
	closeOnce sync.Once
}

// memory is what the loop remembers from one cycle to the next, to tell
// what is new; used by the loop goroutine only.
type memory struct {
	// notes are the plan notes logged, each with when it was last logged
	// (see logNotes).
	notes map[string]time.Time
	// deliveryLogged are the failed deliveries logged, each with when it
	// was last logged (see logDeliveries).
	deliveryLogged map[string]time.Time
	// events remembers what was sent (see emit).
	events events
	// status is the last /status rows and what they were built from
	// (see statusRows).
	status statusMemo
	// counts are the state's numbers for the metrics, read again only
	// when they may have changed (see serve.StateCounter).
	counts serve.StateCounter
	// revoked are the specs that ask for revocation (see revokedOf).
	revoked revokedMemo
}

// revokedMemo are the names of the specs that ask for their order's
// revocation, among specs.
type revokedMemo struct {
	specs []*spec.Order
	names map[string]bool
}

// statusMemo is /status's rows as built from a state (by its version) and
// specs, with no last errors.
type statusMemo struct {
	built   bool
	version uint64
	specs   []*spec.Order
	rows    []status.Entry
}

// timers are the daemon's timers, each armed for a trigger, and the retry
// backoff; mu guards them.
type timers struct {
	mu            sync.Mutex
	stopped       bool          // no timer is armed any more (see stopTimers)
	backoff       time.Duration // the current retry wait; 0 after a cycle without failures
	retry         Timer
	resend        Timer
	resendAt      time.Time
	poll          Timer
	pollAt        time.Time
	hookRetry     Timer
	hookRetryAt   time.Time
	scheduleTimer Timer
	refreshTimer  Timer
	watchdogTimer Timer
	standbyTimer  Timer
	lockTimer     Timer
	sweepTimer    Timer
}

// New checks cfg and sets the daemon up: unless Once, it watches every
// folder below the Runner's Dir and listens on Listen (served once Run
// starts). A folder that cannot be watched is logged and reported by
// /healthz, not an error; a Dir that cannot be watched, or an address
// that cannot be listened on, is. Close releases what New set up.
func New(cfg Config) (*Daemon, error) {
	if cfg.Runner == nil {
		return nil, errors.New("daemon: Config.Runner is required")
	}
	cfg = cfg.withDefaults()
	d := &Daemon{cfg: cfg, run: cfg.Runner, log: cfg.Log, clock: cfg.Clock, notify: cfg.Notify, met: cfg.Metrics, triggers: newQueue()}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.clock == nil {
		d.clock = systemClock{}
	}
	if d.notify == nil {
		d.notify = func(string) {}
	}
	if d.met == nil {
		d.met = serve.NewMetrics()
	}
	d.health = serve.NewHealth(d.clock.Now, staleAfter(d.clock.Now(), cfg.Schedule))
	if cfg.Once {
		return d, nil
	}
	deb := newDebouncer(d.clock, cfg.Debounce, func(paths []string, more int) {
		d.triggers.add(trigger{reasons: []string{reasonFileChange}, paths: paths, more: more})
	})
	w, err := newWatcher(d.run.Dir(), deb, d.log, nil, d.health.SetUnwatched)
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", d.run.Dir(), err)
	}
	d.watch = w
	if err := d.listen(); err != nil {
		w.close()
		return nil, err
	}
	return d, nil
}

// withDefaults returns cfg with each zero duration set to its default.
func (cfg Config) withDefaults() Config {
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.Debounce, DefaultDebounce}, {&cfg.RetryBackoff, DefaultRetryBackoff}, {&cfg.PollInterval, DefaultPollInterval},
		{&cfg.StandbyPoll, DefaultStandbyPoll}, {&cfg.LockCheck, DefaultLockCheck}} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	return cfg
}

// staleAfter is how long /healthz waits for a cycle that works before it
// answers 503 "stale" (or "unreachable"): three schedule intervals; zero
// without a schedule (see serve.NewHealth).
func staleAfter(now time.Time, s *Schedule) time.Duration {
	if s == nil {
		return 0
	}
	next := s.Next(now)
	return 3 * s.Next(next).Sub(next)
}

// listen listens on Config.Listen for /healthz, /readyz, /status and
// /metrics (served once Run starts); an empty Listen serves none.
func (d *Daemon) listen() error {
	if d.cfg.Listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s for /healthz and /metrics: %w", d.cfg.Listen, err)
	}
	d.ln = ln
	// Timeouts: a client that connects and sends nothing, or never
	// reads, or keeps idle connections open, holds nothing for long.
	d.srv = &http.Server{Handler: d.met.Handler(d.health), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 64 << 10}
	d.log.Info("serving /healthz and /metrics", "addr", ln.Addr().String())
	return nil
}

// Close stops the watcher, the listener and every timer. Run calls it
// when it returns; calling it again does nothing.
func (d *Daemon) Close() {
	d.closeOnce.Do(func() {
		d.stopTimers()
		if d.watch != nil {
			d.watch.close()
		}
		if d.srv != nil {
			// Closing the listener too covers a Run that never served it.
			d.srv.Close()
			d.ln.Close()
		}
	})
}

// Run runs the start cycle, then a cycle for every trigger until ctx ends
// or a first signal arrives; the cycle in progress then finishes and Run
// returns nil. With Once it runs one cycle and returns ErrFailed unless
// everything landed. A second signal makes it return ErrInterrupted at
// once. Run may be called once.
//
// On a shared state whose lock another process holds (a state.Standby,
// or a lock lost in a cycle), Run stands by instead of running cycles
// until it takes the lock (see standBy); an error from Config.TakeOver
// then ends Run with that error.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	forced := make(chan struct{})
	if d.cfg.Signals != nil {
		done := make(chan struct{})
		defer close(done)
		go d.handleSignals(d.cfg.Signals, cancel, forced, done)
	}
	if d.lockLost() == nil {
		d.met.SetLeader(true)
	}
	loopDone := make(chan struct{})
	var ok bool
	var loopErr error
	if d.cfg.Once {
		go func() {
			defer close(loopDone)
			ok = d.cycle(ctx, trigger{reasons: []string{reasonStart}})
		}()
	} else {
		d.startTriggers(ctx)
		go func() {
			defer close(loopDone)
			loopErr = d.loop(ctx)
		}()
	}
	select {
	case <-forced:
		return ErrInterrupted
	case <-loopDone:
	}
	if loopErr != nil {
		return loopErr
	}
	if d.cfg.Once && !ok {
		return ErrFailed
	}
	return nil
}

// startTriggers starts what makes a long-running daemon's cycles and
// answers for it: the listener, the watcher, the schedules, the watchdog,
// the lock check, and the start cycle's trigger.
func (d *Daemon) startTriggers(ctx context.Context) {
	if d.srv != nil {
		go func() {
			if err := d.srv.Serve(d.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("serving /healthz and /metrics", "error", err.Error())
			}
		}()
	}
	go d.watch.run(ctx)
	d.tick(&d.scheduleTimer, d.cfg.Schedule, trigger{reasons: []string{reasonSchedule}})
	d.tick(&d.refreshTimer, d.cfg.RefreshSchedule, trigger{reasons: []string{reasonRefreshSchedule}, refresh: true})
	d.watchdog(ctx)
	d.checkLock(ctx)
	d.startSweep(ctx)
	d.triggers.add(trigger{reasons: []string{reasonStart}})
}

// handleSignals acts on the signals until done is closed.
func (d *Daemon) handleSignals(sigs <-chan os.Signal, stop context.CancelFunc, forced chan<- struct{}, done <-chan struct{}) {
	stopping := false
	for {
		var s os.Signal
		select {
		case <-done:
			return
		case s = <-sigs:
		}
		switch {
		case s == syscall.SIGHUP:
			d.log.Info("SIGHUP: reconciling now")
			d.triggers.add(trigger{reasons: []string{reasonSignal}})
		case !stopping:
			stopping = true
			d.log.Info("stopping: the cycle in progress finishes, no new one starts; a second signal exits at once", "signal", s.String())
			d.notify("STOPPING=1")
			stop()
		default:
			d.log.Warn("second signal: exiting at once", "signal", s.String())
			close(forced)
			return
		}
	}
}

// loop runs a cycle for each trigger until ctx ends. Before each cycle,
// and right after one, a daemon on a shared state whose lock another
// process holds stands by instead (see standBy), then runs a "takeover"
// cycle. It returns Config.TakeOver's error, or nil once ctx ends.
func (d *Daemon) loop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.triggers.ready:
		}
		if ctx.Err() != nil {
			return nil
		}
		t := d.triggers.take()
		if t == nil {
			continue
		}
		for {
			if lost := d.lockLost(); lost != nil {
				took, err := d.standBy(ctx, lost)
				if !took {
					return err
				}
				t = &trigger{reasons: []string{reasonTakeover}}
			} else if !d.ready {
				// READY as soon as the daemon is up: a first cycle over
				// thousands of orders may outlast any TimeoutStartSec.
				// STATUS says that it runs.
				d.up("STATUS=first cycle running")
			}
			d.cycle(ctx, *t)
			lost := d.lockLost()
			if lost == nil || ctx.Err() != nil {
				break
			}
			// A write or a check in the cycle found the lock gone:
			// another process may act on the state now. Stand by at
			// once, not after the retry backoff.
			d.log.Warn("lock lost: standing by", "state", d.run.StateName(), "error", lost.Error())
		}
	}
}

// up sends systemd READY=1 the first time it is called, then status.
func (d *Daemon) up(status string) {
	if !d.ready {
		d.ready = true
		d.notify("READY=1")
	}
	d.notify(status)
}

// lockLost returns why the daemon does not hold the lock of a shared
// state (Runner.LockLost): another process holds it, or the backend cannot
// be reached. It is nil while the daemon holds it, and always for a state
// that is not shared, whose lost lock the next cycle takes again (its
// Prepare does).
func (d *Daemon) lockLost() error { return d.run.LockLost() }

// standBy waits while the daemon does not hold the shared state's lock
// (lost says why; see leader.Standby): certform_leader is 0, /healthz
// answers 200 "standby" with the cause, systemd gets READY=1 (if not sent
// yet) and STATUS=standby: CAUSE, and a daemon that led sends a takeover
// event when another server holds the lock. Every StandbyPoll it tries
// to take the lock; triggers that arrive meanwhile are dropped, the cycle
// after the takeover covers them. Once it has the lock, it reports so
// (see tookOver). It returns true then, false when ctx ends first or
// TakeOver fails (with its error).
func (d *Daemon) standBy(ctx context.Context, lost error) (bool, error) {
	// A daemon that ran cycles led: another server took the lock from it.
	led := d.cycles > 0
	d.met.SetLeader(false)
	d.dropTimers()
	sb := leader.Standby{Poll: d.waitStandbyPoll, Log: d.log,
		Show: func(cause string) {
			d.health.SetStandby(cause)
			d.up("STATUS=standby: " + cause)
		},
		Held: func(cause string) {
			if led {
				d.takeoverEvent("another server took over the state's lock; this one stands by: "+cause, "")
			}
		}}
	if !sb.Wait(ctx, d.run, lost) {
		return false, nil
	}
	return d.tookOver()
}

// tookOver reports a takeover: certform_leader is 1, /healthz reports
// cycles again, a takeover event goes out, and Config.TakeOver runs; its
// error ends the daemon.
func (d *Daemon) tookOver() (bool, error) {
	name := d.run.StateName()
	d.triggers.take()
	d.met.SetLeader(true)
	d.health.SetStandby("")
	d.log.Info("took over", "state", name)
	host, _ := os.Hostname()
	d.takeoverEvent(fmt.Sprintf("this server (%s) took over the state's lock of %s and leads now", host, name), "the server that held it stopped, lost its database session, or was stopped on purpose; check it")
	d.notify("STATUS=took over; cycle running")
	if d.cfg.TakeOver != nil {
		if err := d.cfg.TakeOver(); err != nil {
			d.log.Error("takeover check failed: exiting", "state", name, "error", err.Error())
			return false, err
		}
	}
	return true, nil
}

// waitStandbyPoll waits StandbyPoll on the daemon's clock; it reports
// false when ctx ends first or the daemon is closed.
func (d *Daemon) waitStandbyPoll(ctx context.Context) bool {
	wake := make(chan struct{})
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return false
	}
	tm := d.clock.AfterFunc(d.cfg.StandbyPoll, func() { close(wake) })
	d.standbyTimer = tm
	d.mu.Unlock()
	select {
	case <-ctx.Done():
		tm.Stop()
		return false
	case <-wake:
		return ctx.Err() == nil
	}
}

// dropTimers stops the retry, re-send, poll and deploy hook timers and
// starts the retry backoff over: a standby runs no cycle, and the one
// after the takeover arms what it needs.
func (d *Daemon) dropTimers() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range []Timer{d.retry, d.resend, d.poll, d.hookRetry} {
		if t != nil {
			t.Stop()
		}
	}
	d.retry, d.resend, d.poll, d.hookRetry = nil, nil, nil, nil
	d.resendAt, d.pollAt, d.hookRetryAt = time.Time{}, time.Time{}, time.Time{}
	d.backoff = 0
}

// cycle runs one reconcile cycle through the runner: after a failure (and
// at start, or a takeover) with a reachability check first (see
// checkAPI), then Prepare (refresh if asked, load from a quiet tree,
// consult, plan), log what it found (review), Apply (unless dry run),
// Deliver, report. It returns whether everything landed.
func (d *Daemon) cycle(ctx context.Context, t trigger) bool {
	start := d.clock.Now()
	d.busy.Store(start.UnixNano())
	defer d.busy.Store(0)
	// The toggle sweep's read under way, if any, ends now: it never
	// delays a cycle.
	d.sweeper.pause()
	defer d.sweeper.resume()
	d.cycles++
	n := d.cycles
	d.logStart(n, t)
	armed, err := d.checkAPI(ctx, n, t)
	if err != nil {
		d.apiDown(t, n, start, err)
		return false
	}
	rep := d.run.Once(ctx, runner.Step{Refresh: t.refresh, Check: armed, Review: func(c *reconcile.Cycle) error {
		d.review(ctx, n, c)
		return nil
	}})
	var ce *digicert.CheckError
	if armed && errors.As(rep.Err, &ce) && ctx.Err() == nil {
		d.apiDown(t, n, start, ce)
		return false
	}
	if rep.Err != nil {
		d.prepareFailed(t, n, start, rep.Err, ctx.Err() != nil && errors.Is(rep.Err, ctx.Err()))
		return false
	}
	return d.report(ctx, t, n, start, rep)
}

// logStart logs "cycle start" with what triggered the cycle.
func (d *Daemon) logStart(n int, t trigger) {
	attrs := []any{"cycle", n, "trigger", t.reason()}
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
}

// checkAPI checks that CertCentral answers and accepts the key before the
// first cycle, a takeover's cycle, and every cycle after a failed one:
// while CertCentral cannot be reached or refuses the key, a cycle is one
// error line, not a minute of retries per call. When the runner can make
// the cycle's own first call the check (Runner.ArmCheck), it arms it and
// reports armed: the cycle makes no call of its own for it. Otherwise it
// makes one cheap call and returns its error; nil when it was not made,
// worked, or ctx ended.
func (d *Daemon) checkAPI(ctx context.Context, n int, t trigger) (armed bool, err error) {
	d.mu.Lock()
	failing := d.backoff > 0
	d.mu.Unlock()
	if n != 1 && !failing && !slices.Contains(t.reasons, reasonTakeover) {
		return false, nil
	}
	if d.run.ArmCheck() {
		return true, nil
	}
	if err := d.run.CheckAPI(ctx); err != nil && ctx.Err() == nil {
		return false, err
	}
	return false, nil
}

// apiDown reports a cycle skipped because CertCentral cannot be reached or
// refuses the key (err), and arms a retry.
func (d *Daemon) apiDown(t trigger, n int, start time.Time, err error) {
	d.health.SetFailure("CertCentral: " + err.Error())
	d.health.SetProblem("CertCentral cannot be reached or refuses the key: " + err.Error())
	d.finish(t, start, false, 0, nil, serve.APIDown)
	d.cycleFailed("CertCentral cannot be reached or refuses the key: " + err.Error())
	d.log.Error("cycle skipped: CertCentral cannot be reached or refuses the key", "cycle", n, "error", err.Error(),
		"hint", "check --api-url and the network, or the key and its permissions; certform tries again with backoff")
	d.scheduleRetry(true)
}

// prepareFailed reports a cycle that failed before its plan (err; stopping
// when certform is stopping): to /healthz, the metrics and the notifier
// (unless it stops, or stands by next), and arms a retry.
func (d *Daemon) prepareFailed(t trigger, n int, start time.Time, err error, stopping bool) {
	o := serve.Broken
	switch {
	case stopping:
		o = serve.Stopped
	case errors.Is(err, state.ErrLocked), errors.Is(err, state.ErrLockLost):
		o = serve.LockLost
	}
	d.health.SetFailure("the cycle failed before its plan")
	d.health.SetProblem(err.Error())
	d.finish(t, start, false, 0, nil, o)
	if o != serve.Stopped && !(o == serve.LockLost && !d.cfg.Once && d.lockLost() != nil) {
		d.cycleFailed(err.Error())
	}
	if o == serve.Stopped {
		d.log.Info("cycle stopped before its plan: certform is stopping", "cycle", n)
		return
	}
	d.log.Error("cycle failed", "cycle", n, "error", err.Error(), "hint", prepareHint(err, !d.cfg.Once && d.lockLost() != nil))
	d.scheduleRetry(true)
}

// review logs what a planned cycle found before anything is applied: spec
// errors, cycle errors (with their hints), the notes (see logNotes), the
// plan's events, and in a dry run the actions not applied.
func (d *Daemon) review(ctx context.Context, n int, c *reconcile.Cycle) {
	for _, e := range c.Specs.Errors {
		d.log.Warn("spec error", "error", e.Error())
	}
	d.health.SetClock(clockError(c.Errors))
	for _, e := range c.Errors {
		attrs := []any{"cycle", n, "error", e.Error()}
		var h interface{ Hint() string }
		if errors.As(e, &h) {
			attrs = append(attrs, "hint", h.Hint())
		}
		d.log.Error("cycle error", attrs...)
	}
	p := c.Plan
	d.logNotes(ctx, p.Notes)
	d.planEvents(p, d.run.DryRun())
	if len(c.Errors) > 0 {
		d.cycleFailed(c.Errors[0].Error())
	} else {
		d.cycleWorked()
	}
	if d.run.DryRun() {
		for _, a := range p.Actions {
			d.log.Info("planned (dry run: not applied)", planAttrs(a)...)
		}
	}
}

// report reports a planned cycle: its deliveries (see logDeliveries), to
// /status, the notifier, the metrics, /healthz and systemd, then logs
// "cycle done" and arms the cycles that follow (see scheduleNext). It
// returns whether everything landed.
func (d *Daemon) report(ctx context.Context, t trigger, n int, start time.Time, rep runner.Report) bool {
	d.logDeliveries(rep)
	c, p, res := rep.Cycle, rep.Cycle.Plan, rep.Calls
	ok := rep.Landed()
	if !ok {
		d.health.SetFailure(failureWhy(rep))
	}
	o := serve.Worked
	if len(c.Errors) > 0 {
		o = serve.CycleErrors
	}
	rows, revoked := d.updateStatus(rep)
	d.resultEvents(rep, rows, revoked)
	// Metrics, health and systemd status first: whoever sees "cycle done"
	// in the log finds them up to date.
	stats := d.finish(t, start, ok, len(c.Specs.Errors), p, o)
	level := slog.LevelInfo
	if !ok {
		level = slog.LevelWarn
	}
	d.log.Log(ctx, level, "cycle done", "cycle", n, "trigger", t.reason(), "duration", d.clock.Now().Sub(start).Round(time.Millisecond).String(),
		"specs", len(c.Specs.Orders), "spec_errors", len(c.Specs.Errors), "errors", len(c.Errors), "planned", len(p.Actions),
		"done", res.Done, "failed", res.Failed, "waiting", res.Waiting, "blocked", len(p.Blocked), "notes", len(p.Notes),
		"deliveries_failed", rep.DeliveriesFailed(), "hooks_failed", rep.HooksFailed(), "dry_run", d.run.DryRun())
	if ctx.Err() == nil {
		d.scheduleNext(rep, stats)
	}
	return ok
}

// scheduleNext arms what a planned cycle asks for: a retry after a
// failure, a re-send when an action waits, a poll while an order waits in
// CertCentral (this cycle's plan or the state says so) or a delivery
// failed, and the next run of a deploy hook that failed.
func (d *Daemon) scheduleNext(rep runner.Report, stats *serve.StateStats) {
	c := rep.Cycle
	d.scheduleRetry(rep.Calls.Retry || len(c.Errors) > 0)
	if !rep.Calls.Until.IsZero() {
		d.scheduleResend(rep.Calls.Until)
	}
	if waits(c.Plan) || rep.DeliveriesFailed() > 0 || (stats != nil && stats.Waiting()) {
		d.schedulePoll()
	}
	if at := d.run.HookDue(c); !at.IsZero() {
		d.wakeAt(&d.hookRetry, &d.hookRetryAt, reasonHook, at, "a deploy hook failed; a cycle is scheduled to run it again")
	}
}

// logDeliveries logs the cycle's deliveries and hooks, and counts them in
// the metrics: a failed post hook at WARN with its output; a refused
// certificate at WARN with its reason when it first fails, then as a
// reminder once every NoteReminder while it keeps failing the same way (a
// delivery is tried again every cycle); a failed deploy hook at WARN
// (run again with its own backoff, see Reconciler.HookDue).
func (d *Daemon) logDeliveries(rep runner.Report) {
	d.met.ObserveDeliveries(rep.Deliveries)
	if run := rep.PostHook; run != nil && run.Err != nil {
		d.log.Warn("post hook failed", "specs", strings.Join(run.Names, " "), "error", run.Err.Error(), "output", string(run.Output),
			"hint", "the certificates stay delivered; the post hook runs again after the next delivery")
	} else if run != nil {
		d.log.Info("post hook ran", "specs", strings.Join(run.Names, " "))
	}
	now := d.clock.Now()
	seen := map[string]time.Time{}
	for _, dv := range rep.Deliveries {
		switch {
		case dv.Err != nil:
			seen[deliveryKey(dv)] = d.logDeliveryFailed(dv, now)
		case dv.Delivered:
			d.log.Info("delivered", "spec", dv.Name, "order_id", dv.OrderID, "serial", dv.Serial, "not_after", dv.NotAfter.Format(time.RFC3339), "dir", dv.Dir)
		}
		switch dv.Deploy {
		case runner.HookRan:
			d.log.Info("deploy hook ran", "spec", dv.Name, "serial", dv.Serial)
		case runner.HookFailed:
			attrs := []any{"spec", dv.Name, "serial", dv.Serial, "error", dv.HookErr.Error(), "output", string(dv.HookOutput)}
			if !dv.RetryAt.IsZero() {
				attrs = append(attrs, "retry_at", dv.RetryAt.UTC().Format(time.RFC3339))
			}
			d.log.Warn("deploy hook failed", append(attrs, "hint", "the certificate stays delivered; the hook runs again with backoff")...)
		}
	}
	d.deliveryLogged = seen
}

// logDeliveryFailed logs a refused certificate unless it was logged the
// same way less than NoteReminder ago; it returns when it was last logged.
func (d *Daemon) logDeliveryFailed(dv runner.Delivery, now time.Time) time.Time {
	last, known := d.deliveryLogged[deliveryKey(dv)]
	if known && now.Sub(last) < NoteReminder {
		return last
	}
	attrs := []any{"spec", dv.Name, "order_id", dv.OrderID, "error", dv.Err.Error(),
		"hint", "the certificate in the folder, if any, stays; certform tries again every cycle and logs this again daily while it fails"}
	if known {
		attrs = append(attrs, "reminder", true)
	}
	d.log.Warn("delivery failed", attrs...)
	return now
}

// deliveryKey tells a refused certificate from another: the same spec,
// order and reason is the same failure.
func deliveryKey(dv runner.Delivery) string {
	return dv.Name + "\x00" + strconv.Itoa(dv.OrderID) + "\x00" + dv.Err.Error()
}

// updateStatus records /status's answer after a cycle: every state
// entry (see package status) with the specs of the cycle and each spec's
// last error in it (a failed call, delivery or deploy hook).
func (d *Daemon) updateStatus(rep runner.Report) (rows []status.Entry, revoked map[string]bool) {
	lastErrors := map[string]string{}
	for _, r := range rep.Results {
		if r.Err != nil && !errors.Is(r.Err, reconcile.ErrWaiting) {
			lastErrors[r.Action.Name] = r.Err.Error()
		}
	}
	for _, dv := range rep.Deliveries {
		switch {
		case dv.Err != nil:
			lastErrors[dv.Name] = "delivery: " + dv.Err.Error()
		case dv.Deploy == runner.HookFailed && dv.HookErr != nil:
			lastErrors[dv.Name] = "deploy hook: " + dv.HookErr.Error()
		}
	}
	specs := rep.Cycle.Specs.Orders
	if specs == nil {
		specs = []*spec.Order{}
	}
	rows = d.statusRows(specs, lastErrors)
	d.health.SetSpecs(rows)
	revoked = d.revokedOf(specs)
	d.met.ObserveSpecs(rows, revoked, d.clock.Now())
	return rows, revoked
}

// revokedOf returns the names of the specs that ask for their order's
// revocation: those of the last call when specs are the same (the spec
// cache hands out the same *spec.Order for a file that did not change),
// so that an idle cycle over 100,000 specs reads none of them. The map
// returned is not changed afterwards.
func (d *Daemon) revokedOf(specs []*spec.Order) map[string]bool {
	m := &d.revoked
	if m.names != nil && slices.Equal(m.specs, specs) {
		return m.names
	}
	revoked := map[string]bool{}
	for _, o := range specs {
		if o.Revoke {
			revoked[o.Name] = true
		}
	}
	*m = revokedMemo{specs: specs, names: revoked}
	return revoked
}

// statusRows returns /status's rows (status.Build) of the state and
// specs with lastErrors. The rows of a cycle without errors are kept: the
// next such cycle reuses them when neither the state (Runner.StateVersion)
// nor the specs changed, as in a daemon's idle cycles, instead of building
// 10,000 rows again. The rows are not changed once built.
func (d *Daemon) statusRows(specs []*spec.Order, lastErrors map[string]string) []status.Entry {
	v := d.run.StateVersion()
	m := &d.status
	if len(lastErrors) == 0 && m.built && m.version == v && slices.Equal(m.specs, specs) {
		return m.rows
	}
	var rows []status.Entry
	d.run.View(func(f *state.File) { rows = status.Build(f, specs, lastErrors) })
	*m = statusMemo{}
	if len(lastErrors) == 0 {
		// v was read before the rows were built: a change between the
		// two makes the next cycle build them again, never reuse stale
		// ones.
		*m = statusMemo{built: true, version: v, specs: specs, rows: rows}
	}
	return rows
}

// waits reports whether the plan says an order waits in CertCentral.
func waits(p *reconcile.Plan) bool {
	for _, n := range p.Notes {
		if n.Kind == reconcile.NoteWaiting {
			return true
		}
	}
	return false
}

// prepareHint says what a cycle that failed before its plan means;
// standby is set when the daemon stands by next (see lockLost).
func prepareHint(err error, standby bool) string {
	var missing *state.MissingError
	var corrupt *state.CorruptError
	switch {
	case standby:
		return "this daemon does not hold the shared state's lock: it stands by, calling nothing and writing nothing, and takes over once it can take the lock"
	case errors.Is(err, state.ErrLocked):
		return "another certform process holds the state file's lock; this daemon calls nothing and writes nothing until it can take the lock again, which it retries with backoff"
	case errors.Is(err, state.ErrLockLost):
		return "this daemon calls nothing and writes nothing until it takes the state file's lock again, which it retries with backoff"
	case errors.As(err, &missing), errors.As(err, &corrupt):
		return "see \"Recovering the state file\" in docs/state.md; retried with backoff"
	}
	return "check --dir; retried with backoff"
}

// NoteReminder is how often a plan note that stays the same is logged
// again.
const NoteReminder = 24 * time.Hour

// logNotes logs the plan notes that are new or changed since the last
// plan: a note that stays the same cycle after cycle (an orphan, an order
// waiting for approval) is logged when it first appears, then once every
// NoteReminder with reminder=true; one that goes away and comes back is
// logged again. A changed message is a new note. The notes are kept in
// memory, so a restarted daemon logs each once more.
func (d *Daemon) logNotes(ctx context.Context, notes []reconcile.Note) {
	now := d.clock.Now()
	seen := make(map[string]time.Time, len(notes))
	for _, n := range notes {
		key := strings.Join([]string{n.Kind, n.Name, strconv.Itoa(n.OrderID), n.Message, n.Hint}, "\x00")
		if _, dup := seen[key]; dup {
			continue
		}
		last, known := d.notes[key]
		if !known || now.Sub(last) >= NoteReminder {
			d.logNote(ctx, n, known)
			last = now
		}
		seen[key] = last
	}
	d.notes = seen
}

// logNote logs a plan note: blocked, warning, duplicate, exists, orphan
// and needs_csr notes (something certform holds back or leaves alone) at
// WARN, the others at INFO. A reminder
// of a note logged before says so.
func (d *Daemon) logNote(ctx context.Context, n reconcile.Note, reminder bool) {
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
	if reminder {
		attrs = append(attrs, "reminder", true)
	}
	level := slog.LevelInfo
	switch n.Kind {
	case reconcile.NoteBlocked, reconcile.NoteWarning, reconcile.NoteDuplicate, reconcile.NoteExists, reconcile.NoteOrphan, reconcile.NoteNeedsCSR, reconcile.NoteRejected:
		level = slog.LevelWarn
	}
	d.log.Log(ctx, level, "note", attrs...)
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

// clockError returns the text of the cycle's *reconcile.ClockError, for
// /healthz; "" when it has none.
func clockError(errs []error) string {
	for _, e := range errs {
		var ce *reconcile.ClockError
		if errors.As(e, &ce) {
			return ce.Error()
		}
	}
	return ""
}

// failureWhy says, for /healthz, what made a cycle fail.
func failureWhy(rep runner.Report) string {
	c, res := rep.Cycle, rep.Calls
	errs, blocked, specErrors := len(c.Errors), len(c.Plan.Blocked), len(c.Specs.Errors)
	var parts []string
	for _, c := range []struct {
		n         int
		one, many string
	}{{errs, "error", "errors"}, {res.Failed, "failed call", "failed calls"}, {res.Waiting, "call waiting", "calls waiting"},
		{blocked, "blocked action", "blocked actions"}, {specErrors, "spec error", "spec errors"}} {
		switch {
		case c.n == 1:
			parts = append(parts, "1 "+c.one)
		case c.n > 1:
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.many))
		}
	}
	if rep.DeliveriesFailed() > 0 {
		parts = append(parts, "a delivery failed")
	}
	if rep.HooksFailed() > 0 {
		parts = append(parts, "a deploy hook failed")
	}
	return strings.Join(parts, ", ")
}

// finish reports a cycle to the metrics, /healthz and systemd, and watches
// every folder again. p is nil when no plan was made; then so are the
// state's numbers it returns.
func (d *Daemon) finish(t trigger, start time.Time, ok bool, specErrors int, p *reconcile.Plan, o serve.Outcome) *serve.StateStats {
	end := d.clock.Now()
	var stats *serve.StateStats
	if p != nil {
		v := d.run.StateVersion()
		d.run.View(func(f *state.File) { stats = d.counts.Count(v, f, end) })
		d.met.ObserveDomainValidation(d.run.DomainValidation())
	}
	d.met.ObserveCycle(t.reason(), ok, end.Sub(start), end, specErrors, p, stats)
	d.health.SetCycle(end, ok, t.reason(), o)
	status := "last cycle ok"
	if !ok {
		status = "last cycle had failures"
	}
	if p != nil {
		status += "; planned " + strings.TrimSuffix(strings.TrimPrefix(p.Summary(), "Plan: "), ".")
	}
	d.notify("STATUS=" + status + " (" + end.UTC().Format(time.RFC3339) + ")")
	d.mu.Lock()
	stopped := d.stopped
	d.mu.Unlock()
	if d.watch != nil && !stopped {
		d.watch.resync()
	}
	return stats
}

// scheduleRetry arms a "retry" trigger with backoff after a failed cycle,
// and starts the backoff over after one without failures. A daemon that
// lost a shared state's lock arms none: it stands by (see loop).
func (d *Daemon) scheduleRetry(failed bool) {
	standby := failed && d.lockLost() != nil
	d.mu.Lock()
	defer d.mu.Unlock()
	if !failed {
		d.backoff = 0
		return
	}
	if d.cfg.Once || d.stopped || standby {
		return
	}
	if d.backoff == 0 {
		d.backoff = d.cfg.RetryBackoff
	} else {
		d.backoff = min(2*d.backoff, retryMax)
	}
	if d.retry != nil {
		d.retry.Stop()
	}
	wait := d.backoff
	d.log.Warn("the cycle failed; retrying later", "in", wait.String())
	d.retry = d.clock.AfterFunc(wait, func() { d.triggers.add(trigger{reasons: []string{reasonRetry}}) })
}

// scheduleResend arms a "resend" trigger for until, when an action that
// waits may go on, unless one is armed for that time or earlier.
func (d *Daemon) scheduleResend(until time.Time) {
	d.wakeAt(&d.resend, &d.resendAt, reasonResend, until, "an order waits before it may be sent again; a cycle is scheduled for then")
}

// schedulePoll arms a "poll" cycle PollInterval from now while something
// waits outside certform (approval, validation, reissue, pickup, a deploy
// hook to run again): each cycle observes CertCentral first.
func (d *Daemon) schedulePoll() {
	d.wakeAt(&d.poll, &d.pollAt, reasonPoll, d.clock.Now().Add(d.cfg.PollInterval), "an order waits in CertCentral; a cycle is scheduled to look again")
}

// wakeAt arms *slot to add a trigger with reason at until (at least
// minResendWait from now), unless it is armed for an earlier time already.
func (d *Daemon) wakeAt(slot *Timer, at *time.Time, reason string, until time.Time, msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cfg.Once || d.stopped || (*slot != nil && !at.After(until)) {
		return
	}
	if *slot != nil {
		(*slot).Stop()
	}
	wait := max(until.Sub(d.clock.Now()), minResendWait)
	d.log.Info(msg, "at", until.UTC().Format(time.RFC3339), "in", wait.Round(time.Second).String())
	var tm Timer
	tm = d.clock.AfterFunc(wait, func() {
		d.mu.Lock()
		if *slot == tm {
			*slot, *at = nil, time.Time{}
		}
		d.mu.Unlock()
		d.triggers.add(trigger{reasons: []string{reason}})
	})
	*slot, *at = tm, until
}

// tick arms *slot for the schedule's next tick, which adds t and arms the
// tick after it. A nil schedule arms nothing.
func (d *Daemon) tick(slot *Timer, s *Schedule, t trigger) {
	if s == nil {
		return
	}
	now := d.clock.Now()
	next := s.Next(now)
	if next.IsZero() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	*slot = d.clock.AfterFunc(next.Sub(now), func() {
		d.triggers.add(t)
		d.tick(slot, s, t)
	})
}

// watchdog pings systemd's watchdog every half interval while the daemon
// is healthy: idle, or in a cycle that started, or ended a CertCentral
// call, less than the interval plus stuckAfter ago (a cycle stuck longer
// gets the service restarted).
func (d *Daemon) watchdog(ctx context.Context) {
	iv := d.cfg.Watchdog
	if iv <= 0 {
		return
	}
	var lastCalls uint64
	var lastProgress time.Time
	d.every(ctx, &d.watchdogTimer, iv/2, func() {
		// A cycle makes progress while its CertCentral calls end: a
		// refresh of thousands of orders, paced by the rate limits, is
		// long but not stuck. Only a cycle that neither started nor
		// finished a call for iv+stuckAfter stops the pings.
		now := d.clock.Now()
		if n := d.met.Calls(); n != lastCalls {
			lastCalls, lastProgress = n, now
		}
		since := d.busy.Load()
		if since == 0 || now.Sub(time.Unix(0, since)) <= iv+stuckAfter || now.Sub(lastProgress) <= iv+stuckAfter {
			d.notify("WATCHDOG=1")
		}
	})
}

// every runs fn every iv on the daemon's clock, its timer in slot, until
// ctx ends or the daemon stops.
func (d *Daemon) every(ctx context.Context, slot *Timer, iv time.Duration, fn func()) {
	var run func()
	arm := func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if !d.stopped {
			*slot = d.clock.AfterFunc(iv, run)
		}
	}
	run = func() {
		if ctx.Err() != nil {
			return
		}
		fn()
		arm()
	}
	arm()
}

// checkLock proves, every LockCheck while the daemon leads idle on a
// shared state, that it still holds the lock. When it does not (its
// database session ended, another server took over), it logs WARN "lock
// lost: standing by" and wakes the loop, which stands by (see loop).
func (d *Daemon) checkLock(ctx context.Context) {
	if !d.run.Shared() {
		return
	}
	d.every(ctx, &d.lockTimer, d.cfg.LockCheck, func() {
		if d.busy.Load() != 0 {
			return
		}
		if err := leader.Check(d.run); err != nil {
			d.log.Warn("lock lost: standing by", "state", d.run.StateName(), "error", err.Error())
			d.triggers.add(trigger{reasons: []string{reasonLockCheck}})
		}
	})
}

// stopTimers stops every timer and arms no new one.
func (d *Daemon) stopTimers() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	for _, t := range []Timer{d.retry, d.resend, d.poll, d.hookRetry, d.scheduleTimer, d.refreshTimer, d.watchdogTimer, d.standbyTimer, d.lockTimer, d.sweepTimer} {
		if t != nil {
			t.Stop()
		}
	}
}

// Runner runs the daemon's cycles and is the daemon's only way to the
// state: package internal/runner implements it.
type Runner interface {
	// Dir is the spec directory the daemon watches.
	Dir() string
	// DryRun reports whether the cycles only plan.
	DryRun() bool
	// CheckAPI makes one cheap CertCentral call (nil when none is
	// offered).
	CheckAPI(ctx context.Context) error
	// ArmCheck makes the next cycle's first call its reachability
	// check, when it can; it reports whether it did.
	ArmCheck() bool
	// SweepNext makes one read of the toggle sweep; Rate is the API's
	// long-run rate of calls per second (zero: none told).
	SweepNext(ctx context.Context) (reconcile.SweepResult, error)
	Rate() float64
	// Once runs one cycle.
	Once(ctx context.Context, s runner.Step) runner.Report
	// HookDue returns when the next failed deploy hook runs again.
	HookDue(c *reconcile.Cycle) time.Time
	// DomainValidation returns the domains' validation ends and the DCV
	// steps that wait.
	DomainValidation() (map[string]time.Time, int)
	// Shared reports whether several servers share the state.
	Shared() bool
	// Lock is the state's lock: for a state that is not shared,
	// LockLost is always nil.
	leader.Lock
	// View calls fn with the state, read-only.
	View(fn func(*state.File))
	// StateVersion changes with every change of the state (see
	// state.Store.Version).
	StateVersion() uint64
}

var _ Runner = (*runner.Runner)(nil)
