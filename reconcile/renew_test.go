package reconcile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/state"
)

// renewals returns the orders the fake holds that renew order id.
func (r *rig) renewals(id int) []digicerttest.Order {
	var out []digicerttest.Order
	for _, o := range r.srv.Orders() {
		if o.RenewalOfOrderID == id {
			out = append(out, o)
		}
	}
	return out
}

// endsIn makes the order tracked as name end left from now, in the fake
// and in the state, as time passing does (an order's end never changes:
// certform reads it once); the state's record of when it was ordered
// moves back as far (see aged).
func (r *rig) endsIn(name string, left time.Duration) {
	r.t.Helper()
	e := r.entry(name)
	r.srv.OrderEndsIn(e.OrderID, left)
	if err := r.store.Update(name, func(e *state.Entry) bool { e.OrderValidTill = r.clock.Now().Add(left); return true }); err != nil {
		r.t.Fatal(err)
	}
	r.aged(name, left)
}

// aged moves the state's record of when name's order was placed (and its
// certificate started) back to a year before left from now, as if the
// order of a year had lived until left before its end: it has lived half
// its validity, so it may be renewed.
func (r *rig) aged(name string, left time.Duration) {
	r.t.Helper()
	start := r.clock.Now().Add(left).AddDate(-1, 0, 0)
	if err := r.store.Update(name, func(e *state.Entry) bool {
		e.OrderedAt = start
		if !e.NotBefore.IsZero() {
			e.NotBefore = start
		}
		return true
	}); err != nil {
		r.t.Fatal(err)
	}
}

// endingOrder orders shop, observes it, and makes it end in 10 days, as a
// year's order 355 days old.
func (r *rig) endingOrder() int {
	r.t.Helper()
	r.spec("shop")
	r.observeCycle(1)
	id := r.entry("shop").OrderID
	r.srv.OrderEndsIn(id, 10*24*time.Hour)
	r.aged("shop", 10*24*time.Hour)
	r.clock.Add(time.Minute)
	r.calls()
	return id
}

