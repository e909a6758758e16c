package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/spec/spectest"
	"github.com/google/go-cmp/cmp"
)

// specText is a valid spec named name, with an inline CSR.
func specText(t *testing.T, name string) string {
	t.Helper()
	cn := name + ".example.com"
	return fmt.Sprintf("name: %s\ncommon_name: %s\norganization_id: 1\ncsr: |\n%s", name, cn, indent(makeCSR(t, cn)))
}

func mustLoad(t *testing.T, dir string, cache *Cache) *Result {
	t.Helper()
	res, err := LoadWith(dir, cache)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func orderFiles(res *Result) []string {
	var out []string
	for _, o := range res.Orders {
		out = append(out, o.Name+"@"+o.File)
	}
	return out
}

// TestLoad_SpecDir_ignoreFile: .certformignore keeps a Backstage
// catalog-info.yaml and a folder of drafts out of the load, at any depth,
// and a negation brings one file back.
func TestLoad_SpecDir_ignoreFile(t *testing.T) {
	dir := writeTree(t, map[string]string{
		IgnoreFile:                   "# Backstage\ncatalog-info.yaml\n/drafts/\n*.draft.yaml\n!keep.draft.yaml\n",
		"catalog-info.yaml":          "apiVersion: backstage.io/v1alpha1\nkind: Component\n",
		"team/catalog-info.yaml":     "apiVersion: backstage.io/v1alpha1\nkind: Component\n",
		"drafts/x.yaml":              "junk: [",
		"team/drafts/d.yaml":         specText(t, "d"),
		"team/a.yaml":                specText(t, "a"),
		"team/b.draft.yaml":          "junk: [",
		"team/keep.draft.yaml":       specText(t, "keep"),
		"team/sub/catalog-info.yaml": "kind: Component\n",
	})
	res := mustLoad(t, dir, nil)
	if len(res.Errors) != 0 {
		t.Errorf("errors: %v", errorStrings(res.Errors))
	}
	if diff := cmp.Diff([]string{"a", "d", "keep"}, orderNames(res.Orders)); diff != "" {
		t.Errorf("valid (-want +got):\n%s", diff)
	}
	if res.Files != 3 || res.Summary() != "3 specs in 3 files: no errors" {
		t.Errorf("summary %q", res.Summary())
	}
}

// TestLoad_SpecDir_ignoreFileBroken: a broken pattern stops the load with
// an error naming the file and line of each; an ignore file that is not a
// file, or points outside, too. Each is an *IgnoreError (errors.As), which
// an unreadable spec directory is not.
func TestLoad_SpecDir_ignoreFileBroken(t *testing.T) {
	dir := writeTree(t, map[string]string{IgnoreFile: "ok.yaml\nspec[12.yaml\n\n/\n", "a.yaml": "name: a\n"})
	_, err := Load(dir)
	var ie *IgnoreError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v is not an *IgnoreError", err)
	}
	want := fmt.Sprintf("spec directory %s: .certformignore:2:1: pattern \"spec[12.yaml\": '[' is not closed; write \\[ for a literal [\n"+
		".certformignore:4:1: pattern \"/\": names no file or folder", dir)
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}

	other := writeTree(t, map[string]string{"a.yaml": "name: a\n", "elsewhere": "x\n"})
	outside := writeTree(t, map[string]string{"ignore": "a.yaml\n"})
	if err := os.Mkdir(filepath.Join(other, IgnoreFile), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = Load(other)
	if want := ".certformignore:1:1: .certformignore is not a regular file (a directory); certform reads only regular files"; err == nil || !strings.HasSuffix(err.Error(), want) || !errors.As(err, &ie) {
		t.Errorf("a folder: %v", err)
	}
	os.Remove(filepath.Join(other, IgnoreFile))
	symlink(t, filepath.Join(outside, "ignore"), filepath.Join(other, IgnoreFile))
	_, err = Load(other)
	if want := ".certformignore:1:1: symlink points outside the spec directory; certform does not follow it, copy the file in instead"; err == nil || !strings.HasSuffix(err.Error(), want) || !errors.As(err, &ie) {
		t.Errorf("a symlink outside: %v", err)
	}
	// A folder that is not there is not an *IgnoreError: the CLI tells
	// the two apart (a --dir hint for this one only).
	if _, err := Load(filepath.Join(other, "missing")); err == nil || errors.As(err, &ie) {
		t.Errorf("a missing folder: %v", err)
	}
}

