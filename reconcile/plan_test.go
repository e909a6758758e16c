package reconcile

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/plans")

// mkOrder returns a valid-looking desired order; mods change it before its
// fingerprint is computed.
func mkOrder(name string, mods ...func(*spec.Order)) *spec.Order {
	o := &spec.Order{
		Name: name, CommonName: name + ".example.com", CSR: "csr-of-" + name, SignatureHash: "sha256",
		Product: "ov", ValidityYears: 1, OrganizationID: 112233, File: name + ".yaml", Line: 1, Column: 1,
		ReissueBeforeDays: spec.DefaultBeforeDays, RenewBeforeDays: spec.DefaultBeforeDays, ReissueOnCTChange: true,
	}
	for _, m := range mods {
		m(o)
	}
	o.Fingerprint = spec.Fingerprint(o.FixedFields())
	return o
}

// entryFor returns the state entry certform writes after ordering o.
func entryFor(o *spec.Order, orderID int, mods ...func(*state.Entry)) *state.Entry {
	e := &state.Entry{
		OrderID: orderID, AlternativeOrderID: "cf-" + o.Name + "-000000000000", Fingerprint: o.Fingerprint, Fixed: o.FixedFields(),
		Options: o.OrderingOptions(), DisableCT: o.DisableCT, AutoReissue: o.AutoReissue, File: o.File, Status: "issued",
		OrderedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, m := range mods {
		m(e)
	}
	return e
}

func known(entries map[string]*state.Entry) *state.File {
	return &state.File{Version: state.Version, Entries: entries}
}

var (
	withCT      = func(o *spec.Order) { o.DisableCT = true }
	withReissue = func(o *spec.Order) { o.AutoReissue = true }
	withRevoke  = func(o *spec.Order) { o.Revoke, o.RevokeComments = true, "key compromised" }
	withOrderID = func(id int) func(*spec.Order) { return func(o *spec.Order) { o.OrderID, o.CSR = id, "" } }
	revokedAt   = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
)

func TestPlan_golden(t *testing.T) {
	base := mkOrder("shop")
	tests := []struct {
		name string
		in   planInput
	}{
		{"new", planInput{Desired: []*spec.Order{mkOrder("shop", withCT), mkOrder("api")}, Known: known(nil)}},
		{"unchanged", planInput{Desired: []*spec.Order{base}, Known: known(map[string]*state.Entry{"shop": entryFor(base, 100001)})}},
		{"toggle-ct", planInput{Desired: []*spec.Order{mkOrder("shop", withCT)}, Known: known(map[string]*state.Entry{"shop": entryFor(base, 100001)})}},
		{"toggle-auto-reissue", planInput{Desired: []*spec.Order{mkOrder("shop", withReissue)}, Known: known(map[string]*state.Entry{"shop": entryFor(base, 100001)})}},
		{"both-toggles", planInput{Desired: []*spec.Order{mkOrder("shop", withCT, withReissue)}, Known: known(map[string]*state.Entry{"shop": entryFor(base, 100001)})}},
		{"revoke", planInput{Desired: []*spec.Order{mkOrder("shop", withRevoke, withCT)}, Known: known(map[string]*state.Entry{"shop": entryFor(base, 100001)}), MaxRevocations: 1}},
		{"revoke-pending", planInput{Desired: []*spec.Order{mkOrder("shop", withRevoke)}, Known: known(map[string]*state.Entry{"shop": entryFor(base, 100001, func(e *state.Entry) {
			e.Revoke = &state.RevokeRecord{RequestID: 500009, Status: "pending", Comments: "key compromised", Time: revokedAt}
		})}), MaxRevocations: 1}},
		{"revoked", planInput{Desired: []*spec.Order{mkOrder("shop", withRevoke, withCT)}, Known: known(map[string]*state.Entry{"shop": entryFor(base, 100001, func(e *state.Entry) {
			e.Revoke = &state.RevokeRecord{Status: "approved", Comments: "key compromised", Time: revokedAt}
			e.Status = "revoked"
		})}), MaxRevocations: 1}},
		{"revoke-rejected", planInput{Desired: []*spec.Order{mkOrder("shop", withRevoke)}, Known: known(map[string]*state.Entry{"shop": entryFor(base, 100001, func(e *state.Entry) {
			e.Revoke = &state.RevokeRecord{RequestID: 500009, Status: "rejected", Comments: "key compromised", Time: revokedAt}
		})}), MaxRevocations: 1}},
		{"revoke-unset", planInput{Desired: []*spec.Order{base}, Known: known(map[string]*state.Entry{"shop": entryFor(base, 100001, func(e *state.Entry) {
			e.Revoke = &state.RevokeRecord{RequestID: 500009, Status: "pending", Comments: "key compromised", Time: revokedAt}
		})})}},
		{"orphan", planInput{Desired: nil, Invalid: []string{"broken"}, Unreadable: []string{"team/bad.yaml"}, Known: known(map[string]*state.Entry{
			"shop": entryFor(base, 100001), "broken": entryFor(mkOrder("broken"), 100002)})}},
		{"fixed-field-change", planInput{Desired: []*spec.Order{mkOrder("shop", func(o *spec.Order) {
			o.DNSNames = []string{"www.shop.example.com"}
			o.Product = "ev"
			o.Comments = "now with www"
		}, withCT)}, Known: known(map[string]*state.Entry{"shop": entryFor(base, 100001)})}},
		{"invalid-among-valid", planInput{Desired: []*spec.Order{mkOrder("api")}, Invalid: []string{"shop"}, Known: known(map[string]*state.Entry{"shop": entryFor(base, 100001)})}},
		{"max-revocations", planInput{Desired: []*spec.Order{mkOrder("a", withRevoke), mkOrder("b", withRevoke), mkOrder("c", withCT)},
			Known: known(map[string]*state.Entry{"a": entryFor(mkOrder("a"), 1), "b": entryFor(mkOrder("b"), 2), "c": entryFor(mkOrder("c"), 3)}), MaxRevocations: 1}},
		{"resume-intent", planInput{Desired: []*spec.Order{base}, Known: known(map[string]*state.Entry{"shop": {
			Intent: &state.Intent{Action: state.IntentOrder, AlternativeOrderID: "cf-shop-1a2b3c4d5e6f", Fingerprint: base.Fingerprint, Started: revokedAt, Attempts: 1}}})}},
		{"refresh-drift", planInput{Desired: []*spec.Order{base, mkOrder("api")},
			Known:    known(map[string]*state.Entry{"shop": entryFor(base, 100001), "api": entryFor(mkOrder("api"), 100002)}),
			Observed: map[string]*observed{"shop": {Status: "issued", DisableCT: true, AutoReissue: false}, "api": {Status: "revoked"}}}},
		{"empty-dir", planInput{Known: known(map[string]*state.Entry{"shop": entryFor(base, 100001)})}},
		{"new-with-revoke", planInput{Desired: []*spec.Order{mkOrder("shop", withRevoke)}, Known: known(nil), MaxRevocations: 1}},
		{"duplicate-renamed", planInput{Desired: []*spec.Order{mkOrder("shop", func(o *spec.Order) { o.Name, o.File = "shop-v2", "shop-v2.yaml" })},
			Known: known(map[string]*state.Entry{"shop": entryFor(base, 100001)})}},
		{"duplicate-new", planInput{Desired: []*spec.Order{mkOrder("a", func(o *spec.Order) { o.CSR = "same" }), mkOrder("b", func(o *spec.Order) { o.CSR = "same"; o.CommonName = "a.example.com" }), mkOrder("c")},
			Known: known(nil)}},
		{"imported", planInput{Desired: []*spec.Order{mkOrder("shop", withCT)}, Known: known(map[string]*state.Entry{"shop": {OrderID: 100007, Imported: true, Status: "issued"}})}},
		{"resume-intent-due", planInput{Desired: []*spec.Order{base}, Now: revokedAt.Add(10 * time.Minute), Known: known(map[string]*state.Entry{"shop": {
			Intent: &state.Intent{Action: state.IntentOrder, AlternativeOrderID: "cf-shop-1a2b3c4d5e6f", Fingerprint: base.Fingerprint, Started: revokedAt, Attempts: 2}}})}},
		{"exists", planInput{Desired: []*spec.Order{base, mkOrder("api"), mkOrder("www", func(o *spec.Order) { o.AllowExistingNames = true; o.CommonName = "api.example.com" })},
			Known: known(map[string]*state.Entry{"old": entryFor(mkOrder("old", func(o *spec.Order) { o.CommonName = "shop.example.com" }), 100003)}), Consulted: true,
			Live: []liveOrder{{ID: 100003, Status: "issued", Names: []string{"shop.example.com"}}, {ID: 100004, Status: "pending", Names: []string{"shop.example.com"}},
				{ID: 100005, Status: "issued", Names: []string{"api.example.com", "www.api.example.com"}}, {ID: 100006, Status: "revoked", Names: []string{"api.example.com"}}}}},
		{"revoke-names-mismatch", planInput{Desired: []*spec.Order{mkOrder("r0", withRevoke, func(o *spec.Order) { o.CommonName = "other.example.com" })},
			Known: known(map[string]*state.Entry{"r0": entryFor(mkOrder("r0"), 100001)}), MaxRevocations: 1}},
		{"waiting", planInput{Desired: []*spec.Order{base, mkOrder("api"), mkOrder("www")}, Known: known(map[string]*state.Entry{
			"shop": entryFor(base, 100001, func(e *state.Entry) { e.Status, e.DCVMethod, e.DCVToken = "pending", "dns-txt-token", "tok3n" }),
			"api":  entryFor(mkOrder("api"), 100002, func(e *state.Entry) { e.Status = "needs_approval" }),
			"www":  entryFor(mkOrder("www"), 100003, func(e *state.Entry) { e.Status = "reissue_pending" })})}},
		{"max-revocations-used", planInput{Desired: []*spec.Order{mkOrder("a", withRevoke)}, MaxRevocations: 1,
			Known: &state.File{Version: state.Version, Entries: map[string]*state.Entry{"a": entryFor(mkOrder("a"), 1)},
				Revocations: []state.Revocation{{Name: "z", OrderID: 9, Time: revokedAt.Add(-time.Hour)}, {Name: "y", OrderID: 8, Time: revokedAt.Add(-25 * time.Hour)}}}}},
		{"renew", planInput{Desired: []*spec.Order{base, mkOrder("api"), mkOrder("www"), mkOrder("old"), mkOrder("exp")}, Consulted: true,
			Live: []liveOrder{{ID: 100004, Status: "issued", Names: []string{"old.example.com"}}, {ID: 100001, Status: "issued", Names: []string{"shop.example.com"}}},
			Known: known(map[string]*state.Entry{
				"shop": entryFor(base, 100001, func(e *state.Entry) { e.OrderValidTill = revokedAt.Add(10 * 24 * time.Hour) }),
				"api": entryFor(mkOrder("api"), 100002, func(e *state.Entry) {
					e.OrderValidTill, e.Renewed, e.RenewedOrderID = revokedAt.Add(20*24*time.Hour), true, 100009
				}),
				"www": entryFor(mkOrder("www"), 100003, func(e *state.Entry) {
					e.OrderValidTill = revokedAt.Add(10 * 24 * time.Hour)
					e.Intent = &state.Intent{Action: state.IntentRenew, AlternativeOrderID: "cf-www-1a2b3c4d5e6f", RenewalOfOrderID: 100003, Started: revokedAt, Attempts: 1}
				}),
				"old": entryFor(mkOrder("old"), 100006, func(e *state.Entry) { e.OrderValidTill = revokedAt.Add(24 * time.Hour) }),
				"exp": entryFor(mkOrder("exp"), 100007, func(e *state.Entry) { e.Status, e.OrderValidTill = "expired", revokedAt.Add(-24*time.Hour) }),
			})}},
		{"adopt", planInput{
			Desired: []*spec.Order{
				mkOrder("shop", withOrderID(100001), withCT),
				mkOrder("api", withOrderID(100002)),
				mkOrder("www", withOrderID(100003), func(o *spec.Order) { o.DNSNames = []string{"m.www.example.com"} }),
				mkOrder("old", withOrderID(100004)),
				mkOrder("gone", withOrderID(100005)),
				mkOrder("exp", withOrderID(100006)),
				mkOrder("moved", withOrderID(100008)),
			},
			Known: known(map[string]*state.Entry{"legacy": entryFor(mkOrder("old"), 100004), "moved": entryFor(mkOrder("moved"), 100007)}),
			Adoptees: map[int]*adoptee{
				100001: {Status: "issued", Names: []string{"shop.example.com"}},
				100003: {Status: "issued", Names: []string{"www.example.com", "www2.example.com"}},
				100005: {Missing: true},
				100006: {Status: "expired", Names: []string{"exp.example.com"}},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in.Now.IsZero() {
				tt.in.Now = revokedAt.Add(2 * time.Minute)
			}
			tt.in.ResendAfter = 5 * time.Minute
			if tt.in.MaxPurchases == 0 {
				tt.in.MaxPurchases = -1 // no budget but where a case sets one
			}
			p := plan(tt.in)
			var b bytes.Buffer
			if err := p.WriteText(&b, false); err != nil {
				t.Fatal(err)
			}
			b.WriteString("---\n")
			if err := p.WriteJSON(&b, nil); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("..", "testdata", "plans", tt.name+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			// plan is pure: the same input gives the same plan.
			var again bytes.Buffer
			plan(tt.in).WriteText(&again, false)
			if !bytes.HasPrefix(b.Bytes(), again.Bytes()) {
				t.Error("a second Plan of the same input differs")
			}
		})
	}
}

func TestPlan_color(t *testing.T) {
	p := plan(planInput{Desired: []*spec.Order{mkOrder("shop")}, Known: known(nil), MaxPurchases: -1})
	var b bytes.Buffer
	p.WriteText(&b, true)
	if !bytes.Contains(b.Bytes(), []byte("\x1b[32m+ order \x1b[0m shop")) {
		t.Errorf("no colour:\n%q", b.String())
	}
	b.Reset()
	p.WriteText(&b, false)
	if bytes.Contains(b.Bytes(), []byte("\x1b[")) {
		t.Errorf("colour without asking:\n%q", b.String())
	}
}

func TestNewAlternativeID(t *testing.T) {
	for _, name := range []string{"shop", "a.b_c-d", "x" + string(bytes.Repeat([]byte("y"), 62))} {
		id := newAlternativeID(name)
		if len(id) > 64 || !altIDPattern.MatchString(id) {
			t.Errorf("%q -> %q", name, id)
		}
		if newAlternativeID(name) == id {
			t.Errorf("%q: two ids alike", name)
		}
	}
}

var altIDPattern = regexp.MustCompile(`^cf[A-Za-z0-9]*[0-9a-f]{12}$`) // letters and digits only (issue 21, item 11)
