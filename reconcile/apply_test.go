package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certform/certform/deliver"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/spec/spectest"
	"github.com/certform/certform/state"
	"github.com/google/go-cmp/cmp"
)

const testKey = "reconcile-test-key"

// clock is a settable time shared by the Reconciler and the fake.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rig is a spec folder, a state file, a fake CertCentral and a client, with
// one clock for all.
type rig struct {
	t     *testing.T
	dir   string
	store *state.Store
	srv   *digicerttest.Server
	api   *digicert.Client
	clock *clock
	csrs  map[string]string // by spec name: a spec written again keeps its CSR
}

func newRig(t *testing.T, opts ...digicerttest.Option) *rig {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	srv := digicerttest.New(testKey, append([]digicerttest.Option{digicerttest.WithClock(clk.Now)}, opts...)...)
	url := srv.Start()
	t.Cleanup(srv.Close)
	api, err := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithRetry(digicert.Retry{}))
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(filepath.Join(t.TempDir(), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &rig{t: t, dir: t.TempDir(), store: store, srv: srv, api: api, clock: clk, csrs: map[string]string{}}
}

// spec writes a spec file NAME.yaml for NAME.example.com; extra is added
// as YAML lines.
func (r *rig) spec(name string, extra ...string) {
	r.t.Helper()
	cn := name + ".example.com"
	csr, ok := r.csrs[name]
	if !ok {
		var err error
		if csr, err = spectest.CSR(cn); err != nil {
			r.t.Fatal(err)
		}
		r.csrs[name] = csr
	}
	body := fmt.Sprintf("name: %s\ncommon_name: %s\norganization_id: 1\nskip_approval: true\n%scsr: |\n%s", name, cn, lines(extra), spectest.Indent(csr))
	if err := os.WriteFile(filepath.Join(r.dir, name+".yaml"), []byte(body), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func lines(extra []string) string {
	var b strings.Builder
	for _, l := range extra {
		b.WriteString(l + "\n")
	}
	return b.String()
}

func (r *rig) reconciler(maxRevocations int) *Reconciler {
	return &Reconciler{Dir: r.dir, API: r.api, Store: r.store, Limits: Limits{MaxRevocations: maxRevocations, MaxPurchases: -1,
		ResendAfter: 5 * time.Minute}, Now: r.clock.Now}
}

// cycle runs one cycle and returns the plan and the results as lines
// "kind name: detail" or "kind name: error: ...".
func (r *rig) cycle(maxRevocations int) (*Plan, []string) {
	r.t.Helper()
	return r.runCycle(maxRevocations, false)
}

// runCycle runs one cycle, which starts by observing CertCentral when
// observe is set, and returns the plan and the results as cycle does.
func (r *rig) runCycle(maxRevocations int, observe bool) (*Plan, []string) {
	r.t.Helper()
	p, res := r.applyCycle(maxRevocations, observe)
	return p, resultLines(res)
}

// calls returns the calls the fake got since the last look, and forgets
// them.
func (r *rig) calls() []string {
	c := r.srv.Calls()
	r.srv.ResetRequests()
	return c
}

func (r *rig) entry(name string) *state.Entry {
	e := r.store.Entry(name)
	if e == nil {
		r.t.Fatalf("no state entry %s", name)
	}
	return e
}

// intentAlt returns the alternative order id of the entry's order intent.
func (r *rig) intentAlt(name string) string {
	e := r.entry(name)
	if e.Intent == nil || e.Intent.Action != state.IntentOrder {
		r.t.Fatalf("%s: no order intent: %+v", name, e)
	}
	return e.Intent.AlternativeOrderID
}

func (r *rig) ordersFor(cn string) int {
	n := 0
	for _, o := range r.srv.Orders() {
		if o.CommonName == cn {
			n++
		}
	}
	return n
}

func wantLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

const (
	postOrder = "POST /order/certificate/ssl"
	listShop  = "GET /order/certificate?filters%5Bcommon_name%5D=shop.example.com&limit=1000&offset=0"
)

func lookup(alt string) string { return "GET /order/alternate/" + alt }

// TestApply_garbledOrderAnswers: a 2xx answer to an order that does not
// decode, or has no order id > 0, is an unknown outcome: the intent stays,
// the order is looked up at once, and never sent again before
// --resend-after and a names check.
func TestApply_garbledOrderAnswers(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		process bool // CertCentral placed the order before the answer went wrong
	}{
		{"empty, order placed", "", true},
		{"truncated, order placed", `{"id": 10`, true},
		{"HTML, order placed", "<html><body>OK</body></html>", true},
		{"id 0, not placed", `{"id": 0, "requests": []}`, false},
		{"no id, not placed", `{"requests": [{"id": 1, "status": "pending"}]}`, false},
		{"empty, not placed", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.spec("shop")
			r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, Status: 201, Body: tt.body, Process: tt.process})
			_, res := r.cycle(1)
			alt := ""
			if tt.process {
				e := r.entry("shop")
				if e.Intent != nil || e.OrderID == 0 {
					t.Fatalf("entry after adoption: %+v", e)
				}
				alt = e.AlternativeOrderID
				wantLines(t, "results", res, []string{fmt.Sprintf("order shop: ordered %d (the answer was lost; found by alternative order id %s)", e.OrderID, alt)})
				wantLines(t, "calls", r.calls(), []string{listShop, listShop, postOrder, lookup(alt)})
				if n := r.ordersFor("shop.example.com"); n != 1 {
					t.Fatalf("%d orders", n)
				}
				return
			}
			alt = r.intentAlt("shop")
			if len(res) != 1 || !strings.HasPrefix(res[0], "order shop: error: digicert: POST /order/certificate/ssl: outcome unknown") ||
				!strings.HasSuffix(res[0], fmt.Sprintf("the intent stays until CertCentral shows the order: the next apply looks alternative order id %s up first, and sends the order again only if it is not found, no earlier than 2026-11-25T10:05:00Z", alt)) {
				t.Fatalf("results: %q", res)
			}
			wantLines(t, "calls", r.calls(), []string{listShop, listShop, postOrder, lookup(alt)})

			// A minute later: looked up, not sent again.
			r.clock.Add(time.Minute)
			p, res := r.cycle(1)
			if len(p.Notes) != 1 || p.Notes[0].Kind != NoteWaiting {
				t.Fatalf("notes: %+v", p.Notes)
			}
			wantLines(t, "results", res, []string{fmt.Sprintf("order shop: error: waiting: alternative order id %s, sent at 2026-11-25T10:00:00Z, is not found yet; CertCentral may still be working on it, so it is not sent again before 2026-11-25T10:05:00Z", alt)})
			wantLines(t, "calls", r.calls(), []string{lookup(alt)})

			// After --resend-after: looked up, names checked, sent again
			// with the same alternative order id.
			r.clock.Add(5 * time.Minute)
			_, res = r.cycle(1)
			e := r.entry("shop")
			wantLines(t, "results", res, []string{fmt.Sprintf("order shop: ordered %d", e.OrderID)})
			wantLines(t, "calls", r.calls(), []string{lookup(alt), listShop, postOrder})
			if e.AlternativeOrderID != alt || e.Intent != nil {
				t.Fatalf("entry: %+v", e)
			}
			if n := r.ordersFor("shop.example.com"); n != 1 {
				t.Fatalf("%d orders", n)
			}
		})
	}
}

