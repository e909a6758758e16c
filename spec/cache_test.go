package spec

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadWith_cache(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"defaults.yaml":   "organization_id: 1\n",
		"team/a.yaml":     "name: a\ncommon_name: a.example.com\ncsr_file: a.csr\n",
		"team/a.csr":      makeCSR(t, "a.example.com"),
		"b.yaml":          "name: b\ncommon_name: b.example.com\ncsr: |\n" + indent(makeCSR(t, "b.example.com")),
		"other/c.yaml":    "name: c\ncommon_name: c.example.com\ncsr_file: ../team/a.csr\n",
		"other/keep.yaml": "name: d\ncommon_name: a.example.com\ncsr_file: ../team/a.csr\norganization_id: 9\n",
	})
	cache := NewCache()
	load := func() map[string]*Order {
		t.Helper()
		res, err := LoadWith(dir, cache)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*Order{}
		for _, o := range res.Orders {
			out[o.Name] = o
		}
		for _, e := range res.Errors {
			out["error: "+e.Error()] = nil
		}
		return out
	}
	write := func(rel, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	first := load()
	if len(first) != 4 || first["c"] != nil { // c has a CN mismatch with a.csr: an error, no order
		t.Fatalf("first load: %v", first)
	}
	second := load()
	for n, o := range first {
		if second[n] != o {
			t.Errorf("%s was read again although nothing changed", n)
		}
	}
	// A spec file changes: only it is read again.
	write("b.yaml", "# edited\n"+"name: b\ncommon_name: b.example.com\ncsr: |\n"+indent(makeCSR(t, "b.example.com")))
	third := load()
	if third["b"] == second["b"] || third["b"].Line != 2 {
		t.Error("edited b.yaml was not read again")
	}
	if third["a"] != second["a"] || third["d"] != second["d"] {
		t.Error("unchanged files were read again")
	}
	// A CSR file changes: the specs naming it are read again.
	write("team/a.csr", makeCSR(t, "a.example.com", "a.example.com"))
	fourth := load()
	if fourth["a"] == third["a"] || fourth["d"] == third["d"] || fourth["b"] != third["b"] {
		t.Error("a CSR change did not reload exactly its specs")
	}
	// A defaults file changes: the specs below it are read again.
	write("defaults.yaml", "organization_id: 2\n")
	fifth := load()
	if fifth["a"].OrganizationID != 2 || fifth["b"].OrganizationID != 2 || fifth["d"].OrganizationID != 9 {
		t.Errorf("defaults change not applied: %d %d %d", fifth["a"].OrganizationID, fifth["b"].OrganizationID, fifth["d"].OrganizationID)
	}
	// A deleted file is gone from the result.
	os.Remove(filepath.Join(dir, "b.yaml"))
	if sixth := load(); sixth["b"] != nil {
		t.Error("deleted spec still loaded")
	}
}
