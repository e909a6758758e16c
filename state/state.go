// Package state owns certform's record of what it has done: for each spec
// name, the CertCentral order it placed or adopted, the values it last
// applied, revoke requests, and intents written before a call whose outcome
// must survive a crash; and a log of revocation requests sent. The file is
// JSON, written atomically with mode 0600 at its real path (symlinks
// resolved, see RealPath), and guarded by a lock so that one process at a
// time changes it. A Store that finds its lock file or its state file
// changed under it writes nothing more (ErrLockLost) until it takes the lock
// again.
//
// It does not decide anything; package reconcile reads and updates it.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/certform/certform/internal/fsx"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"
)

// Version is the state file format this certform reads and writes.
const Version = 1

// Entry is what certform knows about one spec's order.
type Entry struct {
	// OrderID is the CertCentral order; 0 while none is known.
	OrderID int `json:"order_id,omitempty"`
	// AlternativeOrderID is the id sent with the order, for look-ups.
	AlternativeOrderID string `json:"alternative_order_id,omitempty"`
	// Fingerprint and Fixed are the spec's fixed fields when the order was
	// placed or adopted (spec.Order.Fingerprint and FixedFields).
	Fingerprint string            `json:"fingerprint,omitempty"`
	Fixed       map[string]string `json:"fixed,omitempty"`
	// Checked is the fingerprint (spec.Order.Fingerprint) of the last spec
	// of this name that certform loaded valid, its certificate request's
	// parse and signature check included: a load skips that check for a
	// spec with the same fingerprint (spec.LoadOptions.Verified). It may
	// differ from Fingerprint, which follows the order (a renewal with
	// other names, a reissue CertCentral rejected). Empty when unknown.
	Checked string `json:"checked,omitempty"`
	// Options are the ordering-only options the order was placed with.
	Options map[string]string `json:"options,omitempty"`
	// DisableCT and AutoReissue are the values last applied (or, for an
	// imported order, last seen in CertCentral).
	DisableCT   bool `json:"disable_ct"`
	AutoReissue bool `json:"auto_reissue"`
	// Revoke is the revoke request made for the order, if any.
	Revoke *RevokeRecord `json:"revoke,omitempty"`
	// Intent is a call started and not yet known to have landed.
	Intent *Intent `json:"intent,omitempty"`
	// Imported is true for an order adopted with certform import.
	Imported bool `json:"imported,omitempty"`
	// File is the spec file the entry was last applied from.
	File string `json:"file,omitempty"`
	// OrderedAt is when the order was placed or adopted.
	OrderedAt time.Time `json:"ordered_at,omitzero"`
	// Status is the order status last seen in CertCentral, and RefreshedAt
	// when it was seen.
	Status      string    `json:"status,omitempty"`
	RefreshedAt time.Time `json:"refreshed_at,omitzero"`
	// What CertCentral last reported for the order's current certificate:
	// its id and serial number (0 and "" before one is issued), its
	// validity (NotAfter from the order's valid_till date until the
	// certificate itself is read, then exact), the order's end, whether
	// the order was renewed, the domain validation method and token, and
	// when certform last read the order (ObservedAt).
	CertificateID  int       `json:"certificate_id,omitempty"`
	SerialNumber   string    `json:"serial_number,omitempty"`
	NotBefore      time.Time `json:"not_before,omitzero"`
	NotAfter       time.Time `json:"not_after,omitzero"`
	OrderValidTill time.Time `json:"order_valid_till,omitzero"`
	Renewed        bool      `json:"renewed,omitempty"`
	DCVMethod      string    `json:"dcv_method,omitempty"`
	DCVToken       string    `json:"dcv_token,omitempty"`
	ObservedAt     time.Time `json:"observed_at,omitzero"`
	// DeliveredAt is when the certificate DeliveredSerial (certificate
	// DeliveredCertificateID) was last written to the certificate folder.
	DeliveredAt            time.Time `json:"delivered_at,omitzero"`
	DeliveredSerial        string    `json:"delivered_serial,omitempty"`
	DeliveredCertificateID int       `json:"delivered_certificate_id,omitempty"`
	// DeliveryError is why the current certificate could not be delivered
	// ("" once a delivery succeeds).
	DeliveryError string `json:"delivery_error,omitempty"`
	// HookPending is the serial of a delivered certificate whose deploy
	// hook has not succeeded yet; it runs again at HookRetryAt, after
	// HookAttempts failed runs.
	HookPending  string    `json:"hook_pending,omitempty"`
	HookAttempts int       `json:"hook_attempts,omitempty"`
	HookRetryAt  time.Time `json:"hook_retry_at,omitzero"`
	// ReissuedAt is when certform's last reissue of the order was
	// accepted, and ReissuedFrom the certificate that was current then:
	// until CertCentral shows another current certificate, the reissue is
	// pending and no other is sent. Both are cleared once it shows one.
	ReissuedAt   time.Time `json:"reissued_at,omitzero"`
	ReissuedFrom int       `json:"reissued_from_certificate_id,omitempty"`
	// RenewedOrderID is the order CertCentral last reported as the
	// renewal of this one (renewed_order_id; 0 when none or not reported).
	RenewedOrderID int `json:"renewed_order_id,omitempty"`
	// PreviousOrderIDs are the orders the spec had before this one, oldest
	// first: a renewal tracks the new order under the same name and keeps
	// the old one here. The old orders are left as they are.
	PreviousOrderIDs []int `json:"previous_order_ids,omitempty"`
	// Names are the order's names as CertCentral last reported them (the
	// common name first, then the others sorted, lower case); nil until the
	// order is read. Every read of the order refreshes them; Fixed keeps
	// the names certform last asked for.
	Names []string `json:"names,omitempty"`
	// ReissuedUndo holds, while certform's reissue is pending, the
	// reissuable fixed fields the order had before it: a rejected reissue
	// puts them back into Fixed.
	ReissuedUndo map[string]string `json:"reissued_undo,omitempty"`
	// ReissuedKeyFrom is, while certform's reissue with a key other than
	// Key's is pending, the key of the certificate it replaces (Key before
	// the reissue): a rejected reissue puts it back as Key. Nil when the
	// entry had no key then.
	ReissuedKeyFrom *KeyRecord `json:"reissued_key_from,omitempty"`
	// ReissueRejected is certform's last reissue of the order that
	// CertCentral rejected: it is not asked again while the spec asks for
	// the same content.
	ReissueRejected *ReissueRejection `json:"reissue_rejected,omitempty"`
	// DCVRecords are the validation records certform published for this
	// spec and has not cleaned up yet (see DCVRecord); nil when none.
	DCVRecords []DCVRecord `json:"dcv_records,omitempty"`
	// DomainValidationEnds are, by account domain, when the validation of
	// the domains the spec's names fall under ends, as last read with
	// --dcv-config; nil when not read.
	DomainValidationEnds map[string]time.Time `json:"domain_validation_ends,omitempty"`
	// Key is the private key certform made for the order's current (or
	// requested) certificate, for a spec with key_type; nil for a spec
	// with its own CSR. Only its description is here: the key itself is
	// in the key store (--key-dir), never in the state.
	Key *KeyRecord `json:"key,omitempty"`
	// PreviousKeys are the keys of certificates that were current before
	// Key's: each is kept until a certificate of Key is delivered, then
	// removed from the key store.
	PreviousKeys []KeyRecord `json:"previous_keys,omitempty"`
	// ForeignKeyCertificateID is the current certificate when a delivery
	// found its public key neither the spec CSR's nor a key certform
	// holds: the plan reissues it with the desired key (reason key).
	ForeignKeyCertificateID int `json:"foreign_key_certificate_id,omitempty"`
}