// TestApply_resumedOrderRefused: a 4xx answer to a re-sent order leaves
// the intent in place; it is never cleared by a refusal.
func TestApply_resumedOrderRefused(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, DropBefore: true})
	r.cycle(1)
	alt := r.intentAlt("shop")
	r.calls()
	r.clock.Add(6 * time.Minute)
	r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, Status: 400, Code: "bad_request_format"})
	_, res := r.cycle(1)
	if len(res) != 1 || !strings.HasPrefix(res[0], "order shop: error: digicert: 400 bad_request_format") {
		t.Fatalf("results: %q", res)
	}
	wantLines(t, "calls", r.calls(), []string{lookup(alt), listShop, postOrder})
	e := r.entry("shop")
	if e.Intent == nil || e.Intent.AlternativeOrderID != alt || e.Intent.Attempts != 2 || e.OrderID != 0 {
		t.Fatalf("intent after a refused re-send: %+v", e.Intent)
	}
	// The next cycle looks up again and waits.
	_, res = r.cycle(1)
	if len(res) != 1 || !strings.Contains(res[0], "waiting: alternative order id "+alt) {
		t.Fatalf("results: %q", res)
	}
	wantLines(t, "calls", r.calls(), []string{lookup(alt)})
}

// TestApply_lookupLag: the order landed but the look-up does not show it
// yet (CertCentral still working, or a lagging index): it is adopted when
// it appears, and never ordered twice, also when the account refuses a
// second order with the same alternative order id.
func TestApply_lookupLag(t *testing.T) {
	t.Run("miss then hit", func(t *testing.T) {
		r := newRig(t, digicerttest.WithLookupLag(3*time.Minute))
		r.spec("shop")
		r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, DropAfter: true})
		r.cycle(1)
		alt := r.intentAlt("shop")
		wantLines(t, "calls", r.calls(), []string{listShop, listShop, postOrder, lookup(alt)})
		r.clock.Add(4 * time.Minute)
		_, res := r.cycle(1)
		e := r.entry("shop")
		wantLines(t, "results", res, []string{fmt.Sprintf("order shop: adopted order %d, placed earlier with alternative order id %s", e.OrderID, alt)})
		wantLines(t, "calls", r.calls(), []string{lookup(alt)})
		if n := r.ordersFor("shop.example.com"); n != 1 {
			t.Fatalf("%d orders", n)
		}
	})
	t.Run("duplicate alternative id", func(t *testing.T) {
		r := newRig(t, digicerttest.WithLookupLag(20*time.Minute), digicerttest.WithUniqueAlternativeIDs())
		r.spec("shop")
		r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, DropAfter: true})
		r.cycle(1)
		alt := r.intentAlt("shop")
		r.calls()
		r.clock.Add(6 * time.Minute)
		_, res := r.cycle(1)
		if len(res) != 1 || !strings.Contains(res[0], "400 duplicate_alternative_order_id") ||
			!strings.Contains(res[0], "an earlier attempt with alternative order id "+alt+" landed, but a look-up does not show it yet") {
			t.Fatalf("results: %q", res)
		}
		wantLines(t, "calls", r.calls(), []string{lookup(alt), listShop, postOrder, lookup(alt)})
		if e := r.entry("shop"); e.Intent == nil || e.Intent.AlternativeOrderID != alt {
			t.Fatalf("intent: %+v", e)
		}
		r.clock.Add(15 * time.Minute)
		_, res = r.cycle(1)
		e := r.entry("shop")
		wantLines(t, "results", res, []string{fmt.Sprintf("order shop: adopted order %d, placed earlier with alternative order id %s", e.OrderID, alt)})
		if n := r.ordersFor("shop.example.com"); n != 1 {
			t.Fatalf("%d orders", n)
		}
	})
	t.Run("names check finds it", func(t *testing.T) {
		// Visible in the list, not yet by alternative order id: not sent.
		r := newRig(t)
		r.spec("shop")
		r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, DropAfter: true})
		r.srv.Inject(digicerttest.Fault{Method: "GET", Path: "/order/alternate/*", Status: 404, Code: "not_found"})
		r.cycle(1)
		alt := r.intentAlt("shop")
		r.calls()
		r.clock.Add(6 * time.Minute)
		_, res := r.cycle(1)
		id := r.srv.Orders()[0].ID
		wantLines(t, "results", res, []string{fmt.Sprintf("order shop: error: not sent again: CertCentral has a live order with the names of this order (%d), which may be the one sent earlier; nothing was ordered; if it is, run certform forget shop --force, then certform import shop %d", id, id)})
		wantLines(t, "calls", r.calls(), []string{lookup(alt), listShop})
		if n := r.ordersFor("shop.example.com"); n != 1 {
			t.Fatalf("%d orders", n)
		}
	})
}

