package reconcile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/spec/spectest"
)

// adoptSpec writes the spec NAME for existing order id, without a CSR
// unless csr is given; extra lines are added.
func (r *rig) adoptSpec(name string, id int, csr string, extra ...string) {
	r.t.Helper()
	body := fmt.Sprintf("name: %s\ncommon_name: %s.example.com\norganization_id: 1\norder_id: %d\n%s", name, name, id, lines(extra))
	if csr != "" {
		body += "csr: |\n" + spectest.Indent(csr)
	}
	if err := os.WriteFile(filepath.Join(r.dir, name+".yaml"), []byte(body), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// TestAdopt_orderID: a spec naming an order placed outside certform is
// adopted after one GET, with the order's CT and auto-reissue values, and
// the toggle the spec asks for follows in the same run; nothing is
// ordered; the next cycle plans nothing. A CSR added later is not a
// change.
func TestAdopt_orderID(t *testing.T) {
	r := newRig(t, digicerttest.WithDisableCTField()) // the order's CT setting is known
	id := r.srv.AddOrder(digicerttest.Order{CommonName: "shop.example.com", OrganizationID: 1, ProductType: "ov", AutoReissue: true})
	r.adoptSpec("shop", id, "", "disable_ct: true", "auto_reissue: true")
	r.calls()
	p, res := r.observeCycle(1)
	if len(p.Actions) != 2 || p.Actions[0].Kind != KindAdopt || !p.Actions[0].Verified || p.Actions[1].Kind != KindSetCT {
		t.Fatalf("plan: %+v", p.Actions)
	}
	if p.Summary() != "Plan: 1 to adopt, 0 to order, 1 to update, 0 to revoke." {
		t.Errorf("summary %q", p.Summary())
	}
	wantLines(t, "results", res, []string{fmt.Sprintf("adopt shop: adopted order %d (issued)", id), "set_ct shop: disable_ct is true"})
	wantLines(t, "calls", r.calls(), []string{fmt.Sprintf("GET /order/certificate/%d", id), fmt.Sprintf("PUT /order/certificate/%d/ct-status", id)})
	e := r.entry("shop")
	if e.OrderID != id || !e.Imported || !e.DisableCT || !e.AutoReissue || e.Status != "issued" || e.CertificateID == 0 || e.Fixed["csr"] != "" || e.ObservedAt.IsZero() {
		t.Fatalf("entry: %+v", e)
	}
	r.clock.Add(time.Minute)
	if p, _ := r.observeCycle(1); len(p.Actions) != 0 || len(p.Notes) != 0 {
		t.Fatalf("after adopting: %+v", p)
	}
	// The CSR given later is taken as the order's.
	csr, err := spectest.CSR("shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	r.adoptSpec("shop", id, csr, "disable_ct: true", "auto_reissue: true")
	r.clock.Add(time.Minute)
	if p, _ := r.observeCycle(1); len(p.Actions) != 0 || len(p.Notes) != 0 {
		t.Fatalf("after adding the CSR: %+v", p)
	}
	if n := len(r.srv.Orders()); n != 1 {
		t.Fatalf("%d orders", n)
	}
}

// TestAdopt_refused: an order with other names, a revoked order, an
// unknown order and an order tracked under another name are not adopted:
// blocked with a note naming why, no write call, nothing in the state.
func TestAdopt_refused(t *testing.T) {
	r := newRig(t)
	other := r.srv.AddOrder(digicerttest.Order{CommonName: "shop.example.com", DNSNames: []string{"www.shop.example.com"}})
	revoked := r.srv.AddOrder(digicerttest.Order{CommonName: "api.example.com", Status: "revoked"})
	r.spec("www")
	r.cycle(1)
	tracked := r.entry("www").OrderID
	r.adoptSpec("shop", other, "")
	r.adoptSpec("api", revoked, "")
	r.adoptSpec("gone", 999999, "")
	r.adoptSpec("www2", tracked, "")
	r.calls()
	p, res := r.cycle(1)
	if len(p.Actions) != 0 || len(res) != 0 || len(p.Blocked) != 4 {
		t.Fatalf("plan: %+v %v", p, res)
	}
	var msgs []string
	for _, n := range p.Notes {
		msgs = append(msgs, n.Name+": "+n.Message)
	}
	wantLines(t, "notes", msgs, []string{
		fmt.Sprintf("api: order %d is revoked in CertCentral; only a live order is adopted", revoked),
		"gone: order 999999 does not exist in this CertCentral account; nothing is adopted",
		fmt.Sprintf("shop: order %d's names are not the spec's (only on the order: www.shop.example.com); nothing is adopted", other),
		fmt.Sprintf("www2: order %d is tracked as www; nothing is adopted", tracked),
	})
	for _, c := range r.calls() {
		if !strings.HasPrefix(c, "GET ") {
			t.Errorf("call %s", c)
		}
	}
	for _, n := range []string{"shop", "api", "gone", "www2"} {
		if r.store.Entry(n) != nil {
			t.Errorf("%s is in the state", n)
		}
	}
}

// TestAdopt_unverified: an adoption planned without reading the order (a
// plan made without CertCentral) is checked by apply, which reads the
// order first and refuses one with other names.
func TestAdopt_unverified(t *testing.T) {
	r := newRig(t)
	good := r.srv.AddOrder(digicerttest.Order{CommonName: "shop.example.com"})
	bad := r.srv.AddOrder(digicerttest.Order{CommonName: "api.example.com", DNSNames: []string{"x.example.com"}})
	r.adoptSpec("shop", good, "")
	r.adoptSpec("api", bad, "")
	offline := &Reconciler{Dir: r.dir, Store: r.store, Now: r.clock.Now}
	c, err := offline.Prepare(context.Background(), CycleOptions{})
	if err != nil || len(c.Plan.Actions) != 2 || c.Plan.Actions[0].Verified {
		t.Fatalf("offline plan: %v %+v", err, c.Plan)
	}
	ap := &applier{API: r.api, Store: r.store, Now: r.clock.Now}
	var got []string
	for _, res := range ap.Apply(context.Background(), c.Plan) {
		got = append(got, fmt.Sprintf("%s: %v %s", res.Action.Name, res.Err, res.Detail))
	}
	wantLines(t, "results", got, []string{
		fmt.Sprintf("api: order %d's names are not the spec's (only on the order: x.example.com); nothing is adopted ", bad),
		fmt.Sprintf("shop: <nil> adopted order %d (issued)", good),
	})
	if e := r.store.Entry("api"); e != nil {
		t.Errorf("api adopted: %+v", e)
	}
}

// TestAdopt_needsCSR: a spec adopted without a CSR gets no reissue or
// renewal until it gives one: a needs_csr note and no write call. Once
// the CSR is there, the renewal is made; the spec's order_id may then
// name the order renewed.
func TestAdopt_needsCSR(t *testing.T) {
	r := newRig(t)
	id := r.srv.AddOrder(digicerttest.Order{CommonName: "shop.example.com"})
	r.adoptSpec("shop", id, "")
	r.observeCycle(1)
	// A name added: the reissue needs a CSR.
	r.adoptSpec("shop", id, "", "dns_names: [www.shop.example.com]")
	r.calls()
	r.clock.Add(time.Minute)
	p, res := r.observeCycle(1)
	if len(p.Actions) != 0 || len(res) != 0 || len(p.Notes) != 1 || p.Notes[0].Kind != NoteNeedsCSR ||
		p.Notes[0].Message != "a reissue (changed) is due, but the spec gives no CSR; nothing is sent until it does" {
		t.Fatalf("plan: %+v", p)
	}
	// The order ends in 10 days: the renewal needs a CSR too.
	r.adoptSpec("shop", id, "")
	r.endsIn("shop", 10*24*time.Hour)
	r.clock.Add(time.Minute)
	p, res = r.observeCycle(1)
	if len(p.Actions) != 0 || len(res) != 0 || len(p.Notes) != 1 || p.Notes[0].Kind != NoteNeedsCSR || !strings.Contains(p.Notes[0].Message, "needs a renewal, but the spec gives no CSR") {
		t.Fatalf("plan: %+v", p)
	}
	for _, c := range r.calls() {
		if !strings.HasPrefix(c, "GET ") {
			t.Errorf("call %s", c)
		}
	}
	csr, err := spectest.CSR("shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	r.adoptSpec("shop", id, csr)
	r.clock.Add(time.Minute)
	p, res = r.observeCycle(1)
	if len(p.Actions) != 1 || p.Actions[0].Kind != KindRenew || len(res) != 1 || !strings.HasPrefix(res[0], "renew shop: renewed as order") {
		t.Fatalf("plan: %+v %v", p, res)
	}
	if e := r.entry("shop"); e.OrderID == id || !slices.Equal(e.PreviousOrderIDs, []int{id}) {
		t.Fatalf("entry: %+v", e)
	}
	// order_id still names the order renewed: fine.
	r.clock.Add(time.Minute)
	if p, _ := r.observeCycle(1); len(p.Actions)+len(p.Blocked) != 0 {
		t.Fatalf("after the renewal: %+v", p)
	}
}
