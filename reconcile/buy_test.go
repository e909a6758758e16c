package reconcile

import (
	"context"
	"errors"
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

// cycleWith runs one cycle (observing first) with the rig's Reconciler as
// set changes it, and returns the plan and the results as they are.
func (r *rig) cycleWith(set func(*Reconciler)) (*Plan, []Result) {
	r.t.Helper()
	rec := r.reconciler(1)
	rec.Observe = true
	if set != nil {
		set(rec)
	}
	return r.applyWith(rec)
}

// otherStore opens a second state file for the rig's account: another
// --state (a laptop beside the server).
func (r *rig) otherStore() *state.Store {
	r.t.Helper()
	st, err := state.Open(filepath.Join(r.t.TempDir(), "other.json"))
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { st.Close() })
	return st
}

// specFor writes the spec file NAME.yaml for common name cn, with a CSR of
// its own (a new key).
func (r *rig) specFor(name, cn string, extra ...string) {
	r.t.Helper()
	csr, err := spectest.CSR(cn)
	if err != nil {
		r.t.Fatal(err)
	}
	body := fmt.Sprintf("name: %s\ncommon_name: %s\norganization_id: 1\nskip_approval: true\n%scsr: |\n%s", name, cn, lines(extra), spectest.Indent(csr))
	if err := os.WriteFile(filepath.Join(r.dir, name+".yaml"), []byte(body), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func blockedBy(err error) string {
	var be *BlockedError
	if errors.As(err, &be) {
		return be.By
	}
	return ""
}

// TestApply_namesOrderedAfterPlan (issue 21, item 4): a plan made on one
// state (a laptop's apply waiting at "yes") and an order for the same
// names placed meanwhile from another state (the server): the laptop's
// apply asks CertCentral again immediately before its POST, finds the
// order and sends nothing. One order on the account.
func TestApply_namesOrderedAfterPlan(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	laptop := r.reconciler(1)
	c, err := laptop.Prepare(context.Background(), CycleOptions{})
	if err != nil || len(c.Errors) > 0 {
		t.Fatal(err, c.Errors)
	}
	if len(c.Plan.Actions) != 1 || c.Plan.Actions[0].Kind != KindOrder || !c.Plan.Actions[0].Consulted {
		t.Fatalf("laptop's plan: %+v", c.Plan.Actions)
	}
	server := r.reconciler(1)
	server.Store = r.otherStore()
	sc, err := server.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res := server.Apply(context.Background(), sc); len(res) != 1 || res[0].Err != nil {
		t.Fatalf("server's apply: %+v", res)
	}
	id := r.srv.Orders()[0].ID
	r.calls()

	res := laptop.Apply(context.Background(), c)
	if len(res) != 1 || blockedBy(res[0].Err) != BlockedExists {
		t.Fatalf("laptop's apply: %+v", res)
	}
	want := fmt.Sprintf("blocked (exists): not ordered: CertCentral now has a live order with exactly these names: order %d (issued), placed since the plan was made; nothing was ordered; "+
		"to track it, run certform import shop %d; for a second, separate order with the same names, set allow_existing_names: true in the spec", id, id)
	if got := res[0].Err.Error(); got != want {
		t.Errorf("error:\n%s\nwant:\n%s", got, want)
	}
	wantLines(t, "calls", r.calls(), []string{listShop})
	if n := r.ordersFor("shop.example.com"); n != 1 {
		t.Fatalf("%d orders", n)
	}
	if e := r.store.Entry("shop"); e != nil {
		t.Errorf("the laptop's state changed: %+v", e)
	}
	if p := r.store.Snapshot().Purchases; p != nil {
		t.Errorf("purchase recorded: %+v", p)
	}
	// The JSON results say which rail held it back.
	var b strings.Builder
	if err := c.Plan.WriteJSONResults(&b, nil, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"blocked_by": "exists"`) {
		t.Errorf("JSON results:\n%s", b.String())
	}
}

// TestApply_sameNamesOneRun (issue 21, item 5): two new specs with the
// same names and different CSRs, in one apply: one is ordered, the other
// blocked (exists), also when CertCentral does not list the first order
// yet and the specs are worked on at once.
func TestApply_sameNamesOneRun(t *testing.T) {
	for _, lag := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprintf("list lag %s", lag), func(t *testing.T) {
			r := newRig(t, digicerttest.WithLookupLag(lag))
			r.specFor("shop-a", "shop.example.com")
			r.specFor("shop-b", "shop.example.com")
			p, res := r.cycleWith(nil)
			if len(p.Actions) != 2 || len(p.Blocked) != 0 {
				t.Fatalf("plan: %+v / %+v", p.Actions, p.Blocked)
			}
			var ordered, blocked []string
			for _, x := range res {
				switch {
				case x.Err == nil:
					ordered = append(ordered, x.Action.Name)
				case blockedBy(x.Err) == BlockedExists:
					blocked = append(blocked, x.Action.Name)
					other := map[string]string{"shop-a": "shop-b", "shop-b": "shop-a"}[x.Action.Name]
					want := other + ", ordered in this run, has exactly these names (shop.example.com); nothing was ordered; " +
						"keep one of these specs, or set allow_existing_names: true in this one for a second, separate order"
					if lag == 0 {
						// Without lag the first order may already be listed.
						if !strings.Contains(x.Err.Error(), want) && !strings.Contains(x.Err.Error(), "CertCentral now has a live order with exactly these names") {
							t.Errorf("error: %v", x.Err)
						}
					} else if x.Err.Error() != "blocked (exists): not ordered: "+want {
						t.Errorf("error: %v\nwant: blocked (exists): not ordered: %s", x.Err, want)
					}
				default:
					t.Errorf("%s: %v", x.Action.Name, x.Err)
				}
			}
			if len(ordered) != 1 || len(blocked) != 1 {
				t.Fatalf("ordered %v, blocked %v", ordered, blocked)
			}
			if n := len(r.srv.Orders()); n != 1 {
				t.Fatalf("%d orders", n)
			}
			if e := r.store.Entry(blocked[0]); e != nil {
				t.Errorf("the blocked spec has an entry: %+v", e)
			}
		})
	}
}

// TestApply_firstOrderRefused (issue 21, item 15): a first order DigiCert
// refuses with a 4xx and its error body is definite: the intent (and the
// purchase) go, the code and message are shown, and the next run, with
// the spec fixed, orders normally. 408, 429, a taken alternative order id
// and a 4xx without DigiCert's body keep the intent.
func TestApply_firstOrderRefused(t *testing.T) {
	tests := []struct {
		name    string
		fault   digicerttest.Fault
		cleared bool
	}{
		{"400 with a code", digicerttest.Fault{Status: 400, Code: "invalid_dns_name"}, true},
		{"403 with a code", digicerttest.Fault{Status: 403, Code: "access_denied"}, true},
		{"408", digicerttest.Fault{Status: 408, Code: "request_timeout"}, false},
		{"429", digicerttest.Fault{Status: 429, Code: "request_limit_exceeded"}, false},
		{"alternative id taken", digicerttest.Fault{Status: 400, Code: "duplicate_alternative_order_id"}, false},
		{"400 without DigiCert's body", digicerttest.Fault{Status: 400, Body: "<html>Bad Request</html>", ContentType: "text/html"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.spec("shop")
			f := tt.fault
			f.Method, f.Path, f.Times = "POST", "/order/certificate/ssl", 1
			r.srv.Inject(f)
			_, res := r.cycle(1)
			if len(res) != 1 || !strings.HasPrefix(res[0], "order shop: error: ") {
				t.Fatalf("results: %q", res)
			}
			e := r.store.Entry("shop")
			if !tt.cleared {
				if e == nil || e.Intent == nil || len(r.store.Snapshot().Purchases) != 1 {
					t.Fatalf("the intent is gone after %s: %+v", tt.name, e)
				}
				return
			}
			want := fmt.Sprintf("order shop: error: digicert: %d %s: Injected fault: %s.; CertCentral refused the order, so nothing was ordered and nothing is left to look up: "+
				"fix what the message names, and the next apply orders it", f.Status, f.Code, map[int]string{400: "Bad Request", 403: "Forbidden"}[f.Status])
			wantLines(t, "results", res, []string{want})
			if e != nil || r.store.Snapshot().Purchases != nil {
				t.Fatalf("after a refusal: entry %+v, purchases %+v", e, r.store.Snapshot().Purchases)
			}
			r.calls()
			r.clock.Add(time.Minute)
			_, res = r.cycle(1)
			if len(res) != 1 || !strings.HasPrefix(res[0], "order shop: ordered ") {
				t.Fatalf("next run: %q", res)
			}
			wantLines(t, "calls", r.calls(), []string{listShop, listShop, postOrder})
		})
	}
}

// TestApply_recordedResendTime (issue 21, item 20): an order sent by a
// process with --resend-after 5m whose outcome is unknown is not sent
// again by another process with --resend-after 2s before the time the
// sender recorded; the plan shows that time.
func TestApply_recordedResendTime(t *testing.T) {
	r := newRig(t, digicerttest.WithLookupLag(time.Hour))
	r.spec("shop")
	r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, DropAfter: true})
	r.cycle(1) // --resend-after 5m
	alt := r.intentAlt("shop")
	if in := r.entry("shop").Intent; !in.ResendAt.Equal(time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC)) {
		t.Fatalf("resend_at: %v", in.ResendAt)
	}
	r.calls()
	r.clock.Add(time.Minute)
	p, res := r.cycleWith(func(rec *Reconciler) { rec.ResendAfter = 2 * time.Second })
	if len(p.Actions) != 1 || !p.Actions[0].ResendAt.Equal(time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC)) {
		t.Fatalf("plan: %+v", p.Actions)
	}
	var we *WaitError
	if len(res) != 1 || !errors.As(res[0].Err, &we) || !we.Until.Equal(time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC)) {
		t.Fatalf("results: %+v", res)
	}
	wantLines(t, "calls", r.calls(), []string{lookup(alt)})
	if n := r.ordersFor("shop.example.com"); n != 1 {
		t.Fatalf("%d orders", n)
	}
}

// TestApply_renewLoop (issue 21, item 19): a spec whose renew_before_days
// is not shorter than its validity (20 days and 30, as an older certform
// accepted it) is not renewed by apply after apply: plan warns until the
// order has lived half its validity, then renews it once; the renewal is
// not renewed again at once.
func TestApply_renewLoop(t *testing.T) {
	r := newRig(t)
	r.spec("shop", "validity_days: 20", "renew_before_days: 5")
	loop := func(rec *Reconciler) {
		rec.editSpecs = func(os []*spec.Order) {
			for _, o := range os {
				o.RenewBeforeDays = 30
			}
		}
	}
	for i := 0; i < 3; i++ {
		p, res := r.cycleWith(loop)
		for _, x := range res {
			if x.Err != nil || x.Action.Kind == KindRenew {
				t.Fatalf("apply %d: %+v", i+1, res)
			}
		}
		if i > 0 {
			id := r.entry("shop").OrderID
			want := []Note{{Kind: NoteWarning, Name: "shop", OrderID: id,
				Message: fmt.Sprintf("order %d ends at 2026-12-15T00:00:00Z, within renew_before_days (30), but it has not lived half its validity (from 2026-11-25T00:00:00Z); certform does not renew it before 2026-12-05T00:00:00Z", id),
				Hint:    "renew_before_days is not shorter than the order's validity, so every new order would be renewed at once: lower renew_before_days in the spec"}}
			if diff := cmp.Diff(want, p.Notes); diff != "" {
				t.Fatalf("apply %d: notes (-want +got):\n%s", i+1, diff)
			}
		}
		r.clock.Add(time.Second)
	}
	if n := len(r.srv.Orders()); n != 1 {
		t.Fatalf("%d orders after three applies", n)
	}
	// Half its validity lived: renewed once, and the renewal is left alone.
	r.clock.Add(10 * 24 * time.Hour)
	_, res := r.cycleWith(loop)
	if len(res) != 1 || res[0].Action.Kind != KindRenew || res[0].Err != nil {
		t.Fatalf("after 10 days: %+v", res)
	}
	for i := 0; i < 2; i++ {
		r.clock.Add(time.Second)
		if _, res := r.cycleWith(loop); len(res) != 0 {
			t.Fatalf("after the renewal: %+v", res)
		}
	}
	if n := len(r.srv.Orders()); n != 2 {
		t.Fatalf("%d orders", n)
	}
}

// TestApply_maxPurchases (issue 21, item 19): new orders and renewals are
// budgeted per rolling 24 hours, from the state's purchase log: a plan
// that does not fit blocks them all (max_purchases), with the hint to
// raise the budget; the budget frees up 24 hours after the first.
func TestApply_maxPurchases(t *testing.T) {
	r := newRig(t)
	for _, n := range []string{"a", "b", "c"} {
		r.spec(n)
	}
	budget := func(n int) func(*Reconciler) { return func(rec *Reconciler) { rec.MaxPurchases = n } }
	p, res := r.cycleWith(budget(2))
	if len(res) != 0 || len(p.Blocked) != 3 || p.Blocked[0].BlockedBy != BlockedMaxPurchases {
		t.Fatalf("plan: %+v, results %+v", p, res)
	}
	want := []Note{{Kind: NoteBlocked, Message: "3 purchases (new orders and renewals) planned, more than --max-purchases=2 allows in 24 hours: a, b, c; none of them is made",
		Hint: "every order costs money: check these specs; for a planned onboarding, run again with --max-purchases=3"}}
	if diff := cmp.Diff(want, p.Notes); diff != "" {
		t.Fatalf("notes (-want +got):\n%s", diff)
	}
	for _, c := range r.calls() {
		if strings.HasPrefix(c, "POST") {
			t.Fatalf("call %s", c)
		}
	}
	if _, res = r.cycleWith(budget(3)); len(res) != 3 {
		t.Fatalf("with --max-purchases 3: %+v", res)
	}
	if n := len(r.store.Snapshot().Purchases); n != 3 {
		t.Fatalf("%d purchases recorded", n)
	}
	r.clock.Add(time.Hour)
	r.spec("d")
	p, _ = r.cycleWith(budget(3))
	want = []Note{{Kind: NoteBlocked, Message: "1 purchase (new orders and renewals) planned, but 3 of the 3 purchases --max-purchases allows in 24 hours were used already: d; none of them is made",
		Hint: "every order costs money: the budget frees up from 2026-11-26T10:00:00Z; to go on now (a planned onboarding), check these specs, then run again with --max-purchases=4"}}
	if diff := cmp.Diff(want, p.Notes); diff != "" {
		t.Fatalf("notes (-want +got):\n%s", diff)
	}
	r.clock.Add(23*time.Hour + time.Second)
	if _, res = r.cycleWith(budget(3)); len(res) != 1 || res[0].Err != nil {
		t.Fatalf("24 hours later: %+v", res)
	}
}

// TestApply_maxPurchasesAtCall: the budget is checked again in the write
// that saves each purchase's intent, so a purchase recorded after the
// plan was made (whatever made it) holds the next one back: nothing is
// sent.
func TestApply_maxPurchasesAtCall(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	rec := r.reconciler(1)
	rec.MaxPurchases = 1
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil || len(c.Plan.Actions) != 1 {
		t.Fatal(err, c.Plan)
	}
	if err := r.store.Mutate(func(f *state.File) {
		f.Purchases = append(f.Purchases, state.Purchase{Name: "other", AlternativeOrderID: "cfother0", Time: r.clock.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	r.calls()
	res := rec.Apply(context.Background(), c)
	if len(res) != 1 || blockedBy(res[0].Err) != BlockedMaxPurchases ||
		res[0].Err.Error() != "blocked (max_purchases): not ordered: 1 of the 1 purchases --max-purchases allows in 24 hours was used already; nothing was ordered; for a planned onboarding, run again with a higher --max-purchases" {
		t.Fatalf("results: %+v", res)
	}
	for _, call := range r.calls() {
		if strings.HasPrefix(call, "POST") {
			t.Fatalf("call %s", call)
		}
	}
	if e := r.store.Entry("shop"); e != nil && e.Intent != nil {
		t.Errorf("intent saved: %+v", e.Intent)
	}
}

// TestApply_sameNamesResent: an order sent again (its first attempt not
// found) and a new spec with the same names in one run: one of them is
// sent, the other blocked (exists), even while CertCentral lists neither.
func TestApply_sameNamesResent(t *testing.T) {
	r := newRig(t, digicerttest.WithLookupLag(time.Hour))
	r.specFor("shop-a", "shop.example.com")
	r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, DropBefore: true})
	r.cycle(1)
	r.intentAlt("shop-a")
	r.specFor("shop-b", "shop.example.com")
	r.clock.Add(6 * time.Minute)
	_, res := r.cycleWith(nil)
	sent, blocked := 0, 0
	for _, x := range res {
		switch {
		case x.Err == nil:
			sent++
		case blockedBy(x.Err) == BlockedExists:
			blocked++
		default:
			t.Errorf("%s: %v", x.Action.Name, x.Err)
		}
	}
	if sent != 1 || blocked != 1 || len(r.srv.Orders()) != 1 {
		t.Fatalf("%d sent, %d blocked, %d orders: %+v", sent, blocked, len(r.srv.Orders()), res)
	}
}

// TestPlan_renewClockAhead (issue 21, item 19): a renewal placed while the
// clock was two years ahead records a start after the end CertCentral
// gives it; with the clock still ahead, it is not renewed again (a
// warning asks to check the clock) instead of renewing every renewal.
func TestPlan_renewClockAhead(t *testing.T) {
	d := mkOrder("shop")
	ahead := time.Date(2028, 11, 25, 10, 0, 0, 0, time.UTC)
	e := entryFor(d, 100002, func(e *state.Entry) {
		e.OrderedAt, e.OrderValidTill = ahead, time.Date(2027, 11, 25, 0, 0, 0, 0, time.UTC)
		e.PreviousOrderIDs = []int{100001}
	})
	p := plan(planInput{Desired: []*spec.Order{d}, Known: known(map[string]*state.Entry{"shop": e}), Now: ahead.Add(time.Hour), Consulted: true, MaxPurchases: -1})
	want := []Note{{Kind: NoteWarning, Name: "shop", OrderID: 100002,
		Message: "order 100002 ends at 2027-11-25T00:00:00Z, not after certform recorded its start (2028-11-25T10:00:00Z); certform does not renew it",
		Hint:    "check this machine's clock (and CertCentral's order): certform renews only an order that has lived half its validity"}}
	if len(p.Actions) != 0 || len(p.Blocked) != 0 {
		t.Fatalf("plan: %+v / %+v", p.Actions, p.Blocked)
	}
	if diff := cmp.Diff(want, p.Notes); diff != "" {
		t.Fatalf("notes (-want +got):\n%s", diff)
	}
}
