package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/certform/certform/internal/nameset"
	"go.yaml.in/yaml/v3"
)

// TestReadFileInto_reusesBuffer checks that a spec file is read into the
// worker's buffer when it fits (issue 27: no allocation per file), and into
// a buffer of its own when it does not.
func TestReadFileInto_reusesBuffer(t *testing.T) {
	dir := writeTree(t, map[string]string{"small.yaml": "name: a\n", "big.yaml": strings.Repeat("#", 5000) + "\n"})
	l := &loader{root: dir, links: map[string]string{}}
	buf := make([]byte, 0, 4096)
	data, _, err := l.readFileInto("small.yaml", buf)
	if err != nil || string(data) != "name: a\n" {
		t.Fatalf("got %q, %v", data, err)
	}
	if &data[:1][0] != &buf[:1][0] {
		t.Error("a file that fits was not read into the buffer given")
	}
	data, _, err = l.readFileInto("big.yaml", buf)
	if err != nil || len(data) != 5001 {
		t.Fatalf("got %d bytes, %v", len(data), err)
	}
	if &data[:1][0] == &buf[:1][0] {
		t.Error("a file larger than the buffer shares it")
	}
}

// TestLoad_reusedBufferKeepsValues loads files on one worker, so that each
// is read into the buffer of the one before: every order and error must
// still hold its own file's values, which would not be so if anything kept
// a reference to the bytes read (the yaml values, the CSR, the messages
// that quote the file's text), or to the DER bytes decoded. Every other
// spec reads its CSR from a file, read into the buffer of the last.
func TestLoad_reusedBufferKeepsValues(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	files := map[string]string{"defaults.yaml": "organization_id: 1\n"}
	var want []string
	csrs := map[string]string{}
	for i := range 6 {
		name := fmt.Sprintf("s%d", i)
		cn := fmt.Sprintf("%s.example.com", name)
		// Files of decreasing size: each fits in the buffer of the last.
		pad := "comments: " + strings.Repeat("x", 600-100*i) + "\n"
		csrs[name] = makeCSR(t, cn)
		csr := "csr: |\n" + indent(csrs[name])
		if i%2 == 1 { // a CSR file, read into the buffer of the last
			files[name+".csr"] = csrs[name]
			csr = "csr_file: " + name + ".csr\n"
		}
		files[name+".yaml"] = fmt.Sprintf("name: %s\ncommon_name: %s\n%s%s", name, cn, pad, csr)
		want = append(want, name)
	}
	files["t.yaml"] = "name: t\ncommon_name: *.example.com\n"
	res, err := Load(writeTree(t, files))
	if err != nil {
		t.Fatal(err)
	}
	if got := orderNames(res.Orders); !slices.Equal(got, want) {
		t.Fatalf("orders %v, want %v (errors %v)", got, want, res.Errors)
	}
	for i, o := range res.Orders {
		if o.CommonName != o.Name+".example.com" || len(o.Comments) != 600-100*i {
			t.Errorf("order %s: common name %q, %d bytes of comments", o.Name, o.CommonName, len(o.Comments))
		}
		if o.CSR != csrs[o.Name] {
			t.Errorf("order %s: the CSR is not its file's", o.Name)
		}
		// The digest of the DER bytes, decoded into the worker's buffer.
		block, _ := pem.Decode([]byte(csrs[o.Name]))
		if sum := sha256.Sum256(block.Bytes); o.csrDigest() != hex.EncodeToString(sum[:]) {
			t.Errorf("order %s: the CSR's digest is not its request's", o.Name)
		}
	}
	wantErr := []string{`t.yaml:2:1: invalid YAML: did not find expected alphabetic or numeric character (a value that starts with * is read as a YAML alias: quote it, as in common_name: "*.example.com")`}
	if got := errorStrings(res.Errors); !slices.Equal(got, wantErr) {
		t.Errorf("errors %q, want %q", got, wantErr)
	}
}

