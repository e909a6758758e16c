package cli

import (
	"strings"
	"testing"

	"github.com/certform/certform/digicert/digicerttest"
)

// TestRun_firstCycleOneCall: the daemon's start cycle checks CertCentral
// with its own first call, the status-changes feed, not with a call of
// its own: a converged run --once makes that one call.
func TestRun_firstCycleOneCall(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 2)
	code, stdout, stderr := runBinary(t, env, "run", "--once", "--dir", dir, "--state", st)
	calls := srv.Calls()
	if code != 0 || len(calls) != 1 || !strings.HasPrefix(calls[0], "GET /order/certificate/status-changes?minutes=") {
		t.Fatalf("exit %d, calls %v, want the status-changes feed alone\n%s%s", code, calls, stdout, stderr)
	}
}

// TestRun_keyRefusedThenAccepted: a start cycle whose first call is
// refused (401) is skipped with one error line and no other call; the
// retry checks again with its own first call, which passes, and the cycle
// runs.
func TestRun_keyRefusedThenAccepted(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 2)
	srv.Inject(digicerttest.Fault{Method: "GET", Path: "/order/certificate/status-changes", Status: 401, Code: "access_denied", Times: 1})
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--retry-backoff", "200ms", "--debounce", "50ms")
	d.waitFor("the skipped start cycle", 1, func(r map[string]any) bool {
		return r["msg"] == "cycle skipped: CertCentral cannot be reached or refuses the key" && r["level"] == "ERROR" &&
			strings.Contains(r["error"].(string), "401")
	})
	d.waitFor("a cycle that worked", 1, func(r map[string]any) bool { return r["msg"] == "cycle done" && r["level"] == "INFO" })
	feeds := 0
	for _, c := range srv.Calls() {
		if !strings.HasPrefix(c, "GET /order/certificate/status-changes?minutes=") {
			t.Errorf("call %q, want the status-changes feed only", c)
		}
		feeds++
	}
	if feeds != 2 {
		t.Errorf("%d calls, want 2 (the refused check, the retry's)", feeds)
	}
}
