package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/internal/nameset"
)

const listAccount = "GET /order/certificate?limit=1000&offset="

// planNewSpecs writes n specs s000, s001, ... (common names
// sNNN.example.com), plans them (consulting CertCentral) and returns the
// Reconciler and the cycle to apply; the calls made so far are dropped.
// The client keeps no rate limit: the fake keeps none either.
func (r *rig) planNewSpecs(n int) (*Reconciler, *Cycle) {
	r.t.Helper()
	api, err := digicert.New(testKey, digicert.WithBaseURL(r.srv.URL()), digicert.WithRetry(digicert.Retry{}), digicert.WithLimits())
	if err != nil {
		r.t.Fatal(err)
	}
	r.api = api
	for i := 0; i < n; i++ {
		r.spec(fmt.Sprintf("s%03d", i))
	}
	rec := r.reconciler(1)
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil || len(c.Errors) > 0 {
		r.t.Fatal(err, c.Errors)
	}
	if len(c.Plan.Actions) != n {
		r.t.Fatalf("plan: %d actions, want %d", len(c.Plan.Actions), n)
	}
	r.calls()
	return rec, c
}

// TestApply_newOrdersNamesCheck: up to liveReadAbove new orders, each POST
// is preceded by a GET filtered by its common name; above it, one paged
// read of the account (every page, before any POST) replaces them.
func TestApply_newOrdersNamesCheck(t *testing.T) {
	tests := []struct {
		name  string
		specs int
		other int // orders of other names in the account
		reads []string
	}{
		{name: "at the cross-over: a GET per order", specs: liveReadAbove},
		{name: "above it: one paged read", specs: liveReadAbove + 1, reads: []string{listAccount + "0"}},
		{name: "two pages", specs: liveReadAbove + 1, other: 1500, reads: []string{listAccount + "0", listAccount + "1000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			for i := 0; i < tt.other; i++ {
				r.srv.AddOrder(digicerttest.Order{CommonName: fmt.Sprintf("other%d.example.com", i), Status: "issued"})
			}
			rec, c := r.planNewSpecs(tt.specs)
			for _, x := range rec.Apply(context.Background(), c) {
				if x.Err != nil {
					t.Fatalf("%s: %v", x.Action.Name, x.Err)
				}
			}
			calls := r.calls()
			want := slices.Clone(tt.reads)
			for i := 0; i < tt.specs; i++ {
				if tt.reads == nil {
					want = append(want, fmt.Sprintf("GET /order/certificate?filters%%5Bcommon_name%%5D=s%03d.example.com&limit=1000&offset=0", i))
				}
				want = append(want, postOrder)
			}
			if tt.reads == nil {
				// Each spec's GET and POST, specs at once: in any order.
				slices.Sort(calls)
				slices.Sort(want)
			}
			wantLines(t, "calls", calls, want)
			if n := len(r.srv.Orders()); n != tt.specs+tt.other {
				t.Errorf("%d orders in the account, want %d", n, tt.specs+tt.other)
			}
		})
	}
}

// TestApply_liveReadBlocks: an order placed after the plan with exactly
// the names of one of many new specs, found by the apply's paged read,
// blocks that spec as the per-order check does (same message, blocked_by
// exists, nothing saved); closed orders and orders with other names do
// not block.
func TestApply_liveReadBlocks(t *testing.T) {
	r := newRig(t)
	rec, c := r.planNewSpecs(liveReadAbove + 1)
	id := r.srv.AddOrder(digicerttest.Order{CommonName: "s050.example.com", Status: "issued"})
	r.srv.AddOrder(digicerttest.Order{CommonName: "s051.example.com", Status: "revoked"})
	r.srv.AddOrder(digicerttest.Order{CommonName: "s052.example.com", DNSNames: []string{"www.s052.example.com"}, Status: "issued"})
	res := rec.Apply(context.Background(), c)
	want := fmt.Sprintf("blocked (exists): not ordered: CertCentral now has a live order with exactly these names: order %d (issued), placed since the plan was made; nothing was ordered; "+
		"to track it, run certform import s050 %d; for a second, separate order with the same names, set allow_existing_names: true in the spec", id, id)
	for _, x := range res {
		switch {
		case x.Action.Name == "s050":
			if blockedBy(x.Err) != BlockedExists || x.Err.Error() != want {
				t.Errorf("s050: %v\nwant: %s", x.Err, want)
			}
		case x.Err != nil:
			t.Errorf("%s: %v", x.Action.Name, x.Err)
		}
	}
	calls := r.calls()
	if len(calls) != 1+liveReadAbove || calls[0] != listAccount+"0" || slices.ContainsFunc(calls[1:], func(c string) bool { return c != postOrder }) {
		t.Errorf("calls: %q", calls)
	}
	if n := r.ordersFor("s050.example.com"); n != 1 {
		t.Errorf("%d orders for s050", n)
	}
	if e := r.store.Entry("s050"); e != nil {
		t.Errorf("s050 has an entry: %+v", e)
	}
	if p := r.store.Snapshot().Purchases; len(p) != liveReadAbove {
		t.Errorf("%d purchases, want %d", len(p), liveReadAbove)
	}
	if js := jsonResults(t, c.Plan, res); strings.Count(js, `"blocked_by": "exists"`) != 1 {
		t.Errorf("JSON results:\n%s", js)
	}
}

