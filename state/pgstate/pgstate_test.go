package pgstate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/certform/certform/internal/pgtest"
	"github.com/certform/certform/state"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// newWorkspace returns the Config of workspace ws in a fresh database of
// the shared server, with the password in PGPASSWORD.
func newWorkspace(t *testing.T, ws string) (*pgtest.Server, *Config) {
	t.Helper()
	srv := pgtest.Shared(t)
	t.Setenv("PGPASSWORD", srv.Password)
	cfg, err := Parse(srv.CreateDatabase(t), ws)
	if err != nil {
		t.Fatal(err)
	}
	return srv, cfg
}

func open(t *testing.T, cfg *Config) *state.Store {
	t.Helper()
	s, err := state.OpenBackend(New(cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func encoded(t *testing.T, f *state.File) string {
	t.Helper()
	enc, err := state.Encode(f.Clone())
	if err != nil {
		t.Fatal(err)
	}
	return string(enc.Data)
}

func TestStore_roundTrip(t *testing.T) {
	_, cfg := newWorkspace(t, "")
	s := open(t, cfg)
	when := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	err := s.Mutate(func(f *state.File) {
		f.APIURL = "https://127.0.0.1:1/services/v2"
		f.ObservedAt = when
		f.Revocations = []state.Revocation{{Name: "b", OrderID: 2, Time: when}}
		f.Purchases = []state.Purchase{{Name: "a", AlternativeOrderID: "cfa0123", Time: when}, {Name: "c", AlternativeOrderID: "cfc0123", RenewalOfOrderID: 1, Time: when.Add(-time.Hour)}}
		f.Entries["a"] = &state.Entry{OrderID: 1, Status: "issued", DisableCT: true}
		f.Entries["b"] = &state.Entry{OrderID: 2, Intent: &state.Intent{Action: state.IntentRevoke, Started: when}}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update("a", func(e *state.Entry) bool { e.AutoReissue = true; return true }); err != nil {
		t.Fatal(err)
	}
	if err := s.Update("b", func(*state.Entry) bool { return false }); err != nil {
		t.Fatal(err)
	}
	want := encoded(t, s.Snapshot())
	got, err := Read(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, encoded(t, got)); diff != "" {
		t.Errorf("read without a lock (-want +got):\n%s", diff)
	}
	if !strings.Contains(want, `"a": {"order_id":1,`) || strings.Contains(want, `"b":`) ||
		!strings.Contains(want, `{"name":"c","alternative_order_id":"cfc0123","renewal_of_order_id":1,"time":"2026-12-01T09:00:00.123456789Z"},`) {
		t.Fatalf("unexpected state:\n%s", want)
	}
	s.Close()
	again := open(t, cfg)
	if diff := cmp.Diff(want, encoded(t, again.Snapshot())); diff != "" {
		t.Errorf("opened again (-want +got):\n%s", diff)
	}
}

func TestRead_emptyDatabase(t *testing.T) {
	_, cfg := newWorkspace(t, "ci")
	f, err := Read(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Entries) != 0 || f.APIURL != "" {
		t.Fatalf("a database certform never used reads as %+v", f)
	}
}

func TestLoad_lockedNamesHolder(t *testing.T) {
	_, cfg := newWorkspace(t, "")
	open(t, cfg)
	_, err := state.OpenBackend(New(cfg))
	host, _ := os.Hostname()
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, state.ErrLocked) {
		t.Fatalf("second open: %v, want a *LockedError matching state.ErrLocked", err)
	}
	if want := fmt.Sprintf("certform on %s pid %d", host, os.Getpid()); le.Holder != want {
		t.Errorf("holder %q, want %q", le.Holder, want)
	}
	prefix := fmt.Sprintf("PostgreSQL workspace default at %s is in use by another certform process (certform on %s pid %d, since ", cfg.URL, host, os.Getpid())
	if !strings.HasPrefix(err.Error(), prefix) || time.Since(le.Since) > time.Minute {
		t.Errorf("error %q, want it to start %q and a recent since", err, prefix)
	}
}

func TestWorkspaces_independent(t *testing.T) {
	srv, a := newWorkspace(t, "payments")
	b, err := Parse(srv.URL(a.conn.Database), "web")
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := open(t, a), open(t, b)
	if err := sa.Update("x", func(e *state.Entry) bool { e.OrderID = 7; return true }); err != nil {
		t.Fatal(err)
	}
	if err := sb.Update("y", func(e *state.Entry) bool { e.OrderID = 8; return true }); err != nil {
		t.Fatal(err)
	}
	for cfg, want := range map[*Config]string{a: "x", b: "y"} {
		f, err := Read(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Names(); len(got) != 1 || got[0] != want {
			t.Errorf("workspace %s holds %v, want [%s]", cfg.Workspace, got, want)
		}
	}
}

// lockSession returns the pid of the session holding the workspace's lock.
func lockSession(t *testing.T, srv *pgtest.Server, cfg *Config) int32 {
	t.Helper()
	conn := srv.Conn(t, cfg.conn.Database)
	var pid int32
	err := conn.QueryRow(context.Background(), `SELECT l.pid FROM pg_locks l JOIN certform.workspaces w ON l.objid::bigint = w.id
		WHERE l.locktype = 'advisory' AND l.classid::bigint = $1 AND w.name = $2 AND l.granted`, int64(lockClass), cfg.Workspace).Scan(&pid)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// The fencing rule: once the session that holds the lock is gone and
// another process took the lock, the first process can neither prove its
// lock nor write, and what it tried is not in the database.
func TestFencing_sessionTerminated(t *testing.T) {
	srv, cfg := newWorkspace(t, "")
	first := open(t, cfg)
	if err := first.Update("a", func(e *state.Entry) bool { e.OrderID = 1; return true }); err != nil {
		t.Fatal(err)
	}
	// The timeout (ms) makes PostgreSQL wait until the session is gone: a
	// terminated backend ends asynchronously, and its lock with it.
	srv.Exec(t, cfg.conn.Database, `SELECT pg_terminate_backend($1, 10000)`, lockSession(t, srv, cfg))
	second := open(t, cfg) // the lock is free again
	err := first.Check()
	if !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("Check after the session ended: %v, want ErrLockLost", err)
	}
	if !strings.Contains(err.Error(), "lock lost: the database ended this session (terminating connection due to administrator command, SQLSTATE 57P01), and with it the lock") {
		t.Errorf("Check: %v", err)
	}
	err = first.Update("a", func(e *state.Entry) bool { e.OrderID = 99; return true })
	if !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("Update: %v, want ErrLockLost", err)
	}
	if got := second.Entry("a"); got == nil || got.OrderID != 1 {
		t.Fatalf("the new holder reads %+v", got)
	}
	f, err := Read(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Entries["a"].OrderID; got != 1 {
		t.Errorf("order id in the database %d, want 1 (the fenced write must not land)", got)
	}
}

// A write whose epoch moved on (another process took the lock meanwhile,
// as it could behind a connection that still looks alive) writes nothing,
// even though this session still holds its advisory lock.
func TestFencing_epoch(t *testing.T) {
	srv, cfg := newWorkspace(t, "")
	s := open(t, cfg)
	srv.Exec(t, cfg.conn.Database, `UPDATE certform.workspaces SET epoch = epoch + 1`)
	err := s.Update("a", func(e *state.Entry) bool { e.OrderID = 5; return true })
	want := "PostgreSQL workspace default at " + cfg.URL + ": lock lost: the workspace's lock epoch moved on or this session no longer holds its lock (another process took it, or a pooler gave this connection another session); nothing was written"
	if !errors.Is(err, state.ErrLockLost) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Update: %v\nwant: %s", err, want)
	}
	if f, err := Read(context.Background(), cfg); err != nil || len(f.Entries) != 0 {
		t.Fatalf("Read: %v, %v; want no entry", f, err)
	}
	if err := s.Check(); !errors.Is(err, state.ErrLockLost) {
		t.Errorf("Check after a fenced write: %v", err)
	}
	// Taking the lock again reads the state afresh with a new epoch.
	if err := s.Reacquire(); err != nil {
		t.Fatal(err)
	}
	if err := s.Update("a", func(e *state.Entry) bool { e.OrderID = 5; return true }); err != nil {
		t.Fatal(err)
	}
}

func TestLoad_epochIncrements(t *testing.T) {
	_, cfg := newWorkspace(t, "")
	var epochs []int64
	for range 3 {
		b := New(cfg)
		s, err := state.OpenBackend(b)
		if err != nil {
			t.Fatal(err)
		}
		epochs = append(epochs, b.Epoch())
		s.Close()
		if b.Epoch() != 0 {
			t.Errorf("Epoch after Close: %d", b.Epoch())
		}
	}
	if diff := cmp.Diff([]int64{1, 2, 3}, epochs); diff != "" {
		t.Errorf("epochs (-want +got):\n%s", diff)
	}
}

func TestNewerSchema_refused(t *testing.T) {
	srv, cfg := newWorkspace(t, "")
	open(t, cfg).Close()
	srv.Exec(t, cfg.conn.Database, `UPDATE certform.schema_version SET version = 99`)
	want := fmt.Sprintf("PostgreSQL workspace default at %s: the schema \"certform\" is at version 99, written by a newer certform; this certform knows versions up to %d and changes nothing", cfg.URL, SchemaVersion)
	_, err := state.OpenBackend(New(cfg))
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("open: %v\nwant: %s", err, want)
	}
	if _, err := Read(context.Background(), cfg); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("read: %v\nwant: %s", err, want)
	}
}

// CI plans from the live state with a role that may only read.
func TestRead_readOnlyRole(t *testing.T) {
	srv, cfg := newWorkspace(t, "")
	s := open(t, cfg)
	if err := s.Update("a", func(e *state.Entry) bool { e.OrderID = 3; return true }); err != nil {
		t.Fatal(err)
	}
	db := cfg.conn.Database
	role := "ro_" + db
	srv.Exec(t, db, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD 'ro-secret'`, role))
	srv.Exec(t, db, fmt.Sprintf(`GRANT USAGE ON SCHEMA certform TO %[1]s; GRANT SELECT ON ALL TABLES IN SCHEMA certform TO %[1]s`, role))
	t.Setenv("PGPASSWORD", "ro-secret")
	ro, err := Parse(strings.Replace(cfg.URL, srv.User+"@", role+"@", 1), "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Read(context.Background(), ro)
	if err != nil {
		t.Fatal(err)
	}
	if f.Entries["a"] == nil || f.Entries["a"].OrderID != 3 {
		t.Fatalf("read-only role read %+v", f.Entries)
	}
	// It cannot take the lock, even a free one: the epoch is written when
	// the lock is taken.
	s.Close()
	if _, err := state.OpenBackend(New(ro)); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("open with a read-only role: %v", err)
	}
}

func TestParse(t *testing.T) {
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(creds, CredentialName), []byte("from-credential\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url, workspace string
		env                  map[string]string
		wantErr              string
		wantPassword         string
		wantWorkspace        string
	}{
		{name: "loopback plain", url: "postgres://u@127.0.0.1:5432/db?sslmode=disable", wantWorkspace: "default"},
		{name: "postgresql scheme", url: "postgresql://u@localhost/db?sslmode=disable", workspace: "web.prod-1", wantWorkspace: "web.prod-1"},
		{name: "remote verify-full", url: "postgres://u@db.example.com/db?sslmode=verify-full", wantWorkspace: "default"},
		{name: "remote without sslmode", url: "postgres://u@db.example.com/db",
			wantErr: "--state postgres://u@db.example.com/db: the connection to db.example.com may be in plain text (sslmode is disable, allow or prefer, or not given); plain text is accepted only on the loopback\nhint: add ?sslmode=verify-full (with sslrootcert=FILE for a private CA)"},
		{name: "remote prefer", url: "postgres://u@10.1.2.3/db?sslmode=prefer", wantErr: "the connection to 10.1.2.3 may be in plain text"},
		{name: "password in URL", url: "postgres://u:hunter2@127.0.0.1/db?sslmode=disable",
			wantErr: "--state: the URL has a password; a password on the command line can be read by every user of the machine"},
		{name: "password parameter", url: "postgres://u@127.0.0.1/db?sslmode=disable&password=hunter2", wantErr: "--state: the URL has a password parameter"},
		{name: "sslpassword parameter", url: "postgres://u@127.0.0.1/db?sslmode=verify-full&sslpassword=hunter2", wantErr: "--state: the URL has an sslpassword parameter"},
		{name: "URL that does not parse, with a password", url: "postgres://u:hunter2%zz@127.0.0.1/db",
			wantErr: `--state postgres://...@127.0.0.1/db: not a PostgreSQL URL: invalid URL escape "%zz"`},
		{name: "bad port, with a password", url: "postgres://u:hunter2@127.0.0.1:54x2/db",
			wantErr: `--state postgres://...@127.0.0.1:54x2/db: not a PostgreSQL URL: invalid port ":54x2" after host`},
		{name: "bad workspace", url: "postgres://u@127.0.0.1/db?sslmode=disable", workspace: "a b",
			wantErr: `--workspace "a b": a workspace name is 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit`},
		{name: "PGPASSWORD", url: "postgres://u@127.0.0.1/db?sslmode=disable", env: map[string]string{"PGPASSWORD": "from-env", "CREDENTIALS_DIRECTORY": creds},
			wantPassword: "from-env", wantWorkspace: "default"},
		{name: "systemd credential", url: "postgres://u@127.0.0.1/db?sslmode=disable", env: map[string]string{"CREDENTIALS_DIRECTORY": creds},
			wantPassword: "from-credential", wantWorkspace: "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PGPASSWORD", "")
			os.Unsetenv("PGPASSWORD")
			t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))
			t.Setenv("CREDENTIALS_DIRECTORY", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := Parse(tt.url, tt.workspace)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse: %v\nwant: %s", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Workspace != tt.wantWorkspace || cfg.conn.Password != tt.wantPassword {
				t.Errorf("workspace %q password %q, want %q %q", cfg.Workspace, cfg.conn.Password, tt.wantWorkspace, tt.wantPassword)
			}
		})
	}
}

