// Package spec owns certform's desired state: the YAML order specs a team
// keeps in git. It finds spec files below a directory, decodes them strictly,
// applies defaults.yaml files, validates every field (DNS names, CSRs,
// ranges) and returns the valid orders side by side with every error found,
// each pointing at file:line:col.
//
// It does not talk to CertCentral, read or write certform's state, or decide
// what to do with an order; see packages digicert, state and reconcile.
package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/certform/certform/keys/keytype"
)

// The values of key_rotation.
const (
	KeyRotationAlways = "always"
	KeyRotationNever  = "never"
)

// Order is one validated order spec with defaults applied. Every field holds
// the effective value: a key absent from the spec and from every
// defaults.yaml holds its documented default (SignatureHash "sha256",
// Product "ov", ValidityYears 1).
type Order struct {
	// Name is the spec's identity in certform's state, unique in the directory.
	Name string
	// OrderID (order_id, > 0; 0 when not set) says that this spec is
	// existing CertCentral order N: certform adopts it and never places an
	// order for the spec. It may not come from a defaults.yaml.
	OrderID int
	// CommonName is the domain to secure.
	CommonName string
	// DNSNames are the additional domains, in the order written.
	DNSNames []string
	// CSR is the PEM certificate signing request, read from csr or csr_file;
	// "" only when OrderID is set (a spec adopting an order may leave it
	// out until a reissue or renewal needs one).
	CSR string
	// CSRFile is csr_file as written in the spec, empty for an inline csr.
	CSRFile string
	// KeyType (key_type, defaults-able) asks certform to make the private
	// key and the CSR itself; "" when the spec gives csr or csr_file (a
	// key_type from a defaults.yaml gives way to them). Then CSR is "".
	KeyType keytype.Type
	// KeyRotation (key_rotation, defaults-able) is KeyRotationAlways (the
	// default: a new key on every reissue and renewal) or
	// KeyRotationNever (the key is kept for the order's life). It matters
	// only with KeyType, and is not a fixed field.
	KeyRotation string
	// SignatureHash is sha256, sha384 or sha512.
	SignatureHash string
	// Product is ov, ev, grid or private; sent as product.type_hint.
	Product string
	// ValidityYears (1-3) or ValidityDays (1-1095): exactly one is non-zero.
	ValidityYears int
	ValidityDays  int
	// OrganizationID is the CertCentral organization (> 0).
	OrganizationID int
	// ContainerID is the CertCentral container; 0 means not set.
	ContainerID int
	// ServerPlatformID is the server platform; nil means not set.
	ServerPlatformID *int
	// DisableCT and AutoReissue can change in place on an existing order.
	DisableCT   bool
	AutoReissue bool
	// Options that matter only while ordering.
	AutoRenew                   bool
	SkipApproval                bool
	DisableRenewalNotifications bool
	DCVMethod                   string
	AdditionalEmails            []string
	Comments                    string
	// Revoke asks for the order to be revoked (irreversible);
	// RevokeComments is then required and sent as the request's comments.
	Revoke         bool
	RevokeComments string
	// AllowExistingNames (allow_existing_names, default false) says that
	// this spec truly wants a separate new order even when CertCentral
	// already has a live order with exactly these names. Without it, such
	// an order is taken as the one the spec asks for and none is placed.
	// It is not a fixed field: it is outside FixedFields and the
	// fingerprint, and it is not sent with the order.
	AllowExistingNames bool
	// ReissueBeforeDays (reissue_before_days, 1-90, default 30): when the
	// current certificate ends within that many days and the order lasts
	// beyond it, certform reissues it (auto_reissue false) or warns when
	// DigiCert has not (auto_reissue true). ReissueOnCTChange
	// (reissue_on_ct_change, default true): after a disable_ct change on
	// an issued order, reissue so that the current certificate follows the
	// setting. RenewBeforeDays (renew_before_days, 1-90, default 30): when
	// the order ends within that many days, certform renews it (or adopts
	// the order CertCentral renewed it with). None of them is a fixed
	// field or sent with the order.
	ReissueBeforeDays int
	ReissueOnCTChange bool
	RenewBeforeDays   int

	// File is the spec's path relative to the loaded directory, with
	// forward slashes; Line and Column locate its document (1-based).
	File   string
	Line   int
	Column int
	// Fingerprint identifies the fields that define the certificate (see
	// Fingerprint); two orders with equal fingerprints ask for the same
	// certificate.
	Fingerprint string

	nameLine, nameCol int    // position of the name value, for duplicate errors
	csrSum            string // hex SHA-256 of the CSR's DER bytes
	// csrDropped is set when the spec has a CSR whose text the load did
	// not keep (LoadOptions.DropCheckedCSR); csrSum is then its digest.
	csrDropped bool
	// sources are the files the order was built from, as read: its spec
	// file, its defaults chain and its CSR file (see SourceChanged). The
	// slice may be shared with other orders; it is never written after
	// the load.
	sources []source
}

