// Package runner is the one cycle of certform: it builds the Reconciler
// once from typed options (with its CertCentral client and state store)
// and runs Once, the cycle that certform plan (a dry run), certform apply
// and every cycle of certform run's daemon go through: Prepare (refresh,
// load, consult, plan), a review of the plan by the caller, Apply,
// Deliver and the post hook, counted in a Report. It prints and logs
// nothing of its own: the CLI renders the Report, the daemon logs it.
//
// The daemon reaches the state only through a Runner: the lock checks of
// a shared state, standing by and taking over, and reads of the state for
// /status and the metrics.
package runner

import (
	"context"
	"log/slog"
	"time"

	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// Limits tune every cycle (the CLI's cycle flags).
type Limits struct {
	// MaxRevocations and MaxPurchases cap revocations and purchases (see
	// reconcile.Reconciler).
	MaxRevocations, MaxPurchases int
	// ResendAfter is how long an order whose outcome is unknown waits
	// before it is sent again.
	ResendAfter time.Duration
	// MaxClockSkew is the largest difference allowed between the local
	// clock and CertCentral's (0: no check).
	MaxClockSkew time.Duration
	// Quiet is the one quiet period: every cycle reads the specs only from
	// a tree that no file changed in for this long (the daemon debounces
	// file changes with the same setting).
	Quiet time.Duration
}

// Options are what New builds a Runner from.
type Options struct {
	// Dir is the spec directory.
	Dir string
	// API is CertCentral; nil for a plan without --refresh.
	API reconcile.API
	// Store is the locked state (apply, run); nil for plan, which reads
	// Known without a lock.
	Store *state.Store
	// Known is plan's state, read without a lock.
	Known *state.File
	// Log gets the Reconciler's records.
	Log *slog.Logger
	// Parallelism is how many specs are worked on at once.
	Parallelism int
	// DryRun plans without applying (always so without a Store).
	DryRun bool
	// Cache keeps the parsed specs between cycles (the daemon).
	Cache bool
	// Limits tune every cycle.
	Limits Limits
	// PlanOnly marks cycles that are only planned, never applied (plan
	// without --out): their specs may lack the CSR text of checked
	// specs (reconcile.PlanOptions.PlanOnly).
	PlanOnly bool
	// StateAfterLoad, for a plan without Known, reads the state once the
	// specs are loaded (reconcile.PlanOptions.StateAfterLoad).
	StateAfterLoad *reconcile.StateAfterLoad
}

// Setup changes a Reconciler New built before its first cycle (the
// delivery, key and domain validation flags of the CLI).
type Setup func(*reconcile.Reconciler) error

// Runner runs cycles of one Reconciler. It is used from one goroutine at
// a time.
type Runner struct {
	r *reconcile.Reconciler
}

// New is the one place that builds a Reconciler (plan, apply and run): one
// with a locked store observes CertCentral's changes at the start of each
// cycle; one without (plan) is a dry run. Each setup then changes it in
// turn; the first error is returned.
func New(o Options, setup ...Setup) (*Runner, error) {
	r := &reconcile.Reconciler{
		Dir: o.Dir, API: o.API, Store: o.Store, Known: o.Known, Log: o.Log, Parallelism: o.Parallelism,
		Observe: o.Store != nil, DryRun: o.DryRun || o.Store == nil,
		Limits: reconcile.Limits{MaxRevocations: o.Limits.MaxRevocations, MaxPurchases: o.Limits.MaxPurchases,
			ResendAfter: o.Limits.ResendAfter, MaxClockSkew: o.Limits.MaxClockSkew},
		Quiet:       o.Limits.Quiet,
		PlanOptions: reconcile.PlanOptions{PlanOnly: o.PlanOnly, StateAfterLoad: o.StateAfterLoad},
	}
	if o.Cache {
		r.Cache = spec.NewCache()
	}
	for _, s := range setup {
		if err := s(r); err != nil {
			return nil, err
		}
	}
	return &Runner{r: r}, nil
}

// From returns a Runner of a Reconciler built elsewhere (tests and
// benchmarks, which tune fields Options does not name).
func From(r *reconcile.Reconciler) *Runner { return &Runner{r: r} }

// Reconciler returns the Runner's Reconciler, for tests that tune it.
func (rn *Runner) Reconciler() *reconcile.Reconciler { return rn.r }

// UseAPI gives a plan's runner CertCentral once the plan's other options
// are checked (certform plan --refresh).
func (rn *Runner) UseAPI(api reconcile.API) { rn.r.API = api }

// Dir returns the spec directory.
func (rn *Runner) Dir() string { return rn.r.Dir }

// DryRun reports whether the cycles only plan.
func (rn *Runner) DryRun() bool { return rn.r.DryRun }

// CheckAPI makes one cheap CertCentral call, when the API offers one, to
// tell an unreachable CertCentral or a refused key in one line; nil when
// it answers or offers no such call.
func (rn *Runner) CheckAPI(ctx context.Context) error {
	checker, ok := rn.r.API.(interface{ Check(context.Context) error })
	if !ok {
		return nil
	}
	return checker.Check(ctx)
}

// ArmCheck makes the next CertCentral call a reachability check, when
// the API offers one (digicert.Client.CheckNextCall, on a client made
// with CheckFirstCall): the cycle's own first GET then tells an
// unreachable CertCentral or a refused key, in place of a call of its
// own; run that cycle with Step.Check. It reports whether it armed one;
// otherwise CheckAPI is the check.
func (rn *Runner) ArmCheck() bool {
	checker, ok := rn.r.API.(interface{ CheckNextCall() bool })
	return ok && checker.CheckNextCall()
}

// SweepNext makes one read of the daemon's toggle sweep (see
// reconcile.Reconciler.SweepNext): what differs is recorded and planned
// by the next cycle.
func (rn *Runner) SweepNext(ctx context.Context) (reconcile.SweepResult, error) {
	return rn.r.SweepNext(ctx)
}

// Rate returns how many CertCentral calls per second the API's limits
// allow over a long run (digicert.Client.Rate); zero when the API has no
// limits or tells none.
func (rn *Runner) Rate() float64 {
	limited, ok := rn.r.API.(interface{ Rate() float64 })
	if !ok {
		return 0
	}
	return limited.Rate()
}

// HookDue returns when the next deploy hook that failed earlier runs again
// for the specs of c (zero when none waits).
func (rn *Runner) HookDue(c *reconcile.Cycle) time.Time { return rn.r.HookDue(c) }

// HooksWaiting returns the deploy hooks that failed earlier and are not
// due yet, leaving out the specs whose hook ran in rep's cycle.
func (rn *Runner) HooksWaiting(rep Report) []reconcile.HookWait {
	ran := map[string]bool{}
	for _, dv := range rep.Deliveries {
		if dv.Deploy != HookNotRun {
			ran[dv.Name] = true
		}
	}
	return rn.r.HooksWaiting(rep.Cycle, ran)
}

// DomainValidation returns the domains' validation ends and how many DCV
// steps wait (see reconcile.Reconciler.DomainValidation).
func (rn *Runner) DomainValidation() (map[string]time.Time, int) { return rn.r.DomainValidation() }

// Shared reports whether the state is shared by several servers (see
// state.Shared): only then do lock checks, standing by and taking over
// apply.
func (rn *Runner) Shared() bool { return rn.r.Store.Shared() }

// StateName names the state in logs.
func (rn *Runner) StateName() string { return rn.r.Store.Name() }

// LockLost returns why this process does not hold a shared state's lock
// (another process holds it, or the backend cannot be reached); nil while
// it does, and always for a state that is not shared, whose lost lock
// the next cycle takes again.
func (rn *Runner) LockLost() error {
	if !rn.r.Store.Shared() {
		return nil
	}
	return rn.r.Store.Lost()
}

// CheckLock proves that this process still holds the state's lock.
func (rn *Runner) CheckLock() error { return rn.r.Store.Check() }

// Reacquire tries to take the lost lock of a shared state again.
func (rn *Runner) Reacquire() error { return rn.r.Store.Reacquire() }

// StateVersion changes with every change of the state in memory (see
// state.Store.Version): equal values mean the same state.
func (rn *Runner) StateVersion() uint64 { return rn.r.Store.Version() }

// View calls fn with the state, read-only, under the store's lock.
func (rn *Runner) View(fn func(*state.File)) { rn.r.Store.View(fn) }

// Step says how Once runs a cycle.
type Step struct {
	// Refresh reads the known orders from CertCentral first: the order
	// list's pages, then the orders that differ (reconcile.CycleOptions);
	// with FullRefresh every order one by one (--refresh=full).
	Refresh, FullRefresh bool
	// Check says the cycle's first call is its reachability check
	// (ArmCheck armed it): when the check fails, the cycle stops before
	// its plan with the *digicert.CheckError in Report.Err.
	Check bool
	// Review, if set, sees the cycle once it is planned, before anything
	// is applied: it prints or logs the plan, asks for approval, compares
	// a saved plan. An error stops the cycle there (Report.Stopped):
	// nothing is applied or delivered.
	Review func(*reconcile.Cycle) error
	// ApplyIdle applies a plan with neither actions nor blocked ones too
	// (certform apply: it also clears what an interrupted run left);
	// the daemon's idle cycles skip the call.
	ApplyIdle bool
}

// Once runs one cycle: Prepare, Step.Review, Apply (unless a dry run),
// Deliver and the post hook. The Report tells what came of each.
func (rn *Runner) Once(ctx context.Context, s Step) Report {
	c, err := rn.r.Prepare(ctx, reconcile.CycleOptions{Refresh: s.Refresh, FullRefresh: s.FullRefresh, StopUnreachable: s.Check})
	if err != nil {
		return Report{Cycle: c, Err: err}
	}
	rep := Report{Cycle: c}
	if s.Review != nil {
		if err := s.Review(c); err != nil {
			rep.Stopped = err
			return rep
		}
	}
	if !rn.r.DryRun && (s.ApplyIdle || len(c.Plan.Actions) > 0 || len(c.Plan.Blocked) > 0) {
		rep.Results = rn.r.Apply(ctx, c)
		rep.Calls = tallyResults(rep.Results)
	}
	for _, dv := range rn.r.Deliver(ctx, c) {
		rep.Deliveries = append(rep.Deliveries, Delivery{Delivery: dv, Deploy: hookOutcome(dv.Hook)})
	}
	var ds []reconcile.Delivery
	for _, dv := range rep.Deliveries {
		ds = append(ds, dv.Delivery)
	}
	rep.PostHook = rn.r.RunPostHook(ctx, ds)
	return rep
}