// TestApply_existingNames: CertCentral is consulted before a purchase; a
// live order with exactly the spec's names blocks it unless the spec
// allows existing names.
func TestApply_existingNames(t *testing.T) {
	r := newRig(t)
	id := r.srv.AddOrder(digicerttest.Order{CommonName: "shop.example.com", ProductType: "ov", OrganizationID: 1})
	r.srv.AddOrder(digicerttest.Order{CommonName: "api.example.com", Status: "revoked", ProductType: "ov", OrganizationID: 1})
	r.spec("shop")
	r.spec("api")
	p, res := r.cycle(1)
	e := r.entry("api")
	wantLines(t, "results", res, []string{fmt.Sprintf("order api: ordered %d", e.OrderID)})
	if len(p.Blocked) != 1 || p.Blocked[0].Name != "shop" || p.Blocked[0].BlockedBy != BlockedExists {
		t.Fatalf("blocked: %+v", p.Blocked)
	}
	want := Note{Kind: NoteExists, Name: "shop", OrderID: id,
		Message: fmt.Sprintf("CertCentral already has a live order with exactly these names: order %d (issued); it is not ordered", id),
		Hint:    fmt.Sprintf("to track it, run certform import shop %d; for a second, separate order with the same names, set allow_existing_names: true in the spec", id)}
	if diff := cmp.Diff([]Note{want}, p.Notes); diff != "" {
		t.Fatalf("notes (-want +got):\n%s", diff)
	}
	// Planning asks for both; api's names are asked again immediately
	// before its POST.
	wantLines(t, "calls", r.calls(), []string{
		"GET /order/certificate?filters%5Bcommon_name%5D=api.example.com&limit=1000&offset=0", listShop,
		"GET /order/certificate?filters%5Bcommon_name%5D=api.example.com&limit=1000&offset=0", "POST /order/certificate/ssl"})
	r.spec("shop", "allow_existing_names: true")
	_, res = r.cycle(1)
	if len(res) != 1 || !strings.HasPrefix(res[0], "order shop: ordered ") {
		t.Fatalf("results: %q", res)
	}
	wantLines(t, "calls", r.calls(), []string{postOrder})
}

// TestApply_existingNamesSweep: many new specs are checked with one paged
// sweep of the account, not one call each.
func TestApply_existingNamesSweep(t *testing.T) {
	r := newRig(t, digicerttest.WithMaxPageSize(2))
	for i := 0; i < 5; i++ {
		r.spec(fmt.Sprintf("s%d", i))
	}
	r.srv.AddOrder(digicerttest.Order{CommonName: "x.example.com", ProductType: "ov", OrganizationID: 1})
	r.srv.AddOrder(digicerttest.Order{CommonName: "s3.example.com", ProductType: "ov", OrganizationID: 1})
	r.srv.AddOrder(digicerttest.Order{CommonName: "y.example.com", ProductType: "ov", OrganizationID: 1})
	p, _ := r.cycle(1)
	calls := r.calls()
	var lists []string
	for _, c := range calls {
		if strings.HasPrefix(c, "GET /order/certificate?") {
			lists = append(lists, c)
		}
	}
	// The plan's sweep first; then each order's own check immediately
	// before its POST (in the order the workers reach them).
	sort.Strings(lists[2:])
	wantLines(t, "list calls", lists, []string{
		"GET /order/certificate?limit=1000&offset=0", "GET /order/certificate?limit=1000&offset=2",
		"GET /order/certificate?filters%5Bcommon_name%5D=s0.example.com&limit=1000&offset=0",
		"GET /order/certificate?filters%5Bcommon_name%5D=s1.example.com&limit=1000&offset=0",
		"GET /order/certificate?filters%5Bcommon_name%5D=s2.example.com&limit=1000&offset=0",
		"GET /order/certificate?filters%5Bcommon_name%5D=s4.example.com&limit=1000&offset=0"})
	if len(p.Blocked) != 1 || p.Blocked[0].Name != "s3" || len(p.Actions) != 4 {
		t.Fatalf("plan: %+v / %+v", p.Actions, p.Blocked)
	}
}

// revokeRig is a rig with one ordered spec "shop" that now asks to be
// revoked.
func revokeRig(t *testing.T, opts ...digicerttest.Option) *rig {
	r := newRig(t, opts...)
	r.spec("shop")
	r.cycle(1)
	r.spec("shop", "revoke: true", "revoke_comments: key compromised")
	r.calls()
	return r
}