// TestRenew_ending: an order 10 days from its end is renewed once: the
// order renewed is read, then one POST with the spec's order and
// renewal_of_order_id; the state tracks the new order under the same
// name with the old one in previous_order_ids; the old order is left
// alone; later cycles renew nothing.
func TestRenew_ending(t *testing.T) {
	r := newRig(t)
	id := r.endingOrder()
	p, res := r.observeCycle(1)
	if len(p.Actions) != 1 || p.Actions[0].Kind != KindRenew || p.Actions[0].Reason != RenewEnding || !p.Actions[0].Consulted || p.Actions[0].OrderID != id {
		t.Fatalf("plan: %+v", p.Actions)
	}
	if p.Summary() != "Plan: 1 to order, 0 to update, 0 to revoke." {
		t.Errorf("summary: %s", p.Summary())
	}
	news := r.renewals(id)
	if len(news) != 1 {
		t.Fatalf("%d renewals", len(news))
	}
	newID := news[0].ID
	wantLines(t, "results", res, []string{fmt.Sprintf("renew shop: renewed as order %d", newID)})
	var body map[string]any
	for _, q := range r.srv.Requests() {
		if q.Method == "POST" {
			if err := json.Unmarshal(q.Body, &body); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The spec's order body, a fresh alternative order id, and
	// renewal_of_order_id.
	cert, _ := body["certificate"].(map[string]any)
	alt, _ := body["alternative_order_id"].(string)
	if body["renewal_of_order_id"] != float64(id) || cert["common_name"] != "shop.example.com" || cert["csr"] != r.csrs["shop"] ||
		body["skip_approval"] != true || !strings.HasPrefix(alt, "cfshop") {
		t.Errorf("body: %v", body)
	}
	wantLines(t, "calls", r.calls(), []string{
		"GET /order/certificate/status-changes?minutes=2",
		fmt.Sprintf("GET /order/certificate/%d", id),
		"GET /order/certificate?filters%5Bcommon_name%5D=shop.example.com&limit=1000&offset=0",
		fmt.Sprintf("GET /order/certificate/%d", id),
		"POST /order/certificate/ssl",
	})
	e := r.entry("shop")
	if e.OrderID != newID || !slices.Equal(e.PreviousOrderIDs, []int{id}) || e.Intent != nil || e.Fingerprint == "" || e.AlternativeOrderID != alt {
		t.Fatalf("entry: %+v", e)
	}
	if old, _ := r.srv.Order(id); old.Status != "issued" || !old.IsRenewed || old.RenewedOrderID != newID {
		t.Fatalf("old order: %+v", old)
	}
	for range 2 {
		r.clock.Add(time.Minute)
		if p, res := r.observeCycle(1); len(p.Actions) != 0 || len(res) != 0 {
			t.Fatalf("after the renewal: %+v %v", p.Actions, res)
		}
	}
	if n := len(r.renewals(id)); n != 1 || len(r.srv.Orders()) != 2 {
		t.Fatalf("%d renewals, %d orders", n, len(r.srv.Orders()))
	}
}

// TestRenew_unknownOutcome: a renewal whose answer is lost or garbled is
// found by its alternative order id; one refused with a 503 is sent again
// only after --resend-after, once the order renewed still shows no
// renewal; either way CertCentral holds exactly one renewal.
func TestRenew_unknownOutcome(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault digicerttest.Fault
		want  string
	}{
		{"lost answer", digicerttest.Fault{DropAfter: true}, "(the answer was lost; found by alternative order id"},
		{"garbled 2xx", digicerttest.Fault{Status: 201, Body: "{\"id\":", Process: true}, "(the answer was lost; found by alternative order id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			id := r.endingOrder()
			f := tt.fault
			f.Method, f.Path, f.Times = "POST", "/order/certificate/ssl", 1
			r.srv.Inject(f)
			_, res := r.observeCycle(1)
			if len(res) != 1 || !strings.Contains(res[0], tt.want) {
				t.Fatalf("results: %v", res)
			}
			news := r.renewals(id)
			if len(news) != 1 {
				t.Fatalf("%d renewals", len(news))
			}
			if e := r.entry("shop"); e.OrderID != news[0].ID || e.Intent != nil || !slices.Equal(e.PreviousOrderIDs, []int{id}) {
				t.Fatalf("entry: %+v", e)
			}
		})
	}
	t.Run("refused with 503", func(t *testing.T) {
		r := newRig(t)
		id := r.endingOrder()
		r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, Status: 503, Code: "service_unavailable"})
		_, res := r.observeCycle(1)
		if len(res) != 1 || !strings.Contains(res[0], "the intent stays") {
			t.Fatalf("results: %v", res)
		}
		if e := r.entry("shop"); e.Intent == nil || e.Intent.Action != "renew" || e.Intent.RenewalOfOrderID != id || e.OrderID != id {
			t.Fatalf("entry: %+v", e)
		}
		r.clock.Add(time.Minute)
		p, res := r.observeCycle(1)
		if len(p.Actions) != 1 || p.Actions[0].Reason != RenewResume || len(res) != 1 || !strings.Contains(res[0], "is not sent again before") {
			t.Fatalf("before --resend-after: %+v %v", p.Actions, res)
		}
		if len(p.Notes) != 1 || p.Notes[0].Kind != NoteWaiting || !strings.Contains(p.Notes[0].Message, fmt.Sprintf("the renewal of order %d sent at", id)) {
			t.Fatalf("notes: %+v", p.Notes)
		}
		r.calls()
		r.clock.Add(5 * time.Minute)
		_, res = r.observeCycle(1)
		news := r.renewals(id)
		if len(news) != 1 {
			t.Fatalf("%d renewals", len(news))
		}
		wantLines(t, "results", res, []string{fmt.Sprintf("renew shop: renewed as order %d", news[0].ID)})
		calls := r.calls()
		if !slices.Contains(calls, fmt.Sprintf("GET /order/certificate/%d", id)) || !slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "GET /order/alternate/") }) {
			t.Errorf("calls before sending again: %v", calls)
		}
	})
}

