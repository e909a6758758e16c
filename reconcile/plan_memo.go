package reconcile

import (
	"slices"
	"time"
)

// planMemo is a daemon's last plan made from the state and the specs
// alone (see Reconciler.planOf), kept for its idle cycles: over 100,000
// specs, planning each spec again against its entry costs more than the
// rest of an idle cycle (issue 27).
type planMemo struct {
	in    planInput // what it was planned from; Known and Desired are never changed
	plan  *Plan     // kept as made; planOf hands out copies
	until time.Time // see planUntil
}

// planOf returns plan(in), the one kept from an earlier cycle when in is
// that cycle's input at a later time before the clock can change it: the
// same state copy (Known, which the store copies again after every
// change), the same specs (the spec cache hands out the same *spec.Order
// for a file that did not change), the same limits, and nothing observed,
// consulted or read from CertCentral. Only a Reconciler with a spec cache
// (the daemon) keeps one.
func (r *Reconciler) planOf(in planInput) *Plan {
	if r.Cache == nil || r.editSpecs != nil || !fromStateAlone(in) {
		return plan(in)
	}
	m := &r.seen.plan
	if m.plan != nil && m.holds(in) {
		return m.plan.copy()
	}
	p, until := planUntil(in)
	*m = planMemo{in: in, plan: p.copy(), until: until}
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
	return in.Known == k.Known && slices.Equal(in.Desired, k.Desired) && slices.Equal(in.Invalid, k.Invalid) &&
		slices.Equal(in.Unreadable, k.Unreadable) && in.NoKeyStore == k.NoKeyStore && in.MaxRevocations == k.MaxRevocations &&
		in.MaxPurchases == k.MaxPurchases && in.ResendAfter == k.ResendAfter &&
		!in.Now.Before(k.Now) && (m.until.IsZero() || in.Now.Before(m.until))
}

// copy returns a copy of p whose lists can be changed (appended to, an
// element set) without changing p's.
func (p *Plan) copy() *Plan {
	return &Plan{Actions: slices.Clone(p.Actions), Blocked: slices.Clone(p.Blocked), Notes: slices.Clone(p.Notes)}
}
