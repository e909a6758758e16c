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
// that quote the file's text).
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
		files[name+".yaml"] = fmt.Sprintf("name: %s\ncommon_name: %s\n%scsr: |\n%s", name, cn, pad, indent(csrs[name]))
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