// TestRenew_renewedOutside: an order CertCentral renewed by itself is
// adopted, not renewed again; a renewal made between the plan and the
// call is found by reading the order just before the POST.
func TestRenew_renewedOutside(t *testing.T) {
	t.Run("seen in the feed", func(t *testing.T) {
		r := newRig(t)
		id := r.endingOrder()
		newID := r.srv.RenewOutside(id)
		p, res := r.observeCycle(1)
		if len(p.Actions) != 1 || p.Actions[0].Kind != KindAdoptRenewal || p.Actions[0].RenewedOrderID != newID {
			t.Fatalf("plan: %+v", p.Actions)
		}
		wantLines(t, "results", res, []string{fmt.Sprintf("adopt_renewal shop: tracking order %d, which CertCentral renewed order %d with", newID, id)})
		e := r.entry("shop")
		if e.OrderID != newID || !slices.Equal(e.PreviousOrderIDs, []int{id}) || e.Status != "issued" || e.CertificateID == 0 || e.OrderValidTill.IsZero() {
			t.Fatalf("entry: %+v", e)
		}
		for _, c := range r.calls() {
			if !strings.HasPrefix(c, "GET ") {
				t.Errorf("call %s", c)
			}
		}
		if len(r.srv.Orders()) != 2 {
			t.Fatalf("%d orders", len(r.srv.Orders()))
		}
		r.clock.Add(time.Minute)
		if p, _ := r.observeCycle(1); len(p.Actions) != 0 || len(p.Notes) != 0 {
			t.Fatalf("after adopting: %+v", p)
		}
	})
	t.Run("between plan and call", func(t *testing.T) {
		r := newRig(t)
		id := r.endingOrder()
		rec := r.reconciler(1)
		rec.Observe = true
		c, err := rec.Prepare(t.Context(), CycleOptions{})
		if err != nil || len(c.Plan.Actions) != 1 || c.Plan.Actions[0].Kind != KindRenew {
			t.Fatalf("plan: %v %+v", err, c.Plan)
		}
		newID := r.srv.RenewOutside(id)
		res := rec.Apply(t.Context(), c)
		if res[0].Err != nil || res[0].Detail != fmt.Sprintf("not renewed again: tracking order %d, which CertCentral renewed order %d with", newID, id) {
			t.Fatalf("result: %+v", res[0])
		}
		if n := len(r.srv.Orders()); n != 2 {
			t.Fatalf("%d orders", n)
		}
		if e := r.entry("shop"); e.OrderID != newID {
			t.Fatalf("entry: %+v", e)
		}
	})
}

// TestRenew_notRenewed: a revoke: true spec, an orphan, an order far from
// its end and a live order with the spec's names elsewhere are not
// renewed; an expired order is.
func TestRenew_notRenewed(t *testing.T) {
	t.Run("orphan", func(t *testing.T) {
		r := newRig(t)
		r.endingOrder()
		if err := os.Remove(filepath.Join(r.dir, "shop.yaml")); err != nil {
			t.Fatal(err)
		}
		p, res := r.observeCycle(1)
		if len(p.Actions) != 0 || len(res) != 0 || len(p.Notes) != 2 || p.Notes[1].Kind != NoteOrphan {
			t.Fatalf("plan: %+v", p)
		}
	})
	t.Run("revoke", func(t *testing.T) {
		r := newRig(t)
		r.endingOrder()
		r.spec("shop", "revoke: true", "revoke_comments: retired")
		p, _ := r.observeCycle(1)
		if len(p.Actions) != 1 || p.Actions[0].Kind != KindRevoke {
			t.Fatalf("plan: %+v", p.Actions)
		}
	})
	t.Run("far from its end", func(t *testing.T) {
		r := newRig(t)
		r.spec("shop", "renew_before_days: 5")
		r.observeCycle(1)
		r.srv.OrderEndsIn(r.entry("shop").OrderID, 10*24*time.Hour)
		r.clock.Add(time.Minute)
		if p, _ := r.observeCycle(1); len(p.Actions) != 0 || len(p.Notes) != 0 {
			t.Fatalf("plan: %+v", p)
		}
		r.clock.Add(6 * 24 * time.Hour)
		if p, _ := r.observeCycle(1); len(p.Actions) != 1 || p.Actions[0].Kind != KindRenew {
			t.Fatalf("plan 4 days before the end: %+v", p)
		}
	})
	t.Run("another live order", func(t *testing.T) {
		r := newRig(t)
		id := r.endingOrder()
		other := r.srv.AddOrder(digicerttest.Order{CommonName: "shop.example.com", Status: "issued"})
		p, res := r.observeCycle(1)
		if len(p.Actions) != 0 || len(res) != 0 || len(p.Blocked) != 1 || p.Blocked[0].Kind != KindRenew || p.Blocked[0].BlockedBy != BlockedExists {
			t.Fatalf("plan: %+v", p)
		}
		want := fmt.Sprintf("CertCentral already has a live order with exactly these names: order %d (issued); order %d is not renewed", other, id)
		if len(p.Notes) != 1 || p.Notes[0].Message != want {
			t.Fatalf("notes: %+v", p.Notes)
		}
		if len(r.renewals(id)) != 0 {
			t.Fatal("renewed")
		}
	})
	t.Run("expired", func(t *testing.T) {
		r := newRig(t)
		id := r.endingOrder()
		r.srv.OrderEndsIn(id, -time.Hour)
		r.srv.SetStatus(id, "expired")
		p, res := r.observeCycle(1)
		if len(p.Actions) != 1 || p.Actions[0].Kind != KindRenew || p.Actions[0].Reason != RenewExpired {
			t.Fatalf("plan: %+v", p)
		}
		if len(res) != 1 || !strings.HasPrefix(res[0], "renew shop: renewed as order") || len(r.renewals(id)) != 1 {
			t.Fatalf("results: %v", res)
		}
	})
}

