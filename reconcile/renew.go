package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/nameset"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// renewedYet reads the order a renewal is for, just before the renewal is
// sent: CertCentral may have renewed it since the plan was made
// (auto_renew, a person, or an earlier attempt whose answer was lost and
// that a look-up does not show yet). A renewal found is adopted (done);
// an order renewed by an order CertCentral does not name is an error.
// Nothing is sent either way.
func (ap *applier) renewedYet(ctx context.Context, a Action) (detail string, done bool, err error) {
	old, err := ap.API.GetOrder(ctx, a.OrderID)
	if err != nil {
		return "", false, fmt.Errorf("reading order %d before renewing it: %w; nothing was ordered", a.OrderID, err)
	}
	switch {
	case old.RenewedOrderID != 0 && old.RenewedOrderID != a.OrderID:
		detail, err := ap.adoptRenewal(ctx, a, old.RenewedOrderID)
		if err != nil {
			return "", false, fmt.Errorf("%w; nothing was ordered", err)
		}
		return "not renewed again: " + detail, true, nil
	case bool(old.IsRenewed):
		return "", false, fmt.Errorf("not renewed: CertCentral says order %d is renewed already, but not by which order; nothing was ordered; "+
			"find the renewal in CertCentral, then track it: %s", a.OrderID, moveCommands(a.Name, a.Name, renewalOrderID))
	}
	return "", false, nil
}

// adoptRenewal tracks order newID, which CertCentral reports as the
// renewal of the order a acts on, under the spec's name, after reading it
// (GET only): it must name that order in renewal_of_order_id (when it says
// at all), be live, and not be tracked under another name. The entry keeps
// the fixed fields (the names as the new order reports them), ordering
// options and delivery of the old one, and the old order's id in
// PreviousOrderIDs; a renewal intent it carried is settled, since
// CertCentral renews an order only once.
func (ap *applier) adoptRenewal(ctx context.Context, a Action, newID int) (string, error) {
	prev := ap.Store.Entry(a.Name)
	if prev == nil || prev.OrderID != a.OrderID {
		return "", fmt.Errorf("not adopted: the state no longer tracks order %d as %s (it changed after the plan was made)", a.OrderID, a.Name)
	}
	o, err := ap.API.GetOrder(ctx, newID)
	if err != nil {
		return "", fmt.Errorf("reading order %d, the renewal of order %d: %w", newID, a.OrderID, err)
	}
	if o.RenewalOfOrderID != 0 && o.RenewalOfOrderID != a.OrderID {
		return "", fmt.Errorf("not adopted: order %d renews order %d, not order %d; check both in CertCentral", newID, o.RenewalOfOrderID, a.OrderID)
	}
	if digicert.IsClosed(o.Status) {
		return "", fmt.Errorf("not adopted: order %d, the renewal of order %d, is %s in CertCentral; for a new certificate, give the spec a new name, or run %s so that certform orders anew",
			newID, a.OrderID, o.Status, forgetCommand(a.Name, false))
	}
	var other string
	ap.Store.View(func(f *state.File) {
		if n, ok := trackedOrders(f)[newID]; ok && n != a.Name {
			other = n
		}
	})
	if other != "" {
		return "", fmt.Errorf("not adopted: order %d, the renewal of order %d, is tracked as %s; run %s if it belongs to %s", newID, a.OrderID, other, forgetCommand(other, false), a.Name)
	}
	now := ap.now()
	err = ap.Store.Update(a.Name, func(e *state.Entry) bool {
		if e.OrderID != a.OrderID {
			return false
		}
		*e = renewalEntry(e, o, now)
		return true
	})
	if err != nil {
		return "", fmt.Errorf("order %d, the renewal of order %d, was found but saving it failed: %w", newID, a.OrderID, err)
	}
	return fmt.Sprintf("tracking order %d, which CertCentral renewed order %d with", newID, a.OrderID), nil
}

// renewalEntry is the entry of order o, the renewal of the order entry e
// tracks, adopted at now: e's fixed fields (the names as o reports them),
// ordering options and delivery carry over.
func renewalEntry(e *state.Entry, o *digicert.Order, now time.Time) state.Entry {
	ne := state.Entry{OrderID: o.ID, AlternativeOrderID: o.AlternativeOrderID, Fixed: maps.Clone(e.Fixed), Fingerprint: e.Fingerprint,
		Options: e.Options, DisableCT: o.DisableCT.Or(e.DisableCT), AutoReissue: o.AutoReissue.Or(e.AutoReissue), Imported: e.Imported, File: e.File, OrderedAt: now}
	if c := o.Certificate; c.CommonName != "" {
		if names := nameset.List(c.CommonName, c.DNSNames); !nameset.Same(names, entryNames(e)) {
			if ne.Fixed == nil {
				ne.Fixed = map[string]string{}
			}
			ne.Fixed["common_name"], ne.Fixed["dns_names"] = names[0], strings.Join(names[1:], ",")
			ne.Fingerprint = spec.Fingerprint(ne.Fixed)
		}
	}
	recordOrder(&ne, o, now)
	carryOver(e, &ne)
	return ne
}

// carryOver gives ne, the entry of the order that follows old's under the
// same name (a renewal, or an order placed or found for a new entry), what
// it keeps of old: the earlier order ids, with old's order added when ne
// is another order, and the certificate delivered, with its deploy hook's
// progress, until ne's own certificate is delivered.
func carryOver(old, ne *state.Entry) {
	ne.PreviousOrderIDs = slices.Clone(old.PreviousOrderIDs)
	if old.OrderID != 0 && old.OrderID != ne.OrderID {
		ne.PreviousOrderIDs = append(ne.PreviousOrderIDs, old.OrderID)
	}
	ne.DeliveredAt, ne.DeliveredSerial, ne.DeliveredCertificateID = old.DeliveredAt, old.DeliveredSerial, old.DeliveredCertificateID
	ne.HookPending, ne.HookAttempts, ne.HookRetryAt = old.HookPending, old.HookAttempts, old.HookRetryAt
	// The key: a new order without one of its own (a renewal CertCentral
	// made reuses the CSR) keeps the old key; one with another key keeps
	// the old one until its certificate is delivered.
	ne.PreviousKeys = slices.Clone(old.PreviousKeys)
	if ne.Key == nil {
		ne.Key = old.Key
	} else if old.Key != nil && old.Key.CSRFingerprint != ne.Key.CSRFingerprint {
		ne.PreviousKeys = append(ne.PreviousKeys, *old.Key)
	}
	if ne.Checked == "" {
		ne.Checked = old.Checked
	}
}
