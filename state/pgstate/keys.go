package pgstate

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/certform/certform/keys"
)

// The private keys certform makes for specs with key_type live in
// certform.keys, one row per spec name and CSR fingerprint, as the bytes
// package keys seals with age: this package never sees a key in the
// clear, and a dump of the database shows none. A key is written and
// removed as the state is: in a transaction on the session that holds the
// workspace's lock, which first proves (as Write does) that the epoch is
// still this process's and that this session still holds the lock, so a
// deposed leader cannot write or remove a key. Any failure loses the lock
// (see LostError). Reading needs the lock too (the session reads), but not
// the proof: a key read by a process that lost its lock is only used for
// a call that Check refuses first.

// PutSealedKey stores sealed, a key sealed by package keys, under the
// spec's name and the CSR's fingerprint, replacing a key stored there
// before; fenced as Write is.
func (b *Backend) PutSealedKey(name, fingerprint string, sealed []byte) error {
	return b.fencedKeyTx(func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO certform.keys (workspace, name, csr_fingerprint, sealed, epoch) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (workspace, name, csr_fingerprint) DO UPDATE SET sealed = EXCLUDED.sealed, epoch = EXCLUDED.epoch, created_at = now()`,
			b.cfg.Workspace, name, fingerprint, sealed, b.epoch)
		return err
	})
}

// DeleteSealedKey removes the key stored under name and fingerprint; one
// that is not there is not an error. Fenced as Write is.
func (b *Backend) DeleteSealedKey(name, fingerprint string) error {
	return b.fencedKeyTx(func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM certform.keys WHERE workspace = $1 AND name = $2 AND csr_fingerprint = $3`,
			b.cfg.Workspace, name, fingerprint)
		return err
	})
}

// SealedKey returns the sealed key stored under name and fingerprint, or
// an error matching keys.ErrNotFound when there is none. It reads on the
// session that holds the lock, so it fails when this process holds none.
func (b *Backend) SealedKey(name, fingerprint string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usable(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var sealed []byte
	err := b.conn.QueryRow(ctx, `SELECT sealed FROM certform.keys WHERE workspace = $1 AND name = $2 AND csr_fingerprint = $3`,
		b.cfg.Workspace, name, fingerprint).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s: key of %s (CSR %s): %w", b.Name(), name, fingerprint, keys.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: reading the key of %s (CSR %s): %w", b.Name(), name, fingerprint, err)
	}
	return sealed, nil
}

// fencedKeyTx runs fn in one transaction on the lock's session after the
// fencing proof, with b.mu held; any failure loses the lock.
func (b *Backend) fencedKeyTx(fn func(context.Context, pgx.Tx) error) error {
	return b.fencedOp(func(ctx context.Context) error { return b.keyTx(ctx, fn) })
}

func (b *Backend) keyTx(ctx context.Context, fn func(context.Context, pgx.Tx) error) error {
	tx, err := b.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// FOR SHARE: the epoch cannot move on until this transaction ends.
	var ok bool
	err = tx.QueryRow(ctx, `SELECT epoch = $1 AND `+fencedSQL("$2", "$3", "$5")+` FROM certform.workspaces WHERE id = $4 FOR SHARE`,
		b.epoch, int64(lockClass), int64(b.id), b.id, b.token).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !ok) {
		return errFenced
	}
	if err != nil {
		return err
	}
	if err := fn(ctx, tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// DeleteSealedKeys removes every key stored for the spec name (certform
// forget) and returns how many were; fenced as Write is.
func (b *Backend) DeleteSealedKeys(name string) (int64, error) {
	var n int64
	err := b.fencedKeyTx(func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM certform.keys WHERE workspace = $1 AND name = $2`, b.cfg.Workspace, name)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}
