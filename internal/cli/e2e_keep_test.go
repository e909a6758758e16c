package cli

// End-to-end tests of keeping certificates right and alive: reissues in
// place and renewals, with the built binary against the fake CertCentral.

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
	"github.com/certform/certform/spec/spectest"
	"github.com/google/go-cmp/cmp"
)

// writeSpecNames writes spec NN (host NN) with DNS names and a new CSR
// for all of its names; extra lines are added to the YAML.
func writeSpecNames(t *testing.T, dir string, i int, dns []string, extra ...string) string {
	t.Helper()
	cn := fmt.Sprintf("host%02d.example.com", i)
	csr, err := spectest.CSR(cn, dns...)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("name: host%02d\ncommon_name: %s\norganization_id: 1\nskip_approval: true\n", i, cn)
	if len(dns) > 0 {
		body += "dns_names: [" + strings.Join(dns, ", ") + "]\n"
	}
	for _, l := range extra {
		body += l + "\n"
	}
	body += "csr: |\n" + spectest.Indent(csr)
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("spec%02d.yaml", i)), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return csr
}

// renewalPosts returns, by the order they renew, how many renewal orders
// the fake received (every POST with renewal_of_order_id, landed or not).
func renewalPosts(t *testing.T, srv *digicerttest.Server) map[int]int {
	t.Helper()
	out := map[int]int{}
	for _, r := range srv.Requests() {
		if r.Method != "POST" || r.Path != "/order/certificate/ssl" {
			continue
		}
		var body struct {
			RenewalOf int `json:"renewal_of_order_id"`
		}
		if err := json.Unmarshal(r.Body, &body); err == nil && body.RenewalOf != 0 {
			out[body.RenewalOf]++
		}
	}
	return out
}

// reissuePosts returns, by order, how many reissue requests the fake
// received.
func reissuePosts(srv *digicerttest.Server) map[string]int {
	out := map[string]int{}
	for _, r := range srv.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/reissue") {
			out[r.Path]++
		}
	}
	return out
}

// endsIn makes the order tracked as name end left from now, in the fake
// and in the state, as time passing does: an order's end never changes,
// so certform reads it once and plans from the state.
func endsIn(t *testing.T, srv *digicerttest.Server, st, name string, left time.Duration) int {
	t.Helper()
	id := loadStateFile(t, st).Entries[name].OrderID
	srv.OrderEndsIn(id, left)
	setStateField(t, st, name, "order_valid_till", time.Now().Add(left).UTC().Format(time.RFC3339))
	// As time passing does: ordered a year before its end, so it has lived
	// half its validity and may be renewed.
	setStateField(t, st, name, "ordered_at", time.Now().Add(left).AddDate(-1, 0, 0).UTC().Format(time.RFC3339))
	return id
}

// TestApply_reissueRemovedName: removing a name makes DigiCert revoke the
// earlier certificates, so the reissue is blocked by --max-revocations 0
// (exit 1, no call) and made with 1, marked in the plan.
func TestApply_reissueRemovedName(t *testing.T) {
	t.Parallel()
	srv, env := startFake(t)
	dir := t.TempDir()
	st := filepath.Join(t.TempDir(), "s.json")
	writeSpecNames(t, dir, 0, []string{"www.host00.example.com"})
	if code, _, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st); code != 0 {
		t.Fatalf("first apply: exit %d\n%s", code, stderr)
	}
	id := loadStateFile(t, st).Entries["host00"].OrderID
	writeSpecNames(t, dir, 0, nil)
	srv.ResetRequests()
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--max-revocations", "0")
	if code != 1 || !strings.Contains(stdout, fmt.Sprintf("! blocked reissue host00 order %d", id)) || !strings.Contains(stdout, "! revokes earlier certificates") ||
		!strings.Contains(stderr, "1 revocation blocked by --max-revocations: host00") {
		t.Fatalf("--max-revocations 0: exit %d\n%s%s", code, stdout, stderr)
	}
	if w := writes(srv); len(w) != 0 {
		t.Fatalf("write calls with --max-revocations 0: %v", w)
	}
	srv.ResetRequests()
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st, "--max-revocations", "1")
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("~ reissue host00 order %d", id)) {
		t.Fatalf("--max-revocations 1: exit %d\n%s%s", code, stdout, stderr)
	}
	if diff := cmp.Diff([]string{fmt.Sprintf("POST /order/certificate/%d/reissue", id)}, writes(srv)); diff != "" {
		t.Errorf("write calls (-want +got):\n%s", diff)
	}
	o, _ := srv.Order(id)
	if !o.RevokesPrevious || len(o.Reissues) != 1 {
		t.Errorf("order after the reissue: revokes previous %v, %d reissues", o.RevokesPrevious, len(o.Reissues))
	}
	f := loadStateFile(t, st)
	if len(f.Revocations) != 1 || f.Revocations[0].OrderID != id {
		t.Errorf("revocation budget: %+v", f.Revocations)
	}
}

