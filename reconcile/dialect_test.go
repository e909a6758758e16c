package reconcile

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/state"
)

// TestObserve_absentDisableCT: CertCentral's order info may lack
// disable_ct (the fake's default, as DigiCert's order-info page): an order
// placed with disable_ct: true is then unknown, not false, and cycles that
// read it keep the state's value: no CT toggle, no reissue, GETs only.
func TestObserve_absentDisableCT(t *testing.T) {
	r := newRig(t)
	r.spec("shop", "disable_ct: true")
	r.cycle(1)
	id := r.entry("shop").OrderID
	if o, _ := r.srv.Order(id); !o.DisableCT {
		t.Fatalf("order placed with disable_ct false: %+v", o)
	}
	r.calls()
	for i := 0; i < 2; i++ {
		r.clock.Add(time.Minute)
		r.srv.SetStatus(id, "issued") // the feed reports it, so the cycle reads it
		p, res := r.observeCycle(1)
		if len(p.Actions) != 0 || len(res) != 0 {
			t.Fatalf("cycle %d: plan %+v, results %v", i, p.Actions, res)
		}
	}
	calls := r.calls()
	if !slices.Contains(calls, fmt.Sprintf("GET /order/certificate/%d", id)) {
		t.Errorf("the order was not read: %v", calls)
	}
	for _, c := range calls {
		if !strings.HasPrefix(c, "GET ") {
			t.Errorf("write call %s", c)
		}
	}
	if e := r.entry("shop"); !e.DisableCT {
		t.Errorf("entry: disable_ct %v", e.DisableCT)
	}
	// A value the answer states still counts: CT turned on in the console
	// is put back as the spec says.
	r.srv.SetCT(id, false)
	r2 := newRig(t, digicerttest.WithDisableCTField())
	r2.spec("shop", "disable_ct: true")
	r2.cycle(1)
	id2 := r2.entry("shop").OrderID
	r2.srv.SetCT(id2, false)
	r2.srv.SetStatus(id2, "issued")
	r2.clock.Add(time.Minute)
	if p, _ := r2.observeCycle(1); len(p.Actions) == 0 || p.Actions[0].Kind != KindSetCT {
		t.Errorf("a known false disable_ct is not corrected: %+v", p.Actions)
	}
}

// TestAdopt_unknownCT: an order whose answer lacks disable_ct is adopted
// with the spec's value: no ct-status call on a guess (and so no reissue),
// the entry records the spec's value, and the next cycle plans nothing.
func TestAdopt_unknownCT(t *testing.T) {
	r := newRig(t)
	id := r.srv.AddOrder(digicerttest.Order{CommonName: "shop.example.com", OrganizationID: 1, ProductType: "ov"})
	r.adoptSpec("shop", id, "", "disable_ct: true")
	r.calls()
	p, res := r.observeCycle(1)
	if len(p.Actions) != 1 || p.Actions[0].Kind != KindAdopt {
		t.Fatalf("plan: %+v", p.Actions)
	}
	wantLines(t, "results", res, []string{fmt.Sprintf("adopt shop: adopted order %d (issued)", id)})
	wantLines(t, "calls", r.calls(), []string{fmt.Sprintf("GET /order/certificate/%d", id)})
	if e := r.entry("shop"); e.OrderID != id || !e.DisableCT {
		t.Fatalf("entry: %+v", e)
	}
	r.clock.Add(time.Minute)
	if p, _ := r.observeCycle(1); len(p.Actions) != 0 {
		t.Fatalf("after adopting: %+v", p.Actions)
	}
}

// TestRenew_conflictCodes: CertCentral refusing a renewal with any of the
// codes a real client sees (order_renewed_already,
// order_not_eligible_for_renewal, and the fake's order_already_renewed)
// makes apply read the order and adopt the renewal it names, as for the
// one code certform knew: one POST, no second order.
func TestRenew_conflictCodes(t *testing.T) {
	for _, code := range []string{"order_already_renewed", "order_renewed_already", "order_not_eligible_for_renewal"} {
		t.Run(code, func(t *testing.T) {
			var srv *digicerttest.Server
			var old, renewal int
			r := newRig(t, digicerttest.WithHook(func(req digicerttest.Request) {
				// Someone renews the order just as certform sends its
				// renewal, which CertCentral then refuses.
				if req.Method == "POST" && req.Path == "/order/certificate/ssl" && old != 0 {
					renewal = srv.RenewOutside(old)
				}
			}))
			srv = r.srv
			old = r.endingOrder()
			r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, Status: 400, Code: code, Message: "The order cannot be renewed."})
			_, res := r.observeCycle(1)
			if renewal == 0 {
				t.Fatalf("no renewal was sent: %v", res)
			}
			wantLines(t, "results", res, []string{fmt.Sprintf("renew shop: not renewed again: tracking order %d, which CertCentral renewed order %d with", renewal, old)})
			if e := r.entry("shop"); e.OrderID != renewal || e.Intent != nil {
				t.Fatalf("entry: %+v", e)
			}
			posts := 0
			for _, c := range r.calls() {
				if c == postOrder {
					posts++
				}
			}
			if n := len(r.srv.Orders()); posts != 1 || n != 2 {
				t.Fatalf("%d POSTs, %d orders", posts, n)
			}
		})
	}
}

