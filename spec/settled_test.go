package spec

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/certform/certform/spec/spectest"
	"github.com/google/go-cmp/cmp"
)

// settledTree writes a spec directory with one of each thing LastChange
// counts or passes over, reached through a symlink as git-sync's
// `current` is, and returns that symlink (the --dir) and the real folder.
func settledTree(t *testing.T) (dir, real string) {
	t.Helper()
	base := t.TempDir()
	real = filepath.Join(base, "releases", "r1")
	writeFiles(t, real, map[string]string{
		"rules/ignore.txt":       "catalog-info.yaml\n/drafts/\n", // .certformignore leads here
		"catalog-info.yaml":      "kind: Component\n",
		"drafts/x.yaml":          "junk: [",
		"defaults.yaml":          "organization_id: 1\n",
		"a.yaml":                 "name: a\ncommon_name: a.example.com\ncsr_file: a.csr\n",
		"a.csr":                  makeCSR(t, "a.example.com"),
		"notes.txt":              "not read\n",
		".git/config":            "[core]\n",
		"b.yaml~":                "name: leftover\n",
		"team/defaults.yaml":     "product: ev\n",
		"team/defaults.yml":      "product: ov\n", // a second defaults file: an error
		"team/b.yaml":            specText(t, "b") + "---\n" + specText(t, "b2"),
		"team/deep/c.yaml":       specText(t, "c"),
		"store/d.txt":            specText(t, "d"),
		".hidden/f.yaml":         specText(t, "f"),
		"releases-note.md":       "# notes\n",
		"team/deep/.swap.yaml":   "name: hidden\n",
		"team/deep/old.yaml.tmp": "name: leftover\n",
	})
	symlink(t, "rules/ignore.txt", filepath.Join(real, IgnoreFile))
	symlink(t, "store/d.txt", filepath.Join(real, "d.yaml"))    // read through the symlink
	symlink(t, "team/b.yaml", filepath.Join(real, "e.yaml"))    // read in place
	symlink(t, ".hidden", filepath.Join(real, "linked"))        // a folder read through it
	symlink(t, "nope.yaml", filepath.Join(real, "broken.yaml")) // an error
	symlink(t, t.TempDir(), filepath.Join(real, "outside"))     // an error
	if err := syscall.Mkfifo(filepath.Join(real, "fifo.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(real, "cm"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := spectest.ConfigMap(filepath.Join(real, "cm"), map[string]string{"g.yaml": specText(t, "g"), "sub/h.yaml": specText(t, "h")}, "..2026_11_25_10_00_00.123"); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(base, "current")
	symlink(t, "releases/r1", dir)
	return dir, real
}

// settledLoad loads dir through cache twice, the second time served whole
// by the cache, and returns what the second load's Settled says.
func settledLoad(t *testing.T, dir string, cache *Cache) (time.Time, bool) {
	t.Helper()
	mustLoad(t, dir, cache)
	return mustLoad(t, dir, cache).Settled()
}

// touch moves the change time of p (its own, for a symlink) and nothing
// else: its content stays.
func touch(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return os.Lchown(p, os.Getuid(), os.Getgid())
	}
	return os.Chmod(p, fi.Mode().Perm()^0o040)
}

// TestResult_Settled_agreesWithLastChange: over a tree with one of each
// thing LastChange counts or passes over (a symlinked --dir, nested
// folders, defaults files, a second defaults file, csr_file, ignored,
// hidden and leftover files, symlinks read in place, through them,
// broken and leading outside, a named pipe, a ConfigMap volume), a load
// that a Cache served whole gives exactly what LastChange gives, after
// each of them changed in turn; it moves exactly when LastChange moves.
// The first load after a spec file, its CSR file or a defaults file
// changed is not served whole, and says so.
func TestResult_Settled_agreesWithLastChange(t *testing.T) {
	dir, real := settledTree(t)
	cache := NewCache()
	if _, ok := mustLoad(t, dir, cache).Settled(); ok {
		t.Fatal("a first load, read afresh, vouches for itself")
	}
	if _, ok := mustLoad(t, dir, nil).Settled(); ok {
		t.Fatal("a load without a cache vouches for itself")
	}
	check := func(step string) time.Time {
		t.Helper()
		got, ok := mustLoad(t, dir, cache).Settled()
		want, err := LastChange(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || !got.Equal(want) {
			t.Fatalf("%s: Settled %v, %v; LastChange %v", step, got, ok, want)
		}
		return got
	}
	before := check("unchanged")
	steps := []struct {
		name   string
		path   string // relative to real; "" for dir itself
		moves  bool
		served bool // the next load is served whole by the cache
	}{
		{"a spec file", "a.yaml", true, false},
		{"a spec file in a nested folder", "team/deep/c.yaml", true, false},
		{"a nested folder", "team/deep", true, true},
		{"the root folder", ".", true, true},
		{"defaults.yaml", "team/defaults.yaml", true, false},
		{"a second defaults file", "team/defaults.yml", true, true},
		{".certformignore, a symlink", IgnoreFile, true, true},
		{"the file it leads to", "rules/ignore.txt", true, false},
		{"a file read through a symlink", "store/d.txt", true, false},
		{"that symlink", "d.yaml", true, true},
		{"a symlink read in place", "e.yaml", true, true},
		{"a hidden folder read through a symlink", ".hidden", true, true},
		{"a broken symlink", "broken.yaml", true, true},
		{"a symlink leading outside", "outside", true, true},
		{"a named pipe named .yaml", "fifo.yaml", true, true},
		{"a ConfigMap's ..data", "cm/..data", false, true},
		{"a ConfigMap's file", "cm/g.yaml", true, true},
		{"the --dir symlink", "", true, true},
		{"a CSR file", "a.csr", false, false},
		{"an excluded file", "catalog-info.yaml", false, true},
		{"a file in an excluded folder", "drafts/x.yaml", false, true},
		{"a file that is not YAML", "notes.txt", false, true},
		{"a hidden file", ".git/config", false, true},
		{"an editor leftover", "b.yaml~", false, true},
	}
	for _, s := range steps {
		p := filepath.Join(real, filepath.FromSlash(s.path))
		if s.path == "" {
			p = dir
		}
		waitPast(t, before)
		if err := touch(p); err != nil {
			t.Fatal(err)
		}
		if _, ok := mustLoad(t, dir, cache).Settled(); ok != s.served {
			t.Errorf("%s: the first load after the change vouches for itself: %v, want %v", s.name, ok, s.served)
		}
		after := check(s.name)
		if moved := after.After(before); moved != s.moves {
			t.Errorf("%s: %v -> %v, moved %v, want %v", s.name, before, after, moved, s.moves)
		}
		before = after
	}
	// A ConfigMap update: its file is read afresh, then served again.
	waitPast(t, before)
	if err := spectest.ConfigMap(filepath.Join(real, "cm"), map[string]string{"g.yaml": specText(t, "g"), "sub/h.yaml": specText(t, "h2")}, "..2026_11_25_10_05_00.456"); err != nil {
		t.Fatal(err)
	}
	if after, ok := settledLoad(t, dir, cache); !ok || !after.After(before) {
		t.Errorf("a ConfigMap update: %v -> %v, %v", before, after, ok)
	}
	check("after a ConfigMap update")
}

// TestResult_Settled_emptyTree: a tree with no spec file needs no cache
// hit to vouch for itself; its figure is LastChange's.
func TestResult_Settled_emptyTree(t *testing.T) {
	dir := writeTree(t, map[string]string{"notes.txt": "x\n", "team/readme.md": "x\n"})
	got, ok := mustLoad(t, dir, NewCache()).Settled()
	want, err := LastChange(dir)
	if err != nil || !ok || !got.Equal(want) {
		t.Errorf("Settled %v, %v; LastChange %v, %v", got, ok, want, err)
	}
}

// TestResult_Settled_changedDuringTheLoad: a change made during a load
// served by its cache (after the walk, before the files it found are
// stat'ed or read) or after it (before Settled) moves Settled's figure
// past LastChange's before, or makes Settled refuse, so that a daemon's
// idle cycle loads again carefully. One change goes unseen by design: an
// edit of a spec file the cache served, after the load's stat of it; the
// result holds the file as that stat saw it (a consistent snapshot), and
// the next load sees the change.
func TestResult_Settled_changedDuringTheLoad(t *testing.T) {
	const (
		moved    = "moved"
		refused  = "refused"
		unmoved  = "unmoved"
		duringIt = true
		afterIt  = false
	)
	write := func(rel, content string) func(t *testing.T, real string) {
		return func(t *testing.T, real string) {
			if err := os.WriteFile(filepath.Join(real, filepath.FromSlash(rel)), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	remove := func(rel string) func(t *testing.T, real string) {
		return func(t *testing.T, real string) {
			if err := os.RemoveAll(filepath.Join(real, filepath.FromSlash(rel))); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		during bool
		change func(t *testing.T, real string)
		want   string
	}{
		{"a spec file added", duringIt, write("team/new.yaml", "name: new\n"), moved},
		{"a spec file removed", duringIt, remove("team/b.yaml"), refused},
		{"a spec file edited", duringIt, write("team/b.yaml", "name: b3\n"), refused},
		{"a defaults file edited", duringIt, write("team/defaults.yaml", "product: ov\n"), refused},
		{"a folder's status changed", duringIt, func(t *testing.T, real string) {
			if err := touch(filepath.Join(real, "team")); err != nil {
				t.Fatal(err)
			}
		}, moved},
		// Refused: the files read through symlinks, stat'ed again by the
		// path Load names them by, are not there in the new checkout
		// (TestLoad_SpecDir_gitSyncSwap has a tree without them).
		{"--dir swapped to another checkout", duringIt, func(t *testing.T, real string) {
			other := filepath.Join(filepath.Dir(real), "r2")
			if err := os.MkdirAll(other, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := spectest.SwapLink(filepath.Join(filepath.Dir(filepath.Dir(real)), "current"), "releases/r2"); err != nil {
				t.Fatal(err)
			}
		}, refused},
		{"a ConfigMap updated", duringIt, func(t *testing.T, real string) {
			if err := spectest.ConfigMap(filepath.Join(real, "cm"), map[string]string{"g.yaml": specText(t, "g2"), "sub/h.yaml": specText(t, "h")}, "..2026_11_25_10_05_00.456"); err != nil {
				t.Fatal(err)
			}
		}, refused},
		{"a ConfigMap's ..data swapped, the old payload kept", duringIt, func(t *testing.T, real string) {
			cm := filepath.Join(real, "cm")
			if err := os.CopyFS(filepath.Join(cm, "..v2"), os.DirFS(filepath.Join(cm, "..2026_11_25_10_00_00.123"))); err != nil {
				t.Fatal(err)
			}
			if err := spectest.SwapLink(filepath.Join(cm, "..data"), "..v2"); err != nil {
				t.Fatal(err)
			}
		}, refused},
		{"a defaults file edited", afterIt, write("team/defaults.yaml", "product: ov\n"), refused},
		{".certformignore edited", afterIt, write(IgnoreFile, "catalog-info.yaml\n"), refused},
		{"a file read through a symlink edited", afterIt, write("store/d.txt", specText(t, "d2")), refused},
		{"a spec file added", afterIt, write("team/deep/new.yaml", "name: new\n"), moved},
		{"a spec file removed", afterIt, remove("team/deep/c.yaml"), moved},
		{"a folder removed", afterIt, remove("team/deep"), refused},
		{"the whole tree removed", afterIt, remove("."), refused},
		{"a spec file served by the cache edited in place", afterIt, write("team/b.yaml", "name: b3\n"), unmoved},
	}
	for _, tt := range tests {
		name := tt.name + " after the load"
		if tt.during {
			name = tt.name + " during the load"
		}
		t.Run(name, func(t *testing.T) {
			dir, real := settledTree(t)
			cache := NewCache()
			before, ok := settledLoad(t, dir, cache)
			if !ok {
				t.Fatal("not served whole")
			}
			waitPast(t, before)
			change := func() { tt.change(t, real) }
			if tt.during {
				afterWalk = change
				t.Cleanup(func() { afterWalk = nil })
			}
			res := mustLoad(t, dir, cache)
			afterWalk = nil
			if !tt.during {
				change()
			}
			after, ok := res.Settled()
			got := unmoved
			switch {
			case !ok:
				got = refused
			case after.After(before):
				got = moved
			case !after.Equal(before):
				t.Fatalf("Settled went back: %v -> %v", before, after)
			}
			if got != tt.want {
				t.Errorf("Settled %v -> %v, %v: %s, want %s", before, after, ok, got, tt.want)
			}
			if tt.want == unmoved && len(res.Changed()) == 0 {
				t.Error("Changed does not list the file edited")
			}
		})
	}
}

// TestResult_sources_servedWhole: a load that a Cache served whole lists
// the files it read only when asked, and then lists what a load read
// afresh lists (the ignore file, defaults files, files read through
// symlinks, CSR files).
func TestResult_sources_servedWhole(t *testing.T) {
	dir, _ := settledTree(t)
	fresh := mustLoad(t, dir, nil)
	cache := NewCache()
	mustLoad(t, dir, cache)
	served := mustLoad(t, dir, cache)
	if served.readFrom == nil || served.read != nil {
		t.Fatal("a load served whole listed its files before it was asked")
	}
	if diff := cmp.Diff(fresh.sources(), served.sources(), cmp.AllowUnexported(source{}, stamp{})); diff != "" {
		t.Errorf("files read (-fresh +served):\n%s", diff)
	}
	if len(fresh.sources()) < 10 {
		t.Errorf("only %d files read", len(fresh.sources()))
	}
}
