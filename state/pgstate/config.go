package pgstate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultWorkspace is the workspace of a --state postgres://... given no
// --workspace.
const DefaultWorkspace = "default"

// Connection limits. A partitioned leader must be found out in seconds:
// every statement has a time limit, and both ends of the connection send
// TCP keepalives (the server's side through tcp_keepalives_*), so that a
// dead peer ends the session (and so releases its advisory lock) and a
// dead server fails the client's next statement.
const (
	// opTimeout bounds each statement or transaction certform runs.
	opTimeout = 15 * time.Second
	// connectTimeout bounds connecting and authenticating.
	connectTimeout = 10 * time.Second
	// keepAliveIdle, keepAliveInterval and keepAliveCount: a silent peer
	// is given up after about 5 + 3*2 = 11 seconds.
	keepAliveIdle     = 5 * time.Second
	keepAliveInterval = 2 * time.Second
	keepAliveCount    = 3
	// userTimeout bounds how long sent data may stay unacknowledged
	// (TCP_USER_TIMEOUT, on both ends).
	userTimeout = 15 * time.Second
)

// CredentialName is the systemd credential certform reads the password
// from ($CREDENTIALS_DIRECTORY/postgres-password) when neither PGPASSWORD
// nor a password file gives one.
const CredentialName = "postgres-password"

// Config is a PostgreSQL state: the database (a URL without password) and
// the workspace in it. Make one with Parse.
type Config struct {
	// URL is the --state URL as given; Parse refuses one with a password.
	URL string
	// Workspace names the state in the database; several spec
	// repositories share one database, each in its own workspace.
	Workspace string
	conn      *pgx.ConnConfig
}

// IsURL reports whether a --state value names a PostgreSQL database
// (postgres:// or postgresql://) rather than a state file.
func IsURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

var workspaceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// Parse checks a --state URL and --workspace (empty means
// DefaultWorkspace). It refuses a password in the URL (it would be on the
// command line, visible to every user in ps): the password comes from
// PGPASSWORD, then a password file (PGPASSFILE, ~/.pgpass), then
// $CREDENTIALS_DIRECTORY/postgres-password. It refuses a connection that
// could be plain text to a host that is not the loopback: sslmode must be
// require, verify-ca or verify-full there (verify-full is the one that
// also proves the server's name).
func Parse(rawURL, workspace string) (*Config, error) {
	if workspace == "" {
		workspace = DefaultWorkspace
	}
	if !workspaceRE.MatchString(workspace) {
		return nil, fmt.Errorf("--workspace %q: a workspace name is 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit", workspace)
	}
	if err := checkNoSecrets(rawURL); err != nil {
		return nil, err
	}
	conn, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("--state %s: %v", rawURL, err)
	}
	if conn.Password == "" {
		if pw, err := credentialPassword(); err != nil {
			return nil, err
		} else if pw != "" {
			conn.Password = pw
		}
	}
	if err := checkTLS(rawURL, conn); err != nil {
		return nil, err
	}
	if conn.ConnectTimeout == 0 || conn.ConnectTimeout > connectTimeout {
		conn.ConnectTimeout = connectTimeout
	}
	// No named prepared statements: behind a pooler in transaction mode
	// they would meet other clients' (and certform must reach its own
	// refusal of such a pooler, below, with a clear message).
	conn.DefaultQueryExecMode = pgx.QueryExecModeExec
	d := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: keepAliveIdle, Interval: keepAliveInterval, Count: keepAliveCount},
		Control: dialControl}
	conn.DialFunc = d.DialContext
	return &Config{URL: rawURL, Workspace: workspace, conn: conn}, nil
}

// checkNoSecrets refuses a URL that does not parse (without quoting it:
// it may hold a password) or that holds a password or a key passphrase.
func checkNoSecrets(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		// Not err itself: it quotes the URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("--state %s: not a PostgreSQL URL: %v", withoutUserinfo(rawURL), err)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return errors.New("--state: the URL has a password; a password on the command line can be read by every user of the machine\n" +
				"hint: remove it from the URL and give it in PGPASSWORD, a password file (PGPASSFILE), or the systemd credential " + CredentialName)
		}
	}
	q := u.Query()
	if q.Has("password") {
		return errors.New("--state: the URL has a password parameter; give the password in PGPASSWORD, a password file (PGPASSFILE), or the systemd credential " + CredentialName)
	}
	if q.Has("sslpassword") {
		return errors.New("--state: the URL has an sslpassword parameter (the client key's passphrase); give it in PGSSLPASSWORD instead, never on the command line")
	}
	return nil
}