// jsonResults returns apply --json's results of p.
func jsonResults(t *testing.T, p *Plan, res []Result) string {
	t.Helper()
	var b strings.Builder
	if err := p.WriteJSONResults(&b, nil, res); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestApply_liveReadFails: when the apply's paged read fails, no new
// order is placed: each fails with the read's error, and the pages are not
// asked for again in the same apply.
func TestApply_liveReadFails(t *testing.T) {
	r := newRig(t)
	rec, c := r.planNewSpecs(liveReadAbove + 1)
	r.srv.Inject(digicerttest.Fault{Method: "GET", Path: "/order/certificate", Status: 500, Times: 1})
	want := "reading the account's live orders just before ordering: digicert: 500 internal_server_error: Injected fault: Internal Server Error.; nothing was ordered"
	for _, x := range rec.Apply(context.Background(), c) {
		if x.Err == nil || x.Err.Error() != want {
			t.Fatalf("%s: %v\nwant: %s", x.Action.Name, x.Err, want)
		}
	}
	wantLines(t, "calls", r.calls(), []string{listAccount + "0"})
	if n := len(r.srv.Orders()); n != 0 {
		t.Errorf("%d orders", n)
	}
	f := r.store.Snapshot()
	if len(f.Entries) != 0 || len(f.Purchases) != 0 {
		t.Errorf("state: %d entries, %d purchases", len(f.Entries), len(f.Purchases))
	}
}

// TestLiveRead_age: the paged read stands for liveMaxAge; an order sent
// later is checked against a new read, which sees an order placed since.
func TestLiveRead_age(t *testing.T) {
	r := newRig(t)
	ap := &applier{API: r.api, Store: r.store, Now: r.clock.Now, live: &liveRead{left: 1000}}
	want := nameset.List("shop.example.com", nil)
	find := func() []liveOrder {
		t.Helper()
		got, ok, err := ap.live.find(context.Background(), ap, want)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		return got
	}
	if got := find(); got != nil {
		t.Fatalf("found %+v", got)
	}
	id := r.srv.AddOrder(digicerttest.Order{CommonName: "shop.example.com", Status: "issued"})
	r.clock.Add(liveMaxAge - time.Second)
	if got := find(); got != nil {
		t.Fatalf("found %+v before the read was liveMaxAge old", got)
	}
	wantLines(t, "calls", r.calls(), []string{listAccount + "0"})
	r.clock.Add(time.Second)
	if got := find(); len(got) != 1 || got[0].ID != id || got[0].Status != "issued" {
		t.Fatalf("found %+v, want order %d", got, id)
	}
	wantLines(t, "calls", r.calls(), []string{listAccount + "0"})
	// A clock that goes back does not keep a read fresh.
	r.clock.Add(-time.Second)
	find()
	wantLines(t, "calls after the clock went back", r.calls(), []string{listAccount + "0"})
}

// TestLiveRead_fewLeft: a read due again that would take as many pages as
// there are new orders left to check is not made: each of those orders is
// checked with its own GET filtered by its common name (an account whose
// untracked orders fill many pages never costs more than the per-order
// checks).
func TestLiveRead_fewLeft(t *testing.T) {
	r := newRig(t)
	ap := &applier{API: r.api, Store: r.store, Now: r.clock.Now, live: &liveRead{left: 2}}
	want := nameset.List("shop.example.com", nil)
	if _, err := ap.liveWithNames(context.Background(), "shop.example.com", want); err != nil {
		t.Fatal(err)
	}
	wantLines(t, "first order's calls", r.calls(), []string{listAccount + "0"})
	id := r.srv.AddOrder(digicerttest.Order{CommonName: "shop.example.com", Status: "issued"})
	r.clock.Add(liveMaxAge)
	got, err := ap.liveWithNames(context.Background(), "shop.example.com", want)
	if err != nil || len(got) != 1 || got[0].ID != id {
		t.Fatalf("found %+v, %v; want order %d", got, err, id)
	}
	calls := r.calls()
	if len(calls) != 1 || !strings.Contains(calls[0], "common_name") {
		t.Fatalf("second order's calls %v, want one GET filtered by its common name", calls)
	}
}
