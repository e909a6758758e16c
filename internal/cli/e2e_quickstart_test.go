package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReadme_quickStartOnFreshClone: README's quick start, run on a fresh
// clone of the repository (what is committed, nothing of this checkout's
// build): its first command is make demo; the clone builds with make, and
// the demo's own command line (the Makefile's demo recipe) runs one cycle
// (--once: the demo itself runs until Ctrl-C) with every call done.
func TestReadme_quickStartOnFreshClone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds certform in a fresh clone")
	}
	for _, tool := range []string{"git", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, quick, _ := strings.Cut(string(readme), "## Quick start\n")
	_, block, _ := strings.Cut(quick, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	if first, _, _ := strings.Cut(block, "\n"); !strings.HasPrefix(first, "make demo ") {
		t.Fatalf("README's quick start does not start with make demo:\n%s", block)
	}
	clone := filepath.Join(t.TempDir(), "certform")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = clone
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out, err := exec.CommandContext(ctx, "git", "clone", "-q", ".", clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	mk, err := os.ReadFile(filepath.Join(clone, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^demo: build\n\t(\./bin/certform run --dev [^\n]*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("the Makefile has no demo recipe of the form ./bin/certform run --dev ...")
	}
	run("make", "build")
	out := run("/bin/sh", "-c", string(m[1])+" --once")
	if !regexp.MustCompile(`msg="cycle done" cycle=1 .* planned=6 done=6 failed=0 `).MatchString(out) {
		t.Errorf("the demo's cycle:\n%s", out)
	}
}