// TestApply_revokeLostAnswer: a revoke whose answer was lost is looked
// for (the order, then its revoke requests) at once; the request found is
// recorded, and no second revoke request is ever sent.
func TestApply_revokeLostAnswer(t *testing.T) {
	for _, fault := range []digicerttest.Fault{
		{Method: "PUT", Path: "/order/certificate/*", Times: 1, DropAfter: true},
		{Method: "PUT", Path: "/order/certificate/*", Times: 1, Status: 201, Body: "<html>", Process: true},
	} {
		t.Run(fmt.Sprintf("drop=%v", fault.DropAfter), func(t *testing.T) {
			r := revokeRig(t)
			id := r.entry("shop").OrderID
			r.srv.Inject(fault)
			_, res := r.cycle(1)
			reqs := r.srv.RevokeRequests()
			if len(reqs) != 1 {
				t.Fatalf("revoke requests: %+v", reqs)
			}
			wantLines(t, "results", res, []string{fmt.Sprintf("revoke shop: revoke request %d is pending (found after the earlier answer was lost)", reqs[0].ID)})
			wantLines(t, "calls", r.calls(), []string{fmt.Sprintf("GET /order/certificate/%d", id), fmt.Sprintf("PUT /order/certificate/%d/revoke", id), fmt.Sprintf("GET /order/certificate/%d", id),
				"GET /request?filters%5Bstatus%5D=pending&limit=1000&offset=0"})
			e := r.entry("shop")
			if e.Intent != nil || e.Revoke == nil || e.Revoke.RequestID != reqs[0].ID || e.Revoke.Status != "pending" {
				t.Fatalf("entry: %+v %+v", e, e.Revoke)
			}
			p, res := r.cycle(1)
			if len(res) != 0 || len(p.Notes) != 1 || p.Notes[0].Kind != NotePending {
				t.Fatalf("second cycle: %q %+v", res, p.Notes)
			}
			wantLines(t, "calls", r.calls(), nil)
		})
	}
}

