package spec

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/spec/spectest"
	"github.com/google/go-cmp/cmp"
)

// TestSortByName_stable checks that sortByName, which sorts (name, place)
// pairs, gives slices.SortStableFunc's order of the orders themselves,
// duplicate names included.
func TestSortByName_stable(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 200; round++ {
		n := rng.Intn(60)
		orders := make([]*Order, n)
		for i := range orders {
			orders[i] = &Order{Name: fmt.Sprintf("o%d", rng.Intn(n/2+1)), File: fmt.Sprintf("f%d.yaml", i)}
		}
		if round%10 == 0 { // an already sorted input
			slices.SortStableFunc(orders, func(a, b *Order) int { return strings.Compare(a.Name, b.Name) })
		}
		want := slices.Clone(orders)
		slices.SortStableFunc(want, func(a, b *Order) int { return strings.Compare(a.Name, b.Name) })
		got := slices.Clone(orders)
		sortByName(got)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("round %d: at %d got %s (%s), want %s (%s)", round, i, got[i].Name, got[i].File, want[i].Name, want[i].File)
			}
		}
	}
}

// TestStatStamp_os checks that statStamp, which calls stat(2) itself, gives
// the stamp of os.Stat's answer: of a file, through a symlink, of a folder,
// and zero for a missing file.
func TestStatStamp_os(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "a.yaml")
	if err := os.WriteFile(f, []byte("name: a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.yaml", filepath.Join(dir, "l.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{f, filepath.Join(dir, "l.yaml"), dir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := statStamp(p), stampOf(fi); got != want || got == (stamp{}) {
			t.Errorf("%s: statStamp %+v, os.Stat %+v", p, got, want)
		}
	}
	if got := statStamp(filepath.Join(dir, "missing")); got != (stamp{}) {
		t.Errorf("missing file: %+v, want zero", got)
	}
}

// TestUniqueSources_map checks that uniqueSources keeps what a map from
// full path to source, filled in order, kept, sorted by path.
func TestUniqueSources_map(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for round := 0; round < 200; round++ {
		n := rng.Intn(40)
		read := make([]source, n)
		m := map[string]source{}
		for i := range read {
			k := rng.Intn(n/2 + 1)
			read[i] = source{rel: fmt.Sprintf("r%d", k), full: fmt.Sprintf("/d/r%d", k), st: stamp{size: int64(i)}}
			m[read[i].full] = read[i]
		}
		var want []source
		for _, s := range m {
			want = append(want, s)
		}
		sort.Slice(want, func(i, j int) bool { return want[i].rel < want[j].rel })
		if got := uniqueSources(read); !slices.Equal(got, want) {
			t.Fatalf("round %d: got %v, want %v", round, got, want)
		}
	}
}

