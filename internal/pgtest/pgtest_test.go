package pgtest_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/certform/certform/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestStart(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	s := pgtest.Start(t)
	t.Logf("Start took %v", time.Since(begin).Round(time.Millisecond))

	var one int
	if err := s.Conn(t, "postgres").QueryRow(t.Context(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: got %d, %v", one, err)
	}
	for i, want := range []bool{true, false} { // the second connection finds the lock taken
		var locked bool
		err := s.Conn(t, "postgres").QueryRow(t.Context(), "SELECT pg_try_advisory_lock(1)").Scan(&locked)
		if err != nil || locked != want {
			t.Fatalf("pg_try_advisory_lock(1) on connection %d: got %v, %v; want %v", i+1, locked, err, want)
		}
	}
	var pgErr *pgconn.PgError
	if err := connect(t, s, ""); !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Fatalf("connect without the password: got %v, want SQLSTATE 28P01 (invalid_password)", err)
	}

	s.Exec(t, "postgres", "CREATE TABLE kept (n int)")
	s.Restart(t)
	s.Exec(t, "postgres", "INSERT INTO kept VALUES ($1)", 1)
	s.Stop(t)
	s.Stop(t) // does nothing
	if err := connect(t, s, s.Password); err == nil {
		t.Fatal("connected to a stopped server")
	}
}

// connect connects to s's database postgres with password and hangs up.
func connect(t *testing.T, s *pgtest.Server, password string) error {
	cfg, err := pgx.ParseConfig(s.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = password
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	if err == nil {
		conn.Close(t.Context())
	}
	return err
}

func TestShared_CreateDatabase(t *testing.T) {
	t.Parallel()
	s := pgtest.Shared(t)
	if pgtest.Shared(t) != s {
		t.Fatal("a second Shared call returned another server")
	}
	seen := map[string]bool{}
	for range 2 {
		cfg, err := pgx.ParseConfig(s.CreateDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		var current string
		if err := s.Conn(t, cfg.Database).QueryRow(t.Context(), "SELECT current_database()").Scan(&current); err != nil {
			t.Fatal(err)
		}
		if current != cfg.Database || seen[current] {
			t.Fatalf("connected to %q, want %q, a database not seen before %v", current, cfg.Database, seen)
		}
		seen[current] = true
	}
}