// KeyRecord describes a private key certform made and keeps in its key
// store, never the key itself.
type KeyRecord struct {
	// Type is the key_type, such as "ecdsa-p256".
	Type string `json:"type"`
	// CSRFingerprint is the hex SHA-256 of the DER bytes of the CSR sent
	// with the key: the key's name in the key store, with the spec name.
	CSRFingerprint string `json:"csr_fingerprint"`
	// PublicKeySHA256 is the hex SHA-256 of the public key's DER.
	PublicKeySHA256 string `json:"public_key_sha256,omitempty"`
	// CreatedAt is when the key was made.
	CreatedAt time.Time `json:"created_at"`
}

// ReissueRejection is a reissue certform asked for and CertCentral (an
// administrator) rejected.
type ReissueRejection struct {
	// Fixed are the reissuable fixed fields the reissue asked for, and
	// DisableCT the CT setting the order had then.
	Fixed     map[string]string `json:"fixed,omitempty"`
	DisableCT bool              `json:"disable_ct"`
	// Names are the names asked for, Changed the spec keys the reissue
	// changed (sorted; empty for a reissue with the same content).
	Names   []string `json:"names,omitempty"`
	Changed []string `json:"changed,omitempty"`
	// Requested is when the reissue was accepted, Seen when certform
	// found it rejected.
	Requested time.Time `json:"requested,omitzero"`
	Seen      time.Time `json:"seen"`
	// CertificateID is the certificate that stayed current.
	CertificateID int `json:"certificate_id,omitempty"`
}

// RevokeRecord is a revoke request certform made.
type RevokeRecord struct {
	RequestID int       `json:"request_id,omitempty"`
	Status    string    `json:"status"` // submitted, pending, approved, rejected
	Comments  string    `json:"comments"`
	Time      time.Time `json:"time"`
}

// Intent kinds.
const (
	IntentOrder   = "order"
	IntentRevoke  = "revoke"
	IntentReissue = "reissue"
	// IntentRenew is a renewal order (an order with renewal_of_order_id):
	// it is settled like IntentOrder, by its alternative order id.
	IntentRenew = "renew"
)

// Intent is written, and saved, before a call that must never be repeated
// blindly. An intent still present later means the call's outcome is
// unknown: an order intent is resolved by looking AlternativeOrderID up.
type Intent struct {
	Action             string `json:"action"`
	AlternativeOrderID string `json:"alternative_order_id,omitempty"`
	Fingerprint        string `json:"fingerprint,omitempty"`
	// Started is when the last attempt was made (saved before the call,
	// and again when its answer came); FirstSent when the first was.
	Started   time.Time `json:"started"`
	FirstSent time.Time `json:"first_sent,omitzero"`
	Attempts  int       `json:"attempts"`
	// Names are the names (common name first) of each distinct set an
	// order attempt was sent with, so that a re-send can look for an order
	// with them even after the spec changed.
	Names [][]string `json:"names,omitempty"`
	// DisableCT and AutoReissue are the values the order was sent with.
	DisableCT   bool `json:"disable_ct,omitempty"`
	AutoReissue bool `json:"auto_reissue,omitempty"`
	// CertificateID, for a reissue, is the order's current certificate
	// when the reissue was sent: a current certificate other than it, or
	// a reissue created since FirstSent, proves that the reissue landed.
	// Fixed holds the fixed fields the reissue asked for.
	CertificateID int               `json:"certificate_id,omitempty"`
	Fixed         map[string]string `json:"fixed,omitempty"`
	// RenewalOfOrderID, for a renewal, is the order it renews.
	RenewalOfOrderID int `json:"renewal_of_order_id,omitempty"`
	// ResendAt, for an order or a renewal, is the earliest time its sender
	// allowed it to be sent again after a look-up that misses: when its
	// last attempt ended plus the sender's --resend-after. No process
	// sends it again before then, whatever its own --resend-after; zero in
	// intents written before it existed (Started plus the reader's
	// --resend-after then rules).
	ResendAt time.Time `json:"resend_at,omitzero"`
	// CSR, for a spec with key_type, is the PEM request sent with the
	// first attempt, and Key the key it was made with (already in the key
	// store when the intent was saved): every re-send and look-up uses
	// exactly this request, never a new key. Empty for a spec with its own
	// CSR.
	CSR string     `json:"csr,omitempty"`
	Key *KeyRecord `json:"key,omitempty"`
}

