package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"filippo.io/age"

	"github.com/certform/certform/internal/cli/view"
	"github.com/certform/certform/internal/runner"
	"github.com/certform/certform/keys"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/state"
	"github.com/spf13/pflag"
)

// keyFlags is the key group, part of the delivery flags (apply, run): where
// the private keys certform makes are kept.
type keyFlags struct {
	// keyDir is where the keys made for specs with key_type live, for a
	// state file (default keys/ beside it).
	keyDir string
	// keyRecipients and keyIdentity seal and open the keys of a shared
	// state (openSharedKeys).
	keyRecipients recipientsFlag
	keyIdentity   string
}

// register declares the key flags on fs.
func (f *keyFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.keyDir, "key-dir", "", "where the private keys certform makes for specs with key_type are kept, with a state file (folder 0700, files 0600); default keys/ beside the state file, never inside --dir")
	fs.Var(&f.keyRecipients, "key-recipient", keyRecipientUsage)
	fs.StringVar(&f.keyIdentity, "key-identity-file", "", keyIdentityUsage)
}

// lazyKeys is the key store of a state file, opened (and its folder
// created, 0700) on first use, so that a spec tree without key_type never
// makes the folder.
type lazyKeys struct {
	dir   string
	once  sync.Once
	store *keys.Store
	err   error
}

func (l *lazyKeys) open() (*keys.Store, error) {
	l.once.Do(func() {
		l.store, l.err = keys.OpenStore(l.dir)
		if l.err == nil {
			// Leftovers of a write a kill -9 interrupted; the state's
			// lock is held, so no other process writes here.
			l.err = l.store.RemoveTemporary()
		}
		if l.err != nil {
			l.err = fmt.Errorf("key store %s: %w", l.dir, l.err)
		}
	})
	return l.store, l.err
}

// Put stores a key (keys.Store.Put).
func (l *lazyKeys) Put(name, fingerprint string, k keys.Key) error {
	s, err := l.open()
	if err != nil {
		return err
	}
	return s.Put(name, fingerprint, k)
}

// Get reads a key (keys.Store.Get).
func (l *lazyKeys) Get(name, fingerprint string) (keys.Key, error) {
	s, err := l.open()
	if err != nil {
		return keys.Key{}, err
	}
	return s.Get(name, fingerprint)
}

// Delete removes a key (keys.Store.Delete).
func (l *lazyKeys) Delete(name, fingerprint string) error {
	s, err := l.open()
	if err != nil {
		return err
	}
	return s.Delete(name, fingerprint)
}

// certGroupError is --cert-group's error for a group that cannot be
// looked up (err), with what to give instead.
func certGroupError(group string, err error) error {
	var unknown user.UnknownGroupError
	if errors.As(err, &unknown) {
		return fmt.Errorf("--cert-group %s: no such group on this machine\nhint: give an existing group (getent group lists them), such as the web server's", group)
	}
	return fmt.Errorf("--cert-group %s: %w", group, err)
}

