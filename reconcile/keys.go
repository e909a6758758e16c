package reconcile

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	"github.com/certform/certform/keys"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// KeyStore keeps the private keys certform makes for specs with key_type,
// by spec name and CSR fingerprint (the hex SHA-256 of the DER bytes of
// the CSR sent with the key). *keys.Store is one (the state file's
// --key-dir), *keys.SealedStore another (a shared state's, sealed with
// age in its database).
type KeyStore interface {
	Put(name, fingerprint string, k keys.Key) error
	Get(name, fingerprint string) (keys.Key, error)
	Delete(name, fingerprint string) error
}

// ErrNoKeyStore is the error of an order, renewal or reissue of a spec with
// key_type when certform has no key store to keep its key in: nothing is
// sent.
var ErrNoKeyStore = errors.New("the spec has key_type, but certform has no key store to keep the key it makes; nothing was sent\n" +
	"hint: with a state file, keys live in --key-dir (keys/ beside the state file by default); a shared (PostgreSQL) state needs --key-identity-file")

// BlockedKeyStore (Action.BlockedBy): the order of a new spec with
// key_type, or a reissue or renewal of one that needs a key, held back
// because the state has no key store to keep the key certform would make
// (a shared state without an age identity); the run fails, as for any
// blocked call.
const BlockedKeyStore = "key_store"

// blockKeyType holds back a, the order of a new spec with key_type on a
// state without a key store, with a note that names the flag.
func blockKeyType(p *Plan, a Action) {
	blockKeyless(p, a, "it is not ordered")
}

// blockKeyless holds back a, a call that needs a key certform makes, on a
// state without a key store; outcome says what is not done.
func blockKeyless(p *Plan, a Action, outcome string) {
	a.BlockedBy = BlockedKeyStore
	p.Blocked = append(p.Blocked, a)
	p.Notes = append(p.Notes, Note{Kind: NoteBlocked, Name: a.Name, OrderID: a.OrderID,
		Message: "the spec has key_type, but this state has no key store to keep the key certform would make; " + outcome,
		Hint:    "a shared (PostgreSQL) state keeps keys sealed with age: give --key-identity-file FILE (or the systemd credential " + keys.CredentialName + "), or give this spec a csr or csr_file"})
}

// blockKeylessFrom holds back, on a state without a key store, the
// reissues and renewals of specs with key_type among p.Actions[from:]
// (those planned for one spec): each needs a key from the key store, a new
// one or the one kept with key_rotation: never. A resumed call is kept: its
// look-up needs no key, and a re-send without its key fails before any
// call (ErrNoKeyStore).
func blockKeylessFrom(p *Plan, from int) {
	kept := p.Actions[:from]
	for _, a := range p.Actions[from:] {
		needsKey := (a.Kind == KindReissue || a.Kind == KindRenew) && a.Resume == "" && a.Spec != nil && a.Spec.KeyType != ""
		switch {
		case needsKey && a.Kind == KindReissue:
			blockKeyless(p, a, "it is not reissued")
		case needsKey:
			blockKeyless(p, a, "it is not renewed")
		default:
			kept = append(kept, a)
		}
	}
	p.Actions = kept
}

// requestKey returns the CSR to send for spec o, name's spec with
// key_type, and the key it was made with, already stored: the intent's
// (in, may be nil) when an earlier attempt made one, so that a re-send
// carries the first attempt's CSR (also when the spec's names changed
// since: the re-send is the first request, names and CSR), else a new key, or the entry's current key
// (cur) when reuse is set (key_rotation: never) and cur is of the spec's
// key_type (a key_type change makes a new key). fresh reports whether the
// key file was written by this call for a new CSR (to remove when the
// request is refused).
func (ap *applier) requestKey(name string, o *spec.Order, in *state.Intent, cur *state.KeyRecord, reuse bool) (csrPEM string, rec *state.KeyRecord, fresh bool, err error) {
	if ap.Keys == nil {
		return "", nil, false, ErrNoKeyStore
	}
	var k keys.Key
	switch {
	case in != nil && in.Key != nil && in.CSR != "":
		k, err = ap.storedKey(name, in.Key)
		if err != nil {
			return "", nil, false, err
		}
		// A re-send carries the first attempt's CSR even when the spec's
		// names changed since (issue 23: "any re-send use the same CSR");
		// place sends the CSR's names with it, and the plan reissues the
		// order for the new names once it is found.
		if pub, ok := csrPublicKey(in.CSR); ok && k.MatchesPublic(pub) {
			return in.CSR, in.Key, false, nil
		}
		rec = &state.KeyRecord{Type: in.Key.Type, PublicKeySHA256: in.Key.PublicKeySHA256, CreatedAt: in.Key.CreatedAt}
	case reuse && cur != nil && cur.Type == string(o.KeyType):
		k, err = ap.storedKey(name, cur)
		if err != nil {
			return "", nil, false, err
		}
		rec = &state.KeyRecord{Type: cur.Type, PublicKeySHA256: cur.PublicKeySHA256, CreatedAt: cur.CreatedAt}
	default:
		k, err = keys.Generate(o.KeyType)
		if err != nil {
			return "", nil, false, fmt.Errorf("making a %s key: %w; nothing was sent", o.KeyType, err)
		}
		sum, err := k.PublicKeySHA256()
		if err != nil {
			return "", nil, false, fmt.Errorf("making a %s key: %w; nothing was sent", o.KeyType, err)
		}
		rec = &state.KeyRecord{Type: string(o.KeyType), PublicKeySHA256: sum, CreatedAt: ap.now().UTC()}
	}
	csr, err := keys.CreateCSR(k, o.CommonName, o.DNSNames)
	if err != nil {
		return "", nil, false, fmt.Errorf("making the CSR: %w; nothing was sent", err)
	}
	rec.CSRFingerprint = csr.Fingerprint
	if err := ap.Keys.Put(name, csr.Fingerprint, k); err != nil {
		return "", nil, false, fmt.Errorf("storing the new key: %w; nothing was sent", err)
	}
	return csr.PEM, rec, true, nil
}

