package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert/digicerttest"
)

// TestApply_unreachable: apply against an address nothing listens on
// fails at once with one error and a hint, before any work: no plan, no
// state file written.
func TestApply_unreachable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeSpecs(t, dir, 3)
	st := filepath.Join(t.TempDir(), "s.json")
	start := time.Now()
	code, stdout, stderr := runBinary(t, []string{"DIGICERT_API_KEY=" + e2eKey}, "apply", "--dir", dir, "--state", st, "--api-url", "http://127.0.0.1:1/services/v2")
	t.Logf("failed after %s", time.Since(start).Round(time.Millisecond))
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 1 || stdout != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], "certform apply: ") || !strings.HasSuffix(lines[0], "; nothing was done") ||
		lines[1] != "hint: check --api-url (or DIGICERT_API_URL) and that this machine can reach CertCentral" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if f := loadStateFile(t, st); len(f.Entries) != 0 {
		t.Errorf("state: %+v", f.Entries)
	}
}

// TestApply_keyRefused: a 401 stops apply and plan --refresh with one line
// and a hint about the key; a 403 with the permissions each command needs.
func TestApply_keyRefused(t *testing.T) {
	t.Parallel()
	srv, env := startFake(t)
	dir := t.TempDir()
	writeSpecs(t, dir, 3)
	st := filepath.Join(t.TempDir(), "s.json")
	bad := []string{"DIGICERT_API_KEY=not-the-key", env[1]}
	code, stdout, stderr := runBinary(t, bad, "apply", "--dir", dir, "--state", st)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 1 || stdout != "" || len(lines) != 2 || !strings.Contains(lines[0], "401") ||
		!strings.HasPrefix(lines[1], "hint: CertCentral does not accept the API key") || strings.Contains(stderr, "not-the-key") {
		t.Fatalf("401: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	srv.Inject(digicerttest.Fault{Method: "GET", Path: "/order/certificate", Status: 403, Code: "access_denied"})
	code, stdout, stderr = runBinary(t, env, "plan", "--dir", dir, "--state", st, "--refresh")
	lines = strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 1 || stdout != "" || len(lines) != 2 || !strings.Contains(lines[0], "403") || lines[1] != "hint: "+permissionsHint {
		t.Fatalf("403: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if w := writes(srv); len(w) != 0 {
		t.Errorf("write calls: %v", w)
	}
}

// TestPlan_refreshFails: a plan --refresh whose reads fail prints no plan
// (no "No calls to make.") and exits 1.
func TestPlan_refreshFails(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 1)
	// Every read fails: the order list that a refresh reads first, and
	// the orders.
	srv.Inject(digicerttest.Fault{Method: "GET", Path: "/order/certificate*", Status: 400, Code: "invalid_request"})
	code, stdout, stderr := runBinary(t, env, "plan", "--dir", dir, "--state", st, "--refresh")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "certform plan: no plan printed: CertCentral could not be read (see above)") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

// TestRun_unreachable: a daemon whose CertCentral cannot be reached logs
// one error per retry, with backoff, and no retry lines of its calls.
func TestRun_unreachable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeSpecs(t, dir, 3)
	st := filepath.Join(t.TempDir(), "s.json")
	d := startDaemon(t, []string{"DIGICERT_API_KEY=" + e2eKey, "DIGICERT_API_URL=http://127.0.0.1:1/services/v2"},
		"--dir", dir, "--state", st, "--retry-backoff", "200ms", "--debounce", "50ms")
	skipped := func(r map[string]any) bool {
		return r["msg"] == "cycle skipped: CertCentral cannot be reached or refuses the key" && r["level"] == "ERROR"
	}
	d.waitFor("three skipped cycles", 3, skipped)
	retries := d.count(func(r map[string]any) bool { return r["msg"] == "digicert call failed, retrying" })
	backoffs := d.count(func(r map[string]any) bool { return r["msg"] == "the cycle failed; retrying later" })
	if retries != 0 || backoffs < 2 {
		t.Errorf("%d retry lines, %d backoff lines:\n%s", retries, backoffs, d.logs())
	}
}

// TestApply_keyText: a key with a control character is refused naming its
// source and position, never the key; a key file others may read is
// warned about, and the key still works.
func TestApply_keyText(t *testing.T) {
	t.Parallel()
	srv, env := startFake(t)
	dir := t.TempDir()
	writeSpecs(t, dir, 1)
	st := filepath.Join(t.TempDir(), "s.json")
	code, stdout, stderr := runBinary(t, []string{"DIGICERT_API_KEY=" + e2eKey + "\x1b[0m", env[1]}, "apply", "--dir", dir, "--state", st)
	want := "certform apply: the API key from DIGICERT_API_KEY holds a control character (0x1b) at position 21: remove it (a Windows line ending or a paste from a terminal looks like this)\n"
	if code != 1 || stdout != "" || stderr != want || len(srv.Calls()) != 0 {
		t.Fatalf("exit %d, calls %v\nstdout %q\nstderr %q\nwant   %q", code, srv.Calls(), stdout, stderr, want)
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(e2eKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runBinary(t, []string{env[1]}, "apply", "--dir", dir, "--state", st, "--api-key-file", keyFile)
	if code != 0 || !strings.Contains(stderr, `level=WARN msg="the API key file is readable by other users; make it readable by certform's user only"`) ||
		!strings.Contains(stderr, "mode=0644") || strings.Contains(stderr, e2eKey) {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

// TestApply_convergedOneCall: the check that starts apply is the cycle's
// own first GET, the status-changes feed: a converged apply makes exactly
// that one call, as a daemon's cycle does.
func TestApply_convergedOneCall(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 2)
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--detailed-exitcode")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	calls := srv.Calls()
	if len(calls) != 1 || !strings.HasPrefix(calls[0], "GET /order/certificate/status-changes?minutes=") {
		t.Errorf("calls %v, want the status-changes feed alone", calls)
	}
}

// TestApply_firstCallRetried: one 503 (or 429) to the first call does not
// fail apply: it is retried within the check's 15 seconds and the apply
// goes on; import and plan --refresh alike.
func TestApply_firstCallRetried(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 1)
	feed := "GET /order/certificate/status-changes?minutes="
	for _, status := range []int{503, 429} {
		srv.ResetRequests()
		srv.Inject(digicerttest.Fault{Method: "GET", Path: "/order/certificate*", Status: status, Code: "service_unavailable", Times: 1})
		code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st)
		calls := srv.Calls()
		if code != 0 || len(calls) != 2 || !strings.HasPrefix(calls[0], feed) || calls[1] != calls[0] {
			t.Errorf("%d once: exit %d, calls %v\n%s%s", status, code, calls, stdout, stderr)
		}
	}
	srv.ResetRequests()
	srv.Inject(digicerttest.Fault{Method: "GET", Path: "/order/certificate*", Status: 502, Code: "bad_gateway", Times: 1})
	if code, stdout, stderr := runBinary(t, env, "plan", "--dir", dir, "--state", st, "--refresh"); code != 0 || len(srv.Calls()) != 2 {
		t.Errorf("plan --refresh after one 502: exit %d, calls %v\n%s%s", code, srv.Calls(), stdout, stderr)
	}
	if w := writes(srv); len(w) != 0 {
		t.Errorf("write calls: %v", w)
	}
}

// TestApply_firstCallKeepsFailing: a CertCentral that answers 503 to
// every call fails apply once the check's time is up, with one error and
// a hint, and nothing but that first GET tried.
func TestApply_firstCallKeepsFailing(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 2)
	srv.Inject(digicerttest.Fault{Method: "GET", Path: "/order/certificate*", Status: 503, Code: "service_unavailable", Times: 1000})
	start := time.Now()
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st)
	t.Logf("failed after %s", time.Since(start).Round(time.Millisecond))
	var lines []string // without the retries' log lines
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(l, "time=") {
			lines = append(lines, l)
		}
	}
	url := strings.TrimPrefix(env[1], "DIGICERT_API_URL=")
	want := "certform apply: digicert: CertCentral at " + url + " kept failing for 15s: digicert: 503 service_unavailable: "
	if code != 1 || stdout != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], want) || !strings.HasSuffix(lines[0], "; nothing was done") ||
		lines[1] != "hint: CertCentral failed (5xx) or limited this key (429) every time within that time; try again later" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s\nwant a line starting %q", code, stdout, stderr, want)
	}
	for _, c := range srv.Calls() {
		if !strings.HasPrefix(c, "GET /order/certificate/status-changes?") {
			t.Errorf("call %s after the first call failed", c)
		}
	}
}