// TestApply_alternativeIDAlphanumeric: the alternative order id sent is
// letters and digits only, at most 64 (DigiCert: "a custom alphanumeric
// ID"); an intent recorded with the earlier form (cf-NAME-HEX) is still
// looked up by the id it recorded, and the order found is adopted.
func TestApply_alternativeIDAlphanumeric(t *testing.T) {
	r := newRig(t)
	r.spec("shop-eu.x1")
	r.cycle(1)
	var alt string
	for _, req := range r.srv.Requests() {
		if req.Method == "POST" {
			m := regexp.MustCompile(`"alternative_order_id":"([^"]*)"`).FindSubmatch(req.Body)
			if m == nil {
				t.Fatalf("no alternative_order_id in %s", req.Body)
			}
			alt = string(m[1])
		}
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`).MatchString(alt) || !strings.HasPrefix(alt, "cfshopeux1") {
		t.Errorf("alternative_order_id %q", alt)
	}

	// An intent of the earlier form, whose order landed.
	r = newRig(t)
	r.spec("shop")
	r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, DropBefore: true})
	r.cycle(1)
	const old = "cf-shop-0123456789ab"
	if err := r.store.Update("shop", func(e *state.Entry) bool { e.Intent.AlternativeOrderID = old; return true }); err != nil {
		t.Fatal(err)
	}
	id := r.srv.AddOrder(digicerttest.Order{CommonName: "shop.example.com", OrganizationID: 1, AlternativeOrderID: old})
	r.calls()
	r.clock.Add(6 * time.Minute)
	_, res := r.cycle(1)
	wantLines(t, "results", res, []string{fmt.Sprintf("order shop: adopted order %d, placed earlier with alternative order id %s", id, old)})
	wantLines(t, "calls", r.calls(), []string{lookup(old)})
	if n := r.ordersFor("shop.example.com"); n != 1 {
		t.Fatalf("%d orders", n)
	}
}

// TestObserve_pagedFeed: the status-changes feed is read to its last page
// before the cycle counts as observed: with one change a page, a change on
// page two is seen too (page one only would move the watermark past it
// for good).
func TestObserve_pagedFeed(t *testing.T) {
	r := newRig(t, digicerttest.WithMaxPageSize(1))
	r.spec("a")
	r.spec("b")
	r.cycle(1)
	r.observeCycle(1)
	a, b := r.entry("a").OrderID, r.entry("b").OrderID
	r.clock.Add(time.Minute)
	r.srv.SetStatus(a, "revoked")
	r.srv.SetStatus(b, "revoked")
	r.calls()
	r.observeCycle(1)
	if sa, sb := r.entry("a").Status, r.entry("b").Status; sa != "revoked" || sb != "revoked" {
		t.Errorf("statuses after the cycle: a %s, b %s; want both revoked", sa, sb)
	}
	calls := r.calls()
	if !slices.Contains(calls, "GET /order/certificate/status-changes?limit=1000&minutes=2&offset=1") {
		t.Errorf("page two not read: %v", calls)
	}
}

// TestAdopt_routeNotFound: an order_id whose read answers a 404 that is
// not about an order (not_found|route: a wrong --api-url or a proxy) is
// an error, not "does not exist": nothing is blocked or adopted on it.
func TestAdopt_routeNotFound(t *testing.T) {
	r := newRig(t)
	id := r.srv.AddOrder(digicerttest.Order{CommonName: "shop.example.com", OrganizationID: 1})
	r.adoptSpec("shop", id, "")
	r.srv.Inject(digicerttest.Fault{Method: "GET", Path: fmt.Sprintf("/order/certificate/%d", id), Status: 404, Code: "not_found|route", Message: "The specified route was not found."})
	c, err := r.reconciler(1).Prepare(t.Context(), CycleOptions{Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Plan.Blocked) != 0 || len(c.Errors) != 1 || !strings.Contains(c.Errors[0].Error(), "404 not_found|route") {
		t.Fatalf("blocked %+v, errors %v", c.Plan.Blocked, c.Errors)
	}
	if e := r.store.Entry("shop"); e != nil && e.OrderID != 0 {
		t.Fatalf("entry: %+v", e)
	}
}

// TestObservedFrom_unknownSettings: an order whose answer lacks
// disable_ct and auto_reissue is observed with the state's values, never
// false; values the answer states win.
func TestObservedFrom_unknownSettings(t *testing.T) {
	known := &state.File{Entries: map[string]*state.Entry{"shop": {OrderID: 1, DisableCT: true, AutoReissue: true}}}
	obs := observedFrom(map[string]*digicert.Order{"shop": {ID: 1, Status: "issued"}}, known)
	if o := obs["shop"]; !o.DisableCT || !o.AutoReissue {
		t.Errorf("unknown settings observed as %+v", o)
	}
	obs = observedFrom(map[string]*digicert.Order{"shop": {ID: 1, Status: "issued", DisableCT: digicert.KnownFlag(false), AutoReissue: digicert.KnownFlag(false)}}, known)
	if o := obs["shop"]; o.DisableCT || o.AutoReissue {
		t.Errorf("stated settings observed as %+v", o)
	}
}
