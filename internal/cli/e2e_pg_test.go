package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/internal/pgtest"
)

// pgState returns a --state URL for a fresh database of the test binary's
// PostgreSQL server, and env with the password added (PGPASSWORD).
func pgState(t testing.TB, env []string) (*pgtest.Server, string, []string) {
	t.Helper()
	srv := pgtest.Shared(t)
	return srv, srv.CreateDatabase(t), append(append([]string{}, env...), srv.Env()...)
}

// dbName is the database of a pgtest URL.
func dbName(url string) string {
	return strings.TrimPrefix(url[strings.LastIndex(url, "/"):strings.Index(url, "?")], "/")
}

// lockHolderPID returns the server process of the session that holds the
// workspace's lock, or 0 when none does.
func lockHolderPID(t *testing.T, srv *pgtest.Server, url string) int32 {
	t.Helper()
	var pid int32
	// Every test database's first workspace has id 1: only this
	// database's lock counts.
	err := srv.Conn(t, dbName(url)).QueryRow(context.Background(), `SELECT coalesce(max(l.pid), 0) FROM pg_locks l
		JOIN certform.workspaces w ON l.objid::bigint = w.id WHERE l.locktype = 'advisory' AND l.granted AND w.name = 'default'
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND l.classid::bigint = $1 AND l.objsubid = 2`,
		int64(0x63657266)).Scan(&pid)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestPG_roundTrip: apply with a PostgreSQL state, apply again (nothing
// to call but the feed), and plan from another process (no call at all):
// the state lives in the database, not in a process.
func TestPG_roundTrip(t *testing.T) {
	fake, env := startFake(t)
	srv, url, env := pgState(t, env)
	dir := t.TempDir()
	writeSpecs(t, dir, 3)
	// A workspace not created yet (a mistyped --workspace) is an error.
	code, stdout, stderr := runBinary(t, env, "status", "--state", url, "--workspace", "empty")
	want := fmt.Sprintf("certform status: PostgreSQL workspace empty at %s does not exist\n"+
		"hint: check --state and --workspace; certform creates a workspace on the first apply, import or run\n", url)
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("status of a new workspace: exit %d\n%s%s\nwant: %s", code, stdout, stderr, want)
	}
	if code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", url); code != 0 {
		t.Fatalf("first apply: exit %d\n%s%s", code, stdout, stderr)
	}
	if n := len(fake.Orders()); n != 3 {
		t.Fatalf("%d orders after the first apply, want 3", n)
	}
	// The second apply reads each new order's certificate once.
	if code, _, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", url); code != 0 {
		t.Fatalf("second apply: exit %d\n%s", code, stderr)
	}
	fake.ResetRequests()
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", url, "--detailed-exitcode")
	if code != 0 {
		t.Fatalf("third apply: exit %d\n%s%s", code, stdout, stderr)
	}
	if calls, feeds := withoutFeed(fake); len(calls) != 0 || feeds != 1 {
		t.Errorf("third apply made %v and %d feed reads, want only one feed read", calls, feeds)
	}
	fake.ResetRequests()
	// CI: plan from another process, without the API key, reads the live
	// state and plans nothing.
	code, stdout, stderr = runBinary(t, env[1:], "plan", "--dir", dir, "--state", url, "--detailed-exitcode")
	if code != 0 || len(fake.Calls()) != 0 {
		t.Errorf("plan: exit %d, calls %v\n%s%s", code, fake.Calls(), stdout, stderr)
	}
	// CI's role may only read: plan works, apply is refused.
	db := dbName(url)
	srv.Exec(t, db, fmt.Sprintf(`CREATE ROLE ci_%[1]s LOGIN PASSWORD 'ci-secret'; GRANT USAGE ON SCHEMA certform TO ci_%[1]s;
		GRANT SELECT ON ALL TABLES IN SCHEMA certform TO ci_%[1]s`, db))
	ciURL := strings.Replace(url, srv.User+"@", "ci_"+db+"@", 1)
	ciEnv := []string{"PGPASSWORD=ci-secret"}
	code, stdout, stderr = runBinary(t, ciEnv, "plan", "--dir", dir, "--state", ciURL, "--detailed-exitcode")
	if code != 0 || len(fake.Calls()) != 0 {
		t.Errorf("plan with a read-only role: exit %d, calls %v\n%s%s", code, fake.Calls(), stdout, stderr)
	}
	code, _, stderr = runBinary(t, append(ciEnv, env[:2]...), "apply", "--dir", dir, "--state", ciURL)
	if code != 1 || !strings.Contains(stderr, "permission denied") || len(fake.Calls()) != 0 {
		t.Errorf("apply with a read-only role: exit %d, calls %v\n%s", code, fake.Calls(), stderr)
	}
	code, stdout, stderr = runBinary(t, env[1:], "status", "--state", url)
	for i := range 3 {
		if !strings.Contains(stdout, fmt.Sprintf("host%02d", i)) {
			t.Errorf("status does not list host%02d: exit %d\n%s%s", i, code, stdout, stderr)
		}
	}
	// The state pulled from the database is the file format, with the
	// three orders the fake holds.
	code, pulled, stderr := runBinary(t, env[1:], "state", "pull", "--state", url)
	if code != 0 {
		t.Fatalf("state pull: exit %d\n%s", code, stderr)
	}
	st := filepath.Join(t.TempDir(), "pulled.json")
	if err := os.WriteFile(st, []byte(pulled), 0o600); err != nil {
		t.Fatal(err)
	}
	f := loadStateFile(t, st)
	if got := f.Names(); !cmp.Equal(got, []string{"host00", "host01", "host02"}) {
		t.Errorf("pulled state names %v", got)
	}
	for _, o := range fake.Orders() {
		if e := f.Entries[strings.TrimSuffix(o.CommonName, ".example.com")]; e == nil || e.OrderID != o.ID {
			t.Errorf("order %d (%s) is not in the pulled state: %+v", o.ID, o.CommonName, e)
		}
	}
}

