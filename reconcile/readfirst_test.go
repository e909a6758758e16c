package reconcile

// Tests of "read before acting": revocations and reissues judged on the
// names CertCentral reports in a read just before the call, every read
// recorded, drift converged, and a rejected reissue not waited on forever.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/spec/spectest"
	"github.com/certform/certform/state"
	"github.com/google/go-cmp/cmp"
)

const (
	shopCN  = "shop.example.com"
	shopWWW = "www.shop.example.com"
	shopAPI = "api.shop.example.com"
)

// specNamed writes the spec NAME for NAME.example.com with the DNS names
// dns and the YAML lines extra; the CSR (for exactly these names) is kept
// while the names stay the same.
func (r *rig) specNamed(name string, dns []string, extra ...string) {
	r.t.Helper()
	cn := name + ".example.com"
	key := name + "|" + strings.Join(dns, ",")
	csr, ok := r.csrs[key]
	if !ok {
		var err error
		if csr, err = spectest.CSR(cn, dns...); err != nil {
			r.t.Fatal(err)
		}
		r.csrs[key] = csr
	}
	body := fmt.Sprintf("name: %s\ncommon_name: %s\n", name, cn)
	if len(dns) > 0 {
		body += fmt.Sprintf("dns_names: [%s]\n", strings.Join(dns, ", "))
	}
	body += fmt.Sprintf("organization_id: 1\nskip_approval: true\n%scsr: |\n%s", lines(extra), spectest.Indent(csr))
	if err := os.WriteFile(filepath.Join(r.dir, name+".yaml"), []byte(body), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// applyCycle runs one cycle without observing first (a plain plan from the
// state, as after a daemon's quiet feed) and returns the plan and results.
func (r *rig) applyCycle(maxRevocations int, observe bool) (*Plan, []Result) {
	r.t.Helper()
	rec := r.reconciler(maxRevocations)
	rec.Observe = observe
	return r.applyWith(rec)
}

// applyWith prepares a cycle with rec, failing the test on an error or a
// cycle error, applies it and returns the plan and results.
func (r *rig) applyWith(rec *Reconciler) (*Plan, []Result) {
	r.t.Helper()
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range c.Errors {
		r.t.Fatalf("cycle error: %v", e)
	}
	return c.Plan, rec.Apply(context.Background(), c)
}

func revokePuts(calls []string) (n int) {
	for _, c := range calls {
		if strings.HasPrefix(c, "PUT ") && strings.HasSuffix(c, "/revoke") {
			n++
		}
	}
	return n
}

// TestApply_revokeReadsNamesFirst (issue 21, item 1): a revoke is judged
// on the names CertCentral reports in a read just before the PUT, not on
// the names recorded when the order was placed: an order reissued in the
// console with another name, or whose reissue an administrator rejected,
// is not revoked (blocked_by names), and the read is recorded.
func TestApply_revokeReadsNamesFirst(t *testing.T) {
	t.Run("name added in the console", func(t *testing.T) {
		r := newRig(t)
		r.specNamed("shop", []string{shopWWW})
		r.cycle(1)
		id := r.entry("shop").OrderID
		r.srv.ReissueNames(id, shopCN, []string{shopWWW, shopAPI})
		r.specNamed("shop", []string{shopWWW}, "revoke: true", "revoke_comments: key compromised")
		r.calls()
		p, res := r.applyCycle(1, false)
		if len(p.Actions) != 1 || p.Actions[0].Kind != KindRevoke || len(res) != 1 {
			t.Fatalf("plan %+v, results %+v", p, res)
		}
		if got := BlockedBy(res[0].Err); got != BlockedNames {
			t.Fatalf("result: %v (blocked by %q)", res[0].Err, got)
		}
		want := fmt.Sprintf("blocked (names): order %d's names in CertCentral now (shop.example.com, api.shop.example.com, www.shop.example.com) are not the spec's "+
			"(shop.example.com, www.shop.example.com: only on the order: api.shop.example.com); nothing was revoked; "+
			"hint: a revoke acts on the order the spec describes; if order %d must go with these names, write them in the spec", id, id)
		if res[0].Err.Error() != want {
			t.Errorf("error:\n%s\nwant:\n%s", res[0].Err, want)
		}
		wantLines(t, "calls", r.calls(), []string{fmt.Sprintf("GET /order/certificate/%d", id)})
		if n := len(r.srv.RevokeRequests()); n != 0 {
			t.Fatalf("%d revoke requests", n)
		}
		e := r.entry("shop")
		if !cmp.Equal(e.Names, []string{shopCN, shopAPI, shopWWW}) || e.Intent != nil || e.Revoke != nil {
			t.Fatalf("entry: names %v, intent %+v, revoke %+v", e.Names, e.Intent, e.Revoke)
		}
		if f := r.store.Snapshot(); len(f.Revocations) != 0 {
			t.Fatalf("budget used: %+v", f.Revocations)
		}
		// The names read are recorded: the next plan blocks it itself.
		p, res = r.applyCycle(1, false)
		if len(res) != 0 || len(p.Blocked) != 1 || p.Blocked[0].BlockedBy != BlockedNames {
			t.Fatalf("next plan: %+v results %+v", p, res)
		}
		wantLines(t, "calls", r.calls(), nil)
	})
	t.Run("reissue rejected", func(t *testing.T) {
		r := newRig(t, digicerttest.WithReissueHold())
		r.specNamed("shop", []string{shopWWW})
		r.cycle(1)
		id := r.entry("shop").OrderID
		r.specNamed("shop", []string{shopWWW, shopAPI})
		if _, res := r.cycle(1); len(res) != 1 || !strings.Contains(res[0], "waits for approval") {
			t.Fatalf("reissue: %q", res)
		}
		r.srv.RejectReissue(id)
		r.specNamed("shop", []string{shopWWW, shopAPI}, "revoke: true", "revoke_comments: key compromised")
		r.calls()
		p, res := r.applyCycle(1, false)
		blocked := len(p.Blocked) == 1 && p.Blocked[0].BlockedBy == BlockedNames && len(res) == 0 ||
			len(res) == 1 && BlockedBy(res[0].Err) == BlockedNames
		if !blocked {
			t.Fatalf("plan %+v, results %+v", p, res)
		}
		if n := revokePuts(r.calls()); n != 0 || len(r.srv.RevokeRequests()) != 0 {
			t.Fatalf("%d revoke calls, %d revoke requests", n, len(r.srv.RevokeRequests()))
		}
		if o, _ := r.srv.Order(id); o.Status != "issued" {
			t.Fatalf("order %d is %s", id, o.Status)
		}
	})
}

// TestPlan_namesDrift (issue 21, item 2): names changed in the console
// are recorded by the read that sees them, shown as a drift note naming
// each name, and converged with a reissue to the spec's names that is
// marked revokes_previous and counted against --max-revocations.
func TestPlan_namesDrift(t *testing.T) {
	r := newRig(t)
	r.specNamed("shop", []string{shopWWW})
	r.observeCycle(1)
	id := r.entry("shop").OrderID
	r.srv.ReissueNames(id, shopCN, []string{shopWWW, shopAPI})
	r.calls()
	r.clock.Add(time.Minute)
	p, res := r.observeCycle(0)
	wantNote := Note{Kind: NoteDrift, Name: "shop", OrderID: id,
		Message: fmt.Sprintf("order %d's names in CertCentral changed outside certform (only on the order: api.shop.example.com); a reissue to the spec's names is planned", id),
		Hint:    "if the change made in CertCentral is wanted, write the order's names in the spec; otherwise certform reissues the order with the spec's names (a reissue that drops a name counts against --max-revocations)"}
	if len(p.Notes) < 1 || !cmp.Equal(p.Notes[0], wantNote) {
		t.Fatalf("notes: %+v", p.Notes)
	}
	if len(p.Actions) != 0 || len(p.Blocked) != 1 || len(res) != 0 {
		t.Fatalf("with --max-revocations 0: %+v %v", p, res)
	}
	if b := p.Blocked[0]; b.Kind != KindReissue || b.Reason != ReissueChanged || !b.RevokesPrevious || b.BlockedBy != BlockedMaxRevocations ||
		!cmp.Equal(b.Changed, []string{"dns_names"}) || !cmp.Equal(b.OrderNames, []string{shopCN, shopAPI, shopWWW}) {
		t.Fatalf("blocked: %+v", b)
	}
	if e := r.entry("shop"); !cmp.Equal(e.Names, []string{shopCN, shopAPI, shopWWW}) {
		t.Fatalf("names recorded: %v", e.Names)
	}
	if n := reissueCalls(r.calls()); n != 0 {
		t.Fatalf("%d reissue calls", n)
	}
	r.clock.Add(time.Minute)
	_, res = r.observeCycle(1)
	wantLines(t, "results", res, []string{"reissue shop: reissue requested (accepted)"})
	o, _ := r.srv.Order(id)
	if !cmp.Equal(o.DNSNames, []string{shopWWW}) || !o.RevokesPrevious {
		t.Fatalf("order after convergence: names %v, revokes previous %v", o.DNSNames, o.RevokesPrevious)
	}
	if revs := r.store.Snapshot().Revocations; len(revs) != 1 || revs[0].OrderID != id {
		t.Fatalf("revocations: %+v", revs)
	}
	r.clock.Add(time.Minute)
	r.observeCycle(1) // the new certificate shows
	r.clock.Add(time.Minute)
	if p, res := r.observeCycle(1); len(p.Actions)+len(p.Blocked)+len(p.Notes)+len(res) != 0 {
		t.Fatalf("after convergence: %+v %v", p, res)
	}
}

// TestApply_reissueRevokesJudgedOnRead (issue 21, item 2): whether a
// reissue makes DigiCert revoke earlier certificates is judged on the
// names read just before the POST: a CT reissue planned from a state that
// does not know a console-added name (or, for an order adopted after an
// unknown outcome, no names at all) is counted against --max-revocations
// and not sent when it has no room.
func TestApply_reissueRevokesJudgedOnRead(t *testing.T) {
	for _, tt := range []struct {
		name    string
		prepare func(r *rig, id int)
		dns     []string // the spec's names after the change
	}{
		{"name added in the console", func(r *rig, id int) {
			r.srv.ReissueNames(id, shopCN, []string{shopWWW, shopAPI})
		}, []string{shopWWW}},
		{"adopted without names", func(r *rig, id int) {
			if err := r.store.Update("shop", func(e *state.Entry) bool { e.Fixed, e.Names = nil, nil; return true }); err != nil {
				r.t.Fatal(err)
			}
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.specNamed("shop", []string{shopWWW})
			r.cycle(1)
			id := r.entry("shop").OrderID
			tt.prepare(r, id)
			r.specNamed("shop", tt.dns, "disable_ct: true")
			r.calls()
			p, res := r.applyCycle(0, false)
			if len(p.Actions) != 2 || p.Actions[1].Kind != KindReissue || p.Actions[1].RevokesPrevious || len(res) != 2 {
				t.Fatalf("plan %+v, results %+v", p.Actions, res)
			}
			if got := BlockedBy(res[1].Err); got != BlockedMaxRevocations || !strings.Contains(res[1].Err.Error(), "makes DigiCert revoke the earlier certificates") {
				t.Fatalf("reissue result: %v", res[1].Err)
			}
			wantLines(t, "calls", r.calls(), []string{fmt.Sprintf("PUT /order/certificate/%d/ct-status", id), fmt.Sprintf("GET /order/certificate/%d", id)})
			if e := r.entry("shop"); e.Intent != nil || len(r.store.Snapshot().Revocations) != 0 {
				t.Fatalf("intent %+v, revocations %+v", e.Intent, r.store.Snapshot().Revocations)
			}
			// With room in the budget it is sent, and counted.
			_, res = r.applyCycle(1, false)
			if len(res) != 1 || res[0].Err != nil {
				t.Fatalf("results with room: %+v", res)
			}
			calls := r.calls()
			if n := reissueCalls(calls); n != 1 || calls[len(calls)-2] != fmt.Sprintf("GET /order/certificate/%d", id) {
				t.Fatalf("calls: %v", calls)
			}
			if revs := r.store.Snapshot().Revocations; len(revs) != 1 || revs[0].OrderID != id {
				t.Fatalf("revocations: %+v", revs)
			}
		})
	}
}

// TestReissue_rejected (issue 21, item 3): a reissue an administrator
// rejects leaves the order issued with the certificate it started from;
// certform sees it (the order's reissues list it rejected), clears the
// pending marker, records the rejection (note rejected), and does not ask
// again until the spec asks for something else, which is then reissued.
func TestReissue_rejected(t *testing.T) {
	r := newRig(t, digicerttest.WithReissueHold())
	r.specNamed("shop", nil)
	r.observeCycle(1)
	id := r.entry("shop").OrderID
	r.specNamed("shop", []string{shopWWW})
	r.clock.Add(time.Minute)
	if _, res := r.observeCycle(1); len(res) != 1 || !strings.Contains(res[0], "waits for approval") {
		t.Fatalf("reissue: %q", res)
	}
	requested := r.clock.Now()
	r.srv.RejectReissue(id)
	r.calls()
	r.clock.Add(time.Minute)
	seen := r.clock.Now()
	p, res := r.observeCycle(1)
	want := []Note{{Kind: NoteRejected, Name: "shop", OrderID: id,
		Message: fmt.Sprintf("the reissue of order %d requested at %s (a change of csr, dns_names; names shop.example.com, www.shop.example.com) was rejected in CertCentral, seen at %s; it is not asked again while the spec asks for the same (a reissue for changed waits)",
			id, requested.Format(time.RFC3339), seen.Format(time.RFC3339)),
		Hint: "to ask again, change the spec (names, CSR, signature hash, server platform or disable_ct), or ask the administrator who rejected it"}}
	if diff := cmp.Diff(want, p.Notes); diff != "" || len(p.Actions) != 0 || len(res) != 0 {
		t.Fatalf("after the rejection: actions %+v results %v notes (-want +got):\n%s", p.Actions, res, diff)
	}
	wantLines(t, "calls", r.calls(), []string{"GET /order/certificate/status-changes?minutes=2", fmt.Sprintf("GET /order/certificate/%d", id),
		fmt.Sprintf("GET /order/certificate/%d/reissue", id)})
	e := r.entry("shop")
	if e.ReissuedFrom != 0 || !e.ReissuedAt.IsZero() || e.ReissueRejected == nil || e.Fixed["dns_names"] != "" ||
		!cmp.Equal(e.ReissueRejected.Names, []string{shopCN, shopWWW}) || !e.ReissueRejected.Seen.Equal(seen) {
		t.Fatalf("entry: %+v rejection %+v", e, e.ReissueRejected)
	}
	// Not asked again, not waited on: one feed read a cycle.
	r.clock.Add(time.Minute)
	p, res = r.observeCycle(1)
	if len(p.Actions) != 0 || len(res) != 0 || len(p.Notes) != 1 || p.Notes[0].Kind != NoteRejected {
		t.Fatalf("next cycle: %+v %v", p, res)
	}
	wantLines(t, "calls", r.calls(), []string{"GET /order/certificate/status-changes?minutes=2"})
	// The spec asks for something else: reissued.
	r.specNamed("shop", []string{shopWWW}, "disable_ct: true")
	r.clock.Add(time.Minute)
	p, res = r.observeCycle(1)
	if len(p.Actions) != 2 || p.Actions[1].Kind != KindReissue || len(res) != 2 || !strings.Contains(res[1], "waits for approval") {
		t.Fatalf("after a spec change: %+v %v", p.Actions, res)
	}
	if n := reissueCalls(r.calls()); n != 1 {
		t.Fatalf("%d reissue calls", n)
	}
	if e := r.entry("shop"); e.ReissueRejected != nil || e.ReissuedFrom == 0 {
		t.Fatalf("entry after the new reissue: %+v", e)
	}
}

// TestObserve_revokeLandedSettles: a revoke whose answer was lost (apply
// killed during the PUT) and that CertCentral carried out is settled by
// the read that finds the order revoked, in the same write that records
// it revoked: no intent is left that no plan would ever look at again
// (found by TestApply_killLoopRevokeReissue).
func TestObserve_revokeLandedSettles(t *testing.T) {
	r := revokeRig(t, digicerttest.WithInstantRevoke())
	id := r.entry("shop").OrderID
	if _, err := r.api.Revoke(context.Background(), id, "key compromised"); err != nil {
		t.Fatal(err)
	}
	if err := r.store.Update("shop", func(e *state.Entry) bool {
		e.Intent = &state.Intent{Action: state.IntentRevoke, Started: r.clock.Now(), Attempts: 1}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	r.calls()
	r.clock.Add(time.Minute)
	p, res := r.observeCycle(1)
	if len(p.Actions)+len(p.Blocked)+len(res) != 0 {
		t.Fatalf("plan %+v, results %v", p, res)
	}
	if n := revokePuts(r.calls()); n != 0 {
		t.Fatalf("%d revoke calls", n)
	}
	e := r.entry("shop")
	if e.Intent != nil || e.Status != "revoked" || e.Revoke == nil || e.Revoke.Status != "approved" {
		t.Fatalf("entry: intent %+v, status %s, revoke %+v", e.Intent, e.Status, e.Revoke)
	}
}

// TestWriteJSONResults_blockedBy: a call held back by the read just
// before it carries the rail in apply --json's results (blocked_by), as
// the plan's blocked actions do.
func TestWriteJSONResults_blockedBy(t *testing.T) {
	p := &Plan{Actions: []Action{}, Blocked: []Action{}, Notes: []Note{}}
	res := []Result{{Action: Action{Kind: KindRevoke, Name: "shop", OrderID: 7},
		Err: fmt.Errorf("wrapped: %w", &BlockedError{By: BlockedNames, Why: "order 7's names differ", Hint: "write them in the spec"})}}
	var b strings.Builder
	if err := p.WriteJSONResults(&b, nil, res); err != nil {
		t.Fatal(err)
	}
	want := `"results": [
    {
      "kind": "revoke",
      "name": "shop",
      "order_id": 7,
      "ok": false,
      "error": "wrapped: blocked (names): order 7's names differ; hint: write them in the spec",
      "blocked_by": "names"
    }
  ]`
	if !strings.Contains(b.String(), want) {
		t.Fatalf("JSON:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestPlan_adoptedWithoutNamesMarked (issue 21, item 2): an order adopted
// after an unknown outcome has no recorded names; once a read recorded
// CertCentral's names, a CT-change reissue that drops one of them is
// planned as a name change, marked revokes_previous and counted against
// --max-revocations (blocked with 0).
func TestPlan_adoptedWithoutNamesMarked(t *testing.T) {
	d := mkOrder("shop", withCT)
	e := entryFor(mkOrder("shop"), 100001, func(e *state.Entry) {
		e.Fixed, e.Options, e.CertificateID = nil, nil, 5000001
		e.Names = []string{shopCN, shopWWW}
	})
	p := plan(planInput{Desired: []*spec.Order{d}, Known: known(map[string]*state.Entry{"shop": e}), MaxRevocations: 0,
		Now: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)})
	if len(p.Actions) != 1 || p.Actions[0].Kind != KindSetCT || len(p.Blocked) != 1 {
		t.Fatalf("plan: %+v", p)
	}
	if b := p.Blocked[0]; b.Kind != KindReissue || !b.RevokesPrevious || b.BlockedBy != BlockedMaxRevocations ||
		!cmp.Equal(b.Changed, []string{"disable_ct", "dns_names"}) || !cmp.Equal(b.OrderNames, []string{shopCN, shopWWW}) {
		t.Fatalf("reissue: %+v", b)
	}
}

// TestApply_revokeAlreadyRevoked: an order revoked in the console since
// certform last read it is found so by the read before the revoke: it is
// recorded revoked, and no revoke request is sent.
func TestApply_revokeAlreadyRevoked(t *testing.T) {
	r := revokeRig(t)
	id := r.entry("shop").OrderID
	r.srv.Revoke(id, "done in the console")
	before := len(r.srv.RevokeRequests())
	r.calls()
	_, res := r.cycle(1)
	wantLines(t, "results", res, []string{fmt.Sprintf("revoke shop: order %d is revoked in CertCentral already; nothing was sent", id)})
	wantLines(t, "calls", r.calls(), []string{fmt.Sprintf("GET /order/certificate/%d", id)})
	if n := len(r.srv.RevokeRequests()); n != before {
		t.Fatalf("%d revoke requests, %d before", n, before)
	}
	if e := r.entry("shop"); e.Status != "revoked" || e.Revoke == nil || e.Revoke.Status != "approved" || e.Intent != nil {
		t.Fatalf("entry: %+v", e)
	}
	if f := r.store.Snapshot(); len(f.Revocations) != 0 {
		t.Fatalf("budget used: %+v", f.Revocations)
	}
}
