package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestInstallAndUnits runs make install into a temporary prefix, checks
// what it installed, and has systemd-analyze verify the installed units and
// rate their exposure (target 1.5 or better) when systemd-analyze exists.
func TestInstallAndUnits(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	prefix := t.TempDir()
	etc := filepath.Join(prefix, "etc")
	cmd := exec.Command("make", "-s", "install", "PREFIX="+prefix, "SYSCONFDIR="+etc)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	unitDir := filepath.Join(prefix, "lib", "systemd", "system")
	for path, mode := range map[string]os.FileMode{
		filepath.Join(prefix, "bin", "certform"):                       0o755,
		filepath.Join(unitDir, "certform.service"):                     0o644,
		filepath.Join(unitDir, "certform-git-sync.service"):            0o644,
		filepath.Join(unitDir, "certform-git-sync.timer"):              0o644,
		filepath.Join(prefix, "share", "doc", "certform", "README.md"): 0o644,
		filepath.Join(etc, "certform", "certform.env.example"):         0o640,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("not installed: %v", err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	// Installing again keeps a folder mode the admin set on purpose.
	if err := os.Chmod(filepath.Join(etc, "certform"), 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("make", "-s", "install", "PREFIX="+prefix, "SYSCONFDIR="+etc).CombinedOutput(); err != nil {
		t.Fatalf("make install again: %v\n%s", err, out)
	}
	if fi, err := os.Stat(filepath.Join(etc, "certform")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s after a second install: %v %v, want 0700 kept", filepath.Join(etc, "certform"), fi.Mode().Perm(), err)
	}
	unit, _ := os.ReadFile(filepath.Join(unitDir, "certform.service"))
	if !strings.Contains(string(unit), "ExecStart="+filepath.Join(prefix, "bin", "certform")+" run --dir %S/certform/specs") || strings.Contains(string(unit), "@BINDIR@") {
		t.Errorf("ExecStart not filled in:\n%s", unit)
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed; units not verified")
	}
	units := []string{filepath.Join(unitDir, "certform.service"), filepath.Join(unitDir, "certform-git-sync.service"), filepath.Join(unitDir, "certform-git-sync.timer")}
	out, err := exec.Command("systemd-analyze", append([]string{"verify"}, units...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	exposure := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)
	for _, u := range units[:2] {
		out, _ := exec.Command("systemd-analyze", "security", "--offline=true", u).CombinedOutput()
		m := exposure.FindSubmatch(out)
		if m == nil {
			t.Errorf("%s: no exposure level in:\n%s", u, out)
			continue
		}
		level, _ := strconv.ParseFloat(string(m[1]), 64)
		t.Logf("%s: exposure %.1f", filepath.Base(u), level)
		if level > 1.5 {
			t.Errorf("%s: exposure %.1f, want 1.5 or better", filepath.Base(u), level)
		}
	}
}

// TestGitSyncUnit_readsOnlyCredentials: the git-sync service runs as a
// dynamic user that cannot read /etc/certform (root's, 0750), so every
// file it needs from there comes as a credential (read by systemd as
// root) or as the EnvironmentFile (read by systemd too): no other line
// names a path below /etc/certform.
func TestGitSyncUnit_readsOnlyCredentials(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("systemd", "certform-git-sync.service"))
	if err != nil {
		t.Fatal(err)
	}
	creds := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") || !strings.Contains(line, "/etc/certform") {
			continue
		}
		switch key, value, _ := strings.Cut(line, "="); key {
		case "LoadCredential":
			id, _, _ := strings.Cut(strings.TrimPrefix(value, "-"), ":")
			creds[id] = true
		case "EnvironmentFile":
		default:
			t.Errorf("the dynamic user would have to read /etc/certform: %s", line)
		}
	}
	for _, id := range []string{"git-ssh-key", "known_hosts"} {
		if !creds[id] || !strings.Contains(string(data), "%d/"+id) {
			t.Errorf("%s is not passed as a credential and used from %%d", id)
		}
	}
}

// TestGitSyncUnit_cloneAsUnprivileged simulates certform-git-sync.service
// as an unprivileged user: its ExecStart and GIT_SSH_COMMAND, with %d a
// credentials folder that user can read (as systemd gives the service
// one), and an ssh stand-in that reads the key and known_hosts files the
// command names, then serves a local repository. The clone works, and a
// second run fast-forwards. The same run with known_hosts read from a
// root-only folder, as the unit did before, fails.
func TestGitSyncUnit_cloneAsUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run as another user")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv is not installed")
	}
	unit, err := os.ReadFile(filepath.Join("systemd", "certform-git-sync.service"))
	if err != nil {
		t.Fatal(err)
	}
	value := func(prefix string) string {
		for _, l := range strings.Split(string(unit), "\n") {
			if strings.HasPrefix(l, prefix) {
				return strings.Trim(strings.TrimPrefix(l, prefix), `"`)
			}
		}
		t.Fatalf("no %s line", prefix)
		return ""
	}
	sshCommand := value(`Environment="GIT_SSH_COMMAND=`)
	script := strings.Trim(strings.TrimPrefix(value("ExecStart=/bin/sh -ec "), ""), "'")

	root := t.TempDir()
	// The unprivileged user must reach the folders below (t.TempDir's
	// folders are root's, 0700).
	os.Chmod(filepath.Dir(root), 0o755)
	os.Chmod(root, 0o755)
	mk := func(path string, mode os.FileMode) string {
		if err := os.MkdirAll(path, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, mode)
		return path
	}
	run := func(dir string, env []string, args ...string) ([]byte, error) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = dir, env
		return cmd.CombinedOutput()
	}
	// The repository, readable by everyone.
	repo := mk(filepath.Join(root, "repo"), 0o755)
	gitEnv := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + root, "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"}
	for _, args := range [][]string{{"git", "init", "-q", "-b", "main"}, {"sh", "-c", "echo 'name: a' > a.yaml"}, {"git", "add", "."}, {"git", "commit", "-qm", "one"}} {
		if out, err := run(repo, gitEnv, args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	exec.Command("chmod", "-R", "a+rX", repo).Run()
	// The ssh stand-in: reads -i and UserKnownHostsFile, then serves the
	// local repository whatever the host.
	bin := mk(filepath.Join(root, "bin"), 0o755)
	fake := `#!/bin/sh
key= hosts=
while [ $# -gt 0 ]; do
  case "$1" in
    -i) key=$2; shift 2;;
    -o) case "$2" in UserKnownHostsFile=*) hosts=${2#UserKnownHostsFile=};; esac; shift 2;;
    -*) shift;;
    *) break;;
  esac
done
cat "$key" >/dev/null || exit 255
cat "$hosts" >/dev/null || exit 255
shift
# The "server" side: the repository is root's, this user is not.
GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*' exec sh -c "$*"
`
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	state := mk(filepath.Join(root, "state"), 0o700)
	os.Chown(state, 65534, 65534)
	creds := mk(filepath.Join(root, "creds"), 0o500)
	for _, f := range []string{"git-ssh-key", "known_hosts"} {
		os.WriteFile(filepath.Join(creds, f), []byte("x\n"), 0o400)
		os.Chown(filepath.Join(creds, f), 65534, 65534)
	}
	os.Chown(creds, 65534, 65534)
	etc := mk(filepath.Join(root, "etc-certform"), 0o750) // root's, as /etc/certform
	os.WriteFile(filepath.Join(etc, "known_hosts"), []byte("x\n"), 0o640)

	sync := func(ssh string) ([]byte, error) {
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-ec", script)
		cmd.Dir = state
		cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + state, "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_SSH_COMMAND=" + ssh, "CERTFORM_SPEC_REPO=git@example.invalid:" + repo}
		return cmd.CombinedOutput()
	}
	withCreds := strings.ReplaceAll(sshCommand, "%d", creds)
	if out, err := sync(withCreds); err != nil {
		t.Fatalf("first sync (clone): %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(state, "specs", "a.yaml")); err != nil {
		t.Fatalf("not cloned: %v", err)
	}
	if out, err := run(repo, gitEnv, "sh", "-c", "echo 'name: b' > b.yaml && git add . && git commit -qm two && chmod -R a+rX ."); err != nil {
		t.Fatalf("second commit: %v\n%s", err, out)
	}
	if out, err := sync(withCreds); err != nil {
		t.Fatalf("second sync (fast-forward): %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(state, "specs", "b.yaml")); err != nil {
		t.Fatalf("not fast-forwarded: %v", err)
	}
	// As before: known_hosts read from the root-only folder fails.
	os.RemoveAll(filepath.Join(state, "specs"))
	old := strings.ReplaceAll(strings.ReplaceAll(sshCommand, "%d/known_hosts", filepath.Join(etc, "known_hosts")), "%d", creds)
	if out, err := sync(old); err == nil {
		t.Errorf("the clone worked with known_hosts in a root-only folder:\n%s", out)
	}
}