func TestIsURL(t *testing.T) {
	for s, want := range map[string]bool{"postgres://h/db": true, "POSTGRESQL://h/db": true, "/var/lib/certform/state.json": false, "state.json": false, "postgres.json": false} {
		if got := IsURL(s); got != want {
			t.Errorf("IsURL(%q) = %v", s, got)
		}
	}
}

// A write that fails because the server went away (stopped before the
// write began) loses the lock: the state in memory goes back to the last
// write, and nothing more is written until the lock is taken again, which
// reads the state from the database.
func TestWrite_serverGoneLosesLock(t *testing.T) {
	srv := pgtest.Start(t)
	t.Setenv("PGPASSWORD", srv.Password)
	cfg, err := Parse(srv.CreateDatabase(t), "")
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, cfg)
	if err := s.Update("a", func(e *state.Entry) bool { e.OrderID = 1; return true }); err != nil {
		t.Fatal(err)
	}
	srv.Stop(t)
	err = s.Update("a", func(e *state.Entry) bool { e.OrderID = 2; return true })
	if !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("Update with the server gone: %v", err)
	}
	if got := s.Entry("a").OrderID; got != 1 {
		t.Errorf("in memory after the failed write: order %d, want 1", got)
	}
	srv.Restart(t)
	if err := s.Reacquire(); err != nil {
		t.Fatal(err)
	}
	if got := s.Entry("a").OrderID; got != 1 {
		t.Errorf("read again: order %d, want 1", got)
	}
}