// TestApply_revokeRejectedWhileUnknown: an earlier revoke whose outcome
// is unknown and that an administrator rejected meanwhile is recorded as
// rejected, and not asked again with the same comments.
func TestApply_revokeRejectedWhileUnknown(t *testing.T) {
	r := revokeRig(t)
	id := r.entry("shop").OrderID
	// A revoke sent by an earlier run that was killed before the answer.
	if _, err := r.api.Revoke(context.Background(), id, "key compromised"); err != nil {
		t.Fatal(err)
	}
	r.srv.RejectRevoke(id)
	if err := r.store.Update("shop", func(e *state.Entry) bool {
		e.Intent = &state.Intent{Action: state.IntentRevoke, Started: r.clock.Now(), Attempts: 1}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	r.calls()
	_, res := r.cycle(1)
	req := r.srv.RevokeRequests()[0]
	wantLines(t, "results", res, []string{fmt.Sprintf("revoke shop: revoke request %d is rejected (found after the earlier answer was lost)", req.ID)})
	wantLines(t, "calls", r.calls(), []string{fmt.Sprintf("GET /order/certificate/%d", id),
		"GET /request?filters%5Bstatus%5D=pending&limit=1000&offset=0", "GET /request?filters%5Bstatus%5D=submitted&limit=1000&offset=0",
		"GET /request?filters%5Bstatus%5D=rejected&limit=1000&offset=0"})
	p, res := r.cycle(1)
	if len(res) != 0 || len(p.Notes) != 1 || p.Notes[0].Message != fmt.Sprintf("the revoke request %d was rejected by an administrator", req.ID) {
		t.Fatalf("second cycle: %q %+v", res, p.Notes)
	}
	wantLines(t, "calls", r.calls(), nil)
	if n := len(r.srv.RevokeRequests()); n != 1 {
		t.Fatalf("%d revoke requests", n)
	}
}

// TestApply_revokeRevertedBeforeCall: a spec whose revoke is reverted
// after the plan was made is not revoked.
func TestApply_revokeRevertedBeforeCall(t *testing.T) {
	r := revokeRig(t)
	rec := r.reconciler(1)
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil || len(c.Plan.Actions) != 1 || c.Plan.Actions[0].Kind != KindRevoke {
		t.Fatalf("plan: %v %+v", err, c.Plan)
	}
	r.spec("shop") // git revert
	res := rec.Apply(context.Background(), c)
	if len(res) != 1 || !errors.Is(res[0].Err, ErrSpecChanged) {
		t.Fatalf("results: %+v", res)
	}
	wantLines(t, "calls", r.calls(), nil)
	e := r.entry("shop")
	if e.Intent != nil || e.Revoke != nil || e.Status == "revoked" {
		t.Fatalf("entry: %+v", e)
	}
	if f := r.store.Snapshot(); len(f.Revocations) != 0 {
		t.Fatalf("budget used: %+v", f.Revocations)
	}
}

// TestApply_revokeNamesMustMatch: a revoke acts only on the order whose
// names the spec gives: a new spec reusing a name does not revoke the old
// order.
func TestApply_revokeNamesMustMatch(t *testing.T) {
	r := newRig(t)
	r.spec("r0")
	r.cycle(1)
	id := r.entry("r0").OrderID
	os.Remove(filepath.Join(r.dir, "r0.yaml"))
	// A new spec named r0, for other names, asking for revocation.
	csr, _ := spectest.CSR("other.example.com")
	body := "name: r0\ncommon_name: other.example.com\norganization_id: 1\nrevoke: true\nrevoke_comments: gone\ncsr: |\n" + spectest.Indent(csr)
	if err := os.WriteFile(filepath.Join(r.dir, "other.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r.calls()
	p, res := r.cycle(1)
	if len(res) != 0 || len(p.Blocked) != 1 || p.Blocked[0].BlockedBy != BlockedNames {
		t.Fatalf("plan: %+v results %q", p, res)
	}
	var msg string
	for _, n := range p.Notes {
		if n.Kind == NoteBlocked {
			msg = n.Message
		}
	}
	if want := fmt.Sprintf("the spec asks to revoke order %d, but the order's names (r0.example.com) are not the spec's (other.example.com); nothing is revoked", id); msg != want {
		t.Fatalf("note %q, want %q", msg, want)
	}
	wantLines(t, "calls", r.calls(), nil)
	if o, _ := r.srv.Order(id); o.Status != "issued" {
		t.Fatalf("order %d is %s", id, o.Status)
	}
}

// TestApply_revocationBudget: --max-revocations is a budget per rolling 24
// hours, recorded in the state, not per run.
func TestApply_revocationBudget(t *testing.T) {
	r := newRig(t, digicerttest.WithInstantRevoke())
	r.spec("a")
	r.spec("b")
	r.cycle(1)
	r.spec("a", "revoke: true", "revoke_comments: gone")
	_, res := r.cycle(1)
	wantLines(t, "results", res, []string{"revoke a: revoked"})
	r.clock.Add(time.Minute)
	r.spec("b", "revoke: true", "revoke_comments: gone")
	r.calls()
	p, res := r.cycle(1)
	if len(res) != 0 || len(p.Blocked) != 1 || p.Blocked[0].BlockedBy != BlockedMaxRevocations {
		t.Fatalf("plan %+v results %q", p, res)
	}
	want := Note{Kind: NoteBlocked,
		Message: "1 revocation planned, but 1 of the 1 revocation requests --max-revocations allows in 24 hours was used already: b; none of them is made",
		Hint:    "revocation is irreversible: the budget frees up from 2026-11-26T10:00:00Z; to go on now, check these specs, then run again with --max-revocations=2"}
	if diff := cmp.Diff([]Note{want}, p.Notes); diff != "" {
		t.Fatalf("notes (-want +got):\n%s", diff)
	}
	wantLines(t, "calls", r.calls(), nil)
	r.clock.Add(24 * time.Hour)
	_, res = r.cycle(1)
	wantLines(t, "results", res, []string{"revoke b: revoked"})
	if f := r.store.Snapshot(); len(f.Revocations) != 2 {
		t.Fatalf("revocations recorded: %+v", f.Revocations)
	}
}

// TestApply_lockLost: once the state's lock file is replaced under it, the
// process makes no call at all; the next cycle takes the lock again and
// re-reads the state first.
func TestApply_lockLost(t *testing.T) {
	r := newRig(t)
	r.spec("a")
	r.spec("b")
	rec := r.reconciler(1)
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil || len(c.Plan.Actions) != 2 {
		t.Fatalf("plan: %v %+v", err, c)
	}
	r.calls()
	lock := state.LockPath(r.store.Path())
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	res := rec.Apply(context.Background(), c)
	for _, x := range res {
		if !errors.Is(x.Err, state.ErrLockLost) {
			t.Errorf("%s: %v", x.Action.Name, x.Err)
		}
	}
	// The first intent write found the lock gone; nothing was sent.
	wantLines(t, "calls", r.calls(), nil)
	// The next cycle takes the lock again, re-reads the state and goes on.
	_, out := r.cycle(1)
	if len(out) != 2 || !strings.HasPrefix(out[0], "order a: ordered ") || !strings.HasPrefix(out[1], "order b: ordered ") {
		t.Fatalf("results: %q", out)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Fatalf("lock file: %v", err)
	}
}

// TestApply_revokeLostAnswerBudget: a revoke whose answer was lost, and
// whose request could not be found at once, is checked again by the next
// cycle: the re-check is not blocked by the budget its own first request
// used, and no second revoke request is sent.
func TestApply_revokeLostAnswerBudget(t *testing.T) {
	var srv atomic.Pointer[digicerttest.Server]
	var id atomic.Int64
	r := revokeRig(t, digicerttest.WithHook(func(q digicerttest.Request) {
		// The order cannot be read just after the revoke's answer is lost
		// (the read before the revoke succeeded).
		if q.Method == "PUT" && srv.Load() != nil {
			srv.Swap(nil).Inject(digicerttest.Fault{Method: "GET", Path: fmt.Sprintf("/order/certificate/%d", id.Load()), Times: 1, Status: 503})
		}
	}))
	srv.Store(r.srv)
	id.Store(int64(r.entry("shop").OrderID))
	r.srv.Inject(digicerttest.Fault{Method: "PUT", Path: "/order/certificate/*", Times: 1, DropAfter: true})
	_, res := r.cycle(1)
	if len(res) != 1 || !strings.Contains(res[0], "the next apply reads order") {
		t.Fatalf("first cycle: %q", res)
	}
	if e := r.entry("shop"); e.Intent == nil || e.Intent.Action != state.IntentRevoke {
		t.Fatalf("intent: %+v", e.Intent)
	}
	r.calls()
	// Within --resend-after: looked for, found pending, recorded.
	r.clock.Add(time.Minute)
	p, res := r.cycle(1)
	req := r.srv.RevokeRequests()[0]
	if len(p.Blocked) != 0 {
		t.Fatalf("blocked: %+v %+v", p.Blocked, p.Notes)
	}
	wantLines(t, "results", res, []string{fmt.Sprintf("revoke shop: revoke request %d is pending (found after the earlier answer was lost)", req.ID)})
	wantLines(t, "calls", r.calls(), []string{fmt.Sprintf("GET /order/certificate/%d", id.Load()), "GET /request?filters%5Bstatus%5D=pending&limit=1000&offset=0"})
	if n := len(r.srv.RevokeRequests()); n != 1 {
		t.Fatalf("%d revoke requests", n)
	}
}

// TestApply_revokeNotFoundWaits: a revoke whose request is not found after
// a lost answer is not asked again before --resend-after.
func TestApply_revokeNotFoundWaits(t *testing.T) {
	r := revokeRig(t)
	id := r.entry("shop").OrderID
	r.srv.Inject(digicerttest.Fault{Method: "PUT", Path: "/order/certificate/*", Times: 1, DropBefore: true})
	r.cycle(1)
	r.calls()
	r.clock.Add(time.Minute)
	_, res := r.cycle(1)
	if len(res) != 1 || !strings.Contains(res[0], "waiting: the revoke request sent at 2026-11-25T10:00:00Z is not found yet; it is not sent again before 2026-11-25T10:05:00Z") {
		t.Fatalf("results: %q", res)
	}
	lists := []string{"GET /request?filters%5Bstatus%5D=pending&limit=1000&offset=0", "GET /request?filters%5Bstatus%5D=submitted&limit=1000&offset=0",
		"GET /request?filters%5Bstatus%5D=rejected&limit=1000&offset=0"}
	wantLines(t, "calls", r.calls(), append([]string{fmt.Sprintf("GET /order/certificate/%d", id)}, lists...))
	r.clock.Add(5 * time.Minute)
	_, res = r.cycle(1)
	if len(res) != 1 || !strings.HasPrefix(res[0], "revoke shop: revoke request ") {
		t.Fatalf("results: %q", res)
	}
	wantLines(t, "calls", r.calls(), append(append([]string{fmt.Sprintf("GET /order/certificate/%d", id)}, lists...), fmt.Sprintf("PUT /order/certificate/%d/revoke", id)))
}

// TestApply_resumeAfterSpecChange: an order whose answer was lost is not
// sent again for changed names while CertCentral holds an order with the
// names it was first sent with.
func TestApply_resumeAfterSpecChange(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, DropAfter: true})
	r.srv.Inject(digicerttest.Fault{Method: "GET", Path: "/order/alternate/*", Status: 404, Code: "not_found"})
	r.cycle(1)
	alt := r.intentAlt("shop")
	// The spec gains a name; CSR and names change together.
	cn := "shop.example.com"
	csr, _ := spectest.CSR(cn, "www.shop.example.com")
	body := fmt.Sprintf("name: shop\ncommon_name: %s\ndns_names: [www.shop.example.com]\norganization_id: 1\nskip_approval: true\ncsr: |\n%s", cn, spectest.Indent(csr))
	if err := os.WriteFile(filepath.Join(r.dir, "shop.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r.calls()
	r.clock.Add(6 * time.Minute)
	_, res := r.cycle(1)
	id := r.srv.Orders()[0].ID
	wantLines(t, "results", res, []string{fmt.Sprintf("order shop: error: not sent again: CertCentral has a live order with the names of this order (%d), which may be the one sent earlier; nothing was ordered; if it is, run certform forget shop --force, then certform import shop %d", id, id)})
	wantLines(t, "calls", r.calls(), []string{lookup(alt), listShop, listShop})
	if n := len(r.srv.Orders()); n != 1 {
		t.Fatalf("%d orders", n)
	}
}

// TestApply_lockLostToggle: no settings call either once the lock is lost.
func TestApply_lockLostToggle(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.cycle(1)
	r.spec("shop", "disable_ct: true", "reissue_on_ct_change: false")
	rec := r.reconciler(1)
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil || len(c.Plan.Actions) != 1 || c.Plan.Actions[0].Kind != KindSetCT {
		t.Fatalf("plan: %v %+v", err, c)
	}
	r.calls()
	os.Remove(state.LockPath(r.store.Path()))
	res := rec.Apply(context.Background(), c)
	if len(res) != 1 || !errors.Is(res[0].Err, state.ErrLockLost) || res[0].Detail != "" {
		t.Fatalf("results: %+v", res)
	}
	wantLines(t, "calls", r.calls(), nil)
}

// TestApply_revokeRevertedDuringRefresh: the specs are loaded after the
// refresh, so a revoke reverted while it runs is never sent.
func TestApply_revokeRevertedDuringRefresh(t *testing.T) {
	var r *rig
	var revert atomic.Bool
	r = newRig(t, digicerttest.WithHook(func(q digicerttest.Request) {
		if q.Method == "GET" && strings.HasPrefix(q.Path, "/order/certificate/") && revert.CompareAndSwap(true, false) {
			r.spec("shop") // git revert of "revoke: true" while the refresh runs
		}
	}))
	r.spec("shop")
	r.cycle(1)
	r.spec("shop", "revoke: true", "revoke_comments: key compromised")
	r.calls()
	revert.Store(true)
	c, err := r.reconciler(1).Prepare(context.Background(), CycleOptions{Refresh: true, FullRefresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Plan.Actions) != 0 || len(c.Plan.Blocked) != 0 {
		t.Fatalf("plan after a revert during the refresh: %+v", c.Plan)
	}
	wantLines(t, "calls", r.calls(), []string{fmt.Sprintf("GET /order/certificate/%d", r.entry("shop").OrderID)})
}

// TestObserve: every cycle starts from what changed in CertCentral since
// the last observation; an order is read only when the feed reports a
// change certform does not know, or while certform waits on it.
func TestObserve(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	csr, _ := spectest.CSR("api.example.com")
	body := "name: api\ncommon_name: api.example.com\norganization_id: 1\ncsr: |\n" + spectest.Indent(csr) // approval needed
	if err := os.WriteFile(filepath.Join(r.dir, "api.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := r.reconciler(1) // one for every cycle, as in the daemon
	rec.Observe = true
	observeCycle := func() []string {
		t.Helper()
		c, err := rec.Prepare(context.Background(), CycleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range c.Errors {
			t.Fatalf("cycle error: %v", e)
		}
		rec.Apply(context.Background(), c)
		var kinds []string
		for _, n := range c.Plan.Notes {
			kinds = append(kinds, n.Kind+" "+n.Name)
		}
		return kinds
	}
	// The first cycle: nothing tracked yet, nothing to read; both ordered.
	observeCycle()
	shop, api := r.entry("shop"), r.entry("api")
	if shop.Status != "issued" || shop.CertificateID == 0 || api.Status != "needs_approval" {
		t.Fatalf("after ordering: %+v / %+v", shop, api)
	}
	r.calls()
	// Nothing changed, but api waits for approval and shop's certificate
	// is not read yet: the feed, and both read.
	r.clock.Add(time.Minute)
	notes := observeCycle()
	wantLines(t, "notes", notes, []string{"waiting api"})
	calls := r.calls()
	want := []string{fmt.Sprintf("GET /order/certificate/%d", api.OrderID), fmt.Sprintf("GET /order/certificate/%d", shop.OrderID)}
	sort.Strings(calls[1:])
	sort.Strings(want)
	wantLines(t, "calls", calls, append([]string{"GET /order/certificate/status-changes?minutes=2"}, want...))
	if e := r.entry("shop"); e.SerialNumber == "" || e.NotAfter.IsZero() {
		t.Fatalf("shop's certificate not recorded: %+v", e)
	}
	// Approved: the feed reports it with its certificate; read once.
	r.srv.Approve(api.OrderID)
	r.clock.Add(time.Minute)
	if notes := observeCycle(); len(notes) != 0 {
		t.Fatalf("notes after approval: %v", notes)
	}
	wantLines(t, "calls", r.calls(), []string{"GET /order/certificate/status-changes?minutes=2", fmt.Sprintf("GET /order/certificate/%d", api.OrderID)})
	o, _ := r.srv.Order(api.OrderID)
	if e := r.entry("api"); e.Status != "issued" || e.CertificateID != o.CertificateID || e.SerialNumber != canonicalSerial(o.SerialNumber) || e.NotAfter.IsZero() || e.OrderValidTill.IsZero() {
		t.Fatalf("api after approval: %+v", e)
	}
	// Nothing changed: one call, and the state is not written: the time
	// of an observation that saw no change is saved once an hour.
	saved := r.store.Snapshot().ObservedAt
	r.clock.Add(time.Minute)
	observeCycle()
	wantLines(t, "calls", r.calls(), []string{"GET /order/certificate/status-changes?minutes=2"})
	if got := r.store.Snapshot().ObservedAt; !got.Equal(saved) || !saved.Equal(r.clock.Now().Add(-time.Minute)) {
		t.Fatalf("observed_at %v, want %v", got, saved)
	}
	// Another process (a restart) reads the feed from the saved time, a
	// minute ago (this one would ask for 1 minute); this one from the
	// time it remembers (the saved one would make it 62 minutes).
	other := r.reconciler(1)
	other.Observe = true
	if _, err := other.Prepare(context.Background(), CycleOptions{}); err != nil {
		t.Fatal(err)
	}
	wantLines(t, "calls", r.calls(), []string{"GET /order/certificate/status-changes?minutes=2"})
	r.clock.Add(time.Hour)
	observeCycle()
	wantLines(t, "calls", r.calls(), []string{"GET /order/certificate/status-changes?minutes=61"})
	if got := r.store.Snapshot().ObservedAt; !got.Equal(r.clock.Now()) {
		t.Fatalf("observed_at %v after an hour, want %v", got, r.clock.Now())
	}
	// DigiCert reissued shop on its own: a new certificate id in the feed.
	r.srv.Reissue(shop.OrderID)
	r.clock.Add(time.Minute)
	observeCycle()
	wantLines(t, "calls", r.calls(), []string{"GET /order/certificate/status-changes?minutes=2", fmt.Sprintf("GET /order/certificate/%d", shop.OrderID)})
	o, _ = r.srv.Order(shop.OrderID)
	if e := r.entry("shop"); e.CertificateID != o.CertificateID || e.CertificateID == shop.CertificateID || e.SerialNumber != canonicalSerial(o.SerialNumber) {
		t.Fatalf("shop after DigiCert's reissue: %+v", e)
	}
	// After more than the feed's 7 days: every order is read.
	r.clock.Add(8 * 24 * time.Hour)
	observeCycle()
	calls = r.calls()
	sort.Strings(calls)
	wantLines(t, "calls", calls, want)
}

// TestDeliver: an issued certificate is checked and written once, the
// deploy hook runs once per new certificate, DigiCert's own reissue is
// delivered again, a certificate for another key is refused, and a failing
// hook is retried with backoff.
func TestDeliver(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	certDir := filepath.Join(t.TempDir(), "certs")
	hookLog := filepath.Join(t.TempDir(), "hook.log")
	hook := &deliver.Hook{Command: `echo "$CERTFORM_NAME $CERTFORM_ORDER_ID $CERTFORM_SERIAL $CERTFORM_CERT_DIR" >> ` + hookLog}
	cycle := func() []Delivery {
		t.Helper()
		rec := r.reconciler(1)
		rec.Observe, rec.CertDir, rec.Hook = true, certDir, hook
		c, err := rec.Prepare(context.Background(), CycleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rec.Apply(context.Background(), c)
		return rec.Deliver(context.Background(), c)
	}
	hookRuns := func() []string {
		data, _ := os.ReadFile(hookLog)
		return strings.Fields(strings.ReplaceAll(string(data), "\n", " | "))
	}
	ds := cycle()
	e := r.entry("shop")
	o, _ := r.srv.Order(e.OrderID)
	if len(ds) != 1 || ds[0].Err != nil || ds[0].Hook != "ok" || ds[0].Serial != canonicalSerial(o.SerialNumber) || ds[0].Dir != filepath.Join(certDir, "shop") {
		t.Fatalf("first delivery: %+v", ds)
	}
	leaf, err := (&deliver.Writer{Dir: certDir}).Current("shop")
	if err != nil || leaf == nil || fmt.Sprintf("%X", leaf.SerialNumber) != canonicalSerial(o.SerialNumber) {
		t.Fatalf("delivered leaf: %v %v", leaf, err)
	}
	e = r.entry("shop")
	if e.DeliveredSerial != canonicalSerial(o.SerialNumber) || e.DeliveredCertificateID != o.CertificateID || e.DeliveredAt.IsZero() || !e.NotAfter.Equal(o.NotAfter.UTC().Truncate(time.Second)) && !e.NotAfter.Equal(o.NotAfter.UTC()) || e.HookPending != "" {
		t.Fatalf("entry after delivery: %+v", e)
	}
	wantLines(t, "hook runs", hookRuns(), []string{"shop", fmt.Sprint(e.OrderID), canonicalSerial(o.SerialNumber), filepath.Join(certDir, "shop"), "|"})
	// Nothing new: no download, no hook. The order itself is read once,
	// for its end (a delivery reads only the certificate); then only the
	// feed.
	r.calls()
	r.clock.Add(time.Minute)
	if ds := cycle(); len(ds) != 0 {
		t.Fatalf("deliveries without a new certificate: %+v", ds)
	}
	wantLines(t, "calls", r.calls(), []string{"GET /order/certificate/status-changes?minutes=2", fmt.Sprintf("GET /order/certificate/%d", e.OrderID)})
	if e := r.entry("shop"); e.OrderValidTill.IsZero() {
		t.Fatalf("the order's end not recorded: %+v", e)
	}
	r.clock.Add(time.Minute)
	if ds := cycle(); len(ds) != 0 {
		t.Fatalf("deliveries without a new certificate: %+v", ds)
	}
	wantLines(t, "calls", r.calls(), []string{"GET /order/certificate/status-changes?minutes=2"})
	// DigiCert reissued it on its own: noticed, delivered, hook again.
	r.srv.Reissue(e.OrderID)
	r.clock.Add(time.Minute)
	ds = cycle()
	o, _ = r.srv.Order(e.OrderID)
	if len(ds) != 1 || ds[0].Err != nil || ds[0].Serial != canonicalSerial(o.SerialNumber) || ds[0].Hook != "ok" {
		t.Fatalf("delivery after DigiCert's reissue: %+v", ds)
	}
	if runs := hookRuns(); len(runs) != 10 || runs[7] != canonicalSerial(o.SerialNumber) {
		t.Fatalf("hook runs: %v", runs)
	}
	// A certificate for another key is refused; the good one stays.
	good := canonicalSerial(o.SerialNumber)
	r.srv.IssueWrongKey(e.OrderID)
	r.clock.Add(time.Minute)
	ds = cycle()
	if len(ds) != 1 || ds[0].Err == nil || !strings.Contains(ds[0].Err.Error(), "was refused") || !strings.Contains(ds[0].Err.Error(), "public key") {
		t.Fatalf("wrong key: %+v", ds)
	}
	if leaf, _ := (&deliver.Writer{Dir: certDir}).Current("shop"); fmt.Sprintf("%X", leaf.SerialNumber) != good {
		t.Fatalf("the refused certificate replaced the good one")
	}
	if e := r.entry("shop"); e.DeliveryError == "" || e.DeliveredSerial != good {
		t.Fatalf("entry after a refused certificate: %+v", e)
	}
	// A failing hook is retried with backoff; the certificate stays.
	hook.Command = "echo broken >&2; exit 3"
	r.srv.Reissue(e.OrderID)
	r.clock.Add(time.Minute)
	ds = cycle()
	if len(ds) != 1 || ds[0].Err != nil || ds[0].Hook != "failed" || ds[0].HookErr == nil || !strings.Contains(string(ds[0].HookOutput), "broken") {
		t.Fatalf("failing hook: %+v", ds)
	}
	if e := r.entry("shop"); e.HookPending == "" || e.HookAttempts != 1 || !e.HookRetryAt.Equal(r.clock.Now().Add(30*time.Second)) {
		t.Fatalf("entry after a failed hook: %+v", e)
	}
	r.clock.Add(10 * time.Second)
	if ds := cycle(); len(ds) != 0 {
		t.Fatalf("hook retried before its time: %+v", ds)
	}
	hook.Command = "true"
	r.clock.Add(30 * time.Second)
	if ds := cycle(); len(ds) != 1 || ds[0].Hook != "ok" {
		t.Fatalf("hook retry: %+v", ds)
	}
	if e := r.entry("shop"); e.HookPending != "" {
		t.Fatalf("hook still pending: %+v", e)
	}
}

func TestCanonicalSerial(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"0A1B", "A1B"}, {"0a1b", "A1B"}, {"A1B", "A1B"}, {"00", "0"}, {"", ""}, {"not-hex", "not-hex"},
	} {
		if got := canonicalSerial(tt.in); got != tt.want {
			t.Errorf("canonicalSerial(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
