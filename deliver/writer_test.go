package deliver

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// version returns the version folder ..data points at.
func version(t *testing.T, dir string) string {
	t.Helper()
	v, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil {
		t.Fatal(err)
	}
	if !versionRE.MatchString(v) {
		t.Fatalf("..data -> %q, not a version folder", v)
	}
	return v
}

func wantMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != want {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
	}
}

func TestWriter_Write(t *testing.T) {
	// A umask that would hide the files from other users must not matter.
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })

	f := newFixture(t)
	root := filepath.Join(t.TempDir(), "certs")
	w := &Writer{Dir: root}
	dir, changed, err := w.Write("shop", f.bundle())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "shop"); dir != want || !changed {
		t.Fatalf("Write = %q, %v; want %q, true", dir, changed, want)
	}
	v := version(t, dir)
	if got, want := listDir(t, dir), []string{v, dataLink, CertFile, ChainFile, FullchainFile}; !slices.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", dir, got, want)
	}
	wantMode(t, root, 0o755|fs.ModeDir)
	wantMode(t, dir, 0o755|fs.ModeDir)
	wantMode(t, filepath.Join(dir, v), 0o755|fs.ModeDir)
	if got := listDir(t, filepath.Join(dir, v)); !slices.Equal(got, []string{CertFile, ChainFile, FullchainFile}) {
		t.Errorf("%s holds %q", v, got)
	}
	want := map[string][]byte{
		CertFile:      encode(f.leaf),
		ChainFile:     encode(f.inter.cert),
		FullchainFile: encode(f.leaf, f.inter.cert),
	}
	for name, content := range want {
		wantMode(t, filepath.Join(dir, v, name), 0o644)
		link, err := os.Readlink(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if link != "..data/"+name {
			t.Errorf("%s -> %q, want %q", name, link, "..data/"+name)
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, content) {
			t.Errorf("%s:\n%s\nwant:\n%s", name, got, content)
		}
	}
	cur, err := w.Current("shop")
	if err != nil {
		t.Fatal(err)
	}
	if cur == nil || !cur.Equal(f.leaf) {
		t.Errorf("Current = %v, want the leaf", subjectOf(cur))
	}
}

func TestWriter_Write_sameCertificateTwice(t *testing.T) {
	f := newFixture(t)
	w := &Writer{Dir: t.TempDir()}
	dir, _, err := w.Write("shop", f.bundle())
	if err != nil {
		t.Fatal(err)
	}
	v := version(t, dir)
	// A bundle parsed again from the download is the same certificate.
	b, err := Parse(f.pemAll())
	if err != nil {
		t.Fatal(err)
	}
	dir2, changed, err := w.Write("shop", b)
	if err != nil {
		t.Fatal(err)
	}
	if dir2 != dir || changed {
		t.Errorf("second Write = %q, %v; want %q, false", dir2, changed, dir)
	}
	if got := version(t, dir); got != v {
		t.Errorf("..data -> %s after an unchanged write, was %s", got, v)
	}
	if got := listDir(t, dir); len(got) != 5 {
		t.Errorf("%s holds %q", dir, got)
	}
}

