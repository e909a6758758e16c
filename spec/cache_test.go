package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
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

// TestCache_idleLoadKeepsItsRecords: a load that the cache served whole,
// with no file added or removed, keeps the cache's map of records as it
// is (issue 27: a daemon's idle cycle built a new one each time); a file
// added, changed or removed gives a map of exactly the files found.
func TestCache_idleLoadKeepsItsRecords(t *testing.T) {
	dir := writeTree(t, map[string]string{"a.yaml": specText(t, "a"), "team/b.yaml": specText(t, "b")})
	cache := NewCache()
	files := func() (uintptr, []string) {
		t.Helper()
		cache.mu.Lock()
		defer cache.mu.Unlock()
		var rels []string
		for rel := range cache.files {
			rels = append(rels, rel)
		}
		slices.Sort(rels)
		return reflect.ValueOf(cache.files).Pointer(), rels
	}
	mustLoad(t, dir, cache)
	first, rels := files()
	mustLoad(t, dir, cache)
	if again, _ := files(); again != first {
		t.Error("an idle load made a new map")
	}
	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"a file added", func() error { return os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(specText(t, "c")), 0o600) }, []string{"a.yaml", "c.yaml", "team/b.yaml"}},
		{"a file changed", func() error { return os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(specText(t, "c2")), 0o600) }, []string{"a.yaml", "c.yaml", "team/b.yaml"}},
		{"a file removed", func() error { return os.Remove(filepath.Join(dir, "team", "b.yaml")) }, []string{"a.yaml", "c.yaml"}},
		{"one file removed, another added", func() error {
			if err := os.Remove(filepath.Join(dir, "c.yaml")); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "d.yaml"), []byte(specText(t, "d")), 0o600)
		}, []string{"a.yaml", "d.yaml"}},
	}
	if !slices.Equal(rels, []string{"a.yaml", "team/b.yaml"}) {
		t.Fatalf("records %v", rels)
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatal(err)
		}
		before, _ := files()
		mustLoad(t, dir, cache)
		after, rels := files()
		if after == before || !slices.Equal(rels, s.want) {
			t.Errorf("%s: records %v (a new map: %v), want %v in a new map", s.name, rels, after != before, s.want)
		}
		mustLoad(t, dir, cache)
		if again, _ := files(); again != after {
			t.Errorf("%s: the idle load after made a new map", s.name)
		}
	}
}