// lookupGroup returns the id of a group given by name or number.
func lookupGroup(name string) (int, error) {
	if id, err := strconv.Atoi(name); err == nil && id >= 0 {
		return id, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(g.Gid)
}

// The flags of the keys of a shared state, declared with --key-dir.
const (
	keyRecipientUsage = "with a shared (PostgreSQL) state, seal the keys certform makes to this age public key (age1...; repeatable, or several separated by commas); default: the identity's own"
	keyIdentityUsage  = "with a shared (PostgreSQL) state, the age identity file (age-keygen) that opens its keys; default: the systemd credential " + keys.CredentialName
)

// recipientsFlag is --key-recipient: repeatable, and each value may list
// several recipients separated by commas or spaces (so that one
// CERTFORM_KEY_RECIPIENT can give them all; set to "" it gives none).
// keys.ParseRecipients checks each.
type recipientsFlag []string

// String lists the recipients given, comma-separated.
func (r *recipientsFlag) String() string { return strings.Join(*r, ",") }

// Type is the flag's type in the help: "value", as Go's flag package wrote it.
func (r *recipientsFlag) Type() string { return "value" }

// Set adds the recipients of one value.
func (r *recipientsFlag) Set(v string) error {
	*r = append(*r, strings.FieldsFunc(v, func(c rune) bool { return c == ',' || unicode.IsSpace(c) })...)
	return nil
}

// openSharedKeys sets r.Keys for a shared (PostgreSQL) state: its keys,
// sealed with age to --key-recipient (the identity's own public key when
// none is given) and kept in the database under the state's lock, opened
// with the identity of --key-identity-file or of the systemd credential
// certform-key-identity. Without an identity, specs with key_type are
// refused (r.NoKeyStore); --key-recipient without one is an error, as is
// --key-dir.
func (f *deliveryFlags) openSharedKeys(r *reconcile.Reconciler) error {
	if f.keyDir != "" {
		return errors.New("--key-dir is for a state file; a shared (PostgreSQL) state keeps its keys in the database")
	}
	ids, path, err := keys.LoadIdentities(f.keyIdentity, os.Getenv("CREDENTIALS_DIRECTORY"))
	if errors.Is(err, keys.ErrNoIdentity) {
		if len(f.keyRecipients) > 0 {
			return fmt.Errorf("--key-recipient seals keys that certform must open again: %w", err)
		}
		r.NoKeyStore = true
		return nil
	}
	if err != nil {
		return err
	}
	var recipients []age.Recipient
	if len(f.keyRecipients) > 0 {
		if recipients, err = keys.ParseRecipients(f.keyRecipients); err != nil {
			return err
		}
	}
	var blobs keys.SealedBlobs
	if r.Store != nil {
		blobs, _ = r.Store.Backend().(keys.SealedBlobs)
	}
	if blobs == nil {
		return errors.New("this shared state cannot keep keys")
	}
	ks, err := keys.NewSealedStore(blobs, recipients, ids)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	r.Keys = ks
	return nil
}

// planKeyIdentityUsage is plan's --key-identity-file.
const planKeyIdentityUsage = "with a shared (PostgreSQL) state, the age identity file apply uses: without it (or the systemd credential " + keys.CredentialName + "), a new spec with key_type is blocked, as apply would block it; plan reads no key"

// planKeys is plan's runner.Setup for the keys. Plan reads no key, but on
// a shared (PostgreSQL) state it tells what apply would do: without an
// age identity (--key-identity-file, or the systemd credential
// certform-key-identity) a new spec with key_type is blocked
// (r.NoKeyStore). A given identity file is read and checked, as apply
// reads it, but opens nothing; with a state file --key-identity-file is
// refused, as apply refuses it.
func planKeys(identity string, loc stateLocation) runner.Setup {
	return func(r *reconcile.Reconciler) error {
		if !loc.Shared() {
			if identity != "" {
				return errors.New("--key-identity-file is for a shared (PostgreSQL) state; a state file keeps its keys in --key-dir")
			}
			return nil
		}
		_, _, err := keys.LoadIdentities(identity, os.Getenv("CREDENTIALS_DIRECTORY"))
		if errors.Is(err, keys.ErrNoIdentity) {
			r.NoKeyStore = true
			return nil
		}
		return err
	}
}

// forgetKeyStore is where certform forget removes the keys of the entry
// it drops, opened before the state is changed (openForgetKeys).
type forgetKeyStore struct {
	shared bool        // a shared state: its rows of the name go
	ks     *keys.Store // the key store of a state file; nil when none is used
	dir    string      // the key folder of a state file
	fps    []string    // the CSR fingerprints the entry records
}

// openForgetKeys opens, before forget drops e (the entry of spec name),
// the key store its keys will be removed from, so that a key store that
// cannot be used stops forget with the state unchanged. For a state file
// that is keyDir (keys/ beside the state file when empty); the keys are
// the key files the entry records: its key, its previous keys and the key
// of its intent. A folder that does not exist holds none (ks stays nil).
// A folder that is not a key store (wrong mode, not a folder), or whose
// files this user may not remove, is an error.
func openForgetKeys(store *state.Store, loc stateLocation, keyDir string, e *state.Entry) (*forgetKeyStore, error) {
	if loc.Shared() {
		return &forgetKeyStore{shared: true}, nil
	}
	fk := &forgetKeyStore{fps: entryKeys(e), dir: keyDir}
	if len(fk.fps) == 0 {
		return fk, nil
	}
	if fk.dir == "" {
		fk.dir = filepath.Join(filepath.Dir(store.Path()), "keys")
	}
	if _, err := os.Lstat(fk.dir); errors.Is(err, fs.ErrNotExist) {
		return fk, nil
	}
	ks, err := keys.OpenStore(fk.dir)
	if err != nil {
		return nil, err
	}
	if err := mayWriteInto(ks.Dir()); err != nil {
		return nil, fmt.Errorf("key directory %s: this user may not remove files in it (%v)\nhint: run certform forget as the user that runs apply", fk.dir, err)
	}
	fk.ks = ks
	return fk, nil
}

// forgetKeys removes the keys kept for the entry of spec name that
// certform forget dropped: the rows of a shared state (every row of the
// name in its workspace, which is that one entry's; no identity needed to
// remove them), or the key files fk.fps in fk.ks. Other key files of the
// same name stay: another state file in the same folder shares keys/ and
// may hold them. It returns how many it removed.
func forgetKeys(store *state.Store, fk *forgetKeyStore, name string) (int, error) {
	if fk.shared {
		b, ok := store.Backend().(interface{ DeleteSealedKeys(string) (int64, error) })
		if !ok {
			return 0, nil
		}
		n, err := b.DeleteSealedKeys(name)
		return int(n), err
	}
	if fk.ks == nil {
		return 0, nil
	}
	return fk.ks.DeleteKeys(name, fk.fps)
}

// entryKeys returns the CSR fingerprints of the keys e records (its key,
// its previous keys, its intent's key), each once.
func entryKeys(e *state.Entry) []string {
	if e == nil {
		return nil
	}
	var recs []state.KeyRecord
	if e.Key != nil {
		recs = append(recs, *e.Key)
	}
	recs = append(recs, e.PreviousKeys...)
	if e.Intent != nil && e.Intent.Key != nil {
		recs = append(recs, *e.Intent.Key)
	}
	var fps []string
	for _, r := range recs {
		if r.CSRFingerprint != "" && !slices.Contains(fps, r.CSRFingerprint) {
			fps = append(fps, r.CSRFingerprint)
		}
	}
	return fps
}

// removeForgottenKeys removes the keys of the entry of name that forget
// dropped from the state (forgetKeys, in fk opened before), says how many,
// and returns forget's exit code. A key folder that does not exist while
// the entry recorded keys is a warning naming it and the fingerprints; a
// removal that fails lists the key files still there, which no state
// records any more.
func removeForgottenKeys(stdout, stderr io.Writer, store *state.Store, fk *forgetKeyStore, name string) int {
	if !fk.shared && fk.ks == nil && len(fk.fps) > 0 {
		plural := ""
		if len(fk.fps) > 1 {
			plural = "s"
		}
		fmt.Fprintf(stderr, "certform forget: warning: the key directory %s does not exist, so no key of %s was removed; its entry recorded %s (CSR fingerprint%s %s)\n"+
			"hint: if apply kept them elsewhere (--key-dir or CERTFORM_KEY_DIR), remove %s.FINGERPRINT.key.pem there\n",
			fk.dir, name, view.CountOf(len(fk.fps), "key"), plural, strings.Join(fk.fps, ", "), name)
		return exitOK
	}
	n, err := forgetKeys(store, fk, name)
	if n > 0 {
		fmt.Fprintf(stdout, "Removed %s of %s from the key store.\n", view.CountOf(n, "private key"), name)
	}
	if err != nil {
		fmt.Fprintf(stderr, "certform forget: %s is forgotten, but removing its keys failed: %v\n", name, err)
		if fk.ks != nil {
			var left []string
			for _, fp := range fk.fps {
				if p, perr := fk.ks.KeyPath(name, fp); perr == nil {
					if _, serr := os.Lstat(p); serr == nil {
						left = append(left, p)
					}
				}
			}
			if len(left) > 0 {
				fmt.Fprintf(stderr, "hint: no state records these key files of %s any more; remove them by hand:\n  %s\n", name, strings.Join(left, "\n  "))
			}
		}
		return exitError
	}
	return exitOK
}
