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

// TestLoadOpts_dropCheckedCSR: with DropCheckedCSR, a spec whose
// fingerprint Verified knows keeps no CSR text (csr or csr_file) but still
// has a CSR (HasCSR), and the same fingerprint and fixed fields as a full
// load; a spec that is checked, one without a CSR, and every spec of a
// load with a Cache keep what Load gives.
func TestLoadOpts_dropCheckedCSR(t *testing.T) {
	csrA := makeCSR(t, "a.example.com")
	csrB := makeCSR(t, "b.example.com")
	csrC := makeCSR(t, "c.example.com")
	dir := writeTree(t, map[string]string{
		"a.yaml": verifiedSpec("a", "a.example.com", csrA, "") + "---\n" + verifiedSpec("c", "c.example.com", csrC, "") +
			"---\nname: d\ncommon_name: d.example.com\norganization_id: 7\norder_id: 12\n",
		"b.yaml":  "name: b\ncommon_name: b.example.com\norganization_id: 7\ncsr_file: b.csr\n",
		"b.csr":   csrB,
		"k.yaml":  "name: k\ncommon_name: k.example.com\norganization_id: 7\nkey_type: ecdsa-p256\n",
		"z.yaml~": "",
	})
	full, err := Load(dir)
	if err != nil || len(full.Errors) != 0 || len(full.Orders) != 5 {
		t.Fatalf("Load: %v, %q, %d orders", err, errorStrings(full.Errors), len(full.Orders))
	}
	checked := map[string]bool{}
	for _, o := range full.Orders {
		if o.Name != "c" {
			checked[o.Fingerprint] = true
		}
	}
	verified := func(fp string) bool { return checked[fp] }
	got, err := LoadOpts(dir, LoadOptions{Verified: verified, DropCheckedCSR: true})
	if err != nil || len(got.Errors) != 0 || len(got.Orders) != 5 {
		t.Fatalf("LoadOpts: %v, %q, %d orders", err, errorStrings(got.Errors), len(got.Orders))
	}
	wantCSR := map[string]string{"a": "", "b": "", "c": csrC, "d": "", "k": ""}
	wantHas := map[string]bool{"a": true, "b": true, "c": true, "d": false, "k": false}
	for i, o := range got.Orders {
		f := full.Orders[i]
		if o.CSR != wantCSR[o.Name] || o.HasCSR() != wantHas[o.Name] {
			t.Errorf("%s: CSR %.40q, HasCSR %v; want %.40q, %v", o.Name, o.CSR, o.HasCSR(), wantCSR[o.Name], wantHas[o.Name])
		}
		if f.HasCSR() != wantHas[o.Name] {
			t.Errorf("%s: HasCSR after Load = %v", o.Name, f.HasCSR())
		}
		if o.Fingerprint != f.Fingerprint || o.CSRFile != f.CSRFile {
			t.Errorf("%s: fingerprint %s, csr_file %q; Load gives %s, %q", o.Name, o.Fingerprint, o.CSRFile, f.Fingerprint, f.CSRFile)
		}
		if diff := cmp.Diff(f.FixedFields(), o.FixedFields()); diff != "" {
			t.Errorf("%s: fixed fields (-Load +LoadOpts):\n%s", o.Name, diff)
		}
	}
	// With a Cache, whose results later loads reuse, nothing is dropped.
	cached, err := LoadOpts(dir, LoadOptions{Verified: verified, DropCheckedCSR: true, Cache: NewCache()})
	if err != nil || len(cached.Orders) != 5 {
		t.Fatalf("LoadOpts with a cache: %v, %d orders", err, len(cached.Orders))
	}
	for i, o := range cached.Orders {
		if o.CSR != full.Orders[i].CSR {
			t.Errorf("%s with a cache: CSR %.40q, want Load's", o.Name, o.CSR)
		}
	}
}
