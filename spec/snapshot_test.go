package spec

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// snapshotTree writes a tree where each spec depends on a different set of
// files: a on team/a.csr and both defaults, b and b2 (one file) on both
// defaults, c on the root defaults only, e on other/e.yaml, the root
// defaults and team/a.csr.
func snapshotTree(t *testing.T) string {
	t.Helper()
	inline := func(name string) string {
		return "name: " + name + "\ncommon_name: a.example.com\ncsr: |\n" + indent(makeCSR(t, "a.example.com"))
	}
	return writeTree(t, map[string]string{
		"defaults.yaml":      "organization_id: 1\n",
		"team/defaults.yaml": "product: ev\n",
		"team/a.yaml":        "name: a\ncommon_name: a.example.com\ncsr_file: a.csr\n",
		"team/a.csr":         makeCSR(t, "a.example.com"),
		"team/b.yaml":        inline("b") + "---\n" + inline("b2"),
		"c.yaml":             inline("c"),
		"other/e.yaml":       "name: e\ncommon_name: a.example.com\ncsr_file: ../team/a.csr\n",
		"notes.txt":          "not read\n",
	})
}

func sourceChanged(res *Result) []string {
	var out []string
	for _, o := range res.Orders {
		if o.SourceChanged() {
			out = append(out, o.Name)
		}
	}
	return out
}

