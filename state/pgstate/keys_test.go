package pgstate

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/certform/certform/keys"
	"github.com/certform/certform/state"
)

const testFP = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// openKeys opens the workspace and a sealed key store on its backend,
// sealed to (and opened with) id.
func openKeys(t *testing.T, cfg *Config, id *age.X25519Identity) (*state.Store, *Backend, *keys.SealedStore) {
	t.Helper()
	b := New(cfg)
	s, err := state.OpenBackend(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ks, err := keys.NewSealedStore(b, nil, []age.Identity{id})
	if err != nil {
		t.Fatal(err)
	}
	return s, b, ks
}

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newKey(t *testing.T) keys.Key {
	t.Helper()
	k, err := keys.Generate("ecdsa-p256")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyRows returns the sealed bytes of every key row of the database.
func keyRows(t *testing.T, cfg *Config) [][]byte {
	t.Helper()
	conn, err := cfg.connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT sealed FROM certform.keys ORDER BY name, csr_fingerprint`)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestKeys_roundTrip(t *testing.T) {
	_, cfg := newWorkspace(t, "")
	_, b, ks := openKeys(t, cfg, newIdentity(t))
	k := newKey(t)
	if err := ks.Put("shop", testFP, k); err != nil {
		t.Fatal(err)
	}
	got, err := ks.Get("shop", testFP)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := k.PKCS8PEM()
	if have, _ := got.PKCS8PEM(); !bytes.Equal(have, want) {
		t.Fatal("the key read back is not the key stored")
	}
	// The database holds the key sealed: neither its PEM nor its DER.
	block, _ := pem.Decode(want)
	der := block.Bytes
	rows := keyRows(t, cfg)
	if len(rows) != 1 {
		t.Fatalf("%d key rows, want 1", len(rows))
	}
	if bytes.Contains(rows[0], []byte("PRIVATE KEY")) || bytes.Contains(rows[0], der) || !bytes.HasPrefix(rows[0], []byte("age-encryption.org/v1\n")) {
		t.Errorf("the row is not an age file, or holds the key in the clear")
	}
	if _, err := ks.Get("shop", strings.Repeat("f", 64)); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("Get of another fingerprint: %v, want ErrNotFound", err)
	}
	if err := ks.Delete("shop", testFP); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Get("shop", testFP); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := ks.Delete("shop", testFP); err != nil {
		t.Errorf("Delete of a key not there: %v", err)
	}
	// forget: every key of a name goes, no other name's.
	for _, n := range []string{"shop", "blog"} {
		for _, fp := range []string{testFP, strings.Repeat("b", 64)} {
			if err := ks.Put(n, fp, newKey(t)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n, err := b.DeleteSealedKeys("shop"); err != nil || n != 2 {
		t.Errorf("DeleteSealedKeys: %d, %v; want 2", n, err)
	}
	if _, err := ks.Get("blog", testFP); err != nil {
		t.Errorf("another spec's key went: %v", err)
	}
	if n, err := b.DeleteSealedKeys("blog"); err != nil || n != 2 {
		t.Errorf("DeleteSealedKeys: %d, %v; want 2", n, err)
	}
	if n := len(keyRows(t, cfg)); n != 0 {
		t.Errorf("%d key rows after Delete", n)
	}
}

// A deposed leader (its session ended, another process took the lock)
// can neither put nor delete a key, and what it tried is not in the
// database.
func TestKeys_fencedWriterCannotPut(t *testing.T) {
	srv, cfg := newWorkspace(t, "")
	id := newIdentity(t)
	first, oldB, oldKS := openKeys(t, cfg, id)
	if err := oldKS.Put("shop", testFP, newKey(t)); err != nil {
		t.Fatal(err)
	}
	srv.Exec(t, cfg.conn.Database, `SELECT pg_terminate_backend($1, 10000)`, lockSession(t, srv, cfg))
	_, _, newKS := openKeys(t, cfg, id)
	other := strings.Repeat("a", 64)
	if err := oldKS.Put("shop", other, newKey(t)); !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("Put by the deposed leader: %v, want ErrLockLost", err)
	}
	if err := oldKS.Delete("shop", testFP); !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("Delete by the deposed leader: %v, want ErrLockLost", err)
	}
	if _, err := oldB.DeleteSealedKeys("shop"); !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("DeleteSealedKeys by the deposed leader: %v, want ErrLockLost", err)
	}
	if err := first.Check(); !errors.Is(err, state.ErrLockLost) {
		t.Errorf("Check after a fenced put: %v", err)
	}
	if _, err := newKS.Get("shop", other); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("the fenced put landed: %v", err)
	}
	if _, err := newKS.Get("shop", testFP); err != nil {
		t.Errorf("the fenced delete landed: %v", err)
	}
}

// A put whose epoch moved on writes nothing, though this session still
// holds its advisory lock.
func TestKeys_fencedByEpoch(t *testing.T) {
	srv, cfg := newWorkspace(t, "")
	s, _, ks := openKeys(t, cfg, newIdentity(t))
	srv.Exec(t, cfg.conn.Database, `UPDATE certform.workspaces SET epoch = epoch + 1`)
	err := ks.Put("shop", testFP, newKey(t))
	if !errors.Is(err, state.ErrLockLost) || !strings.Contains(err.Error(), "lock lost: the workspace's lock epoch moved on") {
		t.Fatalf("Put: %v, want ErrLockLost", err)
	}
	if n := len(keyRows(t, cfg)); n != 0 {
		t.Errorf("%d key rows after a fenced put", n)
	}
	if err := s.Check(); !errors.Is(err, state.ErrLockLost) {
		t.Errorf("Check after a fenced put: %v", err)
	}
}

// A key sealed to one identity does not open with another: a clear error
// that says what to do, quoting no key bytes.
func TestKeys_wrongIdentity(t *testing.T) {
	_, cfg := newWorkspace(t, "")
	s, b, ks := openKeys(t, cfg, newIdentity(t))
	if err := ks.Put("shop", testFP, newKey(t)); err != nil {
		t.Fatal(err)
	}
	wrong, err := keys.NewSealedStore(b, nil, []age.Identity{newIdentity(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.Get("shop", testFP)
	want := "key for shop (CSR " + testFP + "): open sealed key: no age identity given matches the key's recipients\n" +
		"hint: use the identity of one of the --key-recipient public keys the key was sealed to"
	if !errors.Is(err, keys.ErrNoIdentityMatch) || err.Error() != want {
		t.Fatalf("Get with another identity: %v\nwant: %s", err, want)
	}
	if err := s.Check(); err != nil {
		t.Errorf("a key that does not open is no lost lock: %v", err)
	}
}

// Keys sealed to several recipients open with any of their identities;
// recipients that leave out the identity's own are refused, since the
// process could not open what it seals.
func TestKeys_recipients(t *testing.T) {
	_, cfg := newWorkspace(t, "")
	mine, backup := newIdentity(t), newIdentity(t)
	_, b, _ := openKeys(t, cfg, mine)
	if _, err := keys.NewSealedStore(b, []age.Recipient{backup.Recipient()}, []age.Identity{mine}); !errors.Is(err, keys.ErrIdentityNotRecipient) {
		t.Fatalf("recipients without the identity's own: %v", err)
	}
	ks, err := keys.NewSealedStore(b, []age.Recipient{mine.Recipient(), backup.Recipient()}, []age.Identity{mine})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Put("shop", testFP, newKey(t)); err != nil {
		t.Fatal(err)
	}
	restore, err := keys.NewSealedStore(b, nil, []age.Identity{backup})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restore.Get("shop", testFP); err != nil {
		t.Errorf("the backup identity does not open the key: %v", err)
	}
}

// A database at schema version 3 gains the keys table.
func TestMigrate_keys(t *testing.T) {
	srv, cfg := newWorkspace(t, "")
	s := open(t, cfg)
	if err := s.Update("a", func(e *state.Entry) bool { e.OrderID = 1; return true }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	srv.Exec(t, cfg.conn.Database, `DROP TABLE certform.keys; UPDATE certform.schema_version SET version = 3`)
	s2, _, ks := openKeys(t, cfg, newIdentity(t))
	if e := s2.Entry("a"); e == nil || e.OrderID != 1 {
		t.Fatalf("after the migration: %+v", e)
	}
	if err := ks.Put("a", testFP, newKey(t)); err != nil {
		t.Fatal(err)
	}
	if SchemaVersion != 4 {
		t.Errorf("SchemaVersion %d", SchemaVersion)
	}
}
