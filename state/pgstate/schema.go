package pgstate

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Schema is the PostgreSQL schema certform keeps its tables in.
const Schema = "certform"

// lockClass is the first key of every advisory lock certform takes
// ("cerf" in ASCII); the second is the workspace's id, or 0 for the lock
// that serializes migrations.
const lockClass int32 = 0x63657266

// migrations are the schema's versions: migrations[i] takes the schema
// from version i to i+1. A released migration is never changed; a change
// is a new one appended. SchemaVersion is len(migrations).
//
// The state is kept as the file format's parts: one row per workspace
// (the lock's epoch and holder, the API URL, the observation time, the
// revocation and purchase logs, the moved mark) and one row per entry, whose JSON is kept as text, byte
// for byte as the file has it. Each entry is its own row so that a write
// sends only the entries that changed.
var migrations = []string{
	`CREATE TABLE certform.workspaces (
		id integer GENERATED ALWAYS AS IDENTITY UNIQUE,
		name text PRIMARY KEY,
		epoch bigint NOT NULL DEFAULT 0,
		holder text NOT NULL DEFAULT '',
		holder_since timestamptz,
		api_url text NOT NULL DEFAULT '',
		observed_at text NOT NULL DEFAULT '',
		revocations text NOT NULL DEFAULT '',
		updated_at timestamptz NOT NULL DEFAULT now()
	);
	CREATE TABLE certform.entries (
		workspace text NOT NULL REFERENCES certform.workspaces (name) ON DELETE CASCADE,
		name text NOT NULL,
		data text NOT NULL,
		epoch bigint NOT NULL,
		PRIMARY KEY (workspace, name)
	);
	COMMENT ON SCHEMA certform IS 'certform''s state; see "Shared state on PostgreSQL" in docs/state.md';`,
	// 2: where certform state migrate copied the workspace to (the JSON
	// of state.Moved; '' when it was not), so that no command uses it
	// after.
	`ALTER TABLE certform.workspaces ADD COLUMN moved text NOT NULL DEFAULT '';`,
	// 3: the purchase log (--max-purchases), kept like the revocation log.
	`ALTER TABLE certform.workspaces ADD COLUMN purchases text NOT NULL DEFAULT '';`,
	// 4: the private keys certform makes for specs with key_type, sealed
	// with age (never in the clear), by spec name and CSR fingerprint;
	// epoch is the lock's when the key was written (see keys.go). IF NOT
	// EXISTS: a schema set back to an older version by hand keeps its keys.
	`CREATE TABLE IF NOT EXISTS certform.keys (
		workspace text NOT NULL REFERENCES certform.workspaces (name) ON DELETE CASCADE,
		name text NOT NULL,
		csr_fingerprint text NOT NULL,
		sealed bytea NOT NULL,
		epoch bigint NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (workspace, name, csr_fingerprint)
	);`,
}

// SchemaVersion is the schema version this certform writes and reads.
var SchemaVersion = len(migrations)

// NewerSchemaError is a database whose certform schema a newer certform
// has migrated: this one does not know its tables and touches nothing.
type NewerSchemaError struct {
	Name    string
	Version int
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("%s: the schema %q is at version %d, written by a newer certform; this certform knows versions up to %d and changes nothing\n"+
		"hint: run the certform release that migrated it (or a newer one) on every server and in CI", e.Name, Schema, e.Version, SchemaVersion)
}

// schemaVersion reads the schema's version: 0 when certform's tables do
// not exist yet.
func schemaVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('certform.schema_version') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, nil
	}
	var v int
	err := q.QueryRow(ctx, `SELECT version FROM certform.schema_version`).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// migrate brings the schema to SchemaVersion, in one transaction under an
// advisory transaction lock (two certform processes starting at once
// migrate once), and refuses a newer schema. A schema already current is
// only read, so a role without CREATE rights can use it.
func (c *Config) migrate(ctx context.Context, conn *pgx.Conn) error {
	v, err := schemaVersion(ctx, conn)
	if err != nil {
		return fmt.Errorf("%s: reading the schema version: %w", c.Name(), err)
	}
	if v > SchemaVersion {
		return &NewerSchemaError{Name: c.Name(), Version: v}
	}
	if v == SchemaVersion {
		return nil
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: migrating: %w", c.Name(), err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, lockClass); err != nil {
		return c.lockFuncError(err)
	}
	steps := []string{`CREATE SCHEMA IF NOT EXISTS certform`,
		`CREATE TABLE IF NOT EXISTS certform.schema_version (
			one boolean PRIMARY KEY DEFAULT true CHECK (one),
			version integer NOT NULL,
			migrated_at timestamptz NOT NULL DEFAULT now())`}
	for _, s := range steps {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: creating the schema %q: %w", c.Name(), Schema, explain(err))
		}
	}
	// Read again under the lock: another process may have migrated.
	if v, err = schemaVersion(ctx, tx); err != nil {
		return fmt.Errorf("%s: reading the schema version: %w", c.Name(), err)
	}
	if v > SchemaVersion {
		return &NewerSchemaError{Name: c.Name(), Version: v}
	}
	for i := v; i < SchemaVersion; i++ {
		if _, err := tx.Exec(ctx, migrations[i]); err != nil {
			return fmt.Errorf("%s: migrating the schema %q to version %d: %w", c.Name(), Schema, i+1, explain(err))
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO certform.schema_version (version) VALUES ($1)
		ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version, migrated_at = now()`, SchemaVersion); err != nil {
		return fmt.Errorf("%s: recording the schema version: %w", c.Name(), explain(err))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: migrating: %w", c.Name(), err)
	}
	return nil
}

// lockFuncError explains an error from an advisory lock function: a
// server without them (an engine that speaks PostgreSQL's protocol but is
// not PostgreSQL) cannot hold certform's lock.
func (c *Config) lockFuncError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42883" || pe.Code == "0A000") { // undefined_function, feature_not_supported
		return fmt.Errorf("%s: this server has no advisory locks (%s); certform needs them to keep two processes from acting on one state\n"+
			"hint: use PostgreSQL itself (9.6 or newer), or a state file", c.Name(), pe.Message)
	}
	if errors.As(err, &pe) && pe.Code == "42501" { // insufficient_privilege
		return fmt.Errorf("%s: this role may not take advisory locks (%s); certform needs them to keep two processes from acting on one state\n"+
			"hint: GRANT EXECUTE ON FUNCTION pg_try_advisory_lock(integer, integer), pg_advisory_unlock(integer, integer), "+
			"pg_advisory_xact_lock(integer, integer) TO the role", c.Name(), pe.Message)
	}
	return fmt.Errorf("%s: taking an advisory lock: %w", c.Name(), err)
}

// explain adds a hint to a permission error.
func explain(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42501" { // insufficient_privilege
		return fmt.Errorf("%w\nhint: the first certform run on a database (and the first of a new release) creates or migrates the schema %q: "+
			"run it once with a role that may create it (CREATE on the database), then the usual role needs USAGE on the schema and "+
			"SELECT, INSERT, UPDATE, DELETE on its tables", err, Schema)
	}
	return err
}
