package spec

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	benchDirOnce sync.Once
	benchDir     string
)

// writeBenchTree writes 10,000 specs with inline RSA-2048 CSRs, each for its
// own name, into 500 files in 20 team folders that each have a
// defaults.yaml. It is built once per test binary (signing 10,000 requests
// takes a few seconds) and removed by TestMain.
func writeBenchTree(b *testing.B) string {
	benchDirOnce.Do(func() {
		dir, err := os.MkdirTemp("", "certform-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
		keys := make([]*rsa.PrivateKey, 4)
		for i := range keys {
			if keys[i], err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				b.Fatal(err)
			}
		}
		const files, perFile = 500, 20
		var wg sync.WaitGroup
		work := make(chan int)
		for w := 0; w < runtime.GOMAXPROCS(0); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for f := range work {
					var sb strings.Builder
					for d := 0; d < perFile; d++ {
						n := f*perFile + d
						cn := fmt.Sprintf("host%05d.team%02d.example.com", n, f%20)
						if d > 0 {
							sb.WriteString("---\n")
						}
						fmt.Fprintf(&sb, "name: host%05d\ncommon_name: %s\ndns_names: [www.%s]\ndisable_ct: %v\ncsr: |\n%s",
							n, cn, cn, n%2 == 0, indent(csrWithKey(b, keys[n%len(keys)], cn, cn, "www."+cn)))
					}
					p := filepath.Join(dir, fmt.Sprintf("team%02d", f%20), fmt.Sprintf("specs%03d.yaml", f))
					if err := os.WriteFile(p, []byte(sb.String()), 0o600); err != nil {
						panic(err)
					}
				}
			}()
		}
		for t := 0; t < 20; t++ {
			team := filepath.Join(dir, fmt.Sprintf("team%02d", t))
			if err := os.MkdirAll(team, 0o700); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(team, "defaults.yaml"), []byte(fmt.Sprintf("organization_id: %d\nproduct: ov\n", 1000+t)), 0o600); err != nil {
				b.Fatal(err)
			}
		}
		for f := 0; f < files; f++ {
			work <- f
		}
		close(work)
		wg.Wait()
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