// A pooler in transaction mode: another client's lock may be held by the
// very server session this client is handed, and a session lock cannot
// work there. The second certform is refused, naming the pooler.
func TestLoad_poolerInTransactionModeRefused(t *testing.T) {
	srv, cfg := newWorkspace(t, "")
	bounced, err := Parse(srv.Bouncer(t, cfg.conn.Database, "transaction", 1), "")
	if err != nil {
		t.Fatal(err)
	}
	first := open(t, bounced)
	_, err = state.OpenBackend(New(bounced))
	want := fmt.Sprintf("PostgreSQL workspace default at %s: the advisory lock is not this connection's own: another client shares its server session", bounced.URL)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("second open through the pooler: %v\nwant: %s", err, want)
	}
	// The refused one changed nothing: the first still holds the lock.
	if err := first.Update("a", func(e *state.Entry) bool { e.OrderID = 1; return true }); err != nil {
		t.Errorf("the first after the refusal: %v", err)
	}
	// In session mode, the same two processes are simply one holder and
	// one refused with the holder's name.
	session, err := Parse(srv.Bouncer(t, cfg.conn.Database, "session", 4), "other")
	if err != nil {
		t.Fatal(err)
	}
	open(t, session)
	if _, err := state.OpenBackend(New(session)); !errors.Is(err, state.ErrLocked) {
		t.Errorf("second open through a session pool: %v, want ErrLocked", err)
	}
}

