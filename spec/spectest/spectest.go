// Package spectest writes spec directories for tests and benchmarks: many
// valid specs with real CSRs, laid out as a team's repository would be.
package spectest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Layout of the trees WriteTree writes.
const (
	Teams   = 20 // team folders, each with a defaults.yaml
	PerFile = 20 // specs per file, separated by ---
)

// Name returns the name of spec i in a tree: host00000, host00001, ...
func Name(i int) string { return fmt.Sprintf("host%05d", i) }

// CommonName returns the common name of spec i.
func CommonName(i int) string {
	return fmt.Sprintf("host%05d.team%02d.example.com", i, (i/PerFile)%Teams)
}

// WriteTree writes n valid specs below dir with inline RSA-2048 CSRs (each
// for its own names: the common name and www. of it), PerFile to a file,
// files spread over Teams folders that each hold a defaults.yaml with the
// organization. Even-numbered specs disable CT. Signing uses every core;
// 10,000 specs take a few seconds.
func WriteTree(dir string, n int) error {
	keys := make([]*rsa.PrivateKey, 4)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return err
		}
		keys[i] = k
	}
	for t := 0; t < Teams; t++ {
		team := filepath.Join(dir, fmt.Sprintf("team%02d", t))
		if err := os.MkdirAll(team, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(team, "defaults.yaml"), []byte(fmt.Sprintf("organization_id: %d\nproduct: ov\n", 1000+t)), 0o600); err != nil {
			return err
		}
	}
	files := (n + PerFile - 1) / PerFile
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	work := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if err := writeFile(dir, f, n, keys); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for f := 0; f < files; f++ {
		work <- f
	}
	close(work)
	wg.Wait()
	return firstErr
}

func writeFile(dir string, f, n int, keys []*rsa.PrivateKey) error {
	var sb strings.Builder
	for d := 0; d < PerFile && f*PerFile+d < n; d++ {
		i := f*PerFile + d
		cn := CommonName(i)
		csr, err := CSRWithKey(keys[i%len(keys)], cn, cn, "www."+cn)
		if err != nil {
			return err
		}
		if d > 0 {
			sb.WriteString("---\n")
		}
		fmt.Fprintf(&sb, "name: %s\ncommon_name: %s\ndns_names: [www.%s]\ndisable_ct: %v\ncsr: |\n%s", Name(i), cn, cn, i%2 == 0, Indent(csr))
	}
	p := filepath.Join(dir, fmt.Sprintf("team%02d", f%Teams), fmt.Sprintf("specs%04d.yaml", f))
	return os.WriteFile(p, []byte(sb.String()), 0o600)
}

var (
	p256Once sync.Once
	p256Key  *ecdsa.PrivateKey
	p256Err  error
)

// CSR returns a PEM certificate request with subject CN cn and the DNS
// names sans, signed with a P-256 key made once per process (fast: no RSA
// key generation).
func CSR(cn string, sans ...string) (string, error) {
	p256Once.Do(func() { p256Key, p256Err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader) })
	if p256Err != nil {
		return "", p256Err
	}
	return CSRWithKey(p256Key, cn, sans...)
}

// CSRWithKey is CSR with the caller's key.
func CSRWithKey(key crypto.Signer, cn string, sans ...string) (string, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn}, DNSNames: sans,
	}, key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// Indent indents a PEM block by two spaces, for a YAML "csr: |" value.
func Indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}
