package spec

import (
	"os"
	"sync"
	"testing"

	"github.com/certform/certform/spec/spectest"
)

var (
	benchDirOnce sync.Once
	benchDir     string
)

// writeBenchTree writes 10,000 specs with inline RSA-2048 CSRs (see
// spectest.WriteTree) once per test binary; TestMain removes it.
func writeBenchTree(b *testing.B) string {
	benchDirOnce.Do(func() {
		dir, err := os.MkdirTemp("", "certform-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
		if err := spectest.WriteTree(dir, 10000); err != nil {
			b.Fatal(err)
		}
	})
	return benchDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// BenchmarkLoad10000 loads and validates 10,000 specs from disk. The issue's
// target on the 2-core machine: under 0.5 s and 100 MB allocated per load.
func BenchmarkLoad10000(b *testing.B) {
	dir := writeBenchTree(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Orders) != 10000 || len(res.Errors) != 0 {
			b.Fatalf("%d orders, %d errors (first: %v)", len(res.Orders), len(res.Errors), res.Errors)
		}
	}
}

// BenchmarkLoad10000_checked is BenchmarkLoad10000 with every spec's
// fingerprint known as checked (LoadOptions.Verified), as a plan or a cycle
// loads once the state records them: no CSR is parsed or verified.
func BenchmarkLoad10000_checked(b *testing.B) {
	dir := writeBenchTree(b)
	res, err := Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	checked := map[string]bool{}
	for _, o := range res.Orders {
		checked[o.Fingerprint] = true
	}
	verified := func(fp string) bool { return checked[fp] }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := LoadOpts(dir, LoadOptions{Verified: verified})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Orders) != 10000 || len(res.Errors) != 0 {
			b.Fatalf("%d orders, %d errors (first: %v)", len(res.Orders), len(res.Errors), res.Errors)
		}
	}
}

// BenchmarkLoadUnchanged10000 is the spec work of a daemon's idle cycle
// over the 10,000 specs of BenchmarkLoad10000 (issue 27): a load through a
// warm Cache with every fingerprint known as checked, then Result.Settled,
// as the daemon's reconciler checks that nothing changed (before Settled:
// Result.Changed and LastChange, a second and a third stat of each file).
func BenchmarkLoadUnchanged10000(b *testing.B) {
	dir := writeBenchTree(b)
	cache := NewCache()
	res, err := LoadWith(dir, cache)
	if err != nil {
		b.Fatal(err)
	}
	checked := map[string]bool{}
	for _, o := range res.Orders {
		checked[o.Fingerprint] = true
	}
	opt := LoadOptions{Cache: cache, Verified: func(fp string) bool { return checked[fp] }}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := LoadOpts(dir, opt)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := res.Settled(); len(res.Orders) != 10000 || len(res.Errors) != 0 || !ok {
			b.Fatalf("%d orders, %d errors, settled %v", len(res.Orders), len(res.Errors), ok)
		}
	}
}

// BenchmarkReach10000 is the daemon watcher's resync over the tree of
// BenchmarkLoad10000: Tree.Reach from the root (issue 27).
func BenchmarkReach10000(b *testing.B) {
	dir := writeBenchTree(b)
	tree, err := OpenTree(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := tree.Reach(tree.Root)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Dirs) < 2 {
			b.Fatalf("%d folders", len(r.Dirs))
		}
	}
}
