package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestApply_savedPlan: plan --out saves the reviewed plan; apply FILE
// makes exactly its calls; a plan file whose specs or state changed since
// is refused, saying what changed, and makes no call.
func TestApply_savedPlan(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 1)
	writeSpecsFrom(t, dir, 1, 1)
	saved := filepath.Join(t.TempDir(), "plan.json")
	code, stdout, stderr := runBinary(t, env, "plan", "--dir", dir, "--state", st, "--refresh", "--out", saved)
	if code != 0 || !strings.Contains(stdout, "+ order  host01") || !strings.Contains(stderr, "saved to "+saved) {
		t.Fatalf("plan --out: exit %d\n%s%s", code, stdout, stderr)
	}
	if fi, err := os.Stat(saved); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("plan file: %v %v", fi, err)
	}
	// A spec changed since: refused.
	editFile(t, filepath.Join(dir, "spec00.yaml"), "skip_approval: true\n", "skip_approval: true\nauto_reissue: true\n")
	srv.ResetRequests()
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st, saved)
	want := "certform apply: " + saved + " cannot be applied; nothing was done:\n  the specs changed since the plan was made\n" +
		"  planned now, not in the saved plan: set_auto_reissue host00 order 100001 -> true\n"
	if code != 1 || !strings.HasPrefix(stderr, want) || stdout != "" || len(writes(srv)) != 0 {
		t.Fatalf("changed specs: exit %d, writes %v\nstdout %q\nstderr %q\nwant   %q", code, writes(srv), stdout, stderr, want)
	}
	editFile(t, filepath.Join(dir, "spec00.yaml"), "auto_reissue: true\n", "")
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st, saved)
	if code != 0 || len(writes(srv)) != 1 || writes(srv)[0] != "POST /order/certificate/ssl" || !strings.Contains(stdout, "+ order  host01") {
		t.Fatalf("apply FILE: exit %d, writes %v\n%s%s", code, writes(srv), stdout, stderr)
	}
	// Applied once: the state changed, and the order is no longer planned.
	srv.ResetRequests()
	code, _, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st, saved)
	if code != 1 || !strings.Contains(stderr, "  the state changed since the plan was made\n") || !strings.Contains(stderr, "  no longer planned: order host01\n") || len(writes(srv)) != 0 {
		t.Fatalf("applied again: exit %d, writes %v\n%s", code, writes(srv), stderr)
	}
	if code, _, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, filepath.Join(dir, "spec00.yaml")); code != 1 || !strings.Contains(stderr, "not a saved plan") {
		t.Errorf("a spec as plan file: exit %d\n%s", code, stderr)
	}
}

// TestApply_approval: on a terminal, apply shows the plan and makes the
// calls only after "yes"; --auto-approve does not ask; without a terminal
// (every other test) it does not ask either.
func TestApply_approval(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script (util-linux) is not installed: no terminal to test with")
	}
	srv, env, dir, st := appliedSpecs(t, 1)
	writeSpecsFrom(t, dir, 1, 1)
	onTerminal := func(answer string, extra ...string) (int, string) {
		t.Helper()
		args := append([]string{binary, "apply", "--dir", dir, "--state", st}, extra...)
		cmd := exec.Command("script", "-qec", strings.Join(args, " "), "/dev/null")
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TERM=dumb"}, env...)
		cmd.Stdin = strings.NewReader(answer)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	code, out := onTerminal("no\n")
	if code != 1 || !strings.Contains(out, "Make these calls? Only 'yes' is accepted:") || !strings.Contains(out, "not approved; nothing was done") || len(writes(srv)) != 0 {
		t.Fatalf("answered no: exit %d, writes %v\n%s", code, writes(srv), out)
	}
	code, out = onTerminal("yes\n")
	if code != 0 || len(writes(srv)) != 1 {
		t.Fatalf("answered yes: exit %d, writes %v\n%s", code, writes(srv), out)
	}
	writeSpecsFrom(t, dir, 2, 1)
	srv.ResetRequests()
	code, out = onTerminal("", "--auto-approve")
	if code != 0 || strings.Contains(out, "Make these calls?") || len(writes(srv)) != 1 {
		t.Fatalf("--auto-approve: exit %d, writes %v\n%s", code, writes(srv), out)
	}
	// /dev/null on stdin and stdout is a character device, not a
	// terminal: nothing is asked.
	writeSpecsFrom(t, dir, 3, 1)
	srv.ResetRequests()
	cmd := exec.Command(binary, "apply", "--dir", dir, "--state", st)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	if err := cmd.Run(); err != nil || len(writes(srv)) != 1 {
		t.Fatalf("stdin and stdout /dev/null: %v, writes %v", err, writes(srv))
	}
}
