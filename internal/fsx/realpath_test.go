package fsx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRealPath_danglingLast: RealPath follows a last symlink to a target
// that does not exist yet; RealPrefix stops at it (a write there replaces
// the link), and at a loop, where RealPath fails.
func TestRealPath_danglingLast(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"state.json": "data/real.json", "loop1": "loop2", "loop2": "loop1"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(root, "state.json")
	if got, err := RealPath(link); err != nil || got != filepath.Join(root, "data", "real.json") {
		t.Errorf("RealPath = %q, %v", got, err)
	}
	if got := RealPrefix(link); got != link {
		t.Errorf("RealPrefix = %q, want the link itself", got)
	}
	loop := filepath.Join(root, "loop1", "x")
	if _, err := RealPath(loop); err == nil || !strings.Contains(err.Error(), "symlink loop (gave up after following 40 symlinks)") {
		t.Errorf("RealPath of a loop: %v", err)
	}
	if got := RealPrefix(loop); got != loop {
		t.Errorf("RealPrefix of a loop = %q", got)
	}
	if _, err := RealPath(""); err == nil {
		t.Error("RealPath of an empty path: no error")
	}
}