// TestSameNames checks the exact set comparison checkRequestNames makes
// before nameset.Diff, and that Diff finds no difference whenever it
// reports the names the same (FuzzSameNames tries more).
func TestSameNames(t *testing.T) {
	tests := []struct {
		cnA  string
		a    []string
		cnB  string
		b    []string
		want bool
	}{
		{"a.example.com", []string{"www.a.example.com"}, "a.example.com", []string{"a.example.com", "www.a.example.com"}, true},
		{"a.example.com", nil, "a.example.com", []string{"a.example.com"}, true},
		{"a.example.com", []string{"b.example.com", "c.example.com"}, "a.example.com", []string{"c.example.com", "b.example.com", "b.example.com"}, true},
		{"a.example.com", []string{"www.a.example.com"}, "a.example.com", []string{"a.example.com"}, false},
		{"a.example.com", nil, "a.example.com", []string{"www.a.example.com"}, false},
		{"a.example.com", nil, "b.example.com", []string{"a.example.com"}, false},
		{"a.example.com", nil, "a.example.com", []string{"A.example.com"}, false}, // left to Diff
	}
	for _, tt := range tests {
		if got := sameNames(tt.cnA, tt.a, tt.cnB, tt.b); got != tt.want {
			t.Errorf("sameNames(%q, %q, %q, %q) = %v, want %v", tt.cnA, tt.a, tt.cnB, tt.b, got, tt.want)
		}
		checkSameNamesAgrees(t, tt.cnA, tt.a, tt.cnB, tt.b)
	}
}

// checkSameNamesAgrees fails when sameNames reports two name lists the same
// but nameset.Diff finds a difference between them.
func checkSameNamesAgrees(t *testing.T, cnA string, a []string, cnB string, b []string) {
	t.Helper()
	if !sameNames(cnA, a, cnB, b) {
		return
	}
	if extra, lacking := nameset.Diff(append([]string{cnA}, a...), append([]string{cnB}, b...)); len(extra)+len(lacking) > 0 {
		t.Errorf("sameNames(%q, %q, %q, %q) but Diff finds %q and %q", cnA, a, cnB, b, extra, lacking)
	}
}

// FuzzSameNames checks that sameNames never reports the same names where
// nameset.Diff finds a difference. Each input is two comma-separated
// lists, the first name of each the common name.
func FuzzSameNames(f *testing.F) {
	f.Add("a.example.com,www.a.example.com", "a.example.com,www.a.example.com,a.example.com")
	f.Add("a,B, b", "b,a")
	f.Add("", " ")
	f.Fuzz(func(t *testing.T, x, y string) {
		a, b := strings.Split(x, ","), strings.Split(y, ",")
		checkSameNamesAgrees(t, a[0], a[1:], b[0], b[1:])
	})
}

// TestKeySet_bothWays decodes mappings with keySet searching the mapping
// (a spec's few keys) and with its map (a large mapping), and checks the
// two find the same keys written and the same errors: repeats, including
// a key repeated through an alias, merge keys and keys that are not
// scalars.
func TestKeySet_bothWays(t *testing.T) {
	docs := []string{
		"name: a\ncommon_name: a.example.com\nname: b\n",
		"&k name: a\n*k : b\ncomment: x\n",
		"<<: {name: a}\nname: b\n<<: {name: c}\n",
		"[a]: 1\nname: a\n? {b: 1}\n: 2\nname: c\n",
		"validity_years: 1\nvalidity_days: 30\nvalidity_years: 2\n",
		"name:\ncommon_name: ~\norder_id: 1\n",
	}
	probe := append(Keys(), "<<", "comment", "a", "b")
	defer func(n int) { fewKeys = n }(fewKeys)
	for _, doc := range docs {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
			t.Fatal(err)
		}
		m := n.Content[0]
		var got [2][]string
		for way, few := range []int{32, 0} {
			fewKeys = few
			d := &docErrors{file: "a.yaml"}
			out := fields{}
			w := decodeMapping(m, d, false, out)
			if (w.many == nil) != (few > 0) {
				t.Fatalf("fewKeys %d: map %v", few, w.many)
			}
			for _, k := range probe {
				got[way] = append(got[way], fmt.Sprintf("%s:%v:%v", k, w.has(k), out[k] != nil))
			}
			got[way] = append(got[way], errorStrings(d.errs)...)
		}
		if !slices.Equal(got[0], got[1]) {
			t.Errorf("%q: searched %q\nmap %q", doc, got[0], got[1])
		}
	}
}
