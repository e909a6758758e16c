package spec

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// loadWithin runs LoadWith and fails the test, instead of hanging it, when
// the load does not return within a generous limit: a loader that opens a
// FIFO for reading blocks until a writer comes, which is forever.
func loadWithin(t *testing.T, dir string, cache *Cache) *Result {
	t.Helper()
	type answer struct {
		res *Result
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := LoadWith(dir, cache)
		done <- answer{res, err}
	}()
	select {
	case a := <-done:
		if a.err != nil {
			t.Fatal(a.err)
		}
		return a.res
	case <-time.After(10 * time.Second):
		t.Fatal("the load did not return within 10s: it is blocked opening a named pipe")
		return nil
	}
}

func mkfifo(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLoad_notRegularFiles checks that named pipes, sockets and folders
// where the loader expects a file are errors naming their kind, and that
// none of them blocks the load.
func TestLoad_notRegularFiles(t *testing.T) {
	good := "csr: |\n" + indent(makeCSR(t, "a.example.com"))
	base := "common_name: a.example.com\norganization_id: 1\n"
	dir := writeTree(t, map[string]string{
		"a.yaml":      "name: a\n" + base + "csr_file: pipe.csr\n",
		"b.yaml":      "name: b\n" + base + "csr_file: csrdir\n",
		"c.yaml":      "name: c\n" + base + "csr_file: sock.csr\n",
		"ok.yaml":     "name: ok\n" + base + good,
		"team/d.yaml": "name: d\n" + base + good,
		"csrdir/x":    "",
	})
	mkfifo(t, filepath.Join(dir, "pipe.csr"))
	mkfifo(t, filepath.Join(dir, "pipe.yaml"))
	mkfifo(t, filepath.Join(dir, "team", "defaults.yaml"))
	// A socket path must be short (108 bytes): listen from inside the tree.
	t.Chdir(dir)
	ln, err := net.Listen("unix", "sock.csr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })

	want := []string{
		`a.yaml:4:11: csr_file: "pipe.csr" is not a regular file (a named pipe); certform reads only regular files`,
		`b.yaml:4:11: csr_file: "csrdir" is not a regular file (a directory); certform reads only regular files`,
		`c.yaml:4:11: csr_file: "sock.csr" is not a regular file (a socket); certform reads only regular files`,
		"pipe.yaml:1:1: pipe.yaml is not a regular file (a named pipe); certform reads only regular files",
		`team/d.yaml:1:1: spec "d" not loaded: fix the errors in team/defaults.yaml first`,
		"team/defaults.yaml:1:1: defaults.yaml is not a regular file (a named pipe); certform reads only regular files",
	}
	for _, cache := range []*Cache{nil, NewCache()} {
		res := loadWithin(t, dir, cache)
		if diff := cmp.Diff(want, errorStrings(res.Errors)); diff != "" {
			t.Errorf("errors (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"ok"}, orderNames(res.Orders)); diff != "" {
			t.Errorf("valid (-want +got):\n%s", diff)
		}
		if res.Files != 5 {
			t.Errorf("Files = %d, want 5 (the regular spec files)", res.Files)
		}
	}
}

// TestReadFile_notRegular checks the loader's one way of reading a file on
// what may replace a spec file after the walk saw it: never blocks, never
// reads, says what it found.
func TestReadFile_notRegular(t *testing.T) {
	dir := writeTree(t, map[string]string{"real.yaml": "name: a\n", "folder/x": ""})
	mkfifo(t, filepath.Join(dir, "pipe.yaml"))
	if err := os.Symlink("real.yaml", filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	l := &loader{root: dir}
	tests := []struct {
		rel, want string
	}{
		{"pipe.yaml", "is not a regular file (a named pipe); certform reads only regular files"},
		{"folder", "is not a regular file (a directory); certform reads only regular files"},
		{"link.yaml", "is not a regular file (a symlink); certform reads only regular files"},
		{"gone.yaml", "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, _, err := l.readFile(tt.rel)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || err.Error() != tt.want {
					t.Errorf("got %v, want %q", err, tt.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("readFile blocked")
			}
		})
	}
	data, st, err := l.readFile("real.yaml")
	if err != nil || string(data) != "name: a\n" || st != statStamp(filepath.Join(dir, "real.yaml")) {
		t.Errorf("regular file: %q %v %v", data, st, err)
	}
}

func TestFileKind(t *testing.T) {
	tests := []struct {
		mode fs.FileMode
		want string
	}{
		{fs.ModeNamedPipe, "a named pipe"},
		{fs.ModeSocket, "a socket"},
		{fs.ModeDevice, "a device"},
		{fs.ModeDevice | fs.ModeCharDevice, "a device"},
		{fs.ModeDir, "a directory"},
		{fs.ModeSymlink, "a symlink"},
		{fs.ModeIrregular, "an irregular file"},
	}
	for _, tt := range tests {
		if got := fileKind(tt.mode); got != tt.want {
			t.Errorf("fileKind(%v) = %q, want %q", tt.mode, got, tt.want)
		}
	}
	var nr *notRegularError
	if !errors.As(error(&notRegularError{fs.ModeNamedPipe}), &nr) {
		t.Error("notRegularError does not match errors.As")
	}
}
