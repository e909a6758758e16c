package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestApply_maxPurchasesShared (issue 21, item 19): --max-purchases is a
// budget of new orders and renewals in any 24 hours, recorded in the state
// and shared by apply and run: a plan over it blocks every purchase (exit
// 1, no write call), and what apply bought counts for run.
func TestApply_maxPurchasesShared(t *testing.T) {
	t.Parallel()
	srv, env := startFake(t)
	dir := t.TempDir()
	st := filepath.Join(t.TempDir(), "s.json")
	writeSpecs(t, dir, 2)
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--max-purchases", "1")
	if code != 1 || !strings.Contains(stdout, "! blocked order host00") ||
		!strings.Contains(stdout, "2 purchases (new orders and renewals) planned, more than --max-purchases=1 allows in 24 hours: host00, host01; none of them is made") ||
		!strings.Contains(stderr, "certform apply: 2 orders blocked by --max-purchases: host00, host01\n") || len(writes(srv)) != 0 {
		t.Fatalf("over the budget: exit %d, writes %v\n%s%s", code, writes(srv), stdout, stderr)
	}
	if code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st, "--max-purchases", "2"); code != 0 || len(writes(srv)) != 2 {
		t.Fatalf("within the budget: exit %d, writes %v\n%s%s", code, writes(srv), stdout, stderr)
	}
	if n := len(loadStateFile(t, st).Purchases); n != 2 {
		t.Fatalf("%d purchases recorded", n)
	}
	// The daemon counts what apply bought.
	writeSpecsFrom(t, dir, 2, 1)
	srv.ResetRequests()
	if code, _, stderr = runBinary(t, env, "run", "--once", "--dir", dir, "--state", st, "--max-purchases", "2"); code != 1 || len(writes(srv)) != 0 ||
		!strings.Contains(stderr, "1 purchase (new orders and renewals) planned, but 2 of the 2 purchases --max-purchases allows in 24 hours were used already: host02") {
		t.Fatalf("run over the budget: exit %d, writes %v\n%s", code, writes(srv), stderr)
	}
	if code, _, stderr = runBinary(t, env, "run", "--once", "--dir", dir, "--state", st, "--max-purchases", "3"); code != 0 || len(writes(srv)) != 1 {
		t.Fatalf("run within the budget: exit %d, writes %v\n%s", code, writes(srv), stderr)
	}
	if code, _, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st, "--max-purchases", "-1"); code != 2 ||
		!strings.Contains(stderr, "--max-revocations, --max-purchases, --resend-after, --max-clock-skew and --quiet-period must not be negative") {
		t.Errorf("--max-purchases -1: exit %d\n%s", code, stderr)
	}
}
