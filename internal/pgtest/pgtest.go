// Package pgtest starts throwaway PostgreSQL servers for tests, the way
// net/http/httptest starts HTTP servers. It owns each server's folder (data
// directory, Unix socket, log), its processes and its superuser; it does not
// own schemas or migrations, which belong to the packages under test.
//
// The binaries come from $PATH, else from the newest /usr/lib/postgresql/*/bin
// (the Debian package postgresql). Without them a test is skipped, or fails
// when $CI is non-empty, so CI never passes by skipping.
//
// When the test runs as root, the server runs as the user nobody, since
// PostgreSQL refuses to run as root. Its folder is made with os.MkdirTemp, not
// t.TempDir, whose parents nobody cannot enter; so $TMPDIR, /tmp by default,
// must be one nobody can enter.
package pgtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running PostgreSQL server that listens on Host:Port only. Its
// methods may be called from parallel tests, except Stop and Restart.
type Server struct {
	Host     string // always "127.0.0.1"
	Port     int
	User     string // the superuser, "certform_admin"
	Password string // User's password, random hex; the server refuses connections without it
	Dir      string // the server's folder: data/, the Unix socket and postgres.log

	bin     binaries
	cred    *syscall.Credential // whom the commands run as; nil: as the test
	running bool
	shared  bool
}

type binaries struct{ initdb, pgCtl, postgres string }

var errNoBinaries = errors.New("pgtest: initdb, pg_ctl and postgres are in neither $PATH nor /usr/lib/postgresql/*/bin\n" +
	"hint: install the Debian package postgresql: apt-get install postgresql")

// Start starts a server of the test's own, removed with its folder when the
// test and its subtests finish. It takes about a second; tests that only need
// a database of their own should use Shared and CreateDatabase.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := start()
	if err != nil {
		fail(tb, err)
	}
	tb.Cleanup(s.close)
	return s
}

// fail skips the test when PostgreSQL is not installed, unless $CI is set.
func fail(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, errNoBinaries) && os.Getenv("CI") == "" {
		tb.Skip(err)
	}
	tb.Fatal(err)
}

func start() (*Server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{Host: "127.0.0.1", User: "certform_admin", Password: randomHex(16), Dir: dir, bin: bin}
	if err = s.initdb(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// Another process may take the free port before postgres binds it.
	for attempt, retry := 1, true; retry && attempt <= 3; attempt++ {
		if s.Port, err = freePort(); err == nil {
			if retry, err = s.pgCtlStart(); err == nil {
				return s, nil
			}
		}
	}
	s.close()
	return nil, err
}

func (s *Server) initdb() error {
	pwfile := filepath.Join(s.Dir, "pwfile")
	err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600)
	if err == nil && os.Geteuid() == 0 {
		uid, gid := nobody()
		s.cred = &syscall.Credential{Uid: uid, Gid: gid}
		err = s.giveAway(s.Dir)
	}
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	// --no-sync only skips initdb's final fsync; the server keeps fsync on.
	out, err := s.command(s.bin.initdb, "-D", s.dataDir(), "-U", s.User, "--pwfile="+pwfile,
		"--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// Settings go in a file, not pg_ctl's -o, which a shell splits; rewriting
	// the file keeps its owner. The port is given to pg_ctl, as it may change.
	conf := fmt.Sprintf("listen_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nmax_connections = 100\n",
		strings.ReplaceAll(s.Dir, "'", "''"))
	err = os.WriteFile(filepath.Join(s.dataDir(), "postgresql.auto.conf"), []byte(conf), 0o600)
	if err == nil {
		err = os.Remove(pwfile)
	}
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// pgCtlStart starts the server on s.Port. retry reports that the port was taken.
func (s *Server) pgCtlStart() (retry bool, err error) {
	logPath := filepath.Join(s.Dir, "postgres.log")
	old, _ := os.ReadFile(logPath)
	out, err := s.command(s.bin.pgCtl, "-D", s.dataDir(), "-l", logPath, "-w", "-t", "60",
		"-o", "-p "+strconv.Itoa(s.Port), "start").CombinedOutput()
	if err == nil {
		s.running = true
		return false, nil
	}
	log, _ := os.ReadFile(logPath)
	log = log[min(len(old), len(log)):] // this attempt's
	log = log[max(0, len(log)-4096):]
	return strings.Contains(string(log), "could not bind"),
		fmt.Errorf("pgtest: pg_ctl start on port %d: %w\n%s\n%s, its tail:\n%s", s.Port, err, out, logPath, log)
}

// stop stops the server if it runs: mode "immediate" is a crash, "fast" is clean.
func (s *Server) stop(tb testing.TB, mode string) {
	tb.Helper()
	if s.shared {
		tb.Fatal("pgtest: a test stopped or restarted the shared server")
	}
	if !s.running {
		return
	}
	if out, err := s.command(s.bin.pgCtl, "-D", s.dataDir(), "-m", mode, "-w", "stop").CombinedOutput(); err != nil {
		tb.Fatalf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
	s.running = false
}

// close stops the server whatever state it is in and removes its folder.
func (s *Server) close() {
	s.command(s.bin.pgCtl, "-D", s.dataDir(), "-m", "immediate", "-w", "stop").Run() // fails if stopped
	os.RemoveAll(s.Dir)
}

// Stop stops the server at once, as a crash would. Stopping a stopped server
// does nothing; stopping the shared one fails the test.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	s.stop(tb, "immediate")
}

// Restart stops the server cleanly, if it runs, and starts it again on the
// same port. Restarting the shared one fails the test.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.stop(tb, "fast")
	if _, err := s.pgCtlStart(); err != nil {
		tb.Fatal(err)
	}
}

// URL returns the address of database db, without the password: pass Env to
// child processes, or set pgx.ConnConfig.Password to s.Password.
func (s *Server) URL(db string) string {
	return s.urlAt(net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), db)
}