// TestPG_applyRefusedWhileDaemonHolds: a daemon holds the workspace's
// lock; apply fails at once, naming the holder, and calls nothing.
func TestPG_applyRefusedWhileDaemonHolds(t *testing.T) {
	fake, env := startFake(t)
	_, url, env := pgState(t, env)
	dir := t.TempDir()
	writeSpecs(t, dir, 1)
	d := startDaemon(t, env, "--dir", dir, "--state", url, "--schedule", "@every 1h")
	d.waitFor("the start cycle", 1, cycleDoneWith("start"))
	fake.ResetRequests()
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", url)
	host, _ := os.Hostname()
	want := fmt.Sprintf("certform apply: PostgreSQL workspace default at %s is in use by another certform process (certform on %s pid %d, since ", url, host, d.cmd.Process.Pid)
	if code != 1 || !strings.HasPrefix(stderr, want) {
		t.Errorf("apply: exit %d, stderr:\n%s\nwant it to start:\n%s", code, stderr, want)
	}
	if stdout != "" || len(fake.Calls()) != 0 {
		t.Errorf("apply printed %q and made calls %v", stdout, fake.Calls())
	}
	// forget and import are refused alike; status reads without the lock.
	if code, _, stderr := runBinary(t, env, "forget", "--state", url, "host00"); code != 1 || !strings.Contains(stderr, "is in use by another certform process") {
		t.Errorf("forget: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runBinary(t, env, "import", "--dir", dir, "--state", url, "host00", "100001"); code != 1 || !strings.Contains(stderr, "is in use by another certform process") || len(fake.Calls()) != 0 {
		t.Errorf("import: exit %d, calls %v\n%s", code, fake.Calls(), stderr)
	}
	if code, stdout, stderr := runBinary(t, env, "status", "--state", url); code != 0 || !strings.Contains(stdout, "host00") {
		t.Errorf("status: exit %d\n%s%s", code, stdout, stderr)
	}
}

// daemonPair starts two daemons on one workspace: the first to take the
// lock acts, the other stands by. It returns them active first.
func daemonPair(t *testing.T, env []string, dir, url string) (active, standby *daemonProc) {
	t.Helper()
	args := []string{"--dir", dir, "--state", url, "--schedule", "@every 1h", "--listen", "127.0.0.1:0", "--resend-after", "1s", "--retry-backoff", "1s"}
	a := startDaemon(t, env, args...)
	a.waitFor("the first daemon to start", 1, msg("certform run started"))
	b := startDaemon(t, env, args...)
	b.waitFor("the second daemon to stand by", 1, msg("standing by"))
	if code, body := b.get("/healthz"); code != 200 || !strings.Contains(body, `"status":"standby"`) || !strings.Contains(body, "is in use by another certform process (certform on ") {
		t.Errorf("standby /healthz: %d %q", code, body)
	}
	if _, body := b.get("/metrics"); !strings.Contains(body, "\ncertform_leader 0\n") {
		t.Errorf("standby metrics lack certform_leader 0:\n%s", body)
	}
	return a, b
}

// pairMidApply starts two daemons on one workspace over 20 specs and a
// CertCentral that answers after 300 ms, and returns once the active one
// has placed 4 orders (30 s at most): it is in the middle of its orders.
func pairMidApply(t *testing.T) (fake *digicerttest.Server, srv *pgtest.Server, url string, active, standby *daemonProc) {
	t.Helper()
	fake, env := startFake(t, digicerttest.WithLatency(300*time.Millisecond))
	srv, url, env = pgState(t, env)
	dir := t.TempDir()
	writeSpecs(t, dir, 20)
	active, standby = daemonPair(t, env, dir, url)
	deadline := time.Now().Add(30 * time.Second)
	for len(fake.Orders()) < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return fake, srv, url, active, standby
}

// finishOrders makes the new leader d reconcile (SIGHUP, once a second)
// until the fake holds n orders, 60 s at most: a call the former leader
// had in flight may end as an intent whose outcome a later cycle settles.
func finishOrders(d *daemonProc, fake *digicerttest.Server, n int) {
	deadline := time.Now().Add(60 * time.Second)
	for len(fake.Orders()) < n && time.Now().Before(deadline) {
		d.signal(syscall.SIGHUP)
		time.Sleep(time.Second)
	}
}

// TestPG_failoverKill: two daemons, 20 specs and a slow CertCentral; the
// active one is killed (kill -9) while it orders. The standby takes over
// within 15 seconds and every spec ends with exactly one order.
func TestPG_failoverKill(t *testing.T) {
	fake, _, _, a, b := pairMidApply(t)
	if n := len(fake.Orders()); n < 4 || n >= 20 {
		t.Fatalf("%d orders when the active daemon was to be killed mid-apply", n)
	}
	killed := time.Now()
	a.cmd.Process.Kill()
	b.waitFor("the standby to take over", 1, msg("took over"))
	took := time.Since(killed)
	if took > 15*time.Second {
		t.Errorf("the standby took over %v after the kill, want within 15s", took)
	}
	t.Logf("failover: the standby took over %v after kill -9", took.Round(time.Millisecond))
	b.waitFor("the takeover cycle", 1, cycleDoneWith("takeover"))
	finishOrders(b, fake, 20)
	if n, m := len(fake.Orders()), maxOrdersPerName(fake); n != 20 || m != 1 {
		t.Fatalf("%d orders, at most %d per name; want 20 and 1\n%s", n, m, b.logs())
	}
	if _, body := b.get("/metrics"); !strings.Contains(body, "\ncertform_leader 1\n") {
		t.Errorf("the new leader's metrics lack certform_leader 1")
	}
}

// TestPG_pausedLeaderFenced: the active daemon is paused (SIGSTOP) in the
// middle of its orders and its database session is ended, as a network
// partition would; the standby takes over and finishes. Resumed (SIGCONT),
// the former leader makes no call: it finds its lock lost and stands by.
func TestPG_pausedLeaderFenced(t *testing.T) {
	fake, srv, url, a, b := pairMidApply(t)
	a.signal(syscall.SIGSTOP)
	pid := lockHolderPID(t, srv, url)
	if pid == 0 {
		t.Fatal("no session holds the workspace's lock")
	}
	srv.Exec(t, dbName(url), `SELECT pg_terminate_backend($1, 10000)`, pid)
	b.waitFor("the standby to take over", 1, msg("took over"))
	finishOrders(b, fake, 20)
	b.waitFor("the new leader's cycles", 1, cycleDone)
	if n, m := len(fake.Orders()), maxOrdersPerName(fake); n != 20 || m != 1 {
		t.Fatalf("%d orders, at most %d per name; want 20 and 1\n%s", n, m, b.logs())
	}
	// The new leader is paused in turn, so that every call the fake gets
	// from now on is the former leader's.
	b.signal(syscall.SIGSTOP)
	defer b.signal(syscall.SIGCONT)
	fake.WaitIdle(10 * time.Second)
	fake.ResetRequests()
	a.signal(syscall.SIGCONT)
	a.waitFor("the resumed leader to stand by", 1, msg("lock lost: standing by"))
	a.waitFor("the resumed leader to stand by", 1, msg("standing by"))
	// Its calls in flight when it was paused had reached the fake before;
	// nothing after it resumed.
	if calls := fake.Calls(); len(calls) != 0 {
		t.Errorf("calls after the former leader resumed: %v\n%s", calls, a.logs())
	}
	if code, body := a.get("/healthz"); code != 200 || !strings.Contains(body, `"status":"standby"`) {
		t.Errorf("former leader /healthz: %d %q", code, body)
	}
	if n, m := len(fake.Orders()), maxOrdersPerName(fake); n != 20 || m != 1 {
		t.Errorf("%d orders, at most %d per name; want 20 and 1", n, m)
	}
}

// TestPG_migrateRoundTrip: file -> PostgreSQL -> another workspace -> file
// gives the same state; each source is marked as moved (migrating from it
// again is refused), and a target that is not empty is refused.
func TestPG_migrateRoundTrip(t *testing.T) {
	_, env, dir, st := appliedSpecs(t, 3)
	_, url, env := pgState(t, env)
	orig, err := os.ReadFile(st)
	if err != nil {
		t.Fatal(err)
	}
	// A plain copy of the state, never migrated: a source for the
	// non-empty target below.
	copied := filepath.Join(t.TempDir(), "copied.json")
	if err := os.WriteFile(copied, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runBinary(t, env, "state", "migrate", "--from", st, "--to", url)
	want := fmt.Sprintf("Copied 3 entries and 0 revocation records from state file %s to PostgreSQL workspace default at %s, and read them back: the same state.\n", st, url)
	if code != 0 || !strings.HasPrefix(stdout, want) {
		t.Fatalf("migrate to PostgreSQL: exit %d\n%s%s\nwant:\n%s", code, stdout, stderr, want)
	}
	// The source is marked as moved: migrating from it again is refused.
	code, _, stderr = runBinary(t, env, "state", "migrate", "--from", st, "--to", url)
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf("state file %s was moved to PostgreSQL workspace default at ", st)) {
		t.Errorf("migrate from the moved file again: exit %d\n%s", code, stderr)
	}
	// Between two workspaces of one database: the copy is the same state.
	code, stdout, stderr = runBinary(t, env, "state", "migrate", "--from", url, "--to", url, "--to-workspace", "copy")
	if want := fmt.Sprintf("Point every certform at the new state now (--state %s --workspace copy)", url); code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("migrate between workspaces: exit %d\n%s%s\nwant: %s", code, stdout, stderr, want)
	}
	back := filepath.Join(t.TempDir(), "back.json")
	if code, stdout, stderr := runBinary(t, env, "state", "migrate", "--from", url, "--from-workspace", "copy", "--to", back); code != 0 {
		t.Fatalf("migrate back: exit %d\n%s%s", code, stdout, stderr)
	}
	got, err := os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(orig), string(got)); diff != "" {
		t.Errorf("file -> PostgreSQL -> workspace copy -> file (-want +got):\n%s", diff)
	}
	code, _, stderr = runBinary(t, env, "state", "migrate", "--from", copied, "--to", back)
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf("state file %s is not empty: it holds 3 entries and 0 revocation records; nothing was copied", back)) {
		t.Errorf("migrate into a non-empty state: exit %d\n%s", code, stderr)
	}
	// The migrated state is the live one: plan from it has nothing to do.
	if code, stdout, stderr := runBinary(t, env, "plan", "--dir", dir, "--state", back, "--detailed-exitcode"); code != 0 {
		t.Errorf("plan from the migrated state: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestPG_runWaitsForDatabase: a daemon whose database cannot be reached
// at start stands by (it does not exit and wait for a restart), and takes
// over once the database is back.
func TestPG_runWaitsForDatabase(t *testing.T) {
	fake, env := startFake(t)
	srv := pgtest.Start(t)
	url := srv.CreateDatabase(t)
	env = append(env, srv.Env()...)
	srv.Stop(t)
	dir := t.TempDir()
	writeSpecs(t, dir, 2)
	d := startDaemon(t, env, "--dir", dir, "--state", url, "--schedule", "@every 1h", "--listen", "127.0.0.1:0")
	d.waitFor("the daemon to wait for its database", 1, msg("the database cannot be reached: standing by until it can"))
	d.waitFor("the daemon to stand by", 1, msg("standing by"))
	if code, body := d.get("/healthz"); code != 200 || !strings.Contains(body, `"status":"standby"`) || !strings.Contains(body, "connecting:") {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if n := len(fake.Calls()); n != 0 {
		t.Fatalf("%d calls while the database was down", n)
	}
	srv.Restart(t)
	d.waitFor("the takeover", 1, msg("took over"))
	d.waitFor("the takeover cycle", 1, cycleDoneWith("takeover"))
	if n := len(fake.Orders()); n != 2 {
		t.Errorf("%d orders after the takeover, want 2", n)
	}
}

// TestPG_unreachable: a database that does not answer stops apply at once
// with the reason and what to check, before any CertCentral call.
func TestPG_unreachable(t *testing.T) {
	fake, env := startFake(t)
	url := "postgres://certform@127.0.0.1:1/certform?sslmode=disable"
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", t.TempDir(), "--state", url)
	want := "certform apply: PostgreSQL workspace default at " + url + ": connecting: "
	hint := "hint: check that PostgreSQL answers at the --state address and that certform has the password (PGPASSWORD, a password file, or the systemd credential postgres-password)\n"
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, want) || !strings.HasSuffix(stderr, hint) {
		t.Errorf("exit %d\nstdout %q\nstderr:\n%s\nwant it to start %q and end %q", code, stdout, stderr, want, hint)
	}
	if calls := fake.Calls(); len(calls) != 0 {
		t.Errorf("calls: %v", calls)
	}
}
