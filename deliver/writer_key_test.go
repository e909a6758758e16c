package deliver

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestWriter_WriteWithKey: the key is written as privkey.pem in the same
// version folder as the certificates, 0600 in a 0750 folder (0640 and the
// group's with KeyGroup), whatever the umask; a later delivery without a
// key leaves no privkey.pem link.
func TestWriter_WriteWithKey(t *testing.T) {
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })
	f := newFixture(t)
	key := []byte("-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n")
	for _, tt := range []struct {
		name          string
		group         *int
		file, version os.FileMode
	}{
		{"no group", nil, 0o600, 0o750},
		{"group", func() *int { g := os.Getgid(); return &g }(), 0o640, 0o750},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "certs")
			w := &Writer{Dir: root, KeyGroup: tt.group}
			dir, changed, err := w.WriteWithKey("shop", f.bundle(), key)
			if err != nil || !changed {
				t.Fatalf("WriteWithKey: %v %v", changed, err)
			}
			v := version(t, dir)
			if got := listDir(t, filepath.Join(dir, v)); !slices.Equal(got, []string{CertFile, ChainFile, FullchainFile, KeyFile}) {
				t.Errorf("%s holds %q", v, got)
			}
			if got := listDir(t, dir); !slices.Contains(got, KeyFile) {
				t.Errorf("%s holds %q, no %s link", dir, got, KeyFile)
			}
			if data, err := os.ReadFile(filepath.Join(dir, KeyFile)); err != nil || string(data) != string(key) {
				t.Errorf("%s: %q %v", KeyFile, data, err)
			}
			wantMode(t, filepath.Join(dir, v, KeyFile), tt.file)
			wantMode(t, filepath.Join(dir, v), tt.version|os.ModeDir)
			wantMode(t, filepath.Join(dir, v, CertFile), 0o644)
			if tt.group != nil {
				fi, _ := os.Stat(filepath.Join(dir, v, KeyFile))
				if gid := int(fi.Sys().(*syscall.Stat_t).Gid); gid != *tt.group {
					t.Errorf("%s group %d, want %d", KeyFile, gid, *tt.group)
				}
			}
			// The same files again: nothing written.
			if _, changed, err := w.WriteWithKey("shop", f.bundle(), key); err != nil || changed {
				t.Errorf("the same delivery again: changed %v, %v", changed, err)
			}
			// Without a key: no privkey.pem link left.
			w.now = func() time.Time { return testNow.Add(time.Hour) }
			if _, changed, err := w.Write("shop", f.bundle()); err != nil || !changed {
				t.Fatalf("Write without a key: %v %v", changed, err)
			}
			if _, err := os.Lstat(filepath.Join(dir, KeyFile)); !os.IsNotExist(err) {
				t.Errorf("%s link left: %v", KeyFile, err)
			}
		})
	}
}