// File is the whole state. Version 1 files written before APIURL and
// Revocations existed read as having neither. A File is a plain value, not
// safe for concurrent changes; a Store guards its own.
type File struct {
	Version int `json:"version"`
	// APIURL is the CertCentral API base URL the state was first used with;
	// "" when not recorded. The state does not check it: callers decide
	// what a different URL means (see BoundAPIURL).
	APIURL string `json:"api_url,omitempty"`
	// Revocations has one record per revocation request sent, in the order
	// of their Time, oldest first (the Store keeps them sorted), for a
	// revocation budget; see RevocationsSince. Nil when there are none.
	Revocations []Revocation `json:"revocations,omitempty"`
	// Purchases has one record per purchase certform started (a new order
	// or a renewal, by alternative order id), oldest first (the Store keeps
	// them sorted), for the purchase budget; see PurchasesSince. Nil when
	// there are none.
	Purchases []Purchase `json:"purchases,omitempty"`
	// ObservedAt is when certform last read what changed in CertCentral
	// (the status-changes feed, or every order); zero before the first
	// time. The next observation reads the changes since then.
	ObservedAt time.Time `json:"observed_at,omitzero"`
	// Moved is set, by certform state migrate, on the state it copied
	// from: where the state went. Such a state is kept only as a record:
	// Open, OpenBackend and Reacquire refuse it with a *MovedError, and so
	// does certform for every command. Nil when not moved.
	Moved   *Moved            `json:"moved,omitempty"`
	Entries map[string]*Entry `json:"entries"`
}

// Moved says where a state was migrated to (see File.Moved). It never
// holds a password or a user name.
type Moved struct {
	// To names the new state: "state file PATH" (absolute) or
	// "PostgreSQL workspace W at URL".
	To string `json:"to"`
	// Flags are the command-line flags that name it, such as
	// "--state URL --workspace W".
	Flags string `json:"flags"`
	// At is when the migration finished.
	At time.Time `json:"at"`
}

// MovedError is a state that certform state migrate copied elsewhere: no
// command uses it any more (see File.Moved).
type MovedError struct {
	Name  string // the state refused, as Store.Name names it
	Moved Moved
}

// Error names the state, where it went and when.
func (e *MovedError) Error() string {
	return fmt.Sprintf("%s was moved to %s on %s (certform state migrate); it is kept only as a record, and no certform command uses it",
		e.Name, e.Moved.To, e.Moved.At.UTC().Format(time.RFC3339))
}

// CheckMoved returns a *MovedError when f, the state name names, was
// moved; otherwise nil.
func CheckMoved(name string, f *File) error {
	if f == nil || f.Moved == nil {
		return nil
	}
	return &MovedError{Name: name, Moved: *f.Moved}
}

// Revocation records one revocation request certform sent: the spec name,
// the CertCentral order and when it was sent. It is written in the same
// write as the revoke intent, before the request.
type Revocation struct {
	Name    string    `json:"name"`
	OrderID int       `json:"order_id"`
	Time    time.Time `json:"time"`
}

// Purchase records one purchase certform started: the spec name, the
// alternative order id it was sent with, the order it renews (0 for a new
// order) and when it was first sent. It is written in the same write as
// the order's intent, before the first request; a request sent again with
// the same alternative order id is the same purchase.
type Purchase struct {
	Name               string    `json:"name"`
	AlternativeOrderID string    `json:"alternative_order_id"`
	RenewalOfOrderID   int       `json:"renewal_of_order_id,omitempty"`
	Time               time.Time `json:"time"`
}

// PurchasesSince returns a copy of the purchase records whose Time is t or
// later, in file order; nil when there are none. A nil f has none.
func (f *File) PurchasesSince(t time.Time) []Purchase {
	if f == nil {
		return nil
	}
	var out []Purchase
	for _, p := range f.Purchases {
		if !p.Time.Before(t) {
			out = append(out, p)
		}
	}
	return out
}

// RevocationsSince returns a copy of the revocation records whose Time is t
// or later, in file order; nil when there are none. A nil f has none.
func (f *File) RevocationsSince(t time.Time) []Revocation {
	if f == nil {
		return nil
	}
	var out []Revocation
	for _, r := range f.Revocations {
		if !r.Time.Before(t) {
			out = append(out, r)
		}
	}
	return out
}

// Names returns the entry names, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Entries))
	for n := range f.Entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Clone returns a deep copy: the entries with their maps and records, and
// the revocation log, are all new. It copies field by field: a plan over
// 10,000 entries clones the state once per cycle.
func (f *File) Clone() *File {
	c := &File{Version: f.Version, APIURL: f.APIURL, ObservedAt: f.ObservedAt, Entries: make(map[string]*Entry, len(f.Entries))}
	if f.Moved != nil {
		m := *f.Moved
		c.Moved = &m
	}
	if f.Revocations != nil {
		c.Revocations = append([]Revocation(nil), f.Revocations...)
	}
	if f.Purchases != nil {
		c.Purchases = append([]Purchase(nil), f.Purchases...)
	}
	for n, e := range f.Entries {
		if e != nil {
			c.Entries[n] = cloneEntry(e)
		}
	}
	return c
}

// normalize puts f in the shape it is written in: an entries map without
// nil entries, and the revocation log sorted (see revocationLess).
func (f *File) normalize() {
	f.Version = Version
	if f.Entries == nil {
		f.Entries = map[string]*Entry{}
	}
	for n, e := range f.Entries {
		if e == nil {
			delete(f.Entries, n)
		}
	}
	if !sort.SliceIsSorted(f.Revocations, func(i, j int) bool { return revocationLess(f.Revocations[i], f.Revocations[j]) }) {
		sort.SliceStable(f.Revocations, func(i, j int) bool { return revocationLess(f.Revocations[i], f.Revocations[j]) })
	}
	if len(f.Revocations) == 0 {
		f.Revocations = nil
	}
	if !sort.SliceIsSorted(f.Purchases, func(i, j int) bool { return purchaseLess(f.Purchases[i], f.Purchases[j]) }) {
		sort.SliceStable(f.Purchases, func(i, j int) bool { return purchaseLess(f.Purchases[i], f.Purchases[j]) })
	}
	if len(f.Purchases) == 0 {
		f.Purchases = nil
	}
}

