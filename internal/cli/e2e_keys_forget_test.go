package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestE2E_forgetRemovesKeys: certform forget NAME removes the key files
// kept for NAME (keys/ beside the state file, or --key-dir), and no other
// spec's.
func TestE2E_forgetRemovesKeys(t *testing.T) {
	srv, env := startFake(t)
	dir := t.TempDir()
	stDir := t.TempDir()
	st := filepath.Join(stDir, "s.json")
	for _, n := range []string{"shop", "blog"} {
		body := "name: " + n + "\ncommon_name: " + n + ".example.com\norganization_id: 1\nskip_approval: true\nkey_type: ecdsa-p256\n"
		if err := os.WriteFile(filepath.Join(dir, n+".yaml"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--quiet-period", "0s"); code != 0 || len(srv.Orders()) != 2 {
		t.Fatalf("apply: exit %d\n%s%s", code, stdout, stderr)
	}
	keyDir := filepath.Join(stDir, "keys")
	if files := keyFiles(t, keyDir); len(files) != 2 {
		t.Fatalf("key files: %v", files)
	}
	srv.ResetRequests()
	code, stdout, stderr := runBinary(t, nil, "forget", "--state", st, "shop")
	if code != 0 || !strings.HasSuffix(stdout, "\nRemoved 1 private key of shop from the key store.\n") || len(srv.Calls()) != 0 {
		t.Fatalf("forget: exit %d\n%s%s", code, stdout, stderr)
	}
	files := keyFiles(t, keyDir)
	if len(files) != 1 || !strings.HasPrefix(files[0], "blog.") {
		t.Fatalf("key files after forget shop: %v", files)
	}
	// --key-dir names another key store: its keys of NAME go.
	moved := filepath.Join(t.TempDir(), "keys")
	if err := os.Rename(keyDir, moved); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runBinary(t, nil, "forget", "--state", st, "--key-dir", moved, "blog")
	if code != 0 || !strings.HasSuffix(stdout, "\nRemoved 1 private key of blog from the key store.\n") {
		t.Fatalf("forget --key-dir: exit %d\n%s%s", code, stdout, stderr)
	}
	if files := keyFiles(t, moved); len(files) != 0 {
		t.Fatalf("key files after forget blog: %v", files)
	}
}

// TestE2E_forgetKeepsOtherStateKeys: two state files in one folder share
// its keys/; forget on one removes only the keys its entry records, never
// the other state's key of the same spec name (nor a key file no entry
// records), and the other state still delivers its certificate with its
// key and plans nothing.
func TestE2E_forgetKeepsOtherStateKeys(t *testing.T) {
	srv, env := startFake(t)
	stDir := t.TempDir()
	certDir := t.TempDir()
	for _, x := range []string{"a", "b"} {
		dir := filepath.Join(stDir, x)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		body := "name: same\ncommon_name: same" + x + ".example.com\norganization_id: 1\nskip_approval: true\nkey_type: ecdsa-p256\n"
		if err := os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", filepath.Join(stDir, x+".json"), "--quiet-period", "0s"); code != 0 {
			t.Fatalf("apply %s: exit %d\n%s%s", x, code, stdout, stderr)
		}
	}
	keyDir := filepath.Join(stDir, "keys")
	before := keyFiles(t, keyDir)
	if len(before) != 2 {
		t.Fatalf("key files: %v", before)
	}
	bKey := entryKeyFile(t, filepath.Join(stDir, "b.json"), "same")
	aKey := entryKeyFile(t, filepath.Join(stDir, "a.json"), "same")
	// A key file of the name that no entry records (a crash between
	// storing a key and saving its intent) is not forget's to remove.
	stray := "same." + strings.Repeat("f", 64) + ".key.pem"
	if err := os.WriteFile(filepath.Join(keyDir, stray), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.ResetRequests()
	code, stdout, stderr := runBinary(t, nil, "forget", "--state", filepath.Join(stDir, "a.json"), "same")
	if code != 0 || !strings.HasSuffix(stdout, "\nRemoved 1 private key of same from the key store.\n") || stderr != "" || len(srv.Calls()) != 0 {
		t.Fatalf("forget: exit %d\n%s%s", code, stdout, stderr)
	}
	if want := []string{bKey + " 600", stray + " 600"}; !slices.Equal(keyFiles(t, keyDir), want) {
		t.Fatalf("key files after forget: %v, want %v (a's was %s)", keyFiles(t, keyDir), want, aKey)
	}
	b := filepath.Join(stDir, "b.json")
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", filepath.Join(stDir, "b"), "--state", b, "--cert-dir", certDir, "--quiet-period", "0s")
	if code != 0 {
		t.Fatalf("apply b --cert-dir: exit %d\n%s%s", code, stdout, stderr)
	}
	deliveredPair(t, certDir, "same")
	code, stdout, stderr = runBinary(t, env, "plan", "--dir", filepath.Join(stDir, "b"), "--state", b, "--detailed-exitcode")
	if code != 0 {
		t.Fatalf("plan b: exit %d, want 0 (no changes)\n%s%s", code, stdout, stderr)
	}
}

// entryKeyFile returns the key file name of the current key that state
// file st records for name.
func entryKeyFile(t *testing.T, st, name string) string {
	t.Helper()
	e := loadStateFile(t, st).Entries[name]
	if e == nil || e.Key == nil {
		t.Fatalf("%s: no key recorded for %s", st, name)
	}
	return name + "." + e.Key.CSRFingerprint + ".key.pem"
}
