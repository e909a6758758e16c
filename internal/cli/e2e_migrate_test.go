package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/state/pgstate"
)

// movedRefusals runs every command that reads or locks a state on src,
// which state migrate moved to the state flags name, and checks that each
// refuses with exit 1, the moved message (srcName was moved to toName) and
// the hint, and that CertCentral got no call.
func movedRefusals(t *testing.T, fake *digicerttest.Server, env []string, dir, src, srcName, toName, flags string, at time.Time, extra ...string) {
	t.Helper()
	fake.ResetRequests()
	state := append([]string{"--state", src}, extra...)
	cmds := [][]string{
		append([]string{"plan", "--dir", dir}, state...),
		append([]string{"plan", "--dir", dir, "--refresh"}, state...),
		append([]string{"apply", "--dir", dir}, state...),
		append([]string{"run", "--once", "--dir", dir}, state...),
		append([]string{"status"}, state...),
		append(append([]string{"import", "--dir", dir}, state...), "host00", "100001"),
		append(append([]string{"forget"}, state...), "host00"),
		append([]string{"adopt", "--dir", dir, "--out", filepath.Join(t.TempDir(), "adopted")}, state...),
		append([]string{"state", "pull"}, state...),
	}
	again := []string{"state", "migrate", "--from", src, "--to", filepath.Join(t.TempDir(), "again.json")}
	if len(extra) > 0 {
		again = append(again, "--from-workspace", extra[1])
	}
	cmds = append(cmds, again)
	msg := fmt.Sprintf("%s was moved to %s on %s (certform state migrate); it is kept only as a record, and no certform command uses it\n"+
		"hint: point every certform at the new state (%s), and stop any certform still started with this one\n", srcName, toName, at.UTC().Format(time.RFC3339), flags)
	for _, args := range cmds {
		code, stdout, stderr := runBinary(t, env, args...)
		name := args[0]
		if name == "state" {
			name += " " + args[1]
		}
		if want := "certform " + name + ": " + msg; code != 1 || stdout != "" || stderr != want {
			t.Errorf("%s: exit %d\nstdout %q\nstderr:\n%s\nwant exit 1 and:\n%s", strings.Join(args, " "), code, stdout, stderr, want)
		}
	}
	if calls := fake.Calls(); len(calls) != 0 {
		t.Errorf("calls on a moved state: %v", calls)
	}
}

// TestMigrate_marksSource: after state migrate between two state files,
// the source is marked as moved, naming the target (its absolute path) and
// when; every command on it refuses with that name, exit 1; the target is
// the live state.
func TestMigrate_marksSource(t *testing.T) {
	fake, env, dir, st := appliedSpecs(t, 2)
	to := filepath.Join(t.TempDir(), "new.json")
	code, stdout, stderr := runBinary(t, env, "state", "migrate", "--from", st, "--to", to)
	want := fmt.Sprintf("Copied 2 entries and 0 revocation records from state file %s to state file %s, and read them back: the same state.\n"+
		"Point every certform at the new state now (--state %s); the old one is marked as moved there, and every command on it refuses.\n", st, to, to)
	if code != 0 || stdout != want {
		t.Fatalf("migrate: exit %d\n%s%s\nwant:\n%s", code, stdout, stderr, want)
	}
	f := loadStateFile(t, st)
	if f.Moved == nil || f.Moved.To != "state file "+to || f.Moved.Flags != "--state "+to || time.Since(f.Moved.At) > time.Minute {
		t.Fatalf("the source's mark: %+v", f.Moved)
	}
	if len(f.Entries) != 2 {
		t.Errorf("the source keeps its entries as a record: %d", len(f.Entries))
	}
	if g := loadStateFile(t, to); g.Moved != nil || len(g.Entries) != 2 {
		t.Errorf("the target: moved %+v, %d entries", g.Moved, len(g.Entries))
	}
	movedRefusals(t, fake, env, dir, st, "state file "+st, "state file "+to, "--state "+to, f.Moved.At)
	// The new state is the live one: nothing to do, the feed read once.
	fake.ResetRequests()
	if code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", to, "--detailed-exitcode"); code != 0 || len(fake.Calls()) != 1 {
		t.Errorf("apply on the new state: exit %d, calls %v\n%s%s", code, fake.Calls(), stdout, stderr)
	}
}

// TestPG_migrateMarksSource: state file -> PostgreSQL marks the file as
// moved, naming the workspace and its URL without the user; PostgreSQL ->
// state file marks the workspace; every command on either refuses.
func TestPG_migrateMarksSource(t *testing.T) {
	fake, env, dir, st := appliedSpecs(t, 2)
	_, url, env := pgState(t, env)
	if !strings.Contains(url, "@") {
		t.Fatalf("the test database's URL %s names no user: the test would not show it left out", url)
	}
	cfg, err := pgstate.Parse(url, "")
	if err != nil {
		t.Fatal(err)
	}
	public := cfg.PublicURL()
	if strings.Contains(public, "@") || !strings.HasPrefix(public, "postgres://127.0.0.1:") {
		t.Fatalf("PublicURL %s", public)
	}
	if code, stdout, stderr := runBinary(t, env, "state", "migrate", "--from", st, "--to", url); code != 0 {
		t.Fatalf("migrate to PostgreSQL: exit %d\n%s%s", code, stdout, stderr)
	}
	f := loadStateFile(t, st)
	pgName := "PostgreSQL workspace default at " + public
	pgFlags := "--state " + public + " --workspace default"
	if f.Moved == nil || f.Moved.To != pgName || f.Moved.Flags != pgFlags {
		t.Fatalf("the file's mark: %+v, want %s (%s)", f.Moved, pgName, pgFlags)
	}
	movedRefusals(t, fake, env, dir, st, "state file "+st, pgName, pgFlags, f.Moved.At)

	back := filepath.Join(t.TempDir(), "back.json")
	if code, stdout, stderr := runBinary(t, env, "state", "migrate", "--from", url, "--to", back); code != 0 {
		t.Fatalf("migrate back: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr := runBinary(t, env, "state", "pull", "--state", url)
	prefix := fmt.Sprintf("certform state pull: PostgreSQL workspace default at %s was moved to state file %s on ", url, back)
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, prefix) {
		t.Fatalf("state pull of the moved workspace: exit %d\n%s%s\nwant it to start %q", code, stdout, stderr, prefix)
	}
	at, err := time.Parse(time.RFC3339, strings.Fields(strings.TrimPrefix(stderr, prefix))[0])
	if err != nil {
		t.Fatal(err)
	}
	movedRefusals(t, fake, env, dir, url, "PostgreSQL workspace default at "+url, "state file "+back, "--state "+back, at)
	// The file the state came back to is live, and marks nothing.
	if g := loadStateFile(t, back); g.Moved != nil || len(g.Entries) != 2 {
		t.Errorf("the state back in a file: moved %+v, %d entries", g.Moved, len(g.Entries))
	}
}
