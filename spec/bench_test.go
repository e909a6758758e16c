package spec

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/certform/certform/spec/spectest"
	"go.yaml.in/yaml/v3"
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

// BenchmarkLoadFloor10000 is the least any load of BenchmarkLoad10000's tree
// can allocate with the libraries certform uses, the issue 27 floor
// program's work and nothing else: it reads each file into a buffer it
// reuses, decodes its documents with go.yaml.in/yaml/v3 into nodes, and
// decodes, parses and signature-checks each CSR with encoding/pem and
// crypto/x509. Its B/op is the reference for BenchmarkLoad10000's: a load
// that also validates what this skips cannot allocate much less
// (docs/development.md, "Memory").
func BenchmarkLoadFloor10000(b *testing.B) {
	dir := writeBenchTree(b)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	var fl floorLoader
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		csrs := 0
		for _, p := range files {
			csrs += fl.load(b, p)
		}
		if csrs != 10000 {
			b.Fatalf("%d CSRs checked, want 10000", csrs)
		}
	}
}

// floorLoader holds the buffers BenchmarkLoadFloor10000 reuses: a file's
// bytes and a CSR's PEM text.
type floorLoader struct {
	file bytes.Buffer
	pem  []byte
}

// load decodes the YAML documents of file p and checks the CSR of each;
// it returns how many it checked.
func (fl *floorLoader) load(b *testing.B, p string) int {
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	fl.file.Reset()
	_, err = fl.file.ReadFrom(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(fl.file.Bytes()))
	n := 0
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err == io.EOF {
			return n
		} else if err != nil {
			b.Fatalf("%s: %v", p, err)
		}
		m := doc.Content[0]
		for j := 0; j+1 < len(m.Content); j += 2 {
			if m.Content[j].Value != "csr" {
				continue
			}
			fl.pem = append(fl.pem[:0], m.Content[j+1].Value...)
			block, _ := pem.Decode(fl.pem)
			if block == nil {
				b.Fatalf("%s: no PEM block", p)
			}
			req, err := x509.ParseCertificateRequest(block.Bytes)
			if err == nil {
				err = req.CheckSignature()
			}
			if err != nil {
				b.Fatalf("%s: %v", p, err)
			}
			n++
		}
	}
}