// TestLoad_SpecDir_ignoreFileIsADependency: editing .certformignore is a
// change: Changed lists it, and a cached load starts over and reads what
// it now includes.
func TestLoad_SpecDir_ignoreFileIsADependency(t *testing.T) {
	dir := writeTree(t, map[string]string{IgnoreFile: "b.yaml\n", "a.yaml": specText(t, "a"), "b.yaml": specText(t, "b")})
	cache := NewCache()
	res := mustLoad(t, dir, cache)
	if diff := cmp.Diff([]string{"a"}, orderNames(res.Orders)); diff != "" {
		t.Fatalf("valid (-want +got):\n%s", diff)
	}
	if err := os.WriteFile(filepath.Join(dir, IgnoreFile), []byte("# nothing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{IgnoreFile}, res.Changed()); diff != "" {
		t.Errorf("Changed (-want +got):\n%s", diff)
	}
	again := mustLoad(t, dir, cache)
	if diff := cmp.Diff([]string{"a", "b"}, orderNames(again.Orders)); diff != "" {
		t.Errorf("valid after the edit (-want +got):\n%s", diff)
	}
	if again.Orders[0] == res.Orders[0] {
		t.Error("a was served from the cache of the other rules")
	}
}

// TestLoad_SpecDir_configMap: a Kubernetes ConfigMap volume (files are
// symlinks into a hidden, timestamped folder through `..data`) loads like a
// plain folder, each file once and named as mounted, defaults, csr_file
// and a nested item included; an update (a `..data` swap) is seen by
// Changed and SourceChanged, and the next load reads the new files only.
func TestLoad_SpecDir_configMap(t *testing.T) {
	csr := makeCSR(t, "c.example.com")
	v1 := map[string]string{
		"a.yaml":            specText(t, "a"),
		"c.yaml":            "name: c\ncommon_name: c.example.com\ncsr_file: c.csr\n",
		"c.csr":             csr,
		"defaults.yaml":     "organization_id: 1\n",
		"team/t.yaml":       specText(t, "t"),
		IgnoreFile:          "catalog-info.yaml\n",
		"catalog-info.yaml": "kind: Component\n",
	}
	dir := t.TempDir()
	if err := spectest.ConfigMap(dir, v1, "..2026_11_25_10_00_00.123"); err != nil {
		t.Fatal(err)
	}
	for _, cached := range []bool{false, true} {
		var cache *Cache
		if cached {
			cache = NewCache()
			mustLoad(t, dir, cache)
		}
		res := mustLoad(t, dir, cache)
		if len(res.Errors) != 0 {
			t.Fatalf("errors: %v", errorStrings(res.Errors))
		}
		want := []string{"a@a.yaml", "c@c.yaml", "t@team/t.yaml"}
		if diff := cmp.Diff(want, orderFiles(res)); diff != "" {
			t.Errorf("orders (-want +got):\n%s", diff)
		}
		if res.Files != 4 || res.Specs != 3 {
			t.Errorf("summary %q, want 3 specs in 4 files", res.Summary())
		}
		if got := res.Changed(); len(got) != 0 {
			t.Errorf("changed before the update: %v", got)
		}
	}

	res := mustLoad(t, dir, nil)
	v2 := map[string]string{
		"a.yaml":        specText(t, "a2"),
		"defaults.yaml": "organization_id: 1\n",
		"team/t.yaml":   specText(t, "t"),
		"new.yaml":      specText(t, "new"),
	}
	if err := spectest.ConfigMap(dir, v2, "..2026_11_25_10_05_00.456"); err != nil {
		t.Fatal(err)
	}
	want := []string{IgnoreFile, "a.yaml", "c.csr", "c.yaml", "defaults.yaml", "team/t.yaml"}
	if diff := cmp.Diff(want, res.Changed()); diff != "" {
		t.Errorf("Changed after the update (-want +got):\n%s", diff)
	}
	for _, o := range res.Orders {
		if !o.SourceChanged() {
			t.Errorf("%s: SourceChanged false after the update", o.Name)
		}
	}
	after := mustLoad(t, dir, nil)
	if len(after.Errors) != 0 {
		t.Fatalf("errors after the update: %v", errorStrings(after.Errors))
	}
	if diff := cmp.Diff([]string{"a2@a.yaml", "new@new.yaml", "t@team/t.yaml"}, orderFiles(after)); diff != "" {
		t.Errorf("orders after the update (-want +got):\n%s", diff)
	}
}

// TestLoad_SpecDir_gitSyncSwap: --dir is a symlink (git-sync's `current ->
// releases/abc`) swapped atomically to another checkout: every file the
// load read is listed by Changed, LastChange moves, Settled refuses (the
// directory resolves elsewhere), and the next load reads the new checkout
// whole.
func TestLoad_SpecDir_gitSyncSwap(t *testing.T) {
	base := t.TempDir()
	for rel, content := range map[string]string{
		"releases/abc/a.yaml":      specText(t, "a"),
		"releases/abc/team/b.yaml": specText(t, "b"),
		"releases/def/a.yaml":      specText(t, "a"),
		"releases/def/team/c.yaml": specText(t, "c"),
	} {
		p := filepath.Join(base, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	current := filepath.Join(base, "current")
	symlink(t, "releases/abc", current)
	cache := NewCache()
	res := mustLoad(t, current, cache)
	if diff := cmp.Diff([]string{"a", "b"}, orderNames(res.Orders)); diff != "" {
		t.Fatalf("valid (-want +got):\n%s", diff)
	}
	served := mustLoad(t, current, cache) // a daemon's idle load
	before, err := LastChange(current)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := served.Settled(); !ok || !got.Equal(before) {
		t.Fatalf("Settled before the swap: %v, %v; LastChange %v", got, ok, before)
	}
	waitPast(t, before)
	if err := spectest.SwapLink(current, "releases/def"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a.yaml", "team/b.yaml"}, res.Changed()); diff != "" {
		t.Errorf("Changed after the swap (-want +got):\n%s", diff)
	}
	if after, err := LastChange(current); err != nil || !after.After(before) {
		t.Errorf("LastChange after the swap: %v -> %v, %v", before, after, err)
	}
	// The directory resolves elsewhere now: Settled refuses (or moves).
	if after, ok := served.Settled(); ok && !after.After(before) {
		t.Errorf("Settled after the swap: %v -> %v, %v; want it refused or moved", before, after, ok)
	}
	again := mustLoad(t, current, cache)
	if diff := cmp.Diff([]string{"a", "c"}, orderNames(again.Orders)); diff != "" {
		t.Errorf("valid after the swap (-want +got):\n%s", diff)
	}
	if got := again.Changed(); len(got) != 0 {
		t.Errorf("changed after reading the new checkout: %v", got)
	}
}

// TestLoad_SpecDir_symlinks: one row per symlink rule (see Tree).
func TestLoad_SpecDir_symlinks(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		links  map[string]string // link -> target, relative to the directory
		orders []string          // name@file
		errs   []string
	}{
		{
			name:   "to a hidden file: read under the link's name",
			files:  map[string]string{".store/a.yaml": specText(t, "a")},
			links:  map[string]string{"a.yaml": ".store/a.yaml"},
			orders: []string{"a@a.yaml"},
		},
		{
			name:   "to a visible spec file: read once, where it lives",
			files:  map[string]string{"team/a.yaml": specText(t, "a")},
			links:  map[string]string{"alias.yaml": "team/a.yaml"},
			orders: []string{"a@team/a.yaml"},
		},
		{
			name:   "to a file excluded by .certformignore: read under the link's name",
			files:  map[string]string{IgnoreFile: "/vendor/\n", "vendor/a.yaml": specText(t, "a")},
			links:  map[string]string{"a.yaml": "vendor/a.yaml"},
			orders: []string{"a@a.yaml"},
		},
		{
			name:   "to a file not named .yaml: read under the link's name",
			files:  map[string]string{"a.txt": specText(t, "a")},
			links:  map[string]string{"a.yaml": "a.txt"},
			orders: []string{"a@a.yaml"},
		},
		{
			name:  "excluded itself: not read",
			files: map[string]string{IgnoreFile: "alias.yaml\n", ".store/a.yaml": specText(t, "a")},
			links: map[string]string{"alias.yaml": ".store/a.yaml"},
			errs:  []string{".:1:1: no spec file was read; passed over: .store/ (hidden), alias.yaml (excluded by .certformignore:1). certform reads the .yaml and .yml files that are not hidden (a name starting with .), not editor leftovers and not excluded by .certformignore, and follows a symlink only to a target inside the spec directory"},
		},
		{
			name:   "to a hidden folder: walked under the link's name",
			files:  map[string]string{".store/team/a.yaml": specText(t, "a"), ".store/team/defaults.yaml": "product: ev\n"},
			links:  map[string]string{"team": ".store/team"},
			orders: []string{"a@team/a.yaml"},
		},
		{
			name:   "two links to one hidden folder: walked once",
			files:  map[string]string{".store/a.yaml": specText(t, "a")},
			links:  map[string]string{"one": ".store", "two": ".store"},
			orders: []string{"a@one/a.yaml"},
		},
		{
			name:   "a loop through a hidden folder: walked once",
			files:  map[string]string{".store/a.yaml": specText(t, "a")},
			links:  map[string]string{"one": ".store", ".store/again": ".", ".store/up": ".."},
			orders: []string{"a@one/a.yaml"},
		},
		{
			name:   "a hidden link is not followed",
			files:  map[string]string{"team/a.yaml": specText(t, "a")},
			links:  map[string]string{".alias.yaml": "team/a.yaml", ".team": "team"},
			orders: []string{"a@team/a.yaml"},
		},
		{
			name:  "broken, or out of the tree",
			files: map[string]string{"b.yaml": specText(t, "b")},
			links: map[string]string{"a.yaml": ".store/gone.yaml", "notes.txt": "/nowhere", "etc": "/etc", "passwd.yaml": "/etc/passwd"},
			errs: []string{
				"a.yaml:1:1: broken symlink; remove it or point it at a file inside the spec directory",
				"etc:1:1: symlink points outside the spec directory; certform does not follow it, copy the file in instead",
				"passwd.yaml:1:1: symlink points outside the spec directory; certform does not follow it, copy the file in instead",
			},
			orders: []string{"b@b.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			for link, target := range tt.links {
				symlink(t, target, filepath.Join(dir, filepath.FromSlash(link)))
			}
			res := mustLoad(t, dir, nil)
			if diff := cmp.Diff(tt.errs, errorStrings(res.Errors)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.orders, orderFiles(res)); diff != "" {
				t.Errorf("orders (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoad_SpecDir_nothingRead: a load that reads no spec file says which
// entries it passed over and why, instead of "no errors"; a folder with
// nothing that could hold specs (a README, .git) stays quiet.
func TestLoad_SpecDir_nothingRead(t *testing.T) {
	rule := ". certform reads the .yaml and .yml files that are not hidden (a name starting with .), not editor leftovers " +
		"and not excluded by .certformignore, and follows a symlink only to a target inside the spec directory"
	tests := []struct {
		name  string
		files map[string]string
		links map[string]string
		want  []string
	}{
		{
			name: "a ConfigMap mounted with its hidden folders only",
			files: map[string]string{
				"..2026_11_25_10_00_00.123/a.yaml": "name: a\n",
				".specs.yaml":                      "name: b\n",
				"a.yaml~":                          "name: a\n",
				IgnoreFile:                         "catalog-info.yaml\n",
				"catalog-info.yaml":                "kind: Component\n",
				"README.md":                        "specs\n",
				".git/HEAD":                        "ref: refs/heads/main\n",
				".github/workflows/ci.yml":         "on: push\n",
			},
			links: map[string]string{"..data": "..2026_11_25_10_00_00.123"},
			want: []string{".:1:1: no spec file was read; passed over: ..2026_11_25_10_00_00.123/ (hidden), ..data/ (hidden), .specs.yaml (hidden), " +
				"catalog-info.yaml (excluded by .certformignore:1)" + rule},
		},
		{
			name:  "more than ten",
			files: map[string]string{".a/x": "", ".b/x": "", ".c/x": "", ".d/x": "", ".e/x": "", ".f/x": "", ".g/x": "", ".h/x": "", ".i/x": "", ".j/x": "", ".k/x": "", ".l/x": ""},
			want: []string{".:1:1: no spec file was read; passed over: .a/ (hidden), .b/ (hidden), .c/ (hidden), .d/ (hidden), .e/ (hidden), " +
				".f/ (hidden), .g/ (hidden), .h/ (hidden), .i/ (hidden), .j/ (hidden) and 2 more" + rule},
		},
		{name: "a README and .git", files: map[string]string{"README.md": "specs\n", ".git/HEAD": "x\n", ".gitignore": "x\n"}},
		{name: "empty", files: map[string]string{}},
		{name: "a defaults file only", files: map[string]string{"defaults.yaml": "product: ev\n", ".hidden/a.yaml": "x\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			for link, target := range tt.links {
				symlink(t, target, filepath.Join(dir, filepath.FromSlash(link)))
			}
			res := mustLoad(t, dir, nil)
			if diff := cmp.Diff(tt.want, errorStrings(res.Errors)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLastChange_SpecDir: LastChange follows the load's rules: a file
// .certformignore excludes does not move it, the ignore file does, and so
// do a ConfigMap update and an edit of a file read through a symlink.
func TestLastChange_SpecDir(t *testing.T) {
	dir := t.TempDir()
	if err := spectest.ConfigMap(dir, map[string]string{"a.yaml": "name: a\n", IgnoreFile: "catalog-info.yaml\n"}, "..2026_11_25_10_00_00.123"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "catalog-info.yaml"), []byte("kind: Component\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "store"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "store", "b.txt"), []byte("name: b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	symlink(t, "store/b.txt", filepath.Join(dir, "b.yaml"))
	steps := []struct {
		name  string
		do    func() error
		moves bool
	}{
		{"edit an excluded file", func() error {
			return os.WriteFile(filepath.Join(dir, "catalog-info.yaml"), []byte("kind: System\n"), 0o600)
		}, false},
		{"edit the file a symlink leads to", func() error {
			return os.WriteFile(filepath.Join(dir, "store", "b.txt"), []byte("name: b2\n"), 0o600)
		}, true},
		{"edit .certformignore", func() error {
			return os.WriteFile(filepath.Join(dir, "..data", IgnoreFile), []byte("catalog-info.yaml\nnotes.yaml\n"), 0o600)
		}, true},
		{"update the ConfigMap", func() error {
			return spectest.ConfigMap(dir, map[string]string{"a.yaml": "name: a2\n", IgnoreFile: "catalog-info.yaml\n"}, "..2026_11_25_10_05_00.456")
		}, true},
	}
	for _, s := range steps {
		before, err := LastChange(dir)
		if err != nil {
			t.Fatal(err)
		}
		waitPast(t, before)
		if err := s.do(); err != nil {
			t.Fatal(err)
		}
		after, err := LastChange(dir)
		if err != nil {
			t.Fatal(err)
		}
		if moved := after.After(before); moved != s.moves {
			t.Errorf("%s: LastChange %v -> %v, moved %v, want %v", s.name, before, after, moved, s.moves)
		}
	}
}

// TestTree_SpecDir_reach: what a watcher needs of a ConfigMap volume: the
// folders Load walks (the hidden payload folder of a nested item among
// them) and the hidden files it reads through symlinks.
func TestTree_SpecDir_reach(t *testing.T) {
	dir := t.TempDir()
	stamp := "..2026_11_25_10_00_00.123"
	if err := spectest.ConfigMap(dir, map[string]string{"a.yaml": "name: a\n", "team/b.yaml": "name: b\n"}, stamp); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "plain"), 0o700); err != nil {
		t.Fatal(err)
	}
	tree, err := OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tree.Reach(tree.Root)
	if err != nil {
		t.Fatal(err)
	}
	root := tree.Root
	want := &Reach{
		Dirs:        []string{root, filepath.Join(root, "plain"), filepath.Join(root, stamp, "team")},
		LinkedDirs:  []string{filepath.Join(root, stamp, "team")},
		LinkedFiles: []string{filepath.Join(root, stamp, "a.yaml"), filepath.Join(root, stamp, "team", "b.yaml")},
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("Reach (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		rel   string
		isDir bool
		want  bool
	}{{"a.yaml", false, false}, {"..data", true, true}, {stamp + "/a.yaml", false, true}, {"a.yaml~", false, true}, {".", true, false}} {
		if got := tree.Skip(tt.rel, tt.isDir); got != tt.want {
			t.Errorf("Skip(%q) = %v, want %v", tt.rel, got, tt.want)
		}
	}
}

// TestOpenTree_SpecDir_links: the symlinks on the way to the real folder
// are listed, each with a real folder, and a chain that ends nowhere is an
// error.
func TestOpenTree_SpecDir_links(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(base, "releases", "abc", "specs"), 0o700)
	symlink(t, "releases/abc", filepath.Join(base, "current"))
	symlink(t, filepath.Join(base, "current"), filepath.Join(base, "outer", "link"))
	tree, err := OpenTree(filepath.Join(base, "outer", "link", "specs"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(base, "releases", "abc", "specs"); tree.Root != want {
		t.Errorf("Root %s, want %s", tree.Root, want)
	}
	if diff := cmp.Diff([]string{filepath.Join(base, "outer", "link"), filepath.Join(base, "current")}, tree.Links); diff != "" {
		t.Errorf("Links (-want +got):\n%s", diff)
	}
	symlink(t, "nowhere", filepath.Join(base, "dangling"))
	if _, err := OpenTree(filepath.Join(base, "dangling")); err == nil || !strings.HasSuffix(err.Error(), "dangling: no such file or directory") {
		t.Errorf("dangling: %v", err)
	}
	symlink(t, "loop", filepath.Join(base, "loop"))
	if _, err := OpenTree(filepath.Join(base, "loop")); err == nil || !strings.HasSuffix(err.Error(), "loop: too many levels of symbolic links") {
		t.Errorf("loop: %v", err)
	}
}

// TestLoad_SpecDir_symlinkToFIFO: a symlink Load follows leads to a named
// pipe: an error, never opened.
func TestLoad_SpecDir_symlinkToFIFO(t *testing.T) {
	dir := writeTree(t, map[string]string{"b.yaml": specText(t, "b")})
	os.Mkdir(filepath.Join(dir, ".store"), 0o700)
	mkfifo(t, filepath.Join(dir, ".store", "a.yaml"))
	symlink(t, ".store/a.yaml", filepath.Join(dir, "a.yaml"))
	done := make(chan *Result, 1)
	go func() {
		res, _ := Load(dir)
		done <- res
	}()
	select {
	case res := <-done:
		want := []string{"a.yaml:1:1: a.yaml is not a regular file (a named pipe); certform reads only regular files"}
		if diff := cmp.Diff(want, errorStrings(res.Errors)); diff != "" {
			t.Errorf("errors (-want +got):\n%s", diff)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Load blocked on a named pipe behind a symlink")
	}
}