// HasCSR reports whether the spec gives a certificate request (csr or
// csr_file), also when the load kept no text of it (see
// LoadOptions.DropCheckedCSR): CSR is then "".
func (o *Order) HasCSR() bool { return o.CSR != "" || o.csrDropped }

// CSRDropped reports whether the order was loaded without its CSR text
// (LoadOptions.DropCheckedCSR): it can be planned, never sent.
func (o *Order) CSRDropped() bool { return o.csrDropped }

// Pos returns "file:line:col" of the order's document.
func (o *Order) Pos() string { return fmt.Sprintf("%s:%d:%d", o.File, o.Line, o.Column) }

// FixedFields returns, by spec key, the values of the fields that are fixed
// once ordered: names, CSR, product, validity, organization, signature hash
// and server platform, plus key_type when the spec has one (certform makes
// its key and CSR; its "csr" is then ""). The CSR is given as the SHA-256 of its DER bytes, so
// re-encoding the same request does not count as a change. The fingerprint
// is computed from exactly this map.
func (o *Order) FixedFields() map[string]string {
	fixed := make(map[string]string, 8)
	o.eachFixed(func(key, value string) { fixed[key] = value })
	return fixed
}

// eachFixed calls fn with each fixed field (see FixedFields), in key
// order.
func (o *Order) eachFixed(fn func(key, value string)) {
	names := append([]string(nil), o.DNSNames...)
	sort.Strings(names)
	platform := ""
	if o.ServerPlatformID != nil {
		platform = strconv.Itoa(*o.ServerPlatformID)
	}
	validity := strconv.Itoa(o.ValidityYears) + " years"
	if o.ValidityDays != 0 {
		validity = strconv.Itoa(o.ValidityDays) + " days"
	}
	fn("common_name", o.CommonName)
	fn("csr", o.csrDigest())
	fn("dns_names", strings.Join(names, ","))
	// Only a spec with key_type has the key: the fingerprints of specs
	// with a CSR stay what they were before key_type existed.
	if o.KeyType != "" {
		fn("key_type", string(o.KeyType))
	}
	fn("organization_id", strconv.Itoa(o.OrganizationID))
	fn("product", o.Product)
	fn("server_platform_id", platform)
	fn("signature_hash", o.SignatureHash)
	fn("validity", validity)
}

// fingerprint returns Fingerprint(o.FixedFields()) without building the
// map: a load computes it for every spec.
func (o *Order) fingerprint() string {
	buf := make([]byte, 0, 512)
	o.eachFixed(func(key, value string) { buf = appendFixed(buf, key, value) })
	return fingerprintOf(buf)
}

// appendFixed appends one fixed field as Fingerprint hashes it.
func appendFixed(buf []byte, key, value string) []byte {
	buf = strconv.AppendQuote(buf, key)
	buf = append(buf, ':')
	buf = strconv.AppendQuote(buf, value)
	return append(buf, '\n')
}