// TestApply_reissueAfterCTChange: a disable_ct change on an issued order is
// the CT call, then one reissue with the same names and CSR.
func TestApply_reissueAfterCTChange(t *testing.T) {
	t.Parallel()
	srv, env := startFake(t)
	dir := t.TempDir()
	st := filepath.Join(t.TempDir(), "s.json")
	csr := writeSpecNames(t, dir, 0, nil)
	if code, _, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st); code != 0 {
		t.Fatalf("first apply: exit %d\n%s", code, stderr)
	}
	id := loadStateFile(t, st).Entries["host00"].OrderID
	editFile(t, filepath.Join(dir, "spec00.yaml"), "skip_approval: true\n", "skip_approval: true\ndisable_ct: true\n")
	srv.ResetRequests()
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st)
	if code != 0 || !strings.Contains(stdout, "changed: disable_ct") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	want := []string{fmt.Sprintf("PUT /order/certificate/%d/ct-status", id), fmt.Sprintf("POST /order/certificate/%d/reissue", id)}
	if diff := cmp.Diff(want, writes(srv)); diff != "" {
		t.Errorf("write calls (-want +got):\n%s", diff)
	}
	for _, r := range srv.Requests() {
		if r.Method == "POST" && !strings.Contains(string(r.Body), jsonString(t, csr)) {
			t.Errorf("the reissue does not carry the spec's CSR: %s", r.Body)
		}
	}
	srv.ResetRequests()
	if code, stdout, _ := runBinary(t, env, "apply", "--dir", dir, "--state", st); code != 0 || len(writes(srv)) != 0 {
		t.Errorf("second apply: exit %d, writes %v\n%s", code, writes(srv), stdout)
	}
}

func jsonString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(string(b), `"`)
}

// TestApply_reissueExpiring: a certificate 10 days from its end on an
// order that lasts longer, with auto_reissue false, is reissued once.
func TestApply_reissueExpiring(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 1)
	id := loadStateFile(t, st).Entries["host00"].OrderID
	srv.ExpireSoon(id, 10*24*time.Hour)
	// A certificate of 10 days, new: not reissued before it lived half its
	// lifetime (a warning says so).
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st)
	if code != 0 || !strings.Contains(stdout, "but it has not lived half its lifetime") || len(writes(srv)) != 0 {
		t.Fatalf("a new certificate of 10 days: exit %d, writes %v\n%s%s", code, writes(srv), stdout, stderr)
	}
	// As if it had lived 189 days of 199.
	setStateField(t, st, "host00", "not_before", time.Now().Add(-189*24*time.Hour).UTC().Format(time.RFC3339))
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st)
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("~ reissue host00 order %d", id)) || !strings.Contains(stdout, "the certificate ends within reissue_before_days") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if diff := cmp.Diff([]string{fmt.Sprintf("POST /order/certificate/%d/reissue", id)}, writes(srv)); diff != "" {
		t.Errorf("write calls (-want +got):\n%s", diff)
	}
	srv.ResetRequests()
	for range 2 {
		if code, stdout, _ := runBinary(t, env, "apply", "--dir", dir, "--state", st); code != 0 || len(writes(srv)) != 0 {
			t.Fatalf("later apply: exit %d, writes %v\n%s", code, writes(srv), stdout)
		}
	}
}

// TestApply_productChange: a product change is a needs_new_order note and
// no call; exit 0.
func TestApply_productChange(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 1)
	editFile(t, filepath.Join(dir, "spec00.yaml"), "skip_approval: true\n", "skip_approval: true\nproduct: ev\n")
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st)
	if code != 0 || !strings.Contains(stdout, "needs_new_order") || !strings.Contains(stdout, "product changed; it is fixed once ordered") ||
		strings.Contains(stdout, "revoke: true under") && !strings.Contains(stdout, "only once the new certificate is installed") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if w := writes(srv); len(w) != 0 {
		t.Errorf("write calls: %v", w)
	}
}

