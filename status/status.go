// Package status builds the per-spec status object that certform status
// --json prints and the daemon serves at /status: one Entry per state
// entry, from the state file, the specs when they are known, and the
// daemon's last cycle when there is one. It owns no I/O: callers read the
// state and the specs and render the entries.
package status

import (
	"sort"
	"time"

	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// Entry is one spec's status; a stable interface (certform status --json
// and the daemon's /status print a JSON array of them). Times are UTC;
// fields that are unknown are left out.
type Entry struct {
	Name               string              `json:"name"`
	OrderID            int                 `json:"order_id,omitempty"`
	Status             string              `json:"status,omitempty"`
	DisableCT          bool                `json:"disable_ct"`
	AutoReissue        bool                `json:"auto_reissue"`
	Revoke             *state.RevokeRecord `json:"revoke,omitempty"`
	Intent             *state.Intent       `json:"intent,omitempty"`
	Orphan             bool                `json:"orphan"`
	File               string              `json:"file,omitempty"`
	AlternativeOrderID string              `json:"alternative_order_id,omitempty"`
	Imported           bool                `json:"imported,omitempty"`
	SerialNumber       string              `json:"serial_number,omitempty"`
	NotAfter           *time.Time          `json:"not_after,omitempty"`
	OrderValidTill     *time.Time          `json:"order_valid_till,omitempty"`
	ObservedAt         *time.Time          `json:"observed_at,omitempty"`
	DeliveredAt        *time.Time          `json:"delivered_at,omitempty"`
	DCVToken           string              `json:"dcv_token,omitempty"`
	DeliveredSerial    string              `json:"delivered_serial,omitempty"`
	DeliveryError      string              `json:"delivery_error,omitempty"`
	HookPending        string              `json:"hook_pending,omitempty"`
	HookAttempts       int                 `json:"hook_attempts,omitempty"`
	// PreviousOrderIDs are the spec's earlier orders, oldest first (an
	// order renewed is kept here).
	PreviousOrderIDs []int `json:"previous_order_ids,omitempty"`
	// DomainValidationEnds are when the validation of the account domains
	// the spec uses ends, as last read with --dcv-config.
	DomainValidationEnds map[string]time.Time `json:"domain_validation_ends,omitempty"`
	// NextRenewal is when certform will next reissue the certificate or
	// renew the order on its own (see NextRenewal); known only with the
	// spec (certform status --dir, and the daemon).
	NextRenewal *time.Time `json:"next_renewal,omitempty"`
	// Waiting is the order's status while it waits on something outside
	// certform (needs_approval, pending, reissue_pending, waiting_pickup,
	// processing; see reconcile.Waiting), else empty.
	Waiting string `json:"waiting,omitempty"`
	// LastError is the error of the spec's last failed call, delivery or
	// deploy hook in the daemon's last cycle; only the daemon's /status
	// knows it.
	LastError string `json:"last_error,omitempty"`
	// KeyType, KeyCreatedAt and PublicKeySHA256 (hex SHA-256 of the
	// public key's DER) describe the private key certform made for the
	// spec (key_type); empty for a spec with its own CSR. Never the key.
	KeyType         string     `json:"key_type,omitempty"`
	KeyCreatedAt    *time.Time `json:"key_created_at,omitempty"`
	PublicKeySHA256 string     `json:"public_key_sha256,omitempty"`
}

// Build returns one Entry per state entry, sorted by name. specs, when
// not nil, are the valid specs: an entry without one is an orphan, and
// NextRenewal is computed from its spec. lastErrors, when not nil, gives
// LastError by spec name.
func Build(f *state.File, specs []*spec.Order, lastErrors map[string]string) []Entry {
	var byName map[string]*spec.Order
	if specs != nil {
		byName = make(map[string]*spec.Order, len(specs))
		for _, o := range specs {
			byName[o.Name] = o
		}
	}
	names := make([]string, 0, len(f.Entries))
	for n := range f.Entries {
		names = append(names, n)
	}
	sort.Strings(names)
	rows := make([]Entry, 0, len(names))
	for _, n := range names {
		e := f.Entries[n]
		r := Entry{Name: n, OrderID: e.OrderID, Status: e.Status, DisableCT: e.DisableCT, AutoReissue: e.AutoReissue,
			Revoke: e.Revoke, Intent: e.Intent, File: e.File, AlternativeOrderID: e.AlternativeOrderID, Imported: e.Imported,
			SerialNumber: e.SerialNumber, NotAfter: timeOrNil(e.NotAfter), OrderValidTill: timeOrNil(e.OrderValidTill), ObservedAt: timeOrNil(e.ObservedAt),
			DeliveredAt: timeOrNil(e.DeliveredAt), DCVToken: e.DCVToken, DeliveredSerial: e.DeliveredSerial, DeliveryError: e.DeliveryError,
			HookPending: e.HookPending, HookAttempts: e.HookAttempts, PreviousOrderIDs: e.PreviousOrderIDs,
			DomainValidationEnds: e.DomainValidationEnds, LastError: lastErrors[n]}
		if reconcile.Waiting(e.Status) {
			r.Waiting = e.Status
		}
		if k := e.Key; k != nil {
			r.KeyType, r.KeyCreatedAt, r.PublicKeySHA256 = k.Type, timeOrNil(k.CreatedAt), k.PublicKeySHA256
		}
		if byName != nil {
			o := byName[n]
			r.Orphan = o == nil
			if o != nil {
				r.NextRenewal = timeOrNil(NextRenewal(o, e))
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// NextRenewal returns when certform will next act on its own to keep the
// spec's certificate current: the certificate's end minus
// reissue_before_days when the order lasts beyond the certificate (a
// reissue; with auto_reissue on, DigiCert's, which certform watches), or
// the order's end minus renew_before_days (a renewal), whichever is
// earlier. It may be in the past (the action is due or pending). The zero
// time means unknown: no issued order, a spec that asks for revocation,
// or ends not read yet.
func NextRenewal(o *spec.Order, e *state.Entry) time.Time {
	if o.Revoke || e.OrderID == 0 || e.Status == "revoked" || e.Status == "canceled" || e.Status == "rejected" {
		return time.Time{}
	}
	var at time.Time
	if !e.OrderValidTill.IsZero() {
		at = e.OrderValidTill.Add(-time.Duration(o.RenewBeforeDays) * 24 * time.Hour)
	}
	if !e.NotAfter.IsZero() && !e.OrderValidTill.IsZero() && e.OrderValidTill.After(e.NotAfter) {
		if r := e.NotAfter.Add(-time.Duration(o.ReissueBeforeDays) * 24 * time.Hour); at.IsZero() || r.Before(at) {
			at = r
		}
	}
	return at.UTC()
}

// timeOrNil returns nil for the zero time, so that JSON leaves it out.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
