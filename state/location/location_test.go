package location

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certform/certform/state"
)

// TestParse: a state file and a PostgreSQL URL each get their name and
// flags; --workspace with a state file is refused.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, state, workspace string
		wantName, wantFlags    string
		shared                 bool
		err                    string
	}{
		{name: "file", state: "s.json", wantName: "state file s.json", wantFlags: "--state s.json"},
		{name: "workspace with a file", state: "s.json", workspace: "web",
			err: "--workspace web: a workspace is part of a PostgreSQL state (--state postgres://...); a state file has none"},
		{name: "postgres", state: "postgres://u@127.0.0.1/db?sslmode=disable", workspace: "web", shared: true,
			wantFlags: "--state postgres://u@127.0.0.1/db?sslmode=disable --workspace web"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse(tc.state, tc.workspace)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Shared() != tc.shared || l.Flags() != tc.wantFlags || (tc.wantName != "" && l.Name() != tc.wantName) {
				t.Errorf("shared %v, flags %q, name %q", l.Shared(), l.Flags(), l.Name())
			}
			if (l.Backend() != nil) != tc.shared {
				t.Errorf("Backend %v", l.Backend())
			}
		})
	}
}

// TestFile_existsReadMoved: a state file not created yet does not exist
// and reads as an empty state; Moved names its absolute real path.
func TestFile_existsReadMoved(t *testing.T) {
	dir := t.TempDir()
	l := File(filepath.Join(dir, "s.json"))
	if ok, err := l.Exists(); ok || err != nil {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
	f, err := l.Read()
	if err != nil || len(f.Entries) != 0 {
		t.Fatalf("Read = %v, %v", f, err)
	}
	s, err := l.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Mutate(func(f *state.File) { f.APIURL = "https://www.digicert.com/services/v2" }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if ok, err := l.Exists(); !ok || err != nil {
		t.Fatalf("after a write, Exists = %v, %v", ok, err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := l.Moved(at)
	if m.To != "state file "+filepath.Join(real, "s.json") || m.Flags != "--state "+filepath.Join(real, "s.json") || !m.At.Equal(at) {
		t.Errorf("Moved = %+v", m)
	}
	if _, err := os.Stat(filepath.Join(dir, "s.json")); err != nil {
		t.Error(err)
	}
}