// TestResult_Changed checks that Changed lists exactly the files read that
// changed or vanished after the load, and SourceChanged exactly the orders
// built from them, for a fresh load and for one served from a Cache.
func TestResult_Changed(t *testing.T) {
	appendTo := func(rel string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, rel), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString("# edited\n"); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	remove := func(rel string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, rel)); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name        string
		change      func(t *testing.T, dir string)
		changed     []string
		sourceMoved []string
	}{
		{name: "nothing", change: func(*testing.T, string) {}},
		{name: "spec file edited", change: appendTo("team/b.yaml"), changed: []string{"team/b.yaml"}, sourceMoved: []string{"b", "b2"}},
		{name: "spec file removed", change: remove("c.yaml"), changed: []string{"c.yaml"}, sourceMoved: []string{"c"}},
		{name: "spec file replaced by rename", change: func(t *testing.T, dir string) {
			data, err := os.ReadFile(filepath.Join(dir, "c.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			tmp := filepath.Join(dir, ".c.yaml.new")
			if err := os.WriteFile(tmp, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(dir, "c.yaml")); err != nil {
				t.Fatal(err)
			}
		}, changed: []string{"c.yaml"}, sourceMoved: []string{"c"}},
		{name: "csr file edited", change: appendTo("team/a.csr"), changed: []string{"team/a.csr"}, sourceMoved: []string{"a", "e"}},
		{name: "nearer defaults edited", change: appendTo("team/defaults.yaml"), changed: []string{"team/defaults.yaml"}, sourceMoved: []string{"a", "b", "b2"}},
		{name: "root defaults edited", change: appendTo("defaults.yaml"), changed: []string{"defaults.yaml"}, sourceMoved: []string{"a", "b", "b2", "c", "e"}},
		{name: "defaults removed", change: remove("team/defaults.yaml"), changed: []string{"team/defaults.yaml"}, sourceMoved: []string{"a", "b", "b2"}},
		{name: "files not read", change: func(t *testing.T, dir string) {
			appendTo("notes.txt")(t, dir)
			if err := os.WriteFile(filepath.Join(dir, "new.yaml"), []byte("name: new\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, cached := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if cached {
				name += " (cached)"
			}
			t.Run(name, func(t *testing.T) {
				dir := snapshotTree(t)
				var cache *Cache
				var first *Result
				if cached {
					cache = NewCache()
					var err error
					if first, err = LoadWith(dir, cache); err != nil {
						t.Fatal(err)
					}
				}
				res, err := LoadWith(dir, cache)
				if err != nil || len(res.Errors) > 0 {
					t.Fatal(err, errorStrings(res.Errors))
				}
				for i, o := range res.Orders {
					if cached && first.Orders[i] != o {
						t.Fatalf("%s was read again, not served from the cache", o.Name)
					}
				}
				if cached && res.readFrom == nil {
					t.Error("a load served whole listed its files before it was asked")
				}
				wantRead := []string{"c.yaml", "defaults.yaml", "other/e.yaml", "team/a.csr", "team/a.yaml", "team/b.yaml", "team/defaults.yaml"}
				var read []string
				for _, s := range res.sources() {
					read = append(read, s.rel)
					if !filepath.IsAbs(s.full) {
						t.Errorf("%s recorded as %s, not an absolute path", s.rel, s.full)
					}
				}
				if diff := cmp.Diff(wantRead, read); diff != "" {
					t.Errorf("files recorded (-want +got):\n%s", diff)
				}
				if got := res.Changed(); len(got) != 0 || len(sourceChanged(res)) != 0 {
					t.Fatalf("changed before any change: %v %v", got, sourceChanged(res))
				}
				tt.change(t, dir)
				if diff := cmp.Diff(tt.changed, res.Changed()); diff != "" {
					t.Errorf("Changed (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.sourceMoved, sourceChanged(res)); diff != "" {
					t.Errorf("SourceChanged (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestOrder_SourceChanged_notLoaded checks that an order made by hand, not
// by Load, has nothing to compare and reports no change.
func TestOrder_SourceChanged_notLoaded(t *testing.T) {
	if (&Order{Name: "a"}).SourceChanged() {
		t.Error("an order not made by Load reports a change")
	}
	if got := (&Result{}).Changed(); got != nil {
		t.Errorf("an empty result reports %v", got)
	}
}

// waitPast returns once the file system stamps new changes later than t0.
// Its clock is coarse (a few milliseconds on Linux), so a change made right
// after t0 may carry t0 itself.
func waitPast(t *testing.T, t0 time.Time) {
	t.Helper()
	probe := filepath.Join(t.TempDir(), "probe")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := os.WriteFile(probe, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(probe)
		if err != nil {
			t.Fatal(err)
		}
		if changeTime(fi).After(t0) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the file system clock did not pass %v", t0)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLastChange checks that LastChange moves when the loader's view of the
// tree changes (a file added in a subfolder, edited, only its status
// changed, removed) and not for .git or other hidden paths.
func TestLastChange(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"a.yaml":           "name: a\n",
		"team/b.yaml":      "name: b\n",
		"team/csr/b.csr":   "csr\n",
		".git/objects/x":   "object\n",
		".hidden/notes.md": "notes\n",
	})
	last := func() time.Time {
		t.Helper()
		got, err := LastChange(dir)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	t0 := last()
	if t0.IsZero() || t0.After(time.Now()) {
		t.Fatalf("LastChange = %v", t0)
	}
	steps := []struct {
		name  string
		do    func() error
		moves bool
	}{
		{"write in .git", func() error { return os.WriteFile(filepath.Join(dir, ".git", "objects", "y"), []byte("y"), 0o600) }, false},
		{"edit in a hidden folder", func() error {
			return os.WriteFile(filepath.Join(dir, ".hidden", "notes.md"), []byte("more notes\n"), 0o600)
		}, false},
		{"add a file in a subfolder", func() error { return os.WriteFile(filepath.Join(dir, "team", "csr", "c.csr"), []byte("csr\n"), 0o600) }, true},
		{"edit a spec", func() error { return os.WriteFile(filepath.Join(dir, "team", "b.yaml"), []byte("name: b2\n"), 0o600) }, true},
		{"change only the status", func() error { return os.Chmod(filepath.Join(dir, "a.yaml"), 0o644) }, true},
		{"backdate a file", func() error {
			old := time.Now().Add(-24 * time.Hour)
			return os.Chtimes(filepath.Join(dir, "a.yaml"), old, old)
		}, true},
		{"remove a file", func() error { return os.Remove(filepath.Join(dir, "team", "csr", "b.csr")) }, true},
	}
	for _, s := range steps {
		before := last()
		waitPast(t, before)
		if err := s.do(); err != nil {
			t.Fatal(err)
		}
		after := last()
		if moved := after.After(before); moved != s.moves {
			t.Errorf("%s: LastChange %v -> %v, moved %v, want %v", s.name, before, after, moved, s.moves)
		}
	}

	// Through a symlink: the tree's times and the symlink's own.
	link := filepath.Join(t.TempDir(), "specs")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	want := last()
	if lt := changeTime(fi); lt.After(want) {
		want = lt
	}
	if got, err := LastChange(link); err != nil || !got.Equal(want) {
		t.Errorf("through a symlink: got %v, %v; want %v", got, err, want)
	}
	_, err = LastChange(filepath.Join(dir, "nope"))
	if err == nil || !strings.HasSuffix(err.Error(), "nope: no such file or directory") {
		t.Errorf("missing dir: %v", err)
	}
	_, err = LastChange(filepath.Join(dir, "a.yaml"))
	if err == nil || !strings.HasSuffix(err.Error(), "a.yaml: not a directory") {
		t.Errorf("file as dir: %v", err)
	}
}

// TestLastChange_onlyYAML: a file Load does not read as a spec (a log that
// keeps growing) does not move LastChange.
func TestLastChange_onlyYAML(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("# empty\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := LastChange(dir)
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "sync.log")
	if err := os.WriteFile(log, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Creating it moved the folder's times; appending to it must not.
	created, _ := LastChange(dir)
	time.Sleep(20 * time.Millisecond)
	if err := os.WriteFile(log, []byte("more\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	after, _ := LastChange(dir)
	if !after.Equal(created) || created.Before(before) {
		t.Errorf("LastChange moved with a log file: %v -> %v -> %v", before, created, after)
	}
}

// changeTime is the later of a file's modification and status-change times,
// from os.Stat's answer: the tests' measure of what LastChange reads
// (statChangeTime).
func changeTime(fi fs.FileInfo) time.Time {
	t := fi.ModTime()
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		_, ctime := statTimes(sys)
		if c := time.Unix(ctime.Unix()); c.After(t) {
			t = c
		}
	}
	return t
}
