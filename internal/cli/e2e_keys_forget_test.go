package cli

import (
	"os"
	"path/filepath"
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