// purchaseLess orders purchase records by time, then name, then
// alternative order id.
func purchaseLess(a, b Purchase) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.AlternativeOrderID < b.AlternativeOrderID
}

// revocationLess orders revocation records by time, then name, then order.
func revocationLess(a, b Revocation) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.OrderID < b.OrderID
}

// MissingError is a state file that is gone although its lock file shows
// that the state file was created before (see Open).
type MissingError struct {
	Path string // the state file, symlinks resolved
}

// Error names the file and says how to start over deliberately.
func (e *MissingError) Error() string {
	return fmt.Sprintf("state file %s is missing, but its lock file %s shows certform has used it before; "+
		"starting from an empty state would order every spec again", e.Path, LockPath(e.Path))
}

// CheckMissing returns a *MissingError when the state file at path
// (resolved through symlinks, see RealPath) does not exist but its lock
// file shows it was created before, or cannot be read to show it was not
// (see Open for the lock file's marker); the RealPath error when path
// cannot be resolved; otherwise nil. It takes no lock and changes nothing.
func CheckMissing(path string) error {
	real, err := RealPath(path)
	if err != nil {
		return err
	}
	if _, err := os.Stat(real); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	b, err := os.ReadFile(LockPath(real))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil || history(b) {
		return &MissingError{Path: real}
	}
	return nil
}

// PermissionError is a state file (or its lock file) this user may not
// read or write: not corrupt, only owned by another user, typically the
// service's after a command ran as another user.
type PermissionError struct {
	Path     string // the file that could not be opened
	UID, GID int    // its owner; -1 when unknown
}

// Error names the file, its owner and this process's user.
func (e *PermissionError) Error() string {
	owner := "another user"
	if e.UID >= 0 {
		owner = fmt.Sprintf("uid %d (gid %d)", e.UID, e.GID)
	}
	return fmt.Sprintf("%s cannot be opened by this user (uid %d): permission denied; it belongs to %s", e.Path, os.Geteuid(), owner)
}

// permissionError describes a permission error on path, with its owner.
func permissionError(path string, err error) error {
	pe := &PermissionError{Path: path, UID: -1, GID: -1}
	if fi, serr := os.Stat(path); serr == nil {
		if uid, gid, ok := ownerOf(fi); ok {
			pe.UID, pe.GID = uid, gid
		}
	}
	return pe
}

// CorruptError is a state file that cannot be used: unreadable, not JSON,
// truncated, or of an unknown version. certform never overwrites it.
type CorruptError struct {
	Path string // the state file, symlinks resolved
	Why  string
}

// Error names the file and what is wrong with it.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s %s; certform will not use or overwrite it", e.Path, e.Why)
}

// Read loads the state file at path, resolved through symlinks (see
// RealPath), without taking the lock. A missing file is an empty state;
// any other problem is an error naming the file (a *CorruptError when the
// content is unusable). Files without the api_url and revocations fields
// read as having neither.
func Read(path string) (*File, error) {
	real, err := RealPath(path)
	if err != nil {
		return nil, err
	}
	f, _, err := readState(real)
	if err == nil && f == nil {
		f = &File{Version: Version, Entries: map[string]*Entry{}}
	}
	return f, err
}

// readState reads the state file at the real path, and says which file it
// read. A missing file is a nil *File and no error.
func readState(path string) (*File, fileID, error) {
	unreadable := func(err error) error {
		if errors.Is(err, fs.ErrPermission) {
			return permissionError(path, err)
		}
		return &CorruptError{Path: path, Why: fmt.Sprintf("cannot be read (%v)", unwrapPathError(err))}
	}
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fileID{}, nil
	}
	if err != nil {
		return nil, fileID{}, unreadable(err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fileID{}, unreadable(err)
	}
	// The common case, a valid state of this version, is decoded straight
	// from the file, one entry at a time (see decodeStream). Any other
	// content is read again, whole, for the careful decode that names what
	// is wrong.
	if f, ok := decodeStream(fh); ok {
		return f, idOf(fi), nil
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return nil, fileID{}, unreadable(err)
	}
	data, err := io.ReadAll(fh)
	if err != nil {
		return nil, fileID{}, unreadable(err)
	}
	f, err := decode(path, data)
	if err != nil {
		return nil, fileID{}, err
	}
	f.intern()
	return f, idOf(fi), nil
}

func decode(path string, data []byte) (*File, error) {
	// The common case, a valid state of this version, in one pass; any
	// other goes the careful way below, which names what is wrong.
	if f, ok := decodeValid(data); ok {
		return f, nil
	}
	var probe struct {
		Version *int `json:"version"`
	}
	if len(data) == 0 {
		return nil, &CorruptError{Path: path, Why: "is empty (truncated?)"}
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, &CorruptError{Path: path, Why: fmt.Sprintf("is not valid JSON, truncated or corrupt (%v)", err)}
	}
	if probe.Version == nil {
		return nil, &CorruptError{Path: path, Why: "has no version field; it is not a certform state file"}
	}
	if *probe.Version != Version {
		return nil, &CorruptError{Path: path, Why: fmt.Sprintf("has version %d; this certform reads version %d", *probe.Version, Version)}
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, &CorruptError{Path: path, Why: fmt.Sprintf("does not match the version %d format (%v)", Version, err)}
	}
	if f.Entries == nil {
		f.Entries = map[string]*Entry{}
	}
	for name, e := range f.Entries {
		if e == nil {
			return nil, &CorruptError{Path: path, Why: fmt.Sprintf("has an empty entry %q", name)}
		}
	}
	return &f, nil
}

