package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/certform/certform/digicert/digicerttest"
)

// TestApply_invalidKey403: a bad key that CertCentral refuses with 403
// access_denied|access_denied_invalid_key (as in a real recording), not
// 401, gets the same one error and hint as a 401: the key, not its
// permissions.
func TestApply_invalidKey403(t *testing.T) {
	t.Parallel()
	srv, env := startFake(t)
	dir := t.TempDir()
	writeSpecs(t, dir, 2)
	st := filepath.Join(t.TempDir(), "s.json")
	srv.Inject(digicerttest.Fault{Method: "GET", Status: 403, Code: "access_denied|access_denied_invalid_key", Message: "Access denied due to access_denied_invalid_key."})
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st)
	want := "certform apply: digicert: 403 access_denied|access_denied_invalid_key: Access denied due to access_denied_invalid_key.; nothing was done\n" +
		"hint: CertCentral does not accept the API key: check DIGICERT_API_KEY, DIGICERT_API_KEY_FILE or --api-key-file (a mistyped, revoked or expired key)\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %q\nwant:   %q", code, stdout, stderr, want)
	}
	if w := writes(srv); len(w) != 0 {
		t.Errorf("write calls: %v", w)
	}
}

// TestKeyEchoScrubbed: CertCentral's error text that repeats the API key
// ("API key KEY is not valid") is printed with the key replaced by
// [redacted], by apply and by the daemon's log.
func TestKeyEchoScrubbed(t *testing.T) {
	t.Parallel()
	srv, env := startFake(t)
	dir := t.TempDir()
	writeSpecs(t, dir, 1)
	st := filepath.Join(t.TempDir(), "s.json")
	srv.Inject(digicerttest.Fault{Status: 401, Code: "access_denied|invalid_api_key", Message: "API key " + e2eKey + " is not valid."})
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st)
	if code != 1 || strings.Contains(stdout+stderr, e2eKey) || !strings.Contains(stderr, "API key [redacted] is not valid.") {
		t.Fatalf("apply: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	code, stdout, stderr = runBinary(t, env, "run", "--dir", dir, "--state", st, "--once")
	if code != 1 || strings.Contains(stdout+stderr, e2eKey) || !strings.Contains(stderr, "[redacted]") {
		t.Fatalf("run --once: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}
