package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestApply_certDirOthersFolder: a --cert-dir this user may not write
// into, whose DIR/NAME folder it owns, is no reason to refuse: deliveries
// write only into DIR/NAME. Run as nobody (uid 65534) against a root-owned
// 0755 DIR, apply delivers into DIR/host00 with exit 0.
func TestApply_certDirOthersFolder(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run certform as another user")
	}
	t.Parallel()
	srv, env := startFake(t)
	root, err := os.MkdirTemp("", "certform-certdir-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	mk := func(p string, uid int) string {
		t.Helper()
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "certform")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	specs := mk(filepath.Join(root, "specs"), 0)
	writeSpecs(t, specs, 1)
	if err := os.Chmod(filepath.Join(specs, "spec00.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	home := mk(filepath.Join(root, "home"), 65534)
	certDir := mk(filepath.Join(root, "certs"), 0)
	mk(filepath.Join(certDir, "host00"), 65534)

	cmd := exec.Command(bin, "apply", "--dir", specs, "--state", filepath.Join(home, "s.json"), "--cert-dir", certDir, "--quiet-period", "0s")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || len(srv.Orders()) != 1 {
		t.Fatalf("apply as nobody: %v, orders %d\n%s%s", err, len(srv.Orders()), out.String(), errb.String())
	}
	if _, err := os.Stat(filepath.Join(certDir, "host00", "cert.pem")); err != nil {
		t.Fatalf("not delivered: %v\n%s%s", err, out.String(), errb.String())
	}
}

// TestApply_certDirBrokenSymlink: a --cert-dir that is a symlink to a
// path that does not exist (or lies below one) stops apply and run --once
// before any call, with the message and exit 1, instead of failing the
// delivery after the order.
func TestApply_certDirBrokenSymlink(t *testing.T) {
	t.Parallel()
	srv, env, dir, _ := oneSpecFake(t)
	link := filepath.Join(t.TempDir(), "certs")
	if err := os.Symlink(filepath.Join(filepath.Dir(link), "gone"), link); err != nil {
		t.Fatal(err)
	}
	for _, certDir := range []string{link, filepath.Join(link, "sub")} {
		for _, cmd := range [][]string{{"apply"}, {"run", "--once"}} {
			st := filepath.Join(t.TempDir(), "s.json")
			args := append(cmd, "--dir", dir, "--state", st, "--cert-dir", certDir)
			code, stdout, stderr := runBinary(t, env, args...)
			want := "certform " + cmd[0] + ": --cert-dir " + certDir + " cannot be created: " + link + " is a symlink to a path that does not exist; nothing was sent\n" +
				"hint: give --cert-dir a folder certform's user may write (created when missing), such as /var/lib/certform/certs\n"
			if code != 1 || stdout != "" || stderr != want || len(srv.Calls()) != 0 {
				t.Errorf("%s %s: exit %d, calls %v\nstdout %q\nstderr %q\nwant   %q", cmd[0], certDir, code, srv.Calls(), stdout, stderr, want)
			}
		}
	}
}