// decodeValid decodes data in one pass when it is a valid state of this
// version (one JSON object, nothing after it but white space, no unknown
// field, no empty entry); ok is false otherwise.
func decodeValid(data []byte) (f *File, ok bool) {
	var v File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil || v.Version != Version {
		return nil, false
	}
	if len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, false
	}
	if v.Entries == nil {
		v.Entries = map[string]*Entry{}
	}
	for _, e := range v.Entries {
		if e == nil {
			return nil, false
		}
	}
	return &v, true
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ErrLockLost is matched (errors.Is) by the error a Store returns, instead
// of writing, once it can no longer prove that it holds the state file's
// lock and that the state file is the one it last read or wrote: see
// LockLostError and Store.Lost.
var ErrLockLost = errors.New("state file lock lost")

// LockLostError is a write a Store refused, and every write after it,
// because its lock file or its state file changed under it: another
// process may be acting on the state. The process must stop acting on what
// it knows and re-read the state (Store.Reacquire) before acting again.
type LockLostError struct {
	Path string // the state file, symlinks resolved
	What string // what changed, e.g. "its lock file F was removed while this process held it"
}

// Error reads "state file PATH: lock lost: WHAT; nothing was written: ...".
func (e *LockLostError) Error() string {
	return fmt.Sprintf("state file %s: lock lost: %s; nothing was written: this process stops acting on the state "+
		"until it takes the lock again and re-reads the state", e.Path, e.What)
}

// Is makes errors.Is(err, ErrLockLost) true.
func (e *LockLostError) Is(target error) bool { return target == ErrLockLost }

// Store is a state file opened for changes: it holds the lock and saves
// every change atomically before reporting it done. It is safe for
// concurrent use. Changes made at the same time share one write (group
// commit): each caller returns once the write that holds its change is on
// disk, or with that write's error when it failed, in which case its change
// was undone (as were the changes made while that write was under way).
//
// Before every write the Store checks that the file at the lock path is
// still the one it locked and that the state file is still the one it last
// read or wrote (device, inode, size, modification time). If not, it writes
// nothing and is lost: that change and every later one fail with a
// *LockLostError (ErrLockLost) until Reacquire succeeds. The check narrows,
// but cannot close, the window in which another writer could act between
// the check and the rename.
type Store struct {
	backend Backend
	name    string // the backend's Name
	path    string // the state file, symlinks resolved; the Name for another backend

	mu      sync.Mutex
	cond    *sync.Cond
	file    *File    // in memory: the last write plus changes not yet written
	durable *Encoded // the last successful write (or read)
	pending *batch   // the changes not yet in a write
	// changed names the entries changed since durable, when only
	// entries named there changed (Update); nil with changedAll set when
	// anything may have (Batch, Mutate), so the next write encodes the
	// whole state.
	changed    map[string]bool
	changedAll bool
	writing    bool
	lost       error // an error matching ErrLockLost once lost
	closed     bool
	// frozen is Frozen's copy of file; nil once file changed since.
	frozen *File
	// version counts the changes of file (see Version).
	version uint64
}

// batch is the changes saved by one write, and its outcome.
type batch struct {
	changes int
	done    bool
	err     error
}