// A server where the advisory lock functions cannot be used is refused
// with the reason, before anything is written: here a database whose
// administrator revoked them from everyone.
func TestLoad_noAdvisoryLocks(t *testing.T) {
	srv, cfg := newWorkspace(t, "")
	db := cfg.conn.Database
	role := "nolocks_" + db
	srv.Exec(t, db, fmt.Sprintf(`CREATE ROLE %[1]s LOGIN PASSWORD 'nl-secret'; GRANT CREATE ON DATABASE %[2]s TO %[1]s;
		REVOKE EXECUTE ON FUNCTION pg_try_advisory_lock(integer, integer), pg_advisory_xact_lock(integer, integer) FROM PUBLIC`, role, db))
	t.Setenv("PGPASSWORD", "nl-secret")
	nl, err := Parse(strings.Replace(cfg.URL, srv.User+"@", role+"@", 1), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = state.OpenBackend(New(nl))
	want := fmt.Sprintf("%s: this role may not take advisory locks (permission denied for function pg_advisory_xact_lock); certform needs them", nl.Name())
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("open: %v\nwant: %s", err, want)
	}
	if v, err := schemaVersion(context.Background(), srv.Conn(t, db)); err != nil || v != 0 {
		t.Errorf("schema version %d (%v) after the refusal, want 0: nothing created", v, err)
	}
}

