package main

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
