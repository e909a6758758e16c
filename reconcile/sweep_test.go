package reconcile

import (
	"fmt"
	"testing"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/state"
)

// actionLines returns a plan's actions as "kind name to".
func actionLines(p *Plan) []string {
	var out []string
	for _, a := range p.Actions {
		to := ""
		if a.To != nil {
			to = fmt.Sprint(*a.To)
		}
		out = append(out, fmt.Sprintf("%s %s %s", a.Kind, a.Name, to))
	}
	return out
}

// TestSweepNext_drift: the sweep reads one order per call, by spec name,
// starting over after the last; only the order whose disable_ct drifted
// (which the order list does not carry) differs. The next cycle, which
// calls only the feed, records that read and plans it as a full refresh
// does: the CT setting set back.
func TestSweepNext_drift(t *testing.T) {
	r := observedRig(t, digicerttest.WithDisableCTField()) // the order's answers carry disable_ct
	rec := r.reconciler(1)
	rec.Observe = true
	ids := map[string]int{}
	for _, n := range []string{"a", "b", "c"} {
		ids[n] = r.entry(n).OrderID
	}
	r.srv.SetCT(ids["b"], true)
	var got []string
	for range 4 {
		res, err := rec.SweepNext(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d differs=%v wrapped=%v", res.Name, res.OrderID, res.Differs, res.Wrapped))
	}
	wantLines(t, "reads", got, []string{
		fmt.Sprintf("a %d differs=false wrapped=true", ids["a"]),
		fmt.Sprintf("b %d differs=true wrapped=false", ids["b"]),
		fmt.Sprintf("c %d differs=false wrapped=false", ids["c"]),
		fmt.Sprintf("a %d differs=false wrapped=true", ids["a"]),
	})
	wantLines(t, "sweep calls", r.calls(), []string{getOrder(ids["a"]), getOrder(ids["b"]), getOrder(ids["c"]), getOrder(ids["a"])})
	before := r.entry("a").RefreshedAt
	c, err := rec.Prepare(t.Context(), CycleOptions{})
	if err != nil || len(c.Errors) > 0 {
		t.Fatalf("cycle: %v %v", err, c.Errors)
	}
	calls := r.calls()
	if len(calls) != 1 || calls[0][:len("GET /order/certificate/status-changes")] != "GET /order/certificate/status-changes" {
		t.Errorf("cycle calls %v, want the feed alone", calls)
	}
	swept := actionLines(c.Plan)
	wantLines(t, "plan", swept, []string{"set_ct b false", "reissue b "}) // CT back on the order, and a certificate logged as asked
	if e := r.entry("b"); !e.RefreshedAt.Equal(r.clock.Now()) {
		t.Errorf("b's read was not recorded: refreshed at %v, want %v", e.RefreshedAt, r.clock.Now())
	}
	if e := r.entry("a"); !e.RefreshedAt.Equal(before) {
		t.Errorf("a read that matched was recorded: refreshed at %v, want %v", e.RefreshedAt, before)
	}
	full, err := r.reconciler(1).Prepare(t.Context(), CycleOptions{Refresh: true, FullRefresh: true})
	if err != nil || len(full.Errors) > 0 {
		t.Fatalf("full refresh: %v %v", err, full.Errors)
	}
	wantLines(t, "the full refresh's plan", actionLines(full.Plan), swept)
	// Taken once: the next cycle plans from the state and the feed alone.
	next, err := rec.Prepare(t.Context(), CycleOptions{})
	if err != nil || len(next.Errors) > 0 {
		t.Fatalf("next cycle: %v %v", err, next.Errors)
	}
	wantLines(t, "the next cycle's plan", actionLines(next.Plan), nil)
}

// TestSweepNext_none: a Reconciler that tracks no order reads nothing.
func TestSweepNext_none(t *testing.T) {
	r := newRig(t)
	res, err := r.reconciler(1).SweepNext(t.Context())
	if err != nil || res != (SweepResult{}) || len(r.calls()) != 0 {
		t.Errorf("%+v %v, calls %v", res, err, r.srv.Calls())
	}
}

// TestSweepNext_entryChangedSince: a read the sweep kept is dropped when
// its entry changed before the next cycle (a reissue by another process,
// a lock lost and taken over): the cycle never writes the older read over
// the entry, and plans nothing from it.
func TestSweepNext_entryChangedSince(t *testing.T) {
	r := observedRig(t, digicerttest.WithDisableCTField())
	rec := r.reconciler(1)
	rec.Observe = true
	id := r.entry("a").OrderID
	r.srv.SetCT(id, true)
	if res, err := rec.SweepNext(t.Context()); err != nil || res.Name != "a" || !res.Differs {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	// Meanwhile the entry moves on: another certificate is recorded.
	if err := r.store.Update("a", func(e *state.Entry) bool { e.CertificateID, e.SerialNumber = 987654, "0badc0de"; return true }); err != nil {
		t.Fatal(err)
	}
	c, err := rec.Prepare(t.Context(), CycleOptions{})
	if err != nil || len(c.Errors) > 0 {
		t.Fatalf("cycle: %v %v", err, c.Errors)
	}
	if e := r.entry("a"); e.CertificateID != 987654 || e.SerialNumber != "0badc0de" {
		t.Errorf("the older read was written over the entry: certificate %d, serial %s", e.CertificateID, e.SerialNumber)
	}
	for _, a := range c.Plan.Actions {
		if a.Name == "a" && a.Kind == KindSetCT {
			t.Errorf("planned from the dropped read: %+v", a)
		}
	}
}
