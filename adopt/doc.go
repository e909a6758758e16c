// Package adopt takes CertCentral orders that certform did not place into
// its care. It owns every way an order comes to be tracked without being
// ordered:
//
//   - Entry builds the state entry for an order adopted for a spec: the one
//     place a state.Entry is made from a CertCentral order outside an order
//     certform placed. certform import, the declarative adoption of a spec
//     with order_id (reconcile's apply step) and the dev seed all use it.
//   - Import is certform import: one order into the state for one spec,
//     after checking that its names are the spec's.
//   - Bulk is certform adopt: it finds the account's live orders that
//     nothing tracks and writes a spec with order_id for each.
//   - Seed is certform run --dev's seed of the fake.
//
// It is a top-level package, not a part of reconcile, because import, bulk
// adoption and the seed run outside any plan, and reconcile imports it for
// the entry: adopt depends on spec, state and digicert only. The checks a
// declarative adoption makes before its entry is written are the planner's
// (reconcile's adoptProblem), run again at apply, and stay there.
//
// Adopt calls GET endpoints of CertCentral only. What the commands print is
// the CLI's; this package returns reports and typed errors (Refusal).
package adopt
