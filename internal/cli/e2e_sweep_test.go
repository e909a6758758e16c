package cli

import (
	"strings"
	"testing"

	"github.com/certform/certform/digicert/digicerttest"
)

// TestRun_sweepFindsDrift: with --refresh-budget 100% the daemon's toggle
// sweep reads the tracked orders one by one between cycles; a disable_ct
// turned on in CertCentral, which the order list does not carry, is found,
// triggers a cycle, and that cycle sets it back.
func TestRun_sweepFindsDrift(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 2, digicerttest.WithDisableCTField())
	f := loadStateFile(t, st)
	id := f.Entries["host01"].OrderID
	srv.SetCT(id, true)
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--refresh-budget", "100%", "--debounce", "50ms")
	d.waitFor("the sweep to find the drift", 1, func(r map[string]any) bool {
		return r["msg"] == "toggle sweep: an order differs from the state; a cycle records it and plans from it" && r["spec"] == "host01"
	})
	d.waitFor("the cycle it triggered", 1, func(r map[string]any) bool { return r["msg"] == "cycle done" && r["trigger"] == "toggle sweep" })
	var set []string
	for _, c := range srv.Calls() {
		if strings.HasPrefix(c, "PUT ") {
			set = append(set, c)
		}
	}
	if len(set) != 1 || !strings.Contains(set[0], "/ct-status") {
		t.Errorf("write calls %v, want the CT setting set back\n%s", set, d.logs())
	}
	if o, _ := srv.Order(id); o.DisableCT {
		t.Errorf("disable_ct still on")
	}
}

// TestRun_refreshBudgetRefused: a --refresh-budget that is not a share
// is a usage error naming the flag.
func TestRun_refreshBudgetRefused(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runBinary(t, []string{"DIGICERT_API_KEY=" + e2eKey}, "run", "--dir", t.TempDir(), "--state", t.TempDir()+"/s.json", "--refresh-budget", "10")
	want := "certform run: --refresh-budget \"10\": out of range: give a share from 0 (the sweep off) to 100% (or 1)\n"
	if code != exitUsage || stdout != "" || stderr != want {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nwant   %q", code, stdout, stderr, want)
	}
}
