// Package pgstate keeps certform's state in PostgreSQL, so that several
// servers share one state (one acts, the others stand by) and CI plans
// from the live state: a state.Backend for state.OpenBackend, and Read for
// the commands that read without a lock.
//
// A workspace (one per spec repository) is one row in certform.workspaces
// plus one row per entry in certform.entries. The lock is a session-level
// advisory lock on a dedicated connection, taken without waiting; taking
// it increments the workspace's epoch, and every write (intents included)
// is one transaction that first checks, in the database, that the epoch
// is still this process's and that this very session still holds the
// lock. Any failure of that check, or of the connection, loses the lock
// for good: the connection is closed and the Store stops acting until it
// has taken the lock again and re-read the state. Check makes the same
// proof without writing; certform runs it before every call to
// CertCentral, so a paused former leader whose session was ended cannot
// call once it resumes.
//
// It does not own the group commit, the intents or the file format: those
// are package state's, the same for the file and PostgreSQL.
package pgstate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/certform/certform/state"
)

// LockedError is a workspace another process holds the lock of: Holder is
// what that process recorded ("certform on HOST pid PID"), Since when.
type LockedError struct {
	Name   string
	Holder string
	Since  time.Time
}

// Error names the holder and since when.
func (e *LockedError) Error() string {
	if e.Holder == "" {
		return fmt.Sprintf("%s is in use by another certform process", e.Name)
	}
	return fmt.Sprintf("%s is in use by another certform process (%s, since %s)", e.Name, e.Holder, e.Since.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, state.ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == state.ErrLocked }

// LostError is a lock this process held and may no longer hold: its
// session ended or failed, or the workspace's epoch moved on (another
// process took the lock). Nothing was written.
type LostError struct {
	Name string
	What string
}

// Error reads like the state file's: "NAME: lock lost: WHAT; nothing was
// written: ...".
func (e *LostError) Error() string {
	return fmt.Sprintf("%s: lock lost: %s; nothing was written: this process stops acting on the state "+
		"until it takes the lock again and re-reads the state", e.Name, e.What)
}

// Is makes errors.Is(err, state.ErrLockLost) true.
func (e *LostError) Is(target error) bool { return target == state.ErrLockLost }

// Backend is a workspace as a state.Backend. It is safe for concurrent
// use: Check may run while a Write is under way (it waits for it).
type Backend struct {
	cfg *Config

	mu    sync.Mutex
	conn  *pgx.Conn // the session that holds the lock; nil when none
	id    int32     // the workspace's id, the lock's second key
	epoch int64     // the epoch this process's lock has
	token string    // this session's mark (certform.session), see Load
	lost  error     // why the lock was lost, until Release
}

// New returns the workspace cfg names as a state.Backend; it connects in
// Load.
func New(cfg *Config) *Backend { return &Backend{cfg: cfg} }

// Name is the Config's Name.
func (b *Backend) Name() string { return b.cfg.Name() }

// Shared is true: several servers share a PostgreSQL workspace.
func (b *Backend) Shared() bool { return true }

// Epoch returns the epoch of the lock this process holds; 0 when none.
func (b *Backend) Epoch() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn == nil {
		return 0
	}
	return b.epoch
}

// holder is what a process records of itself when it takes the lock.
func holder() string { return fmt.Sprintf("certform on %s pid %d", hostname(), os.Getpid()) }

// Load connects, creates or migrates the schema and the workspace, takes
// the workspace's lock without waiting, makes the epoch the next one, and
// reads the state.
func (b *Backend) Load() (*state.File, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*opTimeout)
	defer cancel()
	conn, err := b.cfg.connect(ctx)
	if err != nil {
		return nil, err
	}
	token := randomToken()
	f, id, epoch, err := b.lockAndRead(ctx, conn, token)
	if err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	b.mu.Lock()
	b.conn, b.id, b.epoch, b.token, b.lost = conn, id, epoch, token, nil
	b.mu.Unlock()
	return f, nil
}

