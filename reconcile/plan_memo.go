package reconcile

import (
	"slices"
	"time"

	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// planMemo is a daemon's last plan made from the state and the specs
// alone (see Reconciler.planOf), kept for its idle cycles: over 100,000
// specs, planning each spec again against its entry costs more than the
// rest of an idle cycle (issue 27). It keeps what holds compares and
// nothing else of the input (not the index, the ordering options or the
// --replace set), and is cleared by a cycle that plans from more than
// the state and the specs: it holds at most the last cycle's state copy
// (as Reconciler.seen.indexFrom does), never one kept over cycles that
// observed changes after an apply's writes.
type planMemo struct {
	in    memoInput // what it was planned from
	plan  *Plan     // kept as made; planOf hands out copies
	until time.Time // see planUntil
}

// memoInput is what of a planInput planMemo.holds compares. Known and
// Desired are never changed by the plan.
type memoInput struct {
	known               *state.File
	desired             []*spec.Order
	invalid, unreadable []string
	noKeyStore          bool
	maxRevocations      int
	maxPurchases        int
	resendAfter         time.Duration
	now                 time.Time
}

// memoInputOf returns what of in planMemo.holds compares.
func memoInputOf(in planInput) memoInput {
	return memoInput{known: in.Known, desired: in.Desired, invalid: in.Invalid, unreadable: in.Unreadable,
		noKeyStore: in.NoKeyStore, maxRevocations: in.MaxRevocations, maxPurchases: in.MaxPurchases,
		resendAfter: in.ResendAfter, now: in.Now}
}

// planOf returns plan(in), the one kept from an earlier cycle when in is
// that cycle's input at a later time before the clock can change it: the
// same state copy (Known, which the store copies again after every
// change), the same specs (the spec cache hands out the same *spec.Order
// for a file that did not change), the same limits, and nothing observed,
// consulted or read from CertCentral. Only a Reconciler with a spec cache
// (the daemon) keeps one; a cycle planned from more than the state and
// the specs drops it.
func (r *Reconciler) planOf(in planInput) *Plan {
	if r.Cache == nil || r.editSpecs != nil {
		return plan(in)
	}
	m := &r.seen.plan
	if !fromStateAlone(in) {
		*m = planMemo{}
		return plan(in)
	}
	if m.plan != nil && m.holds(in) {
		return m.plan.copy()
	}
	p, until := planUntil(in)
	*m = planMemo{in: memoInputOf(in), plan: p.copy(), until: until}
	return p
}

// fromStateAlone reports whether in is planned from the state and the
// specs alone: nothing observed, consulted or read from CertCentral, no
// --replace, a state and a time given.
func fromStateAlone(in planInput) bool {
	return in.Known != nil && !in.Now.IsZero() && len(in.Observed) == 0 && !in.Consulted && in.Live == nil &&
		in.Adoptees == nil && len(in.Replace) == 0
}

// holds reports whether the kept plan is plan(in): in is the kept input
// but for a time from the kept one up to (not including) until.
func (m *planMemo) holds(in planInput) bool {
	k := &m.in
	return in.Known == k.known && slices.Equal(in.Desired, k.desired) && slices.Equal(in.Invalid, k.invalid) &&
		slices.Equal(in.Unreadable, k.unreadable) && in.NoKeyStore == k.noKeyStore && in.MaxRevocations == k.maxRevocations &&
		in.MaxPurchases == k.maxPurchases && in.ResendAfter == k.resendAfter &&
		!in.Now.Before(k.now) && (m.until.IsZero() || in.Now.Before(m.until))
}

// copy returns a copy of p whose lists can be changed (appended to, an
// element set) without changing p's.
func (p *Plan) copy() *Plan {
	return &Plan{Actions: slices.Clone(p.Actions), Blocked: slices.Clone(p.Blocked), Notes: slices.Clone(p.Notes)}
}