// Open resolves path through symlinks (see RealPath), locks the state
// file at that real path (see Lock) and reads it. The folder is created
// (mode 0700) if missing.
//
// A state file that does not exist yet is created at once (empty), and
// only once it is durable does the lock file record "state created" on its
// second line. A missing state file next to a lock file with that marker
// means the state was lost: Open refuses with a *MissingError rather than
// start over, which would order every spec again. A lock file with "state
// pending", or empty, is a first run that died before the state file was
// durable: Open creates the state file. A lock file in any other form, such
// as the pid alone written by an earlier certform, counts as used.
//
// A state file with more than one hard link is refused with a
// *HardLinkError: the lock is taken by name, so a process that opened the
// other link would not be kept out.
func Open(path string) (*Store, error) {
	real, err := RealPath(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(real), 0o700); err != nil {
		return nil, fmt.Errorf("state file %s: creating its folder: %w", real, err)
	}
	s := newStore(&fileBackend{path: real})
	s.path = real
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// OpenBackend takes b's lock and reads its state (Backend.Load), as Open
// does for the state file: a *Store that saves every change through b.
func OpenBackend(b Backend) (*Store, error) {
	s := newStore(b)
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Standby returns a Store for b that does not hold b's lock: it is lost,
// with an error matching ErrLockLost that wraps why (an error matching
// ErrLocked when another process holds the lock), and its state is empty
// until Reacquire succeeds. A daemon on a shared backend waits with one
// (see Shared) while another process works.
func Standby(b Backend, why error) *Store {
	s := newStore(b)
	s.file = &File{Version: Version, Entries: map[string]*Entry{}}
	s.durable, _ = Encode(s.file) // an empty state always encodes
	s.lost = &notLockedError{name: s.name, err: why}
	return s
}

func newStore(b Backend) *Store {
	s := &Store{backend: b, name: b.Name(), path: b.Name(), pending: &batch{}}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// notLockedError is a Store that does not hold its lock because taking it
// (again) failed: it matches ErrLockLost, and unwraps to why it failed.
type notLockedError struct {
	name string
	err  error
}

func (e *notLockedError) Error() string {
	return fmt.Sprintf("%s: lock lost: taking its lock again failed (%v); nothing was written: this process stops acting on the state "+
		"until it takes the lock again and re-reads the state", e.name, e.err)
}

func (e *notLockedError) Is(target error) bool { return target == ErrLockLost }

func (e *notLockedError) Unwrap() error { return e.err }

// removeStaleTemps removes the temporary files a writer of the state file
// at path left when it was killed between creating and renaming one
// (".BASE.tmp-*" next to it). Only the lock holder writes the state, so,
// called with the lock held, none of them is being written. Errors are
// ignored: a leftover is harmless, only untidy.
func removeStaleTemps(path string) {
	fsx.RemoveStale(filepath.Dir(path), fsx.TempPattern(path), 0)
}

// load takes the lock and reads the state into memory (Backend.Load). On
// error it holds no lock and has changed nothing in s.
func (s *Store) load() error {
	f, err := s.backend.Load()
	if err != nil {
		return err
	}
	if err := CheckMoved(s.name, f); err != nil {
		s.backend.Release()
		return err
	}
	enc, err := Encode(f)
	if err != nil {
		s.backend.Release()
		return fmt.Errorf("%s: encoding: %w", s.name, err)
	}
	s.file, s.durable, s.frozen = f, enc, nil
	s.version++
	s.changed, s.changedAll = nil, false
	return nil
}

// fileBackend is the state file: a Lock on its lock file, and the state
// file as last read or written, which every write checks (see Store).
type fileBackend struct {
	path string // the state file, symlinks resolved

	mu      sync.Mutex
	lock    *Lock
	stateID fileID // the state file as last read or written
	writing bool
}

func (b *fileBackend) Name() string { return "state file " + b.path }

// Load locks the state file and reads it, creating it on a first run (see
// Open).
func (b *fileBackend) Load() (*File, error) {
	l, err := acquire(b.path)
	if err != nil {
		return nil, err
	}
	removeStaleTemps(b.path)
	f, id, err := readState(b.path)
	if err == nil && f != nil {
		err = checkLinks(b.path, id)
	}
	if err != nil {
		l.Release()
		return nil, err
	}
	if f == nil {
		if l.created {
			l.Release()
			return nil, &MissingError{Path: b.path}
		}
		f = &File{Version: Version, Entries: map[string]*Entry{}}
		enc, err := Encode(f)
		if err != nil {
			l.Release()
			return nil, fmt.Errorf("state file %s: encoding: %w", b.path, err)
		}
		if id, err = writeBytes(b.path, enc.Data); err != nil {
			l.Release()
			return nil, err
		}
	}
	if err := l.markCreated(); err != nil {
		l.Release()
		return nil, fmt.Errorf("state file %s: recording in its lock file %s that it exists: %w", b.path, l.path, err)
	}
	b.mu.Lock()
	b.lock, b.stateID = l, id
	b.mu.Unlock()
	return f, nil
}

// Write checks that the lock file and the state file are still this
// process's, then writes next.Data atomically.
func (b *fileBackend) Write(_, next *Encoded) error {
	b.mu.Lock()
	lock, last := b.lock, b.stateID
	b.writing = true
	b.mu.Unlock()
	id, err := fencedWrite(b.path, lock, last, next.Data)
	b.mu.Lock()
	b.writing = false
	if id.known() {
		// Renamed into place, even if the folder sync then failed: the
		// file at the path is this process's.
		b.stateID = id
	}
	b.mu.Unlock()
	return err
}

// Check runs the checks a write makes; while a write is under way it
// returns nil (that write checks).
func (b *fileBackend) Check() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.writing {
		return nil
	}
	return fence(b.path, b.lock, b.stateID)
}

func (b *fileBackend) Release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.lock.Release()
	b.lock = nil
	return err
}

// Path returns the state file's real path (see RealPath); for another
// Backend, its Name.
func (s *Store) Path() string { return s.path }

// Name names the state in messages: "state file PATH", or the Backend's
// Name.
func (s *Store) Name() string { return s.name }

// Shared reports whether the Backend is one several servers share (see
// Shared): a daemon that finds its lock taken waits as a standby.
func (s *Store) Shared() bool {
	sh, ok := s.backend.(Shared)
	return ok && sh.Shared()
}

// Backend returns the Backend the Store keeps its state in; nil for the
// state file. A shared Backend keeps other things under the same lock (the
// keys of package pgstate).
func (s *Store) Backend() Backend {
	if _, ok := s.backend.(*fileBackend); ok {
		return nil
	}
	return s.backend
}

// Close waits for the changes already made to be written, then releases
// the lock. After Close, Update, Batch, Mutate and Reacquire fail without
// writing; reading (Snapshot, View, Entry) still works. Closing again does
// nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flush()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.backend.Release()
}

// Lost returns nil while the Store holds its lock, and an error matching
// ErrLockLost (for the state file a *LockLostError) once a write or a
// Check found the lock or the state changed, until Reacquire succeeds. A
// Store that could not take its lock again (or a Standby) returns an
// error that also matches ErrLocked when another process holds the lock.
func (s *Store) Lost() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost
}

// Check proves, without writing, that the store still holds its lock
// (Backend.Check): for the state file, the lock file at the lock path is
// the one it locked and the state file is the one it last read or wrote
// (the checks every write makes; while a write is under way, that write
// checks). If not, the store becomes lost (see Lost) and the error is
// returned; a store already lost returns its error. Callers check before
// they act on the state, such as at the start of a cycle, and before every
// call to CertCentral. It does not wait for a write under way.
func (s *Store) Check() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.closedError()
	}
	if s.lost != nil {
		s.mu.Unlock()
		return s.lost
	}
	s.mu.Unlock()
	err := s.backend.Check()
	if err == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lost == nil && errors.Is(err, ErrLockLost) {
		s.lost = err
	}
	return err
}

// Reacquire takes the lock again and re-reads the state from disk,
// discarding what was in memory, by the rules of Open (a *LockedError when
// another process holds the lock now, a *MissingError, a *CorruptError).
// Changes already made are first written, or fail if the Store is lost. On
// success the Store is no longer lost; on failure it holds no lock and is
// lost (Lost reports why) until a later Reacquire succeeds. It waits for a
// write under way and blocks every other call while it runs.
func (s *Store) Reacquire() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.closedError()
	}
	s.flush()
	s.backend.Release()
	if err := s.load(); err != nil {
		s.lost = &notLockedError{name: s.name, err: err}
		return err
	}
	s.lost = nil
	return nil
}

