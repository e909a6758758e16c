package keys

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const (
	fp1 = "1111111111111111111111111111111111111111111111111111111111111111"
	fp2 = "2222222222222222222222222222222222222222222222222222222222222222"
)

func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(filepath.Join(t.TempDir(), "state", "keys"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore_putGetDeleteList(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	s := openTestStore(t)
	fi, err := os.Stat(s.Dir())
	if err != nil || fi.Mode().Perm() != 0o700 || !fi.IsDir() {
		t.Fatalf("new key dir: %v, mode %v; want a 0700 directory", err, fi.Mode())
	}
	a, b := testKey(t, ECDSAP256), testKey(t, RSA2048)
	if err := s.Put("shop", fp1, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("shop", fp2, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("api.v2", fp1, b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(s.Dir(), "shop."+fp1+".key.pem")
	fi, err = os.Lstat(p)
	if err != nil || fi.Mode() != 0o600 {
		t.Fatalf("key file %s: %v, mode %v; want a regular 0600 file", p, err, fi.Mode())
	}
	data, _ := os.ReadFile(p)
	want, _ := a.PKCS8PEM()
	if string(data) != string(want) {
		t.Fatalf("key file holds\n%s\nwant the key's PKCS#8 PEM", data)
	}
	got, err := s.Get("shop", fp1)
	if err != nil || !got.MatchesPublic(a.Public()) || got.Type() != ECDSAP256 {
		t.Fatalf("Get(shop, fp1) = %s, %v; want the ecdsa-p256 key put", got.Type(), err)
	}
	got, err = s.Get("shop", fp2)
	if err != nil || !got.MatchesPublic(b.Public()) {
		t.Fatalf("Get(shop, fp2) = %v; want the rsa key put", err)
	}
	os.WriteFile(filepath.Join(s.Dir(), ".tmp-shop."+fp1+".key.pem-123"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(s.Dir(), "README"), []byte("x"), 0o600)
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		if e.Modified.IsZero() {
			t.Errorf("entry %v has no time", e)
		}
		names = append(names, e.Name+" "+e.Fingerprint[:1])
	}
	if strings.Join(names, ",") != "api.v2 1,shop 1,shop 2" {
		t.Fatalf("List() = %q; want api.v2 1, shop 1, shop 2", names)
	}
	if err := s.Delete("shop", fp1); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("shop", fp1); err != nil {
		t.Fatalf("second Delete: %v; want nil", err)
	}
	if _, err := s.Get("shop", fp1); !errors.Is(err, ErrNotFound) || err.Error() != "key for shop: key not found" {
		t.Fatalf("Get after Delete: %v; want ErrNotFound", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("key file still there: %v", err)
	}
}

func TestStore_atomicReplaceLeavesNoTemp(t *testing.T) {
	s := openTestStore(t)
	if err := s.Put("shop", fp1, testKey(t, ECDSAP256)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("shop", fp1, testKey(t, ECDSAP384)); err != nil {
		t.Fatal(err)
	}
	des, _ := os.ReadDir(s.Dir())
	if len(des) != 1 {
		t.Fatalf("key dir holds %d entries; want 1 (no temporary file left)", len(des))
	}
	if k, err := s.Get("shop", fp1); err != nil || k.Type() != ECDSAP384 {
		t.Fatalf("Get = %s, %v; want the replacing ecdsa-p384 key", k.Type(), err)
	}
	// A failed write leaves nothing behind: the dir is read-only here.
	if os.Geteuid() != 0 {
		os.Chmod(s.Dir(), 0o500)
		t.Cleanup(func() { os.Chmod(s.Dir(), 0o700) })
		if err := s.Put("other", fp1, testKey(t, ECDSAP256)); err == nil {
			t.Fatal("Put into a read-only dir succeeded")
		}
	}
}

func TestStore_refusesOpenDir(t *testing.T) {
	for _, mode := range []fs.FileMode{0o750, 0o705, 0o770, 0o777, 0o710} {
		dir := filepath.Join(t.TempDir(), "keys")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dir, mode)
		_, err := OpenStore(dir)
		var pe *PermissionError
		if !errors.As(err, &pe) || !pe.Dir {
			t.Fatalf("mode %04o: OpenStore error %v; want *PermissionError", mode, err)
		}
		want := "key directory " + dir + " has mode " + "0" + strings.TrimPrefix(modeOctal(mode), "0") + "; it must be 0700 so that only certform's user reaches the keys\nhint: chmod 700 " + dir
		if err.Error() != want {
			t.Fatalf("error\n%s\nwant\n%s", err, want)
		}
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := OpenStore(f); err == nil || err.Error() != "key directory "+f+" is not a directory" {
		t.Fatalf("OpenStore(file) error %v", err)
	}
}

func modeOctal(m fs.FileMode) string {
	const digits = "01234567"
	return string([]byte{'0', digits[m>>6&7], digits[m>>3&7], digits[m&7]})
}

func TestStore_symlinks(t *testing.T) {
	s := openTestStore(t)
	outside := t.TempDir()
	target := filepath.Join(outside, "stolen.pem")
	k := testKey(t, ECDSAP256)
	pemText, _ := k.PKCS8PEM()
	os.WriteFile(target, pemText, 0o600)
	link := filepath.Join(s.Dir(), "shop."+fp1+".key.pem")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get("shop", fp1)
	var nr *NotRegularError
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), "is a symlink; certform reads only regular files in the key directory") {
		t.Fatalf("Get through a symlink: %v; want *NotRegularError", err)
	}
	if _, err := s.List(); !errors.As(err, &nr) {
		t.Fatalf("List with a symlink: %v; want *NotRegularError", err)
	}
	// Put replaces the link, never writes through it.
	if err := s.Put("shop", fp1, testKey(t, ECDSAP384)); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(target); string(data) != string(pemText) {
		t.Fatal("Put wrote through a symlink")
	}
	if fi, err := os.Lstat(link); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("after Put: %v %v; want a regular file", err, fi.Mode())
	}
	// Delete removes a link, never its target.
	os.Remove(link)
	os.Symlink(target, link)
	if err := s.Delete("shop", fp1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target); err != nil {
		t.Fatalf("Delete removed the symlink's target: %v", err)
	}
	// A dir that is a symlink is resolved once, at open.
	real := filepath.Join(t.TempDir(), "real")
	os.Mkdir(real, 0o700)
	ldir := filepath.Join(t.TempDir(), "keys")
	os.Symlink(real, ldir)
	s2, err := OpenStore(ldir)
	if err != nil || s2.Dir() != real {
		t.Fatalf("OpenStore(symlink) = %v; want the store in %s", err, real)
	}
}

func TestStore_refusesOpenFile(t *testing.T) {
	s := openTestStore(t)
	if err := s.Put("shop", fp1, testKey(t, ECDSAP256)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(s.Dir(), "shop."+fp1+".key.pem")
	os.Chmod(p, 0o644)
	_, err := s.Get("shop", fp1)
	var pe *PermissionError
	want := "key for shop: key file " + p + " has mode 0644; it must be 0600\nhint: chmod 600 " + p
	if !errors.As(err, &pe) || err.Error() != want {
		t.Fatalf("Get of a 0644 file: %v\nwant %s", err, want)
	}
}

func TestStore_badNames(t *testing.T) {
	s := openTestStore(t)
	k := testKey(t, ECDSAP256)
	for _, tc := range []struct{ name, fp string }{
		{"../shop", fp1}, {"a/b", fp1}, {".hidden", fp1}, {"", fp1},
		{"shop", ""}, {"shop", "sha256:" + fp1}, {"shop", strings.Repeat("A", 64)}, {"shop", fp1[:63]},
	} {
		if err := s.Put(tc.name, tc.fp, k); !errors.Is(err, ErrBadName) {
			t.Errorf("Put(%q, %q) = %v; want ErrBadName", tc.name, tc.fp, err)
		}
		if _, err := s.Get(tc.name, tc.fp); !errors.Is(err, ErrBadName) {
			t.Errorf("Get(%q, %q) = %v; want ErrBadName", tc.name, tc.fp, err)
		}
	}
	if des, _ := os.ReadDir(s.Dir()); len(des) != 0 {
		t.Fatalf("bad names wrote %d files", len(des))
	}
	if err := s.Put("shop", fp1, Key{}); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Put(zero Key) = %v; want ErrNoKey", err)
	}
}

func TestStore_removeTemporary(t *testing.T) {
	s := openTestStore(t)
	if err := s.Put("shop", fp1, testKey(t, ECDSAP256)); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "target")
	os.WriteFile(outside, []byte("x"), 0o600)
	os.WriteFile(filepath.Join(s.Dir(), ".tmp-shop."+fp2+".key.pem-4711"), []byte("half a key"), 0o600)
	os.Symlink(outside, filepath.Join(s.Dir(), ".tmp-link"))
	if err := s.RemoveTemporary(); err != nil {
		t.Fatal(err)
	}
	des, _ := os.ReadDir(s.Dir())
	if len(des) != 1 || des[0].Name() != "shop."+fp1+".key.pem" {
		t.Fatalf("key dir after RemoveTemporary: %v; want only the stored key", des)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Fatalf("a symlink's target was removed: %v", err)
	}
}

// TestStore_deleteKeysTriesEvery: DeleteKeys tries every fingerprint: a
// key it cannot remove (here a non-empty folder in its place) is reported
// and the next key is still removed, and counted.
func TestStore_deleteKeysTriesEvery(t *testing.T) {
	s := openTestStore(t)
	stuck, err := s.KeyPath("shop", fp1)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(stuck, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	other, err := s.KeyPath("shop", fp2)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteKeys("shop", []string{fp1, fp2})
	if n != 1 || err == nil || !strings.HasPrefix(err.Error(), "remove key for shop: remove "+stuck+": ") {
		t.Fatalf("DeleteKeys = %d, %v; want 1 and the error removing %s", n, err, stuck)
	}
	if _, err := os.Lstat(other); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s after DeleteKeys: %v; want it removed", other, err)
	}
	if _, err := os.Lstat(stuck); err != nil {
		t.Fatalf("%s after DeleteKeys: %v; want it still there", stuck, err)
	}
}