// Every check and write looks for this process's mark on the session: a
// session that another client marked (as it could behind a pooler that
// hands one server session to several clients) is not this process's.
func TestCheck_sessionMark(t *testing.T) {
	_, cfg := newWorkspace(t, "")
	b := New(cfg)
	s, err := state.OpenBackend(b)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	_, err = b.conn.Exec(context.Background(), `SELECT set_config('certform.session', 'another client', false)`)
	b.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update("a", func(e *state.Entry) bool { e.OrderID = 1; return true })
	if !errors.Is(err, state.ErrLockLost) || !strings.Contains(err.Error(), "or a pooler gave this connection another session") {
		t.Fatalf("write on a session marked by another: %v", err)
	}
	if f, err := Read(context.Background(), cfg); err != nil || len(f.Entries) != 0 {
		t.Errorf("Read: %v %v; want no entry written", f, err)
	}
}

// Standbys try the lock every second: a refused attempt must not use up
// the workspaces' id sequence (a 4-byte id).
func TestLoad_refusedUsesNoID(t *testing.T) {
	srv, cfg := newWorkspace(t, "")
	open(t, cfg)
	for range 5 {
		if _, err := state.OpenBackend(New(cfg)); !errors.Is(err, state.ErrLocked) {
			t.Fatalf("open while locked: %v", err)
		}
	}
	var last int64
	if err := srv.Conn(t, cfg.conn.Database).QueryRow(context.Background(), `SELECT last_value FROM certform.workspaces_id_seq`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if last != 1 {
		t.Errorf("the id sequence is at %d after one workspace and 5 refused attempts, want 1", last)
	}
}

// TestBackend_moved: the moved mark is written to and read from the
// workspace; OpenBackend then refuses the workspace, and Read returns the
// mark for the caller to refuse.
func TestBackend_moved(t *testing.T) {
	_, cfg := newWorkspace(t, "")
	s := open(t, cfg)
	mark := state.Moved{To: "state file /srv/new.json", Flags: "--state /srv/new.json", At: time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)}
	if err := s.Mutate(func(f *state.File) { f.Moved = &mark }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, err := Read(context.Background(), cfg)
	if err != nil || f.Moved == nil || *f.Moved != mark {
		t.Fatalf("Read: %v %+v", err, f)
	}
	_, err = state.OpenBackend(New(cfg))
	var me *state.MovedError
	if !errors.As(err, &me) || me.Name != cfg.Name() || me.Moved != mark {
		t.Fatalf("OpenBackend: %v", err)
	}
}

// TestConfig_PublicURL: the URL written where others read it has no user
// name, in the userinfo or as a parameter.
func TestConfig_PublicURL(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"postgres://certform@127.0.0.1:5432/db?sslmode=disable", "postgres://127.0.0.1:5432/db?sslmode=disable"},
		{"postgresql://127.0.0.1/db?user=certform&sslmode=disable", "postgresql://127.0.0.1/db?sslmode=disable"},
		{"postgres://127.0.0.1/db", "postgres://127.0.0.1/db"},
	} {
		cfg, err := Parse(tt.url, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.PublicURL(); got != tt.want {
			t.Errorf("PublicURL(%s) = %s, want %s", tt.url, got, tt.want)
		}
		if got, want := cfg.PublicName(), "PostgreSQL workspace default at "+tt.want; got != want {
			t.Errorf("PublicName = %s, want %s", got, want)
		}
	}
}