// credentialPassword reads $CREDENTIALS_DIRECTORY/postgres-password, or
// returns "" when there is no such credential.
func credentialPassword() (string, error) {
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	if dir == "" {
		return "", nil
	}
	p := filepath.Join(dir, CredentialName)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the PostgreSQL password from the credential %s: %v", p, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// checkTLS refuses a connection that may go in plain text (sslmode
// disable, allow or prefer) to a host that is not the loopback or a unix
// socket.
func checkTLS(rawURL string, c *pgx.ConnConfig) error {
	hosts := []string{c.Host}
	plain := c.TLSConfig == nil
	for _, fb := range c.Fallbacks {
		hosts = append(hosts, fb.Host)
		plain = plain || fb.TLSConfig == nil
	}
	if !plain {
		return nil
	}
	for _, h := range hosts {
		if !isLocal(h) {
			return fmt.Errorf("--state %s: the connection to %s may be in plain text (sslmode is disable, allow or prefer, or not given); "+
				"plain text is accepted only on the loopback\nhint: add ?sslmode=verify-full (with sslrootcert=FILE for a private CA)", rawURL, h)
		}
	}
	return nil
}

// isLocal reports whether host is a unix socket folder or a loopback
// address (or localhost).
func isLocal(host string) bool {
	if strings.HasPrefix(host, "/") || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// withoutUserinfo returns a URL that may not parse with what stands
// between "://" and the last "@" before the host (user and password)
// replaced by "...".
func withoutUserinfo(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return "(not a URL)"
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		rest = "..." + rest[at:]
	}
	return scheme + "://" + rest
}

// Name names the state in messages: "PostgreSQL workspace W at URL".
func (c *Config) Name() string {
	return fmt.Sprintf("PostgreSQL workspace %s at %s", c.Workspace, c.URL)
}

// PublicURL returns URL without a user name (in the URL or as its user
// parameter; a password is never in it, see Parse): what certform writes
// down of the database where others may read it, such as the moved mark
// of a state migrated to it.
func (c *Config) PublicURL() string {
	u, err := url.Parse(c.URL)
	if err != nil {
		return withoutUserinfo(c.URL) // Parse read it; kept for safety
	}
	u.User = nil
	if q := u.Query(); q.Has("user") {
		q.Del("user")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// PublicName is Name with PublicURL: "PostgreSQL workspace W at URL".
func (c *Config) PublicName() string {
	return fmt.Sprintf("PostgreSQL workspace %s at %s", c.Workspace, c.PublicURL())
}

// connect opens one connection, as application name
// "certform HOST pid PID" so that an operator sees who holds a lock in
// pg_stat_activity.
func (c *Config) connect(ctx context.Context) (*pgx.Conn, error) {
	cc := c.conn.Copy()
	cc.RuntimeParams["application_name"] = truncate(fmt.Sprintf("certform %s pid %d", hostname(), os.Getpid()), 63)
	ctx, cancel := context.WithTimeout(ctx, connectTimeout+time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, &UnavailableError{Name: c.Name(), Err: err}
	}
	// Session settings go in a statement, not in the startup packet,
	// which a pooler such as PgBouncer refuses for unknown parameters.
	_, err = conn.Exec(ctx, `SELECT set_config('statement_timeout', $1, false), set_config('idle_in_transaction_session_timeout', $2, false),
		set_config('tcp_keepalives_idle', $3, false), set_config('tcp_keepalives_interval', $4, false), set_config('tcp_keepalives_count', $5, false)`,
		fmt.Sprint(opTimeout.Milliseconds()), fmt.Sprint((4 * opTimeout).Milliseconds()),
		fmt.Sprint(int(keepAliveIdle.Seconds())), fmt.Sprint(int(keepAliveInterval.Seconds())), fmt.Sprint(keepAliveCount))
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("%s: setting the session's time limits: %w", c.Name(), err)
	}
	// tcp_user_timeout exists from PostgreSQL 12 on; an older server
	// keeps its keepalives only.
	conn.Exec(ctx, `SELECT set_config('tcp_user_timeout', $1, false)`, fmt.Sprint(userTimeout.Milliseconds()))
	return conn, nil
}

// UnavailableError is a database certform could not connect to (or log
// in to): a daemon stands by and tries again; a command fails.
type UnavailableError struct {
	Name string
	Err  error
}

func (e *UnavailableError) Error() string { return fmt.Sprintf("%s: connecting: %v", e.Name, e.Err) }

func (e *UnavailableError) Unwrap() error { return e.Err }

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown-host"
	}
	return h
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