// lockAndRead takes the lock on conn and reads the state. A session-level
// lock lasts as long as the session; behind a pooler in transaction or
// statement mode the session answering a statement is any of the pool's,
// shared with other clients. Such a pooler is refused: when this session
// holds the lock before taking it (another client took it on the same
// server session), or when the next statement runs in another session,
// or without the session's mark (token, set with set_config) that every
// check and write looks for afterwards.
func (b *Backend) lockAndRead(ctx context.Context, conn *pgx.Conn, token string) (*state.File, int32, int64, error) {
	name := b.Name()
	if err := b.cfg.migrate(ctx, conn); err != nil {
		return nil, 0, 0, err
	}
	id, err := b.workspaceID(ctx, conn)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: creating the workspace: %w", name, explain(err))
	}
	if err := b.takeLock(ctx, conn, id, token); err != nil {
		return nil, 0, 0, err
	}
	var epoch int64
	if err := conn.QueryRow(ctx, `UPDATE certform.workspaces SET epoch = epoch + 1, holder = $2, holder_since = now()
		WHERE id = $1 RETURNING epoch`, id, holder()).Scan(&epoch); err != nil {
		return nil, 0, 0, fmt.Errorf("%s: recording the lock: %w", name, explain(err))
	}
	f, err := readWorkspace(ctx, conn, b.cfg)
	if err != nil {
		return nil, 0, 0, err
	}
	return f, id, epoch, nil
}