// APIURL returns the API base URL the state is bound to
// (File.BoundAPIURL): the one recorded, or "" when none is or when the
// state holds nothing of that account yet, so that the caller records the
// URL in use.
func (s *Store) APIURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.file.BoundAPIURL()
}

// BoundAPIURL returns APIURL when the state holds something of that
// CertCentral account: an entry (and so any intent, which an entry holds),
// a revocation record or a purchase record; otherwise "". A state that
// commands left without any (an apply declined at its prompt, a failed
// import) is bound to no account: its recorded URL is only where it was
// first used.
func (f *File) BoundAPIURL() string {
	if len(f.Entries) == 0 && len(f.Revocations) == 0 && len(f.Purchases) == 0 {
		return ""
	}
	return f.APIURL
}

// Snapshot returns a deep copy of the state.
func (s *Store) Snapshot() *File {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.file.Clone()
}

// Frozen returns the state as it is now, read-only: a deep copy made once
// and shared by every call until the state changes (a write, a failed
// write that undoes changes, a fresh read), when the next call copies it
// again. The caller must not change it, and may keep it: later changes
// of the state do not reach it. An idle daemon plans from it cycle after
// cycle without copying 10,000 entries each time; Snapshot is the copy a
// caller may change.
func (s *Store) Frozen() *File {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frozen == nil {
		s.frozen = s.file.Clone()
	}
	return s.frozen
}

// Version tells one state in memory from another: it changes with every
// change (a write, a failed write that undoes changes, a fresh read), so
// that two equal values mean the state did not change between the calls.
// The daemon builds /status's rows again only when it changed.
func (s *Store) Version() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// View calls fn with the state as it is, under the store's lock, without a
// copy; fn must neither keep nor change it, and must not call the store.
func (s *Store) View(fn func(f *File)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.file)
}

// Entry returns a copy of one entry, or nil.
func (s *Store) Entry(name string) *Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.file.Entries[name]
	if e == nil {
		return nil
	}
	return cloneEntry(e)
}

func cloneEntry(e *Entry) *Entry {
	c := *e
	c.Fixed = cloneMap(e.Fixed)
	c.Options = cloneMap(e.Options)
	c.PreviousOrderIDs = slices.Clone(e.PreviousOrderIDs)
	c.Names = slices.Clone(e.Names)
	c.ReissuedUndo = cloneMap(e.ReissuedUndo)
	if e.ReissuedKeyFrom != nil {
		k := *e.ReissuedKeyFrom
		c.ReissuedKeyFrom = &k
	}
	if e.ReissueRejected != nil {
		rj := *e.ReissueRejected
		rj.Fixed, rj.Names, rj.Changed = cloneMap(rj.Fixed), slices.Clone(rj.Names), slices.Clone(rj.Changed)
		c.ReissueRejected = &rj
	}
	c.DCVRecords = slices.Clone(e.DCVRecords)
	c.DomainValidationEnds = maps.Clone(e.DomainValidationEnds)
	if e.Revoke != nil {
		r := *e.Revoke
		c.Revoke = &r
	}
	if e.Key != nil {
		k := *e.Key
		c.Key = &k
	}
	c.PreviousKeys = slices.Clone(e.PreviousKeys)
	if e.Intent != nil {
		in := *e.Intent
		if in.Key != nil {
			k := *in.Key
			in.Key = &k
		}
		in.Names = nil
		in.Fixed = cloneMap(e.Intent.Fixed)
		for _, n := range e.Intent.Names {
			in.Names = append(in.Names, append([]string(nil), n...))
		}
		c.Intent = &in
	}
	return &c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Update changes one entry (created if missing) with fn and returns once
// the change is saved. If fn returns false the entry is deleted. If saving
// fails, the change is undone and the error returned; fn must not call the
// store.
func (s *Store) Update(name string, fn func(e *Entry) (keep bool)) error {
	return s.change([]string{name}, func(f *File) {
		e := &Entry{}
		if old := f.Entries[name]; old != nil {
			e = cloneEntry(old)
		}
		if fn(e) {
			f.Entries[name] = e
		} else {
			delete(f.Entries, name)
		}
	})
}

// Batch changes any number of entries with fn and returns once they are
// saved, in one write. Entries fn sets to nil are deleted. If saving fails,
// every change is undone and the error returned; fn must not call the
// store.
func (s *Store) Batch(fn func(entries map[string]*Entry)) error {
	return s.change(nil, func(f *File) { fn(f.Entries) })
}

// Mutate changes anything in the state (entries, APIURL, Revocations,
// Purchases) with fn and returns once the changes are saved, in one write.
// Entries fn sets to nil are deleted; Revocations and Purchases are kept
// sorted by time. If saving fails,
// every change is undone and the error returned. fn changes the state in
// place: it must not keep f or call the store.
func (s *Store) Mutate(fn func(f *File)) error {
	return s.change(nil, fn)
}

// change applies fn to the state in memory and waits for the write that
// holds it (see Store). names are the only entries fn changes; nil means
// fn may change anything.
func (s *Store) change(names []string, fn func(f *File)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.closedError()
	}
	if s.lost != nil {
		return s.lost
	}
	s.frozen = nil
	s.version++
	fn(s.file)
	s.file.normalize()
	if names == nil {
		s.changedAll = true
	} else if !s.changedAll {
		if s.changed == nil {
			s.changed = map[string]bool{}
		}
		for _, name := range names {
			s.changed[name] = true
		}
	}
	b := s.pending
	b.changes++
	for !b.done {
		if s.writing {
			s.cond.Wait()
			continue
		}
		s.write()
	}
	return b.err
}

func (s *Store) closedError() error {
	return fmt.Errorf("%s: the store is closed; nothing was written", s.name)
}