// TestRenew_revokeWhileInFlight: revoke: true on a spec whose renewal has
// an unknown outcome revokes nothing and keeps the renewal's intent.
func TestRenew_revokeWhileInFlight(t *testing.T) {
	r := newRig(t)
	id := r.endingOrder()
	r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, Status: 503, Code: "service_unavailable"})
	r.observeCycle(1)
	r.spec("shop", "revoke: true", "revoke_comments: retired")
	r.clock.Add(time.Minute)
	p, res := r.observeCycle(1)
	if len(p.Actions) != 0 || len(res) != 0 || len(p.Notes) != 1 || p.Notes[0].Kind != NoteWarning ||
		!strings.Contains(p.Notes[0].Message, fmt.Sprintf("the renewal of order %d sent at", id)) {
		t.Fatalf("plan: %+v", p)
	}
	if e := r.entry("shop"); e.Intent == nil || e.Intent.Action != "renew" || e.OrderID != id {
		t.Fatalf("entry: %+v", e)
	}
}

// TestRenew_dryRunRefresh: plan --refresh (a dry run that saves nothing)
// plans from what it read, as apply does: an order CertCentral says ends
// in 10 days is a renewal in the plan, and nothing is called or saved.
func TestRenew_dryRunRefresh(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.observeCycle(1)
	id := r.entry("shop").OrderID
	r.srv.OrderEndsIn(id, 10*24*time.Hour) // the state does not know yet
	r.aged("shop", 10*24*time.Hour)
	r.calls()
	before := r.entry("shop")
	plan := &Reconciler{Dir: r.dir, API: r.api, Known: r.store.Snapshot(), DryRun: true, Now: r.clock.Now, Limits: Limits{ResendAfter: 5 * time.Minute, MaxPurchases: -1}}
	c, err := plan.Prepare(t.Context(), CycleOptions{Refresh: true})
	if err != nil || len(c.Errors) != 0 {
		t.Fatal(err, c.Errors)
	}
	if len(c.Plan.Actions) != 1 || c.Plan.Actions[0].Kind != KindRenew {
		t.Fatalf("plan: %+v", c.Plan.Actions)
	}
	for _, call := range r.calls() {
		if !strings.HasPrefix(call, "GET ") {
			t.Errorf("call %s", call)
		}
	}
	if e := r.entry("shop"); !e.OrderValidTill.Equal(before.OrderValidTill) || !e.ObservedAt.Equal(before.ObservedAt) {
		t.Errorf("the dry run saved what it read: %+v", e)
	}
}

// TestDryRunRefresh_revokeDecision: plan --refresh shows a revoke request
// an administrator rejected in CertCentral as rejected, as apply would
// record it, without saving anything.
func TestDryRunRefresh_revokeDecision(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.observeCycle(1)
	r.spec("shop", "revoke: true", "revoke_comments: retired")
	r.clock.Add(time.Minute)
	r.observeCycle(1) // the revoke request, pending
	id := r.entry("shop").OrderID
	r.srv.RejectRevoke(id)
	plan := &Reconciler{Dir: r.dir, API: r.api, Known: r.store.Snapshot(), DryRun: true, Now: r.clock.Now, Limits: Limits{ResendAfter: 5 * time.Minute, MaxRevocations: 1, MaxPurchases: -1}}
	c, err := plan.Prepare(t.Context(), CycleOptions{Refresh: true})
	if err != nil || len(c.Errors) != 0 {
		t.Fatal(err, c.Errors)
	}
	if len(c.Plan.Notes) != 1 || !strings.Contains(c.Plan.Notes[0].Message, "was rejected by an administrator") {
		t.Fatalf("plan: %+v", c.Plan)
	}
	if e := r.entry("shop"); e.Revoke == nil || e.Revoke.Status == "rejected" {
		t.Errorf("the dry run saved the decision: %+v", e.Revoke)
	}
}