// TestLoadWith_cacheSortsAsLoad checks that loads through a Cache, which
// reuse the last load's sort when every file was served from it, give the
// orders and errors of a load without one: duplicate names across files
// out of name order, then after a file changed (its order renamed), then
// after a file was added.
func TestLoadWith_cacheSortsAsLoad(t *testing.T) {
	spec := func(names ...string) string {
		var sb strings.Builder
		for i, n := range names {
			if i > 0 {
				sb.WriteString("---\n")
			}
			fmt.Fprintf(&sb, "name: %s\ncommon_name: %s.example.com\nkey_type: ecdsa-p256\n", n, n)
		}
		return sb.String()
	}
	dir := writeTree(t, map[string]string{
		"defaults.yaml": "organization_id: 1\nkey_rotation: never\n",
		"a/1.yaml":      spec("m", "b", "z"),
		"b/2.yaml":      spec("c", "b"),
		"c/3.yaml":      spec("a", "m", "y"),
		"4.yaml":        spec("x", "b"),
	})
	cache := NewCache()
	same := func(step string) {
		t.Helper()
		want, err := Load(dir)
		if err != nil || len(want.Orders) < 4 || len(want.Invalid) == 0 {
			t.Fatalf("%v: a tree of valid and duplicate specs expected:\n%s", err, describeResult(want))
		}
		for round := 0; round < 2; round++ { // the second served from the cache
			got, err := LoadWith(dir, cache)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := describeResult(got), describeResult(want); g != w {
				t.Fatalf("%s, load %d through the cache:\n%s\nwant:\n%s", step, round+1, g, w)
			}
		}
	}
	same("first")
	later := time.Now().Add(time.Second)
	if err := os.WriteFile(filepath.Join(dir, "b/2.yaml"), []byte(spec("c", "a", "n")), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(filepath.Join(dir, "b/2.yaml"), later, later)
	same("changed")
	if err := os.WriteFile(filepath.Join(dir, "0.yaml"), []byte(spec("z", "d")), 0o644); err != nil {
		t.Fatal(err)
	}
	same("added")
}

// describeResult lists a result's orders (name, file) and errors.
func describeResult(res *Result) string {
	var sb strings.Builder
	for _, o := range res.Orders {
		fmt.Fprintf(&sb, "order %s %s\n", o.Name, o.File)
	}
	for _, e := range res.Errors {
		fmt.Fprintf(&sb, "error %s\n", e.Error())
	}
	fmt.Fprintf(&sb, "invalid %v\n", res.Invalid)
	return sb.String()
}

// TestStatChangeTime_os checks that statChangeTime gives changeTime of
// os.Lstat's (os.Stat's, when following) answer, and false for a missing
// file.
func TestStatChangeTime_os(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "a.yaml")
	if err := os.WriteFile(f, []byte("name: a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(f, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.yaml", filepath.Join(dir, "l.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{f, filepath.Join(dir, "l.yaml"), dir} {
		for _, follow := range []bool{false, true} {
			stat := os.Lstat
			if follow {
				stat = os.Stat
			}
			fi, err := stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := statChangeTime(p, follow); !ok || !got.Equal(changeTime(fi)) {
				t.Errorf("%s (follow %v): %v %v, want %v", p, follow, got, ok, changeTime(fi))
			}
		}
	}
	if _, ok := statChangeTime(filepath.Join(dir, "missing"), false); ok {
		t.Error("missing file: ok")
	}
}

// TestIsSpecFile_parts checks IsSpecFile on paths whose parts are hidden or
// editor leftovers.
func TestIsSpecFile_parts(t *testing.T) {
	for rel, want := range map[string]bool{
		"a.yaml": true, "A.YML": true, "x/y/a.yaml": true, ".a.yaml": false, "x/.git/a.yaml": false,
		".x/a.yaml": false, "x/a.yaml~": false, "#x#/a.yaml": false, "x/a.txt": false, "x.swp/a.yaml": false,
		"": false, "x/": false, "a.yaml/b": false,
	} {
		if got := IsSpecFile(rel); got != want {
			t.Errorf("IsSpecFile(%q) = %v, want %v", rel, got, want)
		}
	}
}

// reachFull is Reach over the full walk, which visits every entry: what
// Reach gave before it passed over files met in place.
func reachFull(t *testing.T, tree *Tree, start string) *Reach {
	t.Helper()
	r := &Reach{}
	if err := tree.walk(start, r.see); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestTree_Reach_fullWalk checks that Reach, whose walk passes over what
// cannot lead to a folder or a linked file, gives what a full walk gives,
// from the root and from folders below it: a ConfigMap volume, plain and
// excluded folders, symlinks to hidden and visible files and folders, a
// loop, editor leftovers.
func TestTree_Reach_fullWalk(t *testing.T) {
	dir := t.TempDir()
	stamp := "..2026_11_25_10_00_00.123"
	if err := spectest.ConfigMap(dir, map[string]string{"a.yaml": "name: a\n", "team/b.yaml": "name: b\n", "team/deep/c.yaml": "name: c\n"}, stamp); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"plain/sub", "excluded/inner", ".hidden/h", "x~"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		IgnoreFile:                  "excluded/\n*.skip.yaml\n",
		"plain/s.yaml":              "name: s\n",
		"plain/sub/t.yaml":          "name: t\n",
		"plain/notes.txt":           "x\n",
		"plain/u.skip.yaml":         "name: u\n",
		".hidden/h/v.yaml":          "name: v\n",
		".hidden/w.yaml":            "name: w\n",
		"excluded/inner/x.yaml":     "name: x\n",
		"plain/sub/leftover.yaml~":  "name: y\n",
		"plain/sub/#autosave.yaml#": "name: z\n",
	}
	for rel, data := range files {
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"plain/to-hidden":     "../.hidden/h",      // a hidden folder, read through the link
		"plain/w.yaml":        "../.hidden/w.yaml", // a hidden file, read through the link
		"plain/sub/loop":      "..",                // read in place
		"plain/to-excluded":   "../excluded/inner", // an excluded folder, read through the link
		"plain/s2.yaml":       "s.yaml",            // read in place
		"plain/.hidden-link":  "sub",
		"plain/broken.yaml":   "nowhere.yaml",
		"plain/outside.yaml":  "/etc/hostname",
		"plain/sub/link.skip": "../s.yaml",
	}
	for rel, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, rel)); err != nil {
			t.Fatal(err)
		}
	}
	tree, err := OpenTree(dir)
	if err != nil || tree.IgnoreErr != nil {
		t.Fatal(err, tree.IgnoreErr)
	}
	for _, start := range []string{tree.Root, filepath.Join(tree.Root, "plain"), filepath.Join(tree.Root, "plain", "sub"), filepath.Join(tree.Root, stamp, "team")} {
		got, err := tree.Reach(start)
		if err != nil {
			t.Fatal(err)
		}
		want := reachFull(t, tree, start)
		if len(want.Dirs) < 2 && start == tree.Root {
			t.Fatalf("a tree of folders expected, got %+v", want)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Reach(%s) (-full walk +got):\n%s", start, diff)
		}
	}
}
