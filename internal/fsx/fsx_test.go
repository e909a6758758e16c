package fsx

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func names(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return strings.Join(out, " ")
}

// TestWriteFile_replaces: an existing file is replaced, mode 0600 whatever
// it was, no temporary file is left.
func TestWriteFile_replaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.json")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := WriteFile(p, []byte("new"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fi == nil || fi.Size() != 3 {
		t.Errorf("FileInfo %v", fi)
	}
	got, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(got) != "new" || st.Mode().Perm() != 0o600 {
		t.Errorf("content %q mode %v", got, st.Mode().Perm())
	}
	if n := names(t, dir); n != "a.json" {
		t.Errorf("folder holds %q", n)
	}
}

// TestWriteFile_noReplace: with NoReplace an existing name is
// fs.ErrExist and keeps its content; a new one is written with Mode.
func TestWriteFile_noReplace(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteFile(filepath.Join(dir, "a.yaml"), []byte("new\n"), Options{NoReplace: true, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := WriteFile(filepath.Join(dir, "b.yaml"), []byte("new\n"), Options{NoReplace: true})
	var fe *Error
	if !errors.Is(err, fs.ErrExist) || !errors.As(err, &fe) || fe.Step != StepPlace || fe.Placed {
		t.Fatalf("err %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "b.yaml"))
	st, _ := os.Stat(filepath.Join(dir, "a.yaml"))
	if string(got) != "mine\n" || st.Mode().Perm() != 0o644 {
		t.Errorf("b.yaml %q, a.yaml mode %v", got, st.Mode().Perm())
	}
	if n := names(t, dir); n != "a.yaml b.yaml" {
		t.Errorf("folder holds %q", n)
	}
}

// TestWriteFile_folderSync: a failure to open the folder comes after the
// file is placed: the error says so, with the bare cause.
func TestWriteFile_folderSync(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.json")
	fi, err := WriteFile(p, []byte("x"), Options{OpenFolder: func(string) (*os.File, error) {
		return nil, &fs.PathError{Op: "open", Path: "/x", Err: errors.New("injected")}
	}})
	var fe *Error
	if !errors.As(err, &fe) || fe.Step != StepOpenFolder || !fe.Placed || fe.Err.Error() != "injected" || fi == nil {
		t.Fatalf("err %v, fi %v", err, fi)
	}
	if err.Error() != "opening its folder to sync it: injected" {
		t.Errorf("message %q", err)
	}
}

// TestRemoveStale: temporary files older than the age are removed;
// younger ones (a writer at work) and other files stay.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-11 * time.Minute)
	for name, mtime := range map[string]time.Time{".adopt-1.tmp": old, ".adopt-2.tmp": time.Now(), "a.yaml": old, ".a[1].tmp-x": old, ".a1.tmp-x": old} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	RemoveStale(dir, ".adopt-*.tmp", 10*time.Minute)
	RemoveStale(dir, TempPattern(filepath.Join(dir, "a[1]")), 10*time.Minute)
	if n := names(t, dir); n != ".a1.tmp-x .adopt-2.tmp a.yaml" {
		t.Errorf("left %q", n)
	}
}

// TestInside: symbolic links are resolved where they exist, also for a
// path that does not exist yet.
func TestInside(t *testing.T) {
	root := t.TempDir()
	specs := filepath.Join(root, "specs")
	if err := os.MkdirAll(filepath.Join(specs, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(specs, "sub"), filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		want       bool
	}{
		{"itself", specs, true},
		{"below", filepath.Join(specs, "sub", "x"), true},
		{"through a link, missing file", filepath.Join(root, "link", "new", "state.json"), true},
		{"sibling with the prefix", filepath.Join(root, "specs2"), false},
		{"parent", root, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Inside(tc.path, specs); got != tc.want {
				t.Errorf("Inside(%s) = %v", tc.path, got)
			}
		})
	}
	if rel, ok := Rel(specs, filepath.Join(root, "link", "a")); !ok || rel != "sub/a" {
		t.Errorf("Rel = %q, %v", rel, ok)
	}
}