// TestApply_renew: an order 10 days from its end is renewed once, with
// the spec's order and renewal_of_order_id, and the new certificate
// (issued at once) delivered; the state tracks the new order under the
// same name with the old one in previous_order_ids; the next apply reads
// the new order once and writes nothing, the one after makes no call but
// the feed. The old order is left alone.
func TestApply_renew(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 1)
	old := endsIn(t, srv, st, "host00", 10*24*time.Hour)
	certDir := filepath.Join(t.TempDir(), "certs")
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--cert-dir", certDir)
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("+ renew  host00 order %d", old)) || !strings.Contains(stdout, "Plan: 1 to order, 0 to update, 0 to revoke.") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if diff := cmp.Diff([]string{"POST /order/certificate/ssl"}, writes(srv)); diff != "" {
		t.Errorf("write calls (-want +got):\n%s", diff)
	}
	if got := renewalPosts(t, srv); !cmp.Equal(got, map[int]int{old: 1}) {
		t.Errorf("renewals sent: %v", got)
	}
	o, _ := srv.Order(old)
	renewal, _ := srv.Order(o.RenewedOrderID)
	// Serials are printed as numbers: no leading zeros.
	if !strings.Contains(stdout, fmt.Sprintf("Delivered host00 (serial %s,", strings.TrimLeft(strings.ToUpper(renewal.SerialNumber), "0"))) {
		t.Errorf("the renewal's certificate (serial %s) is not delivered:\n%s", renewal.SerialNumber, stdout)
	}
	code, stdout, _ = runBinary(t, env, "status", "--state", st, "--json")
	var rows []struct {
		OrderID  int   `json:"order_id"`
		Previous []int `json:"previous_order_ids"`
	}
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil || code != 0 || len(rows) != 1 {
		t.Fatalf("status --json: exit %d, %v\n%s", code, err, stdout)
	}
	if rows[0].OrderID != o.RenewedOrderID || rows[0].OrderID == old || !slices.Equal(rows[0].Previous, []int{old}) {
		t.Errorf("status: %+v; old order renewed by %d", rows[0], o.RenewedOrderID)
	}
	if o.Status != "issued" || len(srv.Orders()) != 2 {
		t.Errorf("old order %s, %d orders", o.Status, len(srv.Orders()))
	}
	srv.ResetRequests()
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st, "--cert-dir", certDir)
	if code != 0 || strings.Contains(stdout, "Delivered") || len(writes(srv)) != 0 {
		t.Fatalf("second apply: exit %d, writes %v\n%s%s", code, writes(srv), stdout, stderr)
	}
	srv.ResetRequests()
	code, stdout, _ = runBinary(t, env, "apply", "--dir", dir, "--state", st, "--cert-dir", certDir)
	if calls := callsAfterCheck(srv); code != 0 || len(calls) != 1 || !strings.HasPrefix(calls[0], "GET /order/certificate/status-changes") {
		t.Errorf("third apply: exit %d, calls %v\n%s", code, calls, stdout)
	}
}

// TestApply_renewLostAnswer: the renewal's answer is lost and the look-up
// by alternative order id does not show it yet; the next apply, even with
// --resend-after 0s, sees the order renewed in CertCentral and tracks the
// renewal: one renewal.
func TestApply_renewLostAnswer(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 1, digicerttest.WithLookupLag(time.Hour))
	old := endsIn(t, srv, st, "host00", 10*24*time.Hour)
	srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, DropAfter: true})
	// Sent with --resend-after 0s, which its intent records.
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--resend-after", "0s")
	if code != 1 || !strings.Contains(stderr, "the intent stays until CertCentral shows the order") {
		t.Fatalf("first apply: exit %d\n%s%s", code, stdout, stderr)
	}
	if e := loadStateFile(t, st).Entries["host00"]; e.OrderID != old || e.Intent == nil || e.Intent.Action != "renew" {
		t.Fatalf("entry after a lost answer: %+v", e)
	}
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st, "--resend-after", "0s")
	o, _ := srv.Order(old)
	if code != 0 || o.RenewedOrderID == 0 || !strings.Contains(stdout+stderr, fmt.Sprintf("tracking order %d, which CertCentral renewed order %d with", o.RenewedOrderID, old)) {
		t.Fatalf("second apply: exit %d\n%s%s", code, stdout, stderr)
	}
	if got := renewalPosts(t, srv); !cmp.Equal(got, map[int]int{old: 1}) {
		t.Errorf("renewals sent: %v", got)
	}
	if e := loadStateFile(t, st).Entries["host00"]; e.OrderID != o.RenewedOrderID || e.Intent != nil || !slices.Equal(e.PreviousOrderIDs, []int{old}) {
		t.Errorf("entry: %+v", e)
	}
}

// TestApply_renewedOutside: an order renewed in CertCentral (auto_renew, a
// person) is adopted under the same name, with no write call, and not
// renewed again.
func TestApply_renewedOutside(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 1)
	old := endsIn(t, srv, st, "host00", 10*24*time.Hour)
	newID := srv.RenewOutside(old)
	srv.ResetRequests()
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st)
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("~ adopt renewal host00 order %d", old)) ||
		!strings.Contains(stdout, fmt.Sprintf("CertCentral renewed order %d as order %d", old, newID)) {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if w := writes(srv); len(w) != 0 {
		t.Errorf("write calls: %v", w)
	}
	if e := loadStateFile(t, st).Entries["host00"]; e.OrderID != newID || !slices.Equal(e.PreviousOrderIDs, []int{old}) {
		t.Errorf("entry: %+v", e)
	}
	srv.ResetRequests()
	if code, stdout, _ := runBinary(t, env, "apply", "--dir", dir, "--state", st); code != 0 || len(writes(srv)) != 0 || len(srv.Orders()) != 2 {
		t.Errorf("second apply: exit %d, writes %v, %d orders\n%s", code, writes(srv), len(srv.Orders()), stdout)
	}
}
