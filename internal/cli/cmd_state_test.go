package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certform/certform/internal/pgtest"
	"github.com/certform/certform/state"
	"github.com/certform/certform/state/pgstate"
)

// TestStateLocation_usage: a --state or --workspace that cannot work is a
// usage error (exit 2) that says why, before anything is opened or
// called, and never shows a password.
func TestStateLocation_usage(t *testing.T) {
	st := filepath.Join(t.TempDir(), "s.json")
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"workspace with a file", []string{"plan", "--dir", "examples", "--state", st, "--workspace", "web"},
			"certform plan: --workspace web: a workspace is part of a PostgreSQL state (--state postgres://...); a state file has none\n"},
		{"password in the URL", []string{"status", "--state", "postgres://u:s3cret@127.0.0.1/db?sslmode=disable"},
			"certform status: --state: the URL has a password; a password on the command line can be read by every user of the machine\n"},
		{"plain text to another host", []string{"apply", "--dir", "examples", "--state", "postgres://u@db.example.com/db"},
			"certform apply: --state postgres://u@db.example.com/db: the connection to db.example.com may be in plain text"},
		{"bad workspace", []string{"forget", "--state", "postgres://u@127.0.0.1/db?sslmode=disable", "--workspace", "../x", "a"},
			"certform forget: --workspace \"../x\": a workspace name is 1 to 63 letters"},
		{"run", []string{"run", "--dir", "examples", "--state", "postgres://u@db.example.com/db"},
			"certform run: --state postgres://u@db.example.com/db: the connection to db.example.com may be in plain text"},
		{"state without subcommand", []string{"state"}, "Usage:\n  certform state SUBCOMMAND [flags]\n\nSubcommands:\n  migrate"},
		{"state subcommand typo", []string{"state", "pul"}, "certform state: unknown subcommand \"pul\"; did you mean pull?\n"},
		{"migrate to itself", []string{"state", "migrate", "--from", st, "--to", st},
			"certform state migrate: --from and --to are the same state file " + st + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(tt.args...)
			if code != 2 || stdout != "" || !strings.HasPrefix(stderr, tt.stderr) {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and stderr starting:\n%s", code, stdout, stderr, tt.stderr)
			}
			if strings.Contains(stderr, "s3cret") {
				t.Errorf("stderr shows the password: %s", stderr)
			}
		})
	}
}

// TestStoreGate: the client's check before each call proves the lock of a
// PostgreSQL state in the database, and fails once the session that holds
// it is gone; a state file's is not checked per call.
func TestStoreGate(t *testing.T) {
	var g storeGate
	if err := g.check(); err != nil {
		t.Fatalf("no store yet: %v", err)
	}
	file, err := state.Open(filepath.Join(t.TempDir(), "s.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	g.set(file)
	if err := g.check(); err != nil {
		t.Fatalf("state file: %v", err)
	}
	srv := pgtest.Shared(t)
	t.Setenv("PGPASSWORD", srv.Password)
	url := srv.CreateDatabase(t)
	cfg, err := pgstate.Parse(url, "")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := state.OpenBackend(pgstate.New(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	g.set(pg)
	if err := g.check(); err != nil {
		t.Fatalf("PostgreSQL, lock held: %v", err)
	}
	srv.Exec(t, dbName(url), `SELECT pg_terminate_backend($1, 10000)`, lockHolderPID(t, srv, url))
	if err := g.check(); !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("PostgreSQL, session ended: %v, want ErrLockLost", err)
	}
	// Once lost, it stays lost (no query needed) until the lock is taken
	// again.
	if err := g.check(); !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("second check: %v", err)
	}
}

// TestStatus_missingState: status on a state file that does not exist (a
// mistyped --state) is an error naming the path, exit 1, not an empty list;
// one that exists and is empty still says it tracks no orders.
func TestStatus_missingState(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "sate.json")
	for _, args := range [][]string{{"status", "--state", missing}, {"status", "--state", missing, "--json"}} {
		code, stdout, stderr := runCLI(args...)
		want := "certform status: state file " + missing + " does not exist\n" +
			"hint: check --state (and the directory it runs in, for a relative path); certform creates a state file on the first apply, import or run\n"
		if code != 1 || stdout != "" || stderr != want {
			t.Errorf("%v: exit %d\nstdout %q\nstderr:\n%s\nwant exit 1 and:\n%s", args, code, stdout, stderr, want)
		}
	}
	st := filepath.Join(dir, "state.json")
	s, err := state.Open(st)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	code, stdout, stderr := runCLI("status", "--state", st)
	if want := "The state file " + st + " tracks no orders.\n"; code != 0 || stdout != want {
		t.Errorf("empty state: exit %d\n%s%s\nwant: %s", code, stdout, stderr, want)
	}
}

// TestLockingCommands_hardLink: a command that locks the state refuses a
// state file with a second hard link under either name, with the message
// naming both and a hint, and changes nothing.
func TestLockingCommands_hardLink(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "state.json")
	s, err := state.Open(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update("a", func(e *state.Entry) bool { e.OrderID = 7; return true }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	link := filepath.Join(dir, "link.json")
	if err := os.Link(st, link); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, other string }{{link, st}, {st, link}} {
		code, stdout, stderr := runCLI("forget", "--state", tt.path, "a")
		want := fmt.Sprintf("certform forget: state file %s has 2 hard links (another hard link, %s): certform locks a state file by its name (%s.lock), "+
			"so a certform using the other name would act on the same state beside this one; certform will not use it\n"+
			"hint: keep one name for the state: remove the other hard link, and point every certform at this path "+
			"(a symlink is resolved before locking, so it may stand for another name)\n", tt.path, tt.other, tt.path)
		if code != 1 || stdout != "" || stderr != want {
			t.Errorf("forget --state %s: exit %d\nstdout %q\nstderr:\n%s\nwant:\n%s", tt.path, code, stdout, stderr, want)
		}
	}
	if after, err := os.ReadFile(st); err != nil || string(after) != string(before) {
		t.Errorf("the state changed: %v\n%s", err, after)
	}
}