// storedKey reads a key of the key store and checks it is the one
// recorded.
func (ap *applier) storedKey(name string, rec *state.KeyRecord) (keys.Key, error) {
	k, err := ap.Keys.Get(name, rec.CSRFingerprint)
	if err != nil {
		return keys.Key{}, fmt.Errorf("reading the key of %s (CSR %s) from the key store: %w; nothing was sent", name, rec.CSRFingerprint, err)
	}
	if rec.PublicKeySHA256 != "" {
		if sum, err := k.PublicKeySHA256(); err != nil || sum != rec.PublicKeySHA256 {
			return keys.Key{}, fmt.Errorf("the key of %s (CSR %s) in the key store is not the key the state records; nothing was sent", name, rec.CSRFingerprint)
		}
	}
	return k, nil
}

// dropKey removes a key made for a request that was refused, unless the
// entry still uses the file (a reused key whose CSR came out the same).
func (ap *applier) dropKey(name string, rec *state.KeyRecord, e *state.Entry) {
	if ap.Keys == nil || rec == nil || keyInUse(e, rec.CSRFingerprint) {
		return
	}
	if err := ap.Keys.Delete(name, rec.CSRFingerprint); err != nil && !errors.Is(err, keys.ErrNotFound) {
		ap.logger().Warn("removing a key whose request was refused failed", "spec", name, "csr_fingerprint", rec.CSRFingerprint, "error", err)
	}
}

// keyInUse reports whether the entry records the key file fp.
func keyInUse(e *state.Entry, fp string) bool {
	if e == nil {
		return false
	}
	if e.Key != nil && e.Key.CSRFingerprint == fp {
		return true
	}
	if e.Intent != nil && e.Intent.Key != nil && e.Intent.Key.CSRFingerprint == fp {
		return true
	}
	for _, k := range e.PreviousKeys {
		if k.CSRFingerprint == fp {
			return true
		}
	}
	return false
}

// takeKey makes rec the entry's key; the key it had goes to PreviousKeys,
// removed once a certificate of rec is delivered.
func takeKey(e *state.Entry, rec *state.KeyRecord) {
	if rec == nil {
		return
	}
	if e.Key != nil && e.Key.CSRFingerprint != rec.CSRFingerprint {
		e.PreviousKeys = append(e.PreviousKeys, *e.Key)
	}
	k := *rec
	e.Key = &k
}

// restoreReissuedKey puts back, when CertCentral rejected certform's
// reissue of e's order (see recordRejection), the key of the certificate
// left in place (ReissuedKeyFrom) as the entry's key, out of its previous
// keys; the rejected reissue's key leaves the entry. It returns that key
// when nothing in the entry records it any more (its file is removed
// once the state is saved, see dropRejectedKeys); nil when the reissue
// kept the entry's key, or the entry had none before it.
func restoreReissuedKey(e *state.Entry) *state.KeyRecord {
	from := e.ReissuedKeyFrom
	e.ReissuedKeyFrom = nil
	if from == nil || e.Key == nil || e.Key.CSRFingerprint == from.CSRFingerprint {
		return nil
	}
	rejected := *e.Key
	k := *from
	e.Key = &k
	e.PreviousKeys = slices.DeleteFunc(e.PreviousKeys, func(p state.KeyRecord) bool { return p.CSRFingerprint == from.CSRFingerprint })
	if len(e.PreviousKeys) == 0 {
		e.PreviousKeys = nil
	}
	if keyInUse(e, rejected.CSRFingerprint) {
		return nil
	}
	return &rejected
}