// workspaceID returns the workspace's id, creating its row when missing.
// It is looked up first: an INSERT ... ON CONFLICT would take an id from
// the sequence at every attempt, and standbys attempt every second.
func (b *Backend) workspaceID(ctx context.Context, conn *pgx.Conn) (int32, error) {
	var id int32
	err := conn.QueryRow(ctx, `SELECT id FROM certform.workspaces WHERE name = $1`, b.cfg.Workspace).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err = conn.Exec(ctx, `INSERT INTO certform.workspaces (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, b.cfg.Workspace); err == nil {
			err = conn.QueryRow(ctx, `SELECT id FROM certform.workspaces WHERE name = $1`, b.cfg.Workspace).Scan(&id)
		}
	}
	return id, err
}

// takeLock takes the workspace's advisory lock on conn's session and
// marks the session with token, or fails: a *LockedError naming the
// holder when another session holds it, the pooler error when the lock is
// already held here or the session is not the one locked.
func (b *Backend) takeLock(ctx context.Context, conn *pgx.Conn, id int32, token string) error {
	name := b.Name()
	var already bool
	if err := conn.QueryRow(ctx, `SELECT `+heldSQL("$1", "$2"), int64(lockClass), int64(id)).Scan(&already); err != nil {
		return fmt.Errorf("%s: checking the lock: %w", name, err)
	}
	if already {
		return b.poolerError()
	}
	var got bool
	var pid int32
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2), pg_backend_pid()`, lockClass, id).Scan(&got, &pid); err != nil {
		return b.cfg.lockFuncError(err)
	}
	if !got {
		le := &LockedError{Name: name}
		var since *time.Time
		if err := conn.QueryRow(ctx, `SELECT holder, holder_since FROM certform.workspaces WHERE id = $1`, id).Scan(&le.Holder, &since); err == nil && since != nil {
			le.Since = *since
		}
		return le
	}
	if _, err := conn.Exec(ctx, `SELECT set_config('certform.session', $1, false)`, token); err != nil {
		return fmt.Errorf("%s: marking the session: %w", name, err)
	}
	var same, held bool
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid() = $1, `+fencedSQL("$2", "$3", "$4"), pid, int64(lockClass), int64(id), token).Scan(&same, &held); err != nil {
		return fmt.Errorf("%s: checking the lock: %w", name, err)
	}
	if !same || !held {
		return b.poolerError()
	}
	return nil
}

// heldSQL is true while this session holds the workspace's lock: the
// parameters cls and id are the lock's keys (lockClass and the
// workspace's id, both positive, as bigint).
func heldSQL(cls, id string) string {
	return `EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
		AND classid::bigint = ` + cls + `::bigint AND objid::bigint = ` + id + `::bigint AND objsubid = 2 AND granted)`
}

// fencedSQL is true while this session holds the workspace's lock and
// bears this process's mark: cls, id and token are parameters.
func fencedSQL(cls, id, token string) string {
	return heldSQL(cls, id) + ` AND current_setting('certform.session', true) = ` + token
}

// poolerError is a lock that does not belong to one server session.
func (b *Backend) poolerError() error {
	return fmt.Errorf("%s: the advisory lock is not this connection's own: another client shares its server session, or the next statement "+
		"ran in another session; a connection pooler in transaction or statement mode (such as PgBouncer's pool_mode=transaction) "+
		"is between certform and PostgreSQL, and a session lock cannot work there\n"+
		"hint: connect certform directly to PostgreSQL, or through a pool in session mode", b.Name())
}

func randomToken() string {
	var buf [16]byte
	rand.Read(buf[:]) // never fails since Go 1.24
	return hex.EncodeToString(buf[:])
}

// WritesParts reports that Write reads an Encoded's parts only, never its
// Data (state.PartsWriter): a write that changed one entry encodes and
// sends that entry alone.
func (b *Backend) WritesParts() bool { return true }

// Write saves next as one transaction, conditional on the epoch and on
// this session holding the lock; only the entries that differ from prev
// are sent. Any failure loses the lock (see LostError): the outcome of a
// transaction whose commit got no answer is unknown, so the state in
// memory can no longer be trusted to match the database's.
func (b *Backend) Write(prev, next *state.Encoded) error {
	return b.fencedOp(func(ctx context.Context) error { return b.write(ctx, prev, next) })
}

// fencedOp runs fn with b.mu held on a usable lock, within opTimeout; any
// failure of fn loses the lock (see Write).
func (b *Backend) fencedOp(fn func(context.Context) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usable(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := fn(ctx); err != nil {
		return b.lose(err)
	}
	return nil
}

func (b *Backend) write(ctx context.Context, prev, next *state.Encoded) error {
	tx, err := b.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	observed := ""
	if !next.ObservedAt.IsZero() {
		observed = next.ObservedAt.Format(time.RFC3339Nano)
	}
	tag, err := tx.Exec(ctx, `UPDATE certform.workspaces SET api_url = $3, observed_at = $4, revocations = $5, moved = $9, purchases = $10, updated_at = now()
		WHERE id = $2 AND epoch = $1 AND `+fencedSQL("$6", "$7", "$8"), b.epoch, b.id, next.APIURL, observed, string(next.Revocations), int64(lockClass), int64(b.id), b.token,
		string(next.Moved), string(next.Purchases))
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return errFenced
	}
	batch := &pgx.Batch{}
	for name, data := range next.Entries {
		if string(prev.Entries[name]) == string(data) {
			continue
		}
		batch.Queue(`INSERT INTO certform.entries (workspace, name, data, epoch) VALUES ($1, $2, $3, $4)
			ON CONFLICT (workspace, name) DO UPDATE SET data = EXCLUDED.data, epoch = EXCLUDED.epoch`, b.cfg.Workspace, name, string(data), b.epoch)
	}
	var gone []string
	for name := range prev.Entries {
		if _, ok := next.Entries[name]; !ok {
			gone = append(gone, name)
		}
	}
	if len(gone) > 0 {
		batch.Queue(`DELETE FROM certform.entries WHERE workspace = $1 AND name = ANY($2)`, b.cfg.Workspace, gone)
	}
	if batch.Len() > 0 {
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// errFenced is a write or check the database refused: the epoch moved on
// or this session does not hold the lock.
var errFenced = errors.New("fenced")

// usable returns the lost error when b holds no usable lock; b.mu held.
func (b *Backend) usable() error {
	if b.lost != nil {
		return b.lost
	}
	if b.conn == nil {
		return &LostError{Name: b.Name(), What: "this process does not hold the workspace's lock"}
	}
	return nil
}

// lose turns err into the lock lost for good, closing the session (which
// releases the lock, if the server still counts it as this process's);
// b.mu held.
func (b *Backend) lose(err error) error {
	what := ""
	switch {
	case errors.Is(err, errFenced):
		what = "the workspace's lock epoch moved on or this session no longer holds its lock (another process took it, or a pooler gave this connection another session)"
	default:
		var pe *pgconn.PgError
		switch {
		case errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "57") || strings.HasPrefix(pe.Code, "08")):
			// operator_intervention (a terminated backend, a shutdown) or
			// connection_exception
			what = fmt.Sprintf("the database ended this session (%s, SQLSTATE %s), and with it the lock", pe.Message, pe.Code)
		case errors.As(err, &pe):
			what = fmt.Sprintf("the database refused a statement (%s, SQLSTATE %s)", pe.Message, pe.Code)
		default:
			what = fmt.Sprintf("the connection to the database failed or timed out (%v); its session, and so the lock, may be gone", err)
		}
	}
	b.lost = &LostError{Name: b.Name(), What: what}
	if b.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		b.conn.Close(ctx)
		cancel()
		b.conn = nil
	}
	return b.lost
}

// checkTimeout bounds Check: it runs before every CertCentral call.
const checkTimeout = 5 * time.Second

// Check proves, in the database, that the epoch is still this process's
// and this session still holds the lock; it waits for a Write under way.
// A failure loses the lock (see Write).
func (b *Backend) Check() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usable(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	var ok bool
	err := b.conn.QueryRow(ctx, `SELECT epoch = $1 AND `+fencedSQL("$2", "$3", "$5")+` FROM certform.workspaces WHERE id = $4`, b.epoch, int64(lockClass), int64(b.id), b.id, b.token).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !ok) {
		err = errFenced
	}
	if err != nil {
		return b.lose(err)
	}
	return nil
}

// Release gives the lock up and closes the session. Releasing twice, or
// after the lock was lost, does nothing.
func (b *Backend) Release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lost = nil
	if b.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Closing the session releases the lock even if unlocking fails.
	b.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, lockClass, b.id)
	b.conn.Close(ctx)
	b.conn = nil
	return nil
}

// Read reads the workspace's state without a lock, in one read-only
// snapshot (plan, status and state pull; a read-only role suffices). A
// database without certform's schema, or without the workspace, reads as
// an empty state, as a state file not created yet does; a newer schema is
// refused.
func Read(ctx context.Context, cfg *Config) (*state.File, error) {
	conn, err := cfg.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	return readWorkspace(ctx, conn, cfg)
}

// Exists reports whether the workspace cfg names has been created (by a
// first apply, import or run, or a state migrate into it), without a
// lock: for status, which refuses a workspace that does not exist (a
// mistyped --workspace) where plan reads it as empty.
func Exists(ctx context.Context, cfg *Config) (bool, error) {
	conn, err := cfg.connect(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	v, err := schemaVersion(ctx, conn)
	if err != nil {
		return false, fmt.Errorf("%s: reading the schema version: %w", cfg.Name(), explain(err))
	}
	if v == 0 {
		return false, nil
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM certform.workspaces WHERE name = $1)`, cfg.Workspace).Scan(&exists); err != nil {
		return false, fmt.Errorf("%s: reading: %w", cfg.Name(), explain(err))
	}
	return exists, nil
}

