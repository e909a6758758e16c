package runner

import (
	"errors"
	"time"

	"github.com/certform/certform/reconcile"
)

// Report is what one cycle (Once) came to.
type Report struct {
	// Cycle is the prepared cycle: its specs, plan and errors; nil (or
	// what Prepare returned with its error) when Err is set.
	Cycle *reconcile.Cycle
	// Err is why no plan could be made (the state's lock is lost, the
	// spec directory cannot be read, the context ended).
	Err error
	// Stopped is Step.Review's error: the plan was made, nothing applied.
	Stopped error
	// Results are the calls Apply made, one per action.
	Results []reconcile.Result
	// Calls counts Results.
	Calls Tally
	// Deliveries are the certificates written and the deploy hooks run.
	Deliveries []Delivery
	// PostHook is the post hook's run; nil when it did not run.
	PostHook *reconcile.PostHookRun
}

// Failed returns the results that did not land (failed or waiting).
func (rep Report) Failed() []reconcile.Result {
	var bad []reconcile.Result
	for _, r := range rep.Results {
		if r.Err != nil {
			bad = append(bad, r)
		}
	}
	return bad
}

// DeliveriesFailed counts the certificates refused (tried again at the
// next cycle).
func (rep Report) DeliveriesFailed() int {
	n := 0
	for _, dv := range rep.Deliveries {
		if dv.Err != nil {
			n++
		}
	}
	return n
}

// HooksFailed counts the deploy hooks that failed (run again with their
// own backoff).
func (rep Report) HooksFailed() int {
	n := 0
	for _, dv := range rep.Deliveries {
		if dv.Deploy == HookFailed {
			n++
		}
	}
	return n
}

// Landed reports whether a planned cycle landed everything: it was not
// stopped by its review, no cycle error, no call failed or waits, nothing blocked, no spec error, every
// delivery and deploy hook worked. (The post hook's failure is the CLI's
// to count: the daemon runs it again after the next delivery.)
func (rep Report) Landed() bool {
	c := rep.Cycle
	if rep.Err != nil || rep.Stopped != nil || c == nil {
		return false
	}
	return len(c.Errors) == 0 && rep.Calls.Failed == 0 && rep.Calls.Waiting == 0 && len(c.Plan.Blocked) == 0 &&
		len(c.Specs.Errors) == 0 && rep.DeliveriesFailed() == 0 && rep.HooksFailed() == 0
}

// HookOutcome is what came of a deploy hook in a cycle.
type HookOutcome int

// The deploy hook's outcomes.
const (
	// HookNotRun: no deploy hook ran for the spec.
	HookNotRun HookOutcome = iota
	// HookRan: the deploy hook ran and succeeded.
	HookRan
	// HookFailed: the deploy hook failed (Delivery.HookErr says why); it
	// runs again with backoff.
	HookFailed
)

// hookOutcome reads reconcile.Delivery.Hook, the one place that knows
// its words.
func hookOutcome(hook string) HookOutcome {
	switch hook {
	case "ok":
		return HookRan
	case "failed":
		return HookFailed
	}
	return HookNotRun
}

// Delivery is one certificate delivered or refused, with its deploy
// hook's outcome typed.
type Delivery struct {
	reconcile.Delivery
	// Deploy is what came of the deploy hook.
	Deploy HookOutcome
}

// Tally counts the results of a cycle's calls.
type Tally struct {
	// Done, Failed and Waiting count the calls that landed, failed, and
	// wait (ErrWaiting: neither done nor failed).
	Done, Failed, Waiting int
	// Retry is set when a call failed in a way a later attempt may mend
	// (CertCentral failed or did not answer, the state could not be
	// saved).
	Retry bool
	// Until is the earliest time an action that waits may go on; zero
	// when none waits.
	Until time.Time
}

// tallyResults classifies results: an action that waits (ErrWaiting) is
// neither done nor failed; a revocation not sent because its spec changed
// (ErrSpecChanged) and an action not started because certform is stopping
// (ErrStopping) failed but ask for no retry (the file change triggers a
// cycle of its own); any other error is a failure to retry.
func tallyResults(results []reconcile.Result) Tally {
	var t Tally
	for _, r := range results {
		var wait *reconcile.WaitError
		switch {
		case r.Err == nil:
			t.Done++
		case errors.Is(r.Err, reconcile.ErrWaiting):
			t.Waiting++
			if errors.As(r.Err, &wait) && (t.Until.IsZero() || wait.Until.Before(t.Until)) {
				t.Until = wait.Until
			}
		case errors.Is(r.Err, reconcile.ErrSpecChanged), errors.Is(r.Err, reconcile.ErrStopping):
			t.Failed++
		default:
			t.Failed++
			t.Retry = true
		}
	}
	return t
}
