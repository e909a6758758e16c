package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2E_emptyStateTakesAnotherAPIURL: a command that left the state
// empty (here a failed import against one fake) recorded its API URL, but
// the state holds no order of that account: apply with another API URL
// (and plan --refresh) uses it and records the new URL, instead of refusing it as another
// account's. A state with an entry stays bound (TestApply_otherAPIURL).
func TestE2E_emptyStateTakesAnotherAPIURL(t *testing.T) {
	srvA, envA := startFake(t)
	srvB, envB := startFake(t)
	urlA := strings.TrimPrefix(envA[1], "DIGICERT_API_URL=")
	urlB := strings.TrimPrefix(envB[1], "DIGICERT_API_URL=")
	dir := t.TempDir()
	body := "name: shop\ncommon_name: shop.example.com\norganization_id: 1\nskip_approval: true\nkey_type: ecdsa-p256\n"
	if err := os.WriteFile(filepath.Join(dir, "shop.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(t.TempDir(), "s.json")
	if code, stdout, stderr := runBinary(t, envA, "import", "--dir", dir, "--state", st, "shop", "999999"); code != 1 {
		t.Fatalf("import of an order that does not exist: exit %d\n%s%s", code, stdout, stderr)
	}
	if f := loadStateFile(t, st); f.APIURL != urlA || len(f.Entries) != 0 || len(f.Purchases) != 0 || len(f.Revocations) != 0 {
		t.Fatalf("state after the failed import: api_url %q, %d entries, %d purchases, %d revocations", f.APIURL, len(f.Entries), len(f.Purchases), len(f.Revocations))
	}
	srvA.ResetRequests()
	// plan --refresh reads the state file itself (checkAPIURL with no
	// store): the empty state is no more bound there than for apply.
	code, stdout, stderr := runBinary(t, envB, "plan", "--refresh", "--dir", dir, "--state", st, "--quiet-period", "0s")
	if code != 0 || !strings.Contains(stdout, "+ order  shop  (shop.yaml:1)") || len(srvA.Calls()) != 0 {
		t.Fatalf("plan --refresh with another API URL: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runBinary(t, envB, "apply", "--dir", dir, "--state", st, "--quiet-period", "0s")
	if code != 0 || len(srvB.Orders()) != 1 || len(srvA.Calls()) != 0 {
		t.Fatalf("apply with another API URL: exit %d, %d orders\n%s%s", code, len(srvB.Orders()), stdout, stderr)
	}
	f := loadStateFile(t, st)
	if f.APIURL != urlB || f.Entries["shop"] == nil || f.Entries["shop"].OrderID == 0 {
		t.Fatalf("state after apply: api_url %q, want %q; entries %v", f.APIURL, urlB, f.Entries)
	}
	// Now it holds an order of B's account: A's URL is refused.
	code, _, stderr = runBinary(t, envA, "apply", "--dir", dir, "--state", st)
	if code != 1 || !strings.Contains(stderr, "belongs to the CertCentral API at "+urlB) || len(srvA.Calls()) != 0 {
		t.Fatalf("apply with A's URL after B's order: exit %d\n%s", code, stderr)
	}
}
