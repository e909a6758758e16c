package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestApply_certDirOthersFolder: a --cert-dir this user may not write
// into, whose DIR/NAME folder it owns, is no reason to refuse: deliveries
// write only into DIR/NAME. Run as nobody (uid 65534) against a root-owned
// 0755 DIR, apply delivers into DIR/host00 with exit 0.
func TestApply_certDirOthersFolder(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); os.Geteuid() != 0 || err != nil {
		t.Skip("needs root and setpriv to run certform as another user")
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

	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		bin, "apply", "--dir", specs, "--state", filepath.Join(home, "s.json"), "--cert-dir", certDir, "--quiet-period", "0s")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil || len(srv.Orders()) != 1 {
		t.Fatalf("apply as nobody: %v, orders %d\n%s", err, len(srv.Orders()), out)
	}
	if _, err := os.Stat(filepath.Join(certDir, "host00", "cert.pem")); err != nil {
		t.Fatalf("not delivered: %v\n%s", err, out)
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
	const hint = "hint: give --cert-dir a folder certform's user may write (created when missing), such as /var/lib/certform/certs\n"
	runs := []struct{ certDir, cmd string }{{link, "apply"}, {link, "run"}, {filepath.Join(link, "sub"), "apply"}, {filepath.Join(link, "sub"), "run"}}
	for _, r := range runs {
		args := []string{r.cmd, "--dir", dir, "--state", filepath.Join(t.TempDir(), "s.json"), "--cert-dir", r.certDir}
		if r.cmd == "run" {
			args = append(args, "--once")
		}
		code, stdout, stderr := runBinary(t, env, args...)
		want := "certform " + r.cmd + ": --cert-dir " + r.certDir + " cannot be created: " + link + " is a symlink to a path that does not exist; nothing was sent\n" + hint
		if code != 1 || stdout != "" || stderr != want || len(srv.Calls()) != 0 {
			t.Errorf("%s %s: exit %d, calls %v\nstdout %q\nstderr %q\nwant   %q", r.cmd, r.certDir, code, srv.Calls(), stdout, stderr, want)
		}
	}
}

// appliedKeySpec applies one spec with key_type (shop) to a new state
// file, with env added to the fake's: it returns the state file and the
// fingerprint of the key its entry records.
func appliedKeySpec(t *testing.T, env ...string) (st, fp string) {
	t.Helper()
	_, fakeEnv := startFake(t)
	dir := t.TempDir()
	body := "name: shop\ncommon_name: shop.example.com\norganization_id: 1\nskip_approval: true\nkey_type: ecdsa-p256\n"
	if err := os.WriteFile(filepath.Join(dir, "shop.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	st = filepath.Join(t.TempDir(), "s.json")
	if code, stdout, stderr := runBinary(t, append(fakeEnv, env...), "apply", "--dir", dir, "--state", st, "--quiet-period", "0s"); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, stdout, stderr)
	}
	f := entryKeyFile(t, st, "shop")
	return st, strings.TrimSuffix(strings.TrimPrefix(f, "shop."), ".key.pem")
}

// TestForget_keyStoreUnusable: a key store forget cannot use (mode 0755)
// stops forget before the state is changed: exit 1, the reason and its
// hint, the state file and the key as they were; once the mode is fixed,
// forget drops the entry and removes the key.
func TestForget_keyStoreUnusable(t *testing.T) {
	t.Parallel()
	st, fp := appliedKeySpec(t)
	keyDir := filepath.Join(filepath.Dir(st), "keys")
	keyFile := filepath.Join(keyDir, "shop."+fp+".key.pem")
	if err := os.Chmod(keyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(st)
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runBinary(t, nil, "forget", "--state", st, "shop")
	want := "certform forget: shop is not forgotten, the state is unchanged: its keys could not be removed: key directory " + keyDir +
		" has mode 0755; it must be 0700 so that only certform's user reaches the keys\nhint: chmod 700 " + keyDir + "\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Fatalf("forget: exit %d\nstdout %q\nstderr %q\nwant   %q", code, stdout, stderr, want)
	}
	if after, err := os.ReadFile(st); err != nil || string(after) != string(before) {
		t.Fatalf("state file changed by a refused forget (%v)", err)
	}
	if _, err := os.Stat(keyFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runBinary(t, nil, "forget", "--state", st, "shop")
	if code != 0 || !strings.HasSuffix(stdout, "\nRemoved 1 private key of shop from the key store.\n") || stderr != "" {
		t.Fatalf("forget after chmod 700: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Lstat(keyFile); err == nil {
		t.Fatalf("%s still there after forget", keyFile)
	}
}

// TestForget_keysLeftListed: when removing a key fails after the entry
// was dropped, forget exits 1 and lists the key files still there, which
// no state records any more.
func TestForget_keysLeftListed(t *testing.T) {
	t.Parallel()
	st, fp := appliedKeySpec(t)
	keyFile := filepath.Join(filepath.Dir(st), "keys", "shop."+fp+".key.pem")
	// A non-empty folder in the key's place: os.Remove fails.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(keyFile, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runBinary(t, nil, "forget", "--state", st, "shop")
	want := "certform forget: shop is forgotten, but removing its keys failed: remove key for shop: remove " + keyFile + ": directory not empty\n" +
		"hint: no state records these key files of shop any more; remove them by hand:\n  " + keyFile + "\n"
	if code != 1 || strings.Contains(stdout, "Removed") || stderr != want {
		t.Fatalf("forget: exit %d\nstdout %q\nstderr %q\nwant   %q", code, stdout, stderr, want)
	}
}

// TestForget_keyDirMissing: a key directory that does not exist (apply
// used CERTFORM_KEY_DIR, forget did not) while the entry records a key:
// forget drops the entry (exit 0) and warns, naming the folder and the
// fingerprint it did not find; the key stays where apply put it.
func TestForget_keyDirMissing(t *testing.T) {
	t.Parallel()
	elsewhere := filepath.Join(t.TempDir(), "keys")
	st, fp := appliedKeySpec(t, "CERTFORM_KEY_DIR="+elsewhere)
	keyDir := filepath.Join(filepath.Dir(st), "keys")
	code, stdout, stderr := runBinary(t, nil, "forget", "--state", st, "shop")
	want := "certform forget: warning: the key directory " + keyDir + " does not exist, so no key of shop was removed; its entry recorded 1 key (CSR fingerprint " + fp + ")\n" +
		"hint: if apply kept them elsewhere (--key-dir or CERTFORM_KEY_DIR), remove shop.FINGERPRINT.key.pem there\n"
	if code != 0 || strings.Contains(stdout, "Removed") || stderr != want {
		t.Fatalf("forget: exit %d\nstdout %q\nstderr %q\nwant   %q", code, stdout, stderr, want)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "shop."+fp+".key.pem")); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runBinary(t, nil, "forget", "--state", st, "shop")
	if want := "certform forget: the state file has no entry named \"shop\"\n"; code != 1 || stderr != want {
		t.Fatalf("forget again: exit %d\nstderr %q\nwant   %q", code, stderr, want)
	}
}
