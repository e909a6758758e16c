package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestApply_postHook: --post-hook runs once after a cycle that delivered
// certificates, after their deploy hooks, with the delivered names; not
// after a cycle that delivered nothing; a failing one makes apply exit 1
// and says the certificates stay delivered.
func TestApply_postHook(t *testing.T) {
	t.Parallel()
	_, env, dir, st := appliedSpecs(t, 2)
	certDir := filepath.Join(t.TempDir(), "certs")
	log := filepath.Join(t.TempDir(), "log")
	fail := filepath.Join(t.TempDir(), "fail")
	deploy := fmt.Sprintf(`echo "deploy $CERTFORM_NAME" >> %s`, log)
	post := fmt.Sprintf(`echo "post $CERTFORM_NAMES in $CERTFORM_CERT_DIR" >> %s; if [ -e %s ]; then echo "reload refused" >&2; exit 4; fi`, log, fail)
	apply := func() (int, string, string) {
		return runBinary(t, env, "apply", "--dir", dir, "--state", st, "--cert-dir", certDir, "--deploy-hook", deploy, "--post-hook", post)
	}
	code, stdout, stderr := apply()
	if code != 0 || !strings.HasSuffix(stdout, "The post hook ran after delivering host00, host01.\n") || stderr != "" {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	want := fmt.Sprintf("deploy host00\ndeploy host01\npost host00 host01 in %s\n", certDir)
	if got, _ := os.ReadFile(log); !strings.HasSuffix(string(got), fmt.Sprintf("post host00 host01 in %s\n", certDir)) || len(got) != len(want) {
		t.Errorf("runs:\n%s\nwant (deploy hooks in any order, post last):\n%s", got, want)
	}
	// Nothing delivered: no post hook.
	if code, _, stderr := apply(); code != 0 || stderr != "" {
		t.Fatalf("second apply: exit %d\n%s", code, stderr)
	}
	if got, _ := os.ReadFile(log); strings.Count(string(got), "post ") != 1 {
		t.Errorf("the post hook ran without a delivery:\n%s", got)
	}
	// A new delivery with a failing post hook: exit 1, said.
	writeSpecsFrom(t, dir, 2, 1)
	if err := os.WriteFile(fail, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = apply() // orders host02, which the fake issues at once
	wantErr := "certform apply: post hook after delivering host02: post hook exited with status 4; the certificates stay delivered, and the post hook runs again after the next delivery\nreload refused\n"
	if code != 1 || !strings.HasSuffix(stderr, "result=\"ordered 100003\"\n"+wantErr) {
		t.Errorf("failing post hook: exit %d\n%q\nwant %q", code, stderr, wantErr)
	}
	if code, _, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--post-hook", "true"); code != 2 || stderr != "certform apply: --post-hook needs --cert-dir\n" {
		t.Errorf("without --cert-dir: exit %d\n%q", code, stderr)
	}
}

// TestRun_postHook: the daemon runs --post-hook once after a cycle that
// delivered certificates.
func TestRun_postHook(t *testing.T) {
	t.Parallel()
	_, env := startFake(t)
	dir := t.TempDir()
	writeSpecs(t, dir, 2)
	st := filepath.Join(t.TempDir(), "s.json")
	log := filepath.Join(t.TempDir(), "log")
	certDir := filepath.Join(t.TempDir(), "certs")
	code, _, stderr := runBinary(t, env, "run", "--once", "--dir", dir, "--state", st, "--cert-dir", certDir,
		"--post-hook", `echo "post $CERTFORM_NAMES" >> `+log)
	if code != 0 || !strings.Contains(stderr, `msg="post hook ran" specs="host00 host01"`) {
		t.Fatalf("run --once: exit %d\n%s", code, stderr)
	}
	if got, _ := os.ReadFile(log); string(got) != "post host00 host01\n" {
		t.Errorf("post hook runs: %q", got)
	}
}