func TestWriter_Write_newCertificate(t *testing.T) {
	first, second := newFixture(t), newFixture(t)
	at := testNow
	w := &Writer{Dir: t.TempDir(), now: func() time.Time { return at }}
	dir, _, err := w.Write("shop", first.bundle())
	if err != nil {
		t.Fatal(err)
	}
	v1 := "..2026_03_01_12_00_00.000000000"
	if got := version(t, dir); got != v1 {
		t.Fatalf("..data -> %s, want %s", got, v1)
	}
	// Leftovers of a crashed delivery: a ..data_tmp and a version folder.
	stale := "..2020_01_01_00_00_00.000000000"
	if err := os.Mkdir(filepath.Join(dir, stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, stale, CertFile), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(stale, filepath.Join(dir, tmpLink)); err != nil {
		t.Fatal(err)
	}

	at = at.Add(time.Second)
	_, changed, err := w.Write("shop", second.bundle())
	if err != nil || !changed {
		t.Fatalf("Write of a new certificate = %v, %v; want true, nil", changed, err)
	}
	v2 := "..2026_03_01_12_00_01.000000000"
	if got := version(t, dir); got != v2 {
		t.Fatalf("..data -> %s, want %s", got, v2)
	}
	cur, err := w.Current("shop")
	if err != nil {
		t.Fatal(err)
	}
	if !cur.Equal(second.leaf) {
		t.Error("Current is not the new leaf")
	}
	// Replaced versions stay for a minute; ..data_tmp is gone.
	if got, want := listDir(t, dir), []string{stale, v1, v2, dataLink, CertFile, ChainFile, FullchainFile}; !slices.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", dir, got, want)
	}

	// The same leaf with another chain is delivered again, in the same
	// nanosecond by the clock.
	b := second.bundle()
	b.Intermediates = nil
	if _, changed, err := w.Write("shop", b); err != nil || !changed {
		t.Fatalf("Write without intermediates = %v, %v; want true, nil", changed, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, ChainFile)); err != nil || len(got) != 0 {
		t.Errorf("chain.pem = %q, %v; want it empty", got, err)
	}
	v3 := "..2026_03_01_12_00_01.000000001"
	if got := version(t, dir); got != v3 {
		t.Fatalf("..data -> %s, want %s", got, v3)
	}

	// Two minutes on, a delivery removes every version replaced a minute
	// or more ago, but keeps the one it replaces.
	at = at.Add(2 * time.Minute)
	if _, changed, err := w.Write("shop", second.bundle()); err != nil || !changed {
		t.Fatalf("Write = %v, %v; want true, nil", changed, err)
	}
	v4 := "..2026_03_01_12_02_01.000000000"
	if got, want := listDir(t, dir), []string{v3, v4, dataLink, CertFile, ChainFile, FullchainFile}; !slices.Equal(got, want) {
		t.Errorf("%s holds %q, want %q (old versions removed)", dir, got, want)
	}
}

func TestWriter_Write_restoresLink(t *testing.T) {
	f := newFixture(t)
	w := &Writer{Dir: t.TempDir()}
	dir, _, err := w.Write("shop", f.bundle())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, ChainFile)); err != nil {
		t.Fatal(err)
	}
	if _, changed, err := w.Write("shop", f.bundle()); err != nil || !changed {
		t.Fatalf("Write = %v, %v; want true, nil", changed, err)
	}
	if link, err := os.Readlink(filepath.Join(dir, ChainFile)); err != nil || link != "..data/chain.pem" {
		t.Errorf("chain.pem -> %q, %v", link, err)
	}
}

func TestWriter_Write_foreignFile(t *testing.T) {
	f := newFixture(t)
	root := t.TempDir()
	dir := filepath.Join(root, "shop")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FullchainFile), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := &Writer{Dir: root}
	_, changed, err := w.Write("shop", f.bundle())
	want := fmt.Sprintf("certificate folder %s: fullchain.pem is not certform's link to ..data/fullchain.pem; move it away", dir)
	if errText(err) != want || changed {
		t.Errorf("Write = %v, %q; want false, %q", changed, errText(err), want)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{FullchainFile}) {
		t.Errorf("%s holds %q after a refused write", dir, got)
	}
}

func TestWriter_names(t *testing.T) {
	f := newFixture(t)
	root := t.TempDir()
	w := &Writer{Dir: filepath.Join(root, "certs")}
	for _, name := range []string{"../x", "a/b", ".hidden", "", ".", "..", "Shop", "-x", "shop/", strings.Repeat("a", 64)} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			want := fmt.Sprintf("%q is not a valid name: use 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", name)
			dir, changed, err := w.Write(name, f.bundle())
			if errText(err) != want || dir != "" || changed {
				t.Errorf("Write = %q, %v, %q; want \"\", false, %q", dir, changed, errText(err), want)
			}
			if _, err := w.Current(name); errText(err) != want {
				t.Errorf("Current: %q, want %q", errText(err), want)
			}
		})
	}
	if got := listDir(t, root); len(got) != 0 {
		t.Errorf("refused names left %q behind", got)
	}
	if _, _, err := w.Write(strings.Repeat("a", 63), f.bundle()); err != nil {
		t.Errorf("63 characters: %v", err)
	}
}

