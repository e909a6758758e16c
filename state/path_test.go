package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// realTempDir is t.TempDir with its own symlinks (if any) resolved, so that
// tests can compare against real paths.
func realTempDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestRealPath(t *testing.T) {
	root := realTempDir(t)
	real := filepath.Join(root, "real")
	if err := os.MkdirAll(filepath.Join(real, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(real, "state.json"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, "real/state.json", filepath.Join(root, "link.json"))
	mustSymlink(t, "real", filepath.Join(root, "dirlink"))
	mustSymlink(t, filepath.Join(real, "sub"), filepath.Join(root, "deep"))
	mustSymlink(t, "real/later.json", filepath.Join(root, "dangling.json"))
	mustSymlink(t, filepath.Join(root, "nowhere", "x.json"), filepath.Join(root, "far.json"))
	mustSymlink(t, "chain2", filepath.Join(root, "chain1"))
	mustSymlink(t, "link.json", filepath.Join(root, "chain2"))
	mustSymlink(t, "../state.json", filepath.Join(real, "sub", "up.json"))
	t.Chdir(root)
	tests := []struct {
		name, path, want string
	}{
		{"plain file", filepath.Join(real, "state.json"), filepath.Join(real, "state.json")},
		{"missing file", filepath.Join(real, "new.json"), filepath.Join(real, "new.json")},
		{"missing folders", filepath.Join(root, "a", "b", "c.json"), filepath.Join(root, "a", "b", "c.json")},
		{"symlinked file", filepath.Join(root, "link.json"), filepath.Join(real, "state.json")},
		{"symlinked folder", filepath.Join(root, "dirlink", "state.json"), filepath.Join(real, "state.json")},
		{"dangling link", filepath.Join(root, "dangling.json"), filepath.Join(real, "later.json")},
		{"dangling link into a missing folder", filepath.Join(root, "far.json"), filepath.Join(root, "nowhere", "x.json")},
		{"chain of links", filepath.Join(root, "chain1"), filepath.Join(real, "state.json")},
		{"relative link text is read from the link's folder", filepath.Join(root, "deep", "up.json"), filepath.Join(real, "state.json")},
		{"dot-dot after a symlinked folder is physical", root + "/deep/../new.json", filepath.Join(real, "new.json")},
		{"relative path", "link.json", filepath.Join(real, "state.json")},
		{"relative path through a folder link", "dirlink/../real/./state.json", filepath.Join(real, "state.json")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RealPath(tt.path)
			if err != nil || got != tt.want {
				t.Errorf("RealPath(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
			}
		})
	}
}

func TestRealPath_errors(t *testing.T) {
	root := realTempDir(t)
	mustSymlink(t, "loop2", filepath.Join(root, "loop1"))
	mustSymlink(t, "loop1", filepath.Join(root, "loop2"))
	mustSymlink(t, ".", filepath.Join(root, "self"))
	mustSymlink(t, "loopdir", filepath.Join(root, "loopdir"))
	tests := []struct {
		name, path, want string
	}{
		{"loop", filepath.Join(root, "loop1"),
			"state file " + root + "/loop1: its path has a symlink loop (gave up after following 40 symlinks)"},
		{"loop in a folder", filepath.Join(root, "loopdir", "state.json"),
			"state file " + root + "/loopdir/state.json: its path has a symlink loop (gave up after following 40 symlinks)"},
		{"empty", "", "state file path is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := RealPath(tt.path); err == nil || err.Error() != tt.want {
				t.Errorf("RealPath: %v\nwant %s", err, tt.want)
			}
			if _, err := Open(tt.path); err == nil || err.Error() != tt.want {
				t.Errorf("Open: %v\nwant %s", err, tt.want)
			}
			if _, err := Read(tt.path); err == nil || err.Error() != tt.want {
				t.Errorf("Read: %v\nwant %s", err, tt.want)
			}
			if err := CheckMissing(tt.path); err == nil || err.Error() != tt.want {
				t.Errorf("CheckMissing: %v\nwant %s", err, tt.want)
			}
		})
	}
	// A long chain that is not a loop resolves.
	prev := "end.json"
	for i := range 40 {
		name := fmt.Sprintf("c%02d", i)
		mustSymlink(t, prev, filepath.Join(root, name))
		prev = name
	}
	if got, err := RealPath(filepath.Join(root, prev)); err != nil || got != filepath.Join(root, "end.json") {
		t.Errorf("40 links: %q, %v", got, err)
	}
}

func TestOpen_throughSymlink(t *testing.T) {
	for _, linkFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("link first %v", linkFirst), func(t *testing.T) {
			root := realTempDir(t)
			real := filepath.Join(root, "data", "state.json")
			link := filepath.Join(root, "state.json")
			// The link exists before its target and its target's folder.
			mustSymlink(t, "data/state.json", link)
			first, second := link, real
			if !linkFirst {
				first, second = real, link
			}
			s, err := Open(first)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Path() != real {
				t.Errorf("Path() = %s, want %s", s.Path(), real)
			}
			_, err = Open(second)
			want := fmt.Sprintf("state file %s is in use by another certform process (pid %d)", real, os.Getpid())
			if !errors.Is(err, ErrLocked) || err.Error() != want {
				t.Errorf("second Open: %v\nwant %s", err, want)
			}
			if _, err := AcquireLock(second); !errors.Is(err, ErrLocked) {
				t.Errorf("AcquireLock: %v", err)
			}
			for i := range 3 {
				if err := s.Update("shop", func(e *Entry) bool { e.OrderID = i + 1; return true }); err != nil {
					t.Fatal(err)
				}
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("the symlink is no longer one: %v, %v", fi, err)
			}
			if target, _ := os.Readlink(link); target != "data/state.json" {
				t.Errorf("symlink now points at %q", target)
			}
			for _, p := range []string{link, real} {
				f, err := Read(p)
				if err != nil || f.Entries["shop"] == nil || f.Entries["shop"].OrderID != 3 {
					t.Errorf("Read(%s): %+v, %v", p, f, err)
				}
				if err := CheckMissing(p); err != nil {
					t.Errorf("CheckMissing(%s): %v", p, err)
				}
			}
			if _, err := os.Stat(LockPath(link)); !os.IsNotExist(err) {
				t.Errorf("a lock file next to the link: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := Open(second)
			if err != nil {
				t.Fatalf("after Close: %v", err)
			}
			s2.Close()
		})
	}
}