// urlAt is the URL of database db as User at addr (host:port).
func (s *Server) urlAt(addr, db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(s.User), Host: addr, Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// giveAway makes everything below dir s.cred's, the user the server's
// commands run as; with no such user it does nothing.
func (s *Server) giveAway(dir string) error {
	if s.cred == nil {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(s.cred.Uid), int(s.cred.Gid))
	})
}

// Env returns the environment a child process needs, with URL, to log in.
func (s *Server) Env() []string {
	return []string{"PGPASSWORD=" + s.Password}
}

// Conn connects to database db as User, and closes the connection when the
// test finishes. A pgx.Conn is not safe for concurrent use.
func (s *Server) Conn(tb testing.TB, db string) *pgx.Conn {
	tb.Helper()
	conn, err := s.connect(db)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Exec runs sql with args in database db on a connection of its own. It may
// be called from a cleanup function; the statement has no time limit.
func (s *Server) Exec(tb testing.TB, db, sql string, args ...any) {
	tb.Helper()
	conn, err := s.connect(db)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// connect connects as User, giving up after 30 seconds.
func (s *Server) connect(db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(s.URL(db))
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	cfg.Password = s.Password
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgtest: connect to %s: %w", s.URL(db), err)
	}
	return conn, nil
}

var databases atomic.Int64

// CreateDatabase creates an empty database with a name of its own and returns
// its URL. The database lives as long as the server; nothing drops it.
func (s *Server) CreateDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("t_%d_%s", databases.Add(1), randomHex(4))
	s.Exec(tb, "postgres", "CREATE DATABASE "+name)
	return s.URL(name)
}

var shared struct {
	mu     sync.Mutex
	inMain bool
	server *Server
	err    error // the first start's, returned to every later caller
}

// Shared returns the test binary's one shared server, started by the first
// call; it fails the test unless TestMain calls os.Exit(pgtest.Main(m)),
// which stops it after the last test. Tests must not Stop or Restart it.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		tb.Fatal("pgtest: Shared needs TestMain to call os.Exit(pgtest.Main(m))")
	}
	if shared.server == nil && shared.err == nil {
		shared.server, shared.err = start()
		if shared.err == nil {
			shared.server.shared = true
		}
	}
	if shared.err != nil {
		fail(tb, shared.err)
	}
	return shared.server
}

// Main runs the tests and then stops the shared server, if Shared started
// one. It returns m.Run's exit code.
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.server != nil {
		shared.server.close()
	}
	return code
}

func (s *Server) dataDir() string { return filepath.Join(s.Dir, "data") }

// command runs name as s.cred in s.Dir with an environment of its own.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.Dir
	cmd.Env = []string{"PATH=" + filepath.Dir(name) + ":/usr/bin:/bin", "LANG=C", "HOME=" + s.Dir}
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