func TestWriter_errors(t *testing.T) {
	f := newFixture(t)
	if _, _, err := (&Writer{}).Write("shop", f.bundle()); errText(err) != "certificate folder: no folder to deliver to is set" {
		t.Errorf("no Dir: %q", errText(err))
	}
	if _, _, err := (&Writer{Dir: t.TempDir()}).Write("shop", nil); errText(err) != "certificate folder: no certificate to write" {
		t.Errorf("no bundle: %q", errText(err))
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "shop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("certificate folder %s: it exists and is not a folder", filepath.Join(root, "shop"))
	if _, _, err := (&Writer{Dir: root}).Write("shop", f.bundle()); errText(err) != want {
		t.Errorf("file in the way: %q, want %q", errText(err), want)
	}
}

func TestWriter_Current(t *testing.T) {
	root := t.TempDir()
	w := &Writer{Dir: root}
	if c, err := w.Current("shop"); c != nil || err != nil {
		t.Errorf("Current before any delivery = %v, %v; want nil, nil", c, err)
	}
	dir := filepath.Join(root, "shop")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CertFile), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("certificate folder %s: cert.pem holds no PEM certificate", dir)
	if _, err := w.Current("shop"); errText(err) != want {
		t.Errorf("Current of junk: %q, want %q", errText(err), want)
	}
}

// TestWriter_concurrentReader delivers 50 certificates, each from its own
// intermediate, while a reader reads fullchain.pem in a loop: every read
// must be one complete leaf with the intermediate that signed it.
func TestWriter_concurrentReader(t *testing.T) {
	const deliveries = 50
	root := newRoot(t, "Test Root")
	key := newKey(t)
	bundles := make([]*Bundle, deliveries)
	for i := range bundles {
		inter := root.intermediate(t, fmt.Sprintf("Test Intermediate %d", i))
		leaf := inter.issue(t, key.Public(), "shop.example.com", []string{"shop.example.com"}, leafFrom, leafTo)
		bundles[i] = &Bundle{Leaf: leaf, Intermediates: []*x509.Certificate{inter.cert}, Root: root.cert}
	}
	w := &Writer{Dir: t.TempDir()}
	dir, _, err := w.Write("shop", bundles[0])
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FullchainFile)

	var (
		stop  atomic.Bool
		reads atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		bad   []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(bad) < 10 {
			bad = append(bad, fmt.Sprintf(format, args...))
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			data, err := os.ReadFile(path)
			reads.Add(1)
			if err != nil {
				fail("read: %v", err)
				continue
			}
			b, err := Parse(data)
			if err != nil {
				fail("read %d bytes that do not parse: %v", len(data), err)
				continue
			}
			if len(b.Intermediates) != 1 || b.Root != nil {
				fail("read a leaf with %d intermediates", len(b.Intermediates))
				continue
			}
			if err := b.Leaf.CheckSignatureFrom(b.Intermediates[0]); err != nil {
				fail("read a leaf with another certificate's intermediate: %v", err)
			}
		}
	}()
	for _, b := range bundles[1:] {
		if _, changed, err := w.Write("shop", b); err != nil || !changed {
			t.Errorf("Write = %v, %v", changed, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	for _, b := range bad {
		t.Error(b)
	}
	if reads.Load() < deliveries {
		t.Errorf("only %d reads during %d deliveries", reads.Load(), deliveries)
	}
	// Every version replaced less than a minute ago stays.
	if got := listDir(t, dir); len(got) != deliveries+4 {
		t.Errorf("%s holds %d entries, want %d versions, ..data and three links", dir, len(got), deliveries)
	}
	cur, err := w.Current("shop")
	if err != nil || !cur.Equal(bundles[deliveries-1].Leaf) {
		t.Errorf("Current = %v, %v; want the last leaf", subjectOf(cur), err)
	}
}

// TestWriter_concurrentNames: one Writer delivering several names at once,
// each name twice at the same time (a new certificate racing the old):
// every folder ends with the layout of one complete delivery, ..data
// pointing at a version that holds all three files, and no ..data_tmp.
// Run with -race, it checks the Writer's locks.
func TestWriter_concurrentNames(t *testing.T) {
	f := newFixture(t)
	second := newFixture(t)
	w := &Writer{Dir: t.TempDir()}
	names := []string{"a", "b", "c", "d", "e", "f"}
	var wg sync.WaitGroup
	for _, name := range names {
		for _, fx := range []*fixture{f, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := w.Write(name, fx.bundle()); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}()
		}
	}
	wg.Wait()
	for _, name := range names {
		dir := filepath.Join(w.Dir, name)
		got := listDir(t, dir)
		if len(got) != 6 || !slices.Contains(got, dataLink) || slices.Contains(got, tmpLink) {
			t.Errorf("%s holds %q", dir, got)
		}
		for _, file := range visibleFiles {
			if _, err := os.ReadFile(filepath.Join(dir, file)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if c, err := w.Current(name); err != nil || c == nil {
			t.Errorf("Current(%s) = %v, %v", name, c, err)
		}
	}
}