// flush returns once no write is under way and every change made is
// written or failed. The caller holds s.mu.
func (s *Store) flush() {
	for s.writing || s.pending.changes > 0 {
		if s.writing {
			s.cond.Wait()
			continue
		}
		s.write()
	}
}

// write saves the state as it is now, settling the pending batch: its
// changes are on disk, or undone and failed. Changes made while the write
// is under way form the next batch; a failed write undoes them too, and
// fails them with the same error. The caller holds s.mu and no write is
// under way.
func (s *Store) write() {
	b := s.pending
	s.pending = &batch{}
	err := s.lost
	if s.closed {
		err = s.closedError()
	}
	var enc *Encoded
	changed, all := s.changed, s.changedAll
	s.changed, s.changedAll = nil, false
	if err == nil {
		if all || s.durable == nil {
			enc, err = Encode(s.file)
		} else {
			pw, ok := s.backend.(PartsWriter)
			enc, err = encodeChanged(s.durable, s.file, changed, ok && pw.WritesParts())
		}
		if err != nil {
			err = fmt.Errorf("%s: encoding: %w", s.name, err)
		}
	}
	if err == nil {
		s.writing = true
		prev := s.durable
		s.mu.Unlock()
		err = s.backend.Write(prev, enc)
		s.mu.Lock()
		s.writing = false
	}
	if err == nil {
		s.durable = enc
	} else {
		s.file, s.frozen = mustDecode(s.durable.fileData()), nil
		s.version++
		s.changed, s.changedAll = nil, false
		if errors.Is(err, ErrLockLost) && s.lost == nil {
			s.lost = err
		}
		if next := s.pending; next.changes > 0 {
			next.done, next.err = true, err
			s.pending = &batch{}
		}
	}
	b.done, b.err = true, err
	s.cond.Broadcast()
}

// mustDecode decodes what Encode wrote; failing is a bug in this package.
func mustDecode(data []byte) *File {
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		panic(fmt.Sprintf("state: decoding the last write: %v", err))
	}
	f.normalize()
	return &f
}

// fencedWrite writes data to the state file at path after checking that
// the lock file is still the one lock holds and that the state file is
// still last (see Store). It returns the written file's identity once it
// is renamed into place, even with an error from the folder sync after.
func fencedWrite(path string, lock *Lock, last fileID, data []byte) (fileID, error) {
	if err := fence(path, lock, last); err != nil {
		return fileID{}, err
	}
	return writeBytes(path, data)
}

// fence returns a *LockLostError unless the lock file is still the one lock
// holds and the state file at path is still last.
func fence(path string, lock *Lock, last fileID) error {
	if lock == nil {
		return &LockLostError{Path: path, What: "this process does not hold its lock"}
	}
	if what := lock.changed(); what != "" {
		return &LockLostError{Path: path, What: what + " while this process held it"}
	}
	fi, err := os.Stat(path)
	what := ""
	switch {
	case errors.Is(err, fs.ErrNotExist):
		what = "it was removed"
	case err != nil:
		what = fmt.Sprintf("it cannot be checked (%v)", unwrapPathError(err))
	case !idOf(fi).sameFile(last):
		what = "it was replaced by another file"
	case !idOf(fi).same(last):
		what = "it was changed by another writer"
	}
	if what != "" {
		return &LockLostError{Path: path, What: what + " since this process last read or wrote it"}
	}
	return nil
}

// WriteFile writes f to the state file at path, resolved through symlinks
// (see RealPath), atomically: a temporary file in the same folder, written,
// synced and closed, renamed over the file, then the folder synced. The file
// has mode 0600; run as root, it keeps the owner of the file it replaces
// (or takes its folder's owner when new). On any error before the rename
// the temporary file is removed and the file is unchanged; an error syncing
// the folder after the rename is returned too. WriteFile takes no lock.
func WriteFile(path string, f *File) error {
	real, err := RealPath(path)
	if err != nil {
		return err
	}
	enc, err := Encode(f)
	if err != nil {
		return fmt.Errorf("state file %s: encoding: %w", real, err)
	}
	_, err = writeBytes(real, enc.Data)
	return err
}

// openFolder opens a folder to sync it; tests replace it.
var openFolder = os.Open

// writeBytes writes data to path atomically (fsx.WriteFile, keeping the
// owner) and returns the identity of the file it put there, known once the
// rename is done (even if syncing the folder then fails).
func writeBytes(path string, data []byte) (id fileID, err error) {
	fi, err := fsx.WriteFile(path, data, fsx.Options{
		Prepare:    func(tmp *os.File) error { return keepOwner(tmp, path) },
		OpenFolder: openFolder,
	})
	if fi != nil {
		id = idOf(fi)
	}
	var fe *fsx.Error
	switch {
	case err == nil:
		return id, nil
	case !errors.As(err, &fe):
		return id, fmt.Errorf("state file %s: %w", path, err)
	case fe.Step == fsx.StepWrite || fe.Step == fsx.StepSync || fe.Placed:
		return id, fmt.Errorf("state file %s: %s: %w", path, fe.Step, fe.Err)
	default:
		return id, fmt.Errorf("state file %s: %w", path, fe.Err)
	}
}

// keepOwner, run as root, gives tmp the owner of the file at path or, when
// there is none yet, of its folder, so that a command run as root leaves a
// state file its owner can still use. Otherwise it does nothing.
func keepOwner(tmp *os.File, path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return chownLikeFolder(tmp, filepath.Dir(path))
	}
	if err != nil {
		return unwrapPathError(err)
	}
	uid, gid, ok := ownerOf(fi)
	if !ok {
		return nil
	}
	ti, err := tmp.Stat()
	if err != nil {
		return unwrapPathError(err)
	}
	if tuid, tgid, ok := ownerOf(ti); ok && tuid == uid && tgid == gid {
		return nil
	}
	if err := tmp.Chown(uid, gid); err != nil {
		return fmt.Errorf("giving it the owner %d:%d of the file it replaces: %w", uid, gid, unwrapPathError(err))
	}
	return nil
}