// dropRejectedKeys removes from the key store, once the state is saved,
// the keys of rejected reissues that restoreReissuedKey dropped from
// their entries, by spec name; a key an entry records again is kept, and
// a failure is logged (the file or row stays).
func (r *Reconciler) dropRejectedKeys(dropped map[string]state.KeyRecord) {
	if r.Keys == nil {
		return
	}
	for name, k := range dropped {
		if keyInUse(r.Store.Entry(name), k.CSRFingerprint) {
			continue
		}
		if err := r.Keys.Delete(name, k.CSRFingerprint); err != nil && !errors.Is(err, keys.ErrNotFound) {
			r.logger().Warn("removing the key of a rejected reissue failed", "spec", name, "csr_fingerprint", k.CSRFingerprint, "error", err)
		}
	}
}

// decodeCSR parses a PEM CSR; ok is false when it does not parse.
func decodeCSR(csrPEM string) (req *x509.CertificateRequest, ok bool) {
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil {
		return nil, false
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, false
	}
	return req, true
}

// csrPublicKey returns a PEM CSR's public key; ok is false when the CSR
// does not parse.
func csrPublicKey(csrPEM string) (pub any, ok bool) {
	req, ok := decodeCSR(csrPEM)
	if !ok {
		return nil, false
	}
	return req.PublicKey, true
}

// csrNames returns the common name and the other DNS names of a CSR, as
// an order request carries them; ok is false when the CSR does not parse.
func csrNames(csrPEM string) (cn string, dnsNames []string, ok bool) {
	req, ok := decodeCSR(csrPEM)
	if !ok {
		return "", nil, false
	}
	for _, n := range req.DNSNames {
		if n != req.Subject.CommonName {
			dnsNames = append(dnsNames, n)
		}
	}
	return req.Subject.CommonName, dnsNames, true
}

// dropReplacedKeys removes, when certform delivers nothing (no CertDir),
// the previous keys of every entry whose order is issued with the
// certificate of its current key (keysReplaced): from the state, then
// from the key store. With CertDir they go once that certificate is
// delivered instead (recordDelivered), since a delivery may still need
// them until then.
func (r *Reconciler) dropReplacedKeys() {
	if r.Keys == nil {
		return
	}
	var names []string
	r.Store.View(func(f *state.File) {
		for _, n := range f.Names() {
			if keysReplaced(f.Entries[n]) {
				names = append(names, n)
			}
		}
	})
	for _, n := range names {
		var dropped []state.KeyRecord
		current := ""
		err := r.Store.Update(n, func(x *state.Entry) bool {
			if keysReplaced(x) {
				dropped, x.PreviousKeys, current = x.PreviousKeys, nil, x.Key.CSRFingerprint
			}
			return true
		})
		if err != nil {
			r.logger().Warn("recording that the replaced keys go failed; they stay", "spec", n, "error", err)
			continue
		}
		r.deleteKeys(n, dropped, current)
	}
}

// keysReplaced reports whether e holds previous keys that the certificate
// of its current key replaced: the order is issued, nothing is in flight,
// no reissue is pending, and the certificate is not the one a rejected
// reissue of the current key left in place (that one is a previous
// key's).
func keysReplaced(e *state.Entry) bool {
	if e == nil || e.Key == nil || len(e.PreviousKeys) == 0 || e.Intent != nil {
		return false
	}
	if e.OrderID == 0 || e.Status != "issued" || e.CertificateID == 0 || e.ReissuedFrom != 0 {
		return false
	}
	return e.ReissueRejected == nil || e.ReissueRejected.CertificateID != e.CertificateID
}

// deleteKeys removes from the key store the keys dropped from name's
// entry, except the one of CSR fingerprint keep (the entry's current
// key); a failure is logged (the file or row stays, the state no longer
// lists it).
func (r *Reconciler) deleteKeys(name string, dropped []state.KeyRecord, keep string) {
	for _, k := range dropped {
		if k.CSRFingerprint == keep {
			continue
		}
		if err := r.Keys.Delete(name, k.CSRFingerprint); err != nil && !errors.Is(err, keys.ErrNotFound) {
			r.logger().Warn("removing a replaced key failed", "spec", name, "csr_fingerprint", k.CSRFingerprint, "error", err)
		}
	}
}