// fingerprintOf returns "sha256:<hex>" of buf.
func fingerprintOf(buf []byte) string {
	sum := sha256.Sum256(buf)
	return hexString("sha256:", sum)
}

// hexString returns prefix then sum in hex, in one allocation
// (hex.EncodeToString makes two: a load hexes every spec's digests).
func hexString(prefix string, sum [sha256.Size]byte) string {
	var sb strings.Builder
	sb.Grow(len(prefix) + hex.EncodedLen(len(sum)))
	sb.WriteString(prefix)
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	sb.Write(h[:])
	return sb.String()
}

// Fingerprint returns "sha256:<hex>" over fixed, the map FixedFields
// returns: the hash of its keys and values in key order, each written as a
// JSON string and followed by a newline.
func Fingerprint(fixed map[string]string) string {
	// One buffer hashed at once, keys sorted in a small array: a load
	// computes this for every spec.
	keys := make([]string, 0, 16)
	size := 0
	for k, v := range fixed {
		keys = append(keys, k)
		size += len(k) + len(v) + 8
	}
	slices.Sort(keys)
	buf := make([]byte, 0, size)
	for _, k := range keys {
		buf = appendFixed(buf, k, fixed[k])
	}
	return fingerprintOf(buf)
}

// Error is one problem in one spec file. Error() reads
// "path:line:col: field: message", with path relative to the loaded
// directory; Field is empty for problems that concern a whole file or
// document.
type Error struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Field  string `json:"field,omitempty"`
	Msg    string `json:"message"`
	// Spec is the name of the spec the error belongs to, when known.
	Spec string `json:"spec,omitempty"`
}

// Error reads "path:line:col: field: message" (without "field: " when
// Field is empty).
func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Column, e.Field, e.Msg)
}

// Result is what Load found: the valid orders and every error, side by side.
// An error in one file never removes another file's valid orders.
type Result struct {
	// Orders are the valid specs, sorted by name.
	Orders []*Order
	// Errors are all problems found, sorted by file, line and column.
	Errors []*Error
	// Invalid names the specs that were recognised by name but rejected
	// (sorted, unique). A spec whose name could not be read is not listed.
	Invalid []string
	// Specs counts every spec document seen, valid or not; Files counts the
	// YAML files read, defaults.yaml files included.
	Specs int
	Files int

	// read are the files the load read (or a Cache served), sorted by
	// path, one entry a file; see Changed. A load that a Cache served
	// whole lists them only when asked: read is nil, and readFrom holds
	// what they are made of (see sources).
	read     []source
	readFrom *readParts
	// settled is what the load saw of the tree's times when a Cache
	// served every spec file; nil otherwise. See Settled.
	settled *settled
}

// Unreadable returns the files, sorted, with errors that belong to no named
// spec (broken YAML, a file too large, a document that is not a mapping):
// specs in them could not even be named.
func (r *Result) Unreadable() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range r.Errors {
		// "." is the whole tree (no spec file read at all), not a file
		// a spec may be in.
		if e.Spec == "" && e.File != "." && !seen[e.File] && !isDefaultsName(path.Base(e.File)) {
			seen[e.File] = true
			out = append(out, e.File)
		}
	}
	sort.Strings(out)
	return out
}

// ErrorFiles returns how many distinct files have errors.
func (r *Result) ErrorFiles() int {
	files := map[string]bool{}
	for _, e := range r.Errors {
		files[e.File] = true
	}
	return len(files)
}

// Summary returns the one-line summary printed by certform validate, such as
// "12 specs in 9 files: 2 errors in 2 files".
func (r *Result) Summary() string {
	s := fmt.Sprintf("%s in %s: ", plural(r.Specs, "spec"), plural(r.Files, "file"))
	if len(r.Errors) == 0 {
		return s + "no errors"
	}
	return s + fmt.Sprintf("%s in %s", plural(len(r.Errors), "error"), plural(r.ErrorFiles(), "file"))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