// TestMigrate_purchaseLog: a database at schema version 2 (before the
// purchase log) is migrated by the next open: its state is kept, and the
// purchase log is written and read back from then on.
func TestMigrate_purchaseLog(t *testing.T) {
	srv, cfg := newWorkspace(t, "")
	when := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := open(t, cfg)
	if err := s.Mutate(func(f *state.File) {
		f.Revocations = []state.Revocation{{Name: "a", OrderID: 1, Time: when}}
		f.Entries["a"] = &state.Entry{OrderID: 1}
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	srv.Exec(t, cfg.conn.Database, `ALTER TABLE certform.workspaces DROP COLUMN purchases; UPDATE certform.schema_version SET version = 2`)
	s = open(t, cfg)
	if f := s.Snapshot(); len(f.Revocations) != 1 || f.Entries["a"] == nil || f.Purchases != nil {
		t.Fatalf("after the migration: %+v", f)
	}
	if err := s.Mutate(func(f *state.File) {
		f.Purchases = []state.Purchase{{Name: "b", AlternativeOrderID: "cfb0", Time: when}}
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	got, err := Read(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]state.Purchase{{Name: "b", AlternativeOrderID: "cfb0", Time: when}}, got.Purchases); diff != "" {
		t.Errorf("purchases (-want +got):\n%s", diff)
	}
}
