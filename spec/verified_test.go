package spec

import (
	"encoding/pem"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// badSignatureCSR returns a PEM CSR for cn and sans whose signature does
// not verify (its last byte flipped), though it parses.
func badSignatureCSR(t *testing.T, cn string, sans ...string) string {
	t.Helper()
	block, _ := pem.Decode([]byte(makeCSR(t, cn, sans...)))
	block.Bytes[len(block.Bytes)-1] ^= 0xff
	return string(pem.EncodeToMemory(block))
}

func verifiedSpec(name, cn, csr, extra string) string {
	return fmt.Sprintf("name: %s\ncommon_name: %s\norganization_id: 7\n%scsr: |\n%s", name, cn, extra, indent(csr))
}

// TestLoadOpts_verified: a spec whose fingerprint Verified knows skips the
// request's parse and signature check; every other spec is checked as
// Load checks it, with the same messages.
func TestLoadOpts_verified(t *testing.T) {
	bad := badSignatureCSR(t, "a.example.com")
	good := makeCSR(t, "b.example.com", "b.example.com")
	tests := []struct {
		name     string
		file     string
		verified func(fp string) bool
		// skipped: the spec loads valid although Load refuses it.
		skipped bool
		// want are Load's errors, and LoadOpts's unless skipped.
		want []string
	}{
		{"known fingerprint skips the check", verifiedSpec("a", "a.example.com", bad, ""), func(string) bool { return true }, true,
			[]string{"a.yaml:4:6: csr: the certificate request's signature does not verify: x509: ECDSA verification failure"}},
		{"unknown fingerprint is checked", verifiedSpec("a", "a.example.com", bad, ""), func(string) bool { return false }, false,
			[]string{"a.yaml:4:6: csr: the certificate request's signature does not verify: x509: ECDSA verification failure"}},
		{"another error: the request is checked too", verifiedSpec("a", "a.example.com", bad, "product: nope\n"), func(string) bool { return true }, false,
			[]string{
				`a.yaml:4:10: product: "nope" is not allowed; use one of ov, ev, grid, private`,
				"a.yaml:5:6: csr: the certificate request's signature does not verify: x509: ECDSA verification failure",
			}},
		{"names the request lacks are reported", verifiedSpec("b", "b.example.com", good, "dns_names: [c.example.com]\n"), func(string) bool { return false }, false,
			[]string{"a.yaml:5:6: csr: the spec names c.example.com, which the request's subject alternative names do not; make a new CSR with every name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"a.yaml": tc.file})
			want, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, errorStrings(want.Errors)); diff != "" {
				t.Fatalf("Load's errors (-want +got):\n%s", diff)
			}
			var mu sync.Mutex
			var asked []string
			got, err := LoadOpts(dir, LoadOptions{Verified: func(fp string) bool {
				mu.Lock()
				defer mu.Unlock()
				asked = append(asked, fp)
				return tc.verified(fp)
			}})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.skipped {
				if diff := cmp.Diff(tc.want, errorStrings(got.Errors)); diff != "" {
					t.Errorf("LoadOpts's errors (-want +got):\n%s", diff)
				}
				if len(got.Orders) != 0 {
					t.Errorf("orders = %v, want none", orderNames(got.Orders))
				}
				return
			}
			if len(got.Errors) != 0 {
				t.Fatalf("errors = %q, want none: the request's check is skipped", errorStrings(got.Errors))
			}
			if len(got.Orders) != 1 || len(asked) != 1 || got.Orders[0].Fingerprint != asked[0] {
				t.Fatalf("orders = %v, asked %q: want the one order, with the fingerprint asked about", orderNames(got.Orders), asked)
			}
		})
	}
}
