package cli

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeOrder is an order as the fake's control API shows it (the fields
// these tests read).
type fakeOrder struct {
	ID                 int    `json:"id"`
	Status             string `json:"status"`
	CommonName         string `json:"common_name"`
	DisableCT          bool   `json:"disable_ct"`
	AlternativeOrderID string `json:"alternative_order_id"`
	RenewedOrderID     int    `json:"renewed_order_id"`
	RenewalOfOrderID   int    `json:"renewal_of_order_id"`
	Reissues           []struct {
		Status string `json:"status"`
	} `json:"reissues"`
}

// orders lists the fake's orders through its control API.
func (p *fakeServerProc) orders(t *testing.T) []fakeOrder {
	t.Helper()
	status, answer := p.call(t, "GET", "/_fake/orders", "")
	var list struct{ Orders []fakeOrder }
	if err := json.Unmarshal([]byte(answer), &list); status != 200 || err != nil {
		t.Fatalf("list: %d %s (%v)", status, answer, err)
	}
	return list.Orders
}

// order reads one order through the control API.
func (p *fakeServerProc) order(t *testing.T, id string) fakeOrder {
	t.Helper()
	status, answer := p.call(t, "GET", "/_fake/orders/"+id, "")
	var o fakeOrder
	if err := json.Unmarshal([]byte(answer), &o); status != 200 || err != nil {
		t.Fatalf("order %s: %d %s (%v)", id, status, answer, err)
	}
	return o
}

// TestFakeServer_tryByHand walks docs/fake-server.md's "Trying certform by hand" with
// the real binary against certform fake-server, as a user or a spec
// repository's CI would: an order placed outside certform blocks a new one
// and is imported; a change in the console is repaired; an order near its
// end is renewed.
func TestFakeServer_tryByHand(t *testing.T) {
	p := startFakeServer(t, nil)
	env := []string{"DIGICERT_API_URL=" + p.apiURL, "DIGICERT_API_KEY=" + p.key}
	dir := copyTree(t, "examples")
	st := filepath.Join(t.TempDir(), "s.json")
	expect := func(what string, code, wantCode int, out string, wants ...string) {
		t.Helper()
		if code != wantCode {
			t.Errorf("%s: exit %d, want %d\n%s", what, code, wantCode, out)
		}
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("%s: the output lacks %q:\n%s", what, w, out)
			}
		}
	}

	// An order placed outside certform for the names of www-example-com.
	status, answer := p.call(t, "POST", "/_fake/orders", `{"common_name":"www.example.com","dns_names":["example.com"],"organization_id":112233}`)
	if status != 201 || !strings.HasPrefix(answer, `{"id":100001,"status":"issued"`) {
		t.Fatalf("add: %d %s", status, answer)
	}
	code, stdout, stderr := runBinary(t, env, "plan", "--dir", dir, "--state", st, "--refresh")
	expect("plan --refresh", code, 1, stdout+stderr, "  ! blocked order www-example-com  (web/sites.yaml:3)\n",
		"hint: to track it, run certform import www-example-com 100001;", "Plan: 4 to order, 0 to update, 0 to revoke.\n")
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st)
	expect("apply", code, 1, stdout+stderr, "Apply: 4 of 4 calls done.\n",
		"certform apply: 1 order blocked because CertCentral already has live orders with these names: www-example-com")
	orders := p.orders(t)
	placed := 0
	for _, o := range orders {
		if strings.HasPrefix(o.AlternativeOrderID, "cf") {
			placed++
		}
	}
	if len(orders) != 5 || placed != 4 {
		t.Errorf("%d orders, %d placed by certform; want 5 and 4: %+v", len(orders), placed, orders)
	}
	code, stdout, stderr = runBinary(t, env, "import", "--dir", dir, "--state", st, "www-example-com", "100001")
	expect("import", code, 0, stdout+stderr, "Imported order 100001 (issued) as www-example-com.\n")
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st)
	expect("apply after import", code, 0, stdout+stderr, "No calls to make.\n")

	// Someone turns CT logging off in the console: a refresh repairs it.
	if status, answer := p.call(t, "POST", "/_fake/orders/100001/settings", `{"disable_ct":true}`); status != 200 || !strings.Contains(answer, `"disable_ct":true`) {
		t.Fatalf("settings: %d %s", status, answer)
	}
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st, "--refresh=full")
	expect("apply --refresh after a console change", code, 0, stdout+stderr,
		"  ~ update www-example-com order 100001  (web/sites.yaml:3)\n        disable_ct: true -> false\n")
	if o := p.order(t, "100001"); o.DisableCT || len(o.Reissues) != 1 || o.Reissues[0].Status != "issued" {
		t.Errorf("after the repair: %+v", o)
	}

	// The order nears its end. certform reads an order's end once (it
	// never changes in CertCentral), so a refresh reads it again.
	if status, answer := p.call(t, "POST", "/_fake/orders/100001/ends-in", `{"days":10}`); status != 200 {
		t.Fatalf("ends-in: %d %s", status, answer)
	}
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st, "--refresh")
	expect("apply --refresh near the end", code, 0, stdout+stderr, "  + renew  www-example-com order 100001  (web/sites.yaml:3)\n")
	old := p.order(t, "100001")
	if old.RenewedOrderID == 0 {
		t.Fatalf("order 100001 was not renewed: %+v", old)
	}
	renewal := p.order(t, strconv.Itoa(old.RenewedOrderID))
	if renewal.RenewalOfOrderID != 100001 || renewal.Status != "issued" || renewal.CommonName != "www.example.com" {
		t.Errorf("the renewal: %+v", renewal)
	}
	if e := loadStateFile(t, st).Entries["www-example-com"]; e.OrderID != old.RenewedOrderID {
		t.Errorf("the state tracks order %d, want the renewal %d", e.OrderID, old.RenewedOrderID)
	}
}
