package reconcile

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/state"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The pages of the order list as the client asks them, with the fake's
// pages of 2 (refreshRig): three orders take two pages.
const (
	listPage0 = "GET /order/certificate?limit=1000&offset=0"
	listPage2 = "GET /order/certificate?limit=1000&offset=2"
)

// refreshRig is observedRig with a fake whose list pages hold 2 orders.
func refreshRig(t *testing.T) *rig {
	t.Helper()
	return observedRig(t, digicerttest.WithMaxPageSize(2))
}

// observedRig orders a, b and c from a fake made with opts, and observes
// until every order is read: the state knows what CertCentral shows, and
// the next cycle that observes calls only the feed.
func observedRig(t *testing.T, opts ...digicerttest.Option) *rig {
	t.Helper()
	r := newRig(t, opts...)
	for _, n := range []string{"a", "b", "c"} {
		r.spec(n)
	}
	r.observeCycle(1)
	r.clock.Add(time.Minute)
	r.observeCycle(1)
	r.clock.Add(time.Minute)
	r.calls()
	return r
}

// refresh runs one cycle up to its plan with opt, failing the test on an
// error, and returns the calls it made.
func (r *rig) refresh(opt CycleOptions) []string {
	r.t.Helper()
	rec := r.reconciler(1)
	rec.Observe = true
	c, err := rec.Prepare(r.t.Context(), opt)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range c.Errors {
		r.t.Fatalf("cycle error: %v", e)
	}
	return r.calls()
}

// getOrder is the read of one order.
func getOrder(id int) string { return fmt.Sprintf("GET /order/certificate/%d", id) }

// TestRefresh_listUnchanged: a refresh of orders that did not change
// reads the pages of the order list and nothing else, and writes nothing.
func TestRefresh_listUnchanged(t *testing.T) {
	r := refreshRig(t)
	before := r.store.Snapshot()
	wantLines(t, "calls", r.refresh(CycleOptions{Refresh: true}), []string{listPage0, listPage2})
	if diff := cmp.Diff(before, r.store.Snapshot()); diff != "" {
		t.Errorf("the state changed (-before +after):\n%s", diff)
	}
}

// TestRefresh_listChanged: an order changed in CertCentral (revoked,
// reissued with a new serial, reissued with other names, renewed, near
// its end) is the only one read after the list, and its entry is then
// what a full refresh records: a full refresh right after (which reads
// every order) changes nothing but the other entries' read times.
func TestRefresh_listChanged(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *rig, id int)
		check  func(e *state.Entry) string
	}{
		{"revoked", func(r *rig, id int) { r.srv.Revoke(id, "done in the console") },
			func(e *state.Entry) string { return e.Status }},
		{"reissued", func(r *rig, id int) { r.srv.Reissue(id) },
			func(e *state.Entry) string { return fmt.Sprint(e.CertificateID, " ", e.SerialNumber) }},
		{"names changed", func(r *rig, id int) { r.srv.ReissueNames(id, "b.example.com", []string{"www.b.example.com"}) },
			func(e *state.Entry) string { return strings.Join(e.Names, ",") }},
		{"renewed", func(r *rig, id int) { r.srv.RenewOutside(id) },
			func(e *state.Entry) string { return fmt.Sprint(e.Renewed, " ", e.RenewedOrderID) }},
		{"order ends", func(r *rig, id int) { r.srv.OrderEndsIn(id, 10*24*time.Hour) },
			func(e *state.Entry) string { return e.OrderValidTill.String() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := refreshRig(t)
			id := r.entry("b").OrderID
			was := tt.check(r.entry("b"))
			tt.change(r, id)
			wantLines(t, "calls", r.refresh(CycleOptions{Refresh: true}), []string{listPage0, listPage2, getOrder(id)})
			listed := r.store.Snapshot()
			if tt.check(listed.Entries["b"]) == was {
				t.Fatalf("the change was not recorded: %+v", listed.Entries["b"])
			}
			calls := r.refresh(CycleOptions{Refresh: true, FullRefresh: true})
			want := []string{getOrder(r.entry("a").OrderID), getOrder(id), getOrder(r.entry("c").OrderID)}
			sort.Strings(calls)
			sort.Strings(want)
			wantLines(t, "full refresh calls", calls, want)
			full := r.store.Snapshot()
			if diff := cmp.Diff(listed.Entries["b"], full.Entries["b"]); diff != "" {
				t.Errorf("the full refresh found more (-list refresh +full refresh):\n%s", diff)
			}
			if diff := cmp.Diff(listed, full, cmpopts.IgnoreFields(state.Entry{}, "RefreshedAt", "ObservedAt")); diff != "" {
				t.Errorf("the full refresh found more (-list refresh +full refresh):\n%s", diff)
			}
		})
	}
}

// TestRefresh_listMisses: an order the list does not show is read one by
// one; one that is gone (404) fails the cycle as with any read.
func TestRefresh_listMisses(t *testing.T) {
	r := refreshRig(t)
	empty := digicerttest.Fault{Method: "GET", Path: "/order/certificate", Status: 200, Times: 1,
		Body: `{"orders":[],"page":{"total":0,"limit":1000,"offset":0}}`}
	r.srv.Inject(empty)
	calls := r.refresh(CycleOptions{Refresh: true})
	want := []string{getOrder(r.entry("a").OrderID), getOrder(r.entry("b").OrderID), getOrder(r.entry("c").OrderID)}
	sort.Strings(calls[1:])
	sort.Strings(want)
	wantLines(t, "calls", calls, append([]string{listPage0}, want...))

	r.srv.Inject(empty)
	id := r.entry("b").OrderID
	r.srv.Inject(digicerttest.Fault{Method: "GET", Path: fmt.Sprintf("/order/certificate/%d", id), Status: 404, Code: "not_found|order", Times: 1})
	c, err := r.reconciler(1).Prepare(t.Context(), CycleOptions{Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Errors) != 1 || !strings.HasPrefix(c.Errors[0].Error(), fmt.Sprintf("reading b (order %d): ", id)) {
		t.Errorf("errors %v, want one for b", c.Errors)
	}
}

// TestRefresh_listFails: a list page that fails fails the cycle, and no
// order is read.
func TestRefresh_listFails(t *testing.T) {
	r := refreshRig(t)
	r.srv.Inject(digicerttest.Fault{Method: "GET", Path: "/order/certificate", Status: 403, Code: "access_denied|missing_permission", Times: 1})
	c, err := r.reconciler(1).Prepare(t.Context(), CycleOptions{Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Errors) != 1 || !strings.HasPrefix(c.Errors[0].Error(), "reading the list of orders in CertCentral: ") {
		t.Errorf("errors %v", c.Errors)
	}
	wantLines(t, "calls", r.calls(), []string{listPage0})
}

// TestRefresh_nothingTracked: a refresh without tracked orders calls
// nothing.
func TestRefresh_nothingTracked(t *testing.T) {
	r := newRig(t)
	rec := &Reconciler{Dir: r.dir, API: r.api, Known: r.store.Snapshot(), DryRun: true, Now: r.clock.Now, Limits: Limits{MaxPurchases: -1}}
	if _, err := rec.Prepare(t.Context(), CycleOptions{Refresh: true}); err != nil {
		t.Fatal(err)
	}
	wantLines(t, "calls", r.calls(), nil)
}