// readWorkspace reads the workspace in one REPEATABLE READ, read-only
// transaction.
func readWorkspace(ctx context.Context, conn *pgx.Conn, cfg *Config) (*state.File, error) {
	name := cfg.Name()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("%s: reading: %w", name, err)
	}
	defer tx.Rollback(ctx)
	v, err := schemaVersion(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the schema version: %w", name, explain(err))
	}
	f := &state.File{Version: state.Version, Entries: map[string]*state.Entry{}}
	if v > SchemaVersion {
		return nil, &NewerSchemaError{Name: name, Version: v}
	}
	if v < SchemaVersion {
		if v == 0 {
			return f, nil
		}
		return nil, fmt.Errorf("%s: the schema %q is at version %d, older than this certform's %d; it is migrated by the first apply, import or run", name, Schema, v, SchemaVersion)
	}
	if found, err := readHead(ctx, tx, cfg, f); err != nil || !found {
		return f, err
	}
	if err := readEntries(ctx, tx, cfg, f); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("%s: reading: %w", name, err)
	}
	// Encode puts f in the shape a state file's reader gives it.
	if _, err := state.Encode(f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// readHead reads the workspace's file-level fields into f; found is false
// when the workspace has no row yet (f stays empty).
func readHead(ctx context.Context, tx pgx.Tx, cfg *Config, f *state.File) (found bool, err error) {
	name := cfg.Name()
	var apiURL, observed, revs, moved, purs string
	err = tx.QueryRow(ctx, `SELECT api_url, observed_at, revocations, moved, purchases FROM certform.workspaces WHERE name = $1`, cfg.Workspace).Scan(&apiURL, &observed, &revs, &moved, &purs)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: reading: %w", name, explain(err))
	}
	f.APIURL = apiURL
	if observed != "" {
		if f.ObservedAt, err = time.Parse(time.RFC3339Nano, observed); err != nil {
			return false, fmt.Errorf("%s: observed_at %q: %v", name, observed, err)
		}
	}
	if f.Revocations, err = state.DecodeRevocations(name+": the revocation log", []byte(revs)); err != nil {
		return false, err
	}
	if f.Moved, err = state.DecodeMoved(name+": the moved mark", []byte(moved)); err != nil {
		return false, err
	}
	if f.Purchases, err = state.DecodePurchases(name+": the purchase log", []byte(purs)); err != nil {
		return false, err
	}
	return true, nil
}

// readEntries reads the workspace's entries into f.Entries.
func readEntries(ctx context.Context, tx pgx.Tx, cfg *Config, f *state.File) error {
	name := cfg.Name()
	rows, err := tx.Query(ctx, `SELECT name, data FROM certform.entries WHERE workspace = $1`, cfg.Workspace)
	if err != nil {
		return fmt.Errorf("%s: reading the entries: %w", name, explain(err))
	}
	defer rows.Close()
	for rows.Next() {
		var n, data string
		if err := rows.Scan(&n, &data); err != nil {
			return fmt.Errorf("%s: reading the entries: %w", name, err)
		}
		e, err := state.DecodeEntry(fmt.Sprintf("%s: entry %q", name, n), []byte(data))
		if err != nil {
			return err
		}
		f.Entries[n] = e
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: reading the entries: %w", name, err)
	}
	return nil
}
