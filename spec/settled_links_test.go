package spec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/certform/certform/spec/spectest"
)

// TestResult_Settled_linksResolvedAgain: a symlink the load's walk met
// that resolves elsewhere now, through a symlink or a folder Settled
// stats by no time of its own (a hidden one, a folder on --dir's path),
// makes Settled refuse or move, as LastChange moves. The load read the
// tree as it resolved before; a daemon's idle cycle must not plan from it.
func TestResult_Settled_linksResolvedAgain(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, base string) (dir string)
		change func(t *testing.T, base string)
	}{
		{"a folder's symlink retargeted through a hidden symlink", func(t *testing.T, base string) string {
			tree := filepath.Join(base, "tree")
			writeFile(t, filepath.Join(tree, "a.yaml"), specText(t, "a"))
			if err := os.MkdirAll(filepath.Join(tree, ".h", "v1"), 0o700); err != nil {
				t.Fatal(err)
			}
			symlink(t, "v1", filepath.Join(tree, ".h", "cur"))
			symlink(t, ".h/cur", filepath.Join(tree, "linked"))
			return tree
		}, func(t *testing.T, base string) {
			tree := filepath.Join(base, "tree")
			writeFile(t, filepath.Join(tree, ".h", "v2", "x.yaml"), specText(t, "x"))
			if err := spectest.SwapLink(filepath.Join(tree, ".h", "cur"), "v2"); err != nil {
				t.Fatal(err)
			}
		}},
		{"a broken symlink's hidden target created", func(t *testing.T, base string) string {
			tree := filepath.Join(base, "tree")
			writeFile(t, filepath.Join(tree, "a.yaml"), specText(t, "a"))
			if err := os.MkdirAll(filepath.Join(tree, ".h"), 0o700); err != nil {
				t.Fatal(err)
			}
			symlink(t, ".h/x.yaml", filepath.Join(tree, "x.yaml"))
			return tree
		}, func(t *testing.T, base string) {
			writeFile(t, filepath.Join(base, "tree", ".h", "x.yaml"), specText(t, "x"))
		}},
		{"a folder on --dir's path replaced by a symlink to an older copy", func(t *testing.T, base string) string {
			// The copy first: it is older than the tree.
			writeFile(t, filepath.Join(base, "copy", "r1", "b.yaml"), specText(t, "b"))
			for _, site := range []string{"copy", "site"} {
				writeFile(t, filepath.Join(base, site, "r1", "a.yaml"), specText(t, "a"))
				symlink(t, "r1", filepath.Join(base, site, "current"))
			}
			return filepath.Join(base, "site", "current")
		}, func(t *testing.T, base string) {
			if err := os.Rename(filepath.Join(base, "site"), filepath.Join(base, "gone")); err != nil {
				t.Fatal(err)
			}
			symlink(t, "copy", filepath.Join(base, "site"))
		}},
	}
	for _, tt := range tests {
		for _, during := range []bool{true, false} {
			name := tt.name + " after the load"
			if during {
				name = tt.name + " during the load"
			}
			t.Run(name, func(t *testing.T) {
				base := t.TempDir()
				dir := tt.setup(t, base)
				cache := NewCache()
				before, ok := settledLoad(t, dir, cache)
				if lc, err := LastChange(dir); err != nil || !ok || !before.Equal(lc) {
					t.Fatalf("Settled %v, %v; LastChange %v, %v", before, ok, lc, err)
				}
				waitPast(t, before)
				change := func() { tt.change(t, base) }
				if during {
					afterWalk = change
					t.Cleanup(func() { afterWalk = nil })
				}
				res := mustLoad(t, dir, cache)
				afterWalk = nil
				if !during {
					change()
				}
				if lc, err := LastChange(dir); err != nil || !lc.After(before) {
					t.Fatalf("LastChange %v, %v: not after %v", lc, err, before)
				}
				if after, ok := res.Settled(); ok && !after.After(before) {
					t.Errorf("Settled %v, %v: the tree as it resolved before the change, although LastChange moved", after, ok)
				}
			})
		}
	}
}