// findBinaries looks in $PATH, then in /usr/lib/postgresql/*/bin, newest first.
func findBinaries() (binaries, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 { // "15", or "9.6" before PostgreSQL 10
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(version(b), version(a)) })
	for _, dir := range append([]string{""}, dirs...) { // "" is $PATH
		var paths [3]string
		var err error
		for i, name := range []string{"initdb", "pg_ctl", "postgres"} {
			if paths[i], err = exec.LookPath(filepath.Join(dir, name)); err != nil {
				break
			}
		}
		if err == nil {
			return binaries{paths[0], paths[1], paths[2]}, nil
		}
	}
	return binaries{}, errNoBinaries
}

// nobody returns the user nobody's ids, or Debian's 65534 when it has none.
func nobody() (uid, gid uint32) {
	uid, gid = 65534, 65534
	u, err := user.Lookup("nobody")
	if err != nil {
		return uid, gid
	}
	if n, err := strconv.ParseUint(u.Uid, 10, 32); err == nil {
		uid = uint32(n)
	}
	if n, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
		gid = uint32(n)
	}
	return uid, gid
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	return hex.EncodeToString(b)
}

// Bouncer starts PgBouncer (the Debian package pgbouncer) in front of s for
// database db, pooling in poolMode ("session", "transaction" or
// "statement") with at most poolSize server sessions, and returns the URL
// of db through it (same user and password). It stops with the test.
// Without pgbouncer the test is skipped, or fails under $CI.
func (s *Server) Bouncer(tb testing.TB, db, poolMode string, poolSize int) string {
	tb.Helper()
	bin := pgbouncerBinary(tb)
	dir, err := os.MkdirTemp("", "pgbouncer-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	port, err := freePort()
	if err != nil {
		tb.Fatal(err)
	}
	files := map[string]string{
		"users.txt": fmt.Sprintf("%q %q\n", s.User, s.Password),
		"pgbouncer.ini": fmt.Sprintf("[databases]\n%s = host=127.0.0.1 port=%d dbname=%s\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = %d\n"+
			"unix_socket_dir =\nauth_type = plain\nauth_file = %s\npool_mode = %s\ndefault_pool_size = %d\nmax_client_conn = 50\n"+
			"logfile = %s\nserver_reset_query =\n",
			db, s.Port, db, port, filepath.Join(dir, "users.txt"), poolMode, poolSize, filepath.Join(dir, "pgbouncer.log")),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.giveAway(dir); err != nil {
		tb.Fatal(err)
	}
	cmd := s.command(bin, filepath.Join(dir, "pgbouncer.ini"))
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitListening(tb, addr, filepath.Join(dir, "pgbouncer.log"))
	return s.urlAt(addr, db)
}

// pgbouncerBinary finds pgbouncer, on PATH or in /usr/sbin; without it the
// test is skipped, or fails under CI.
func pgbouncerBinary(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err == nil {
		return bin
	}
	if bin, err = exec.LookPath("/usr/sbin/pgbouncer"); err == nil {
		return bin
	}
	if os.Getenv("CI") == "" {
		tb.Skip("pgtest: pgbouncer is not installed\nhint: apt-get install pgbouncer")
	}
	tb.Fatal("pgtest: pgbouncer is not installed\nhint: apt-get install pgbouncer")
	return ""
}

// waitListening waits up to 10s for a TCP listener at addr, failing the
// test with the log at logPath.
func waitListening(tb testing.TB, addr, logPath string) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			tb.Fatalf("pgtest: pgbouncer does not listen on %s:\n%s", addr, log)
		}
	}
}

// Dump returns pg_dump's plain SQL dump of database db (the pg_dump beside
// the server's postgres binary, links resolved), as an operator's backup would be.
func (s *Server) Dump(tb testing.TB, db string) []byte {
	tb.Helper()
	bin := filepath.Join(filepath.Dir(s.bin.postgres), "pg_dump")
	if real, err := filepath.EvalSymlinks(s.bin.postgres); err == nil {
		bin = filepath.Join(filepath.Dir(real), "pg_dump") // postgres in $PATH may be a link
	}
	cmd := exec.Command(bin, "--no-password", s.URL(db))
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "LANG=C"}, s.Env()...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			tb.Fatalf("pgtest: pg_dump: %v\n%s", err, ee.Stderr)
		}
		tb.Fatalf("pgtest: pg_dump: %v", err)
	}
	return out
}
