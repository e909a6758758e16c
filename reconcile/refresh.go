package reconcile

import (
	"context"
	"fmt"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/nameset"
	"github.com/certform/certform/state"
)

// refreshMode is how a cycle observes CertCentral before planning.
type refreshMode int

const (
	// noRefresh reads what changed since the last observation (the
	// status-changes feed; see observe), or nothing without Observe.
	noRefresh refreshMode = iota
	// listRefresh reads the pages of the order list and then, one by
	// one, only the tracked orders whose listed entry differs from the
	// state or that the list does not show (see markListed).
	listRefresh
	// fullRefresh reads every tracked order one by one.
	fullRefresh
)

// mode returns the refresh the options ask for.
func (o CycleOptions) mode() refreshMode {
	switch {
	case o.Refresh && o.FullRefresh:
		return fullRefresh
	case o.Refresh:
		return listRefresh
	}
	return noRefresh
}

// markListed reads every page of GET /order/certificate (limit 1000) and
// marks in read the tracked orders (byID: order id to spec name) that must
// be read one by one: those whose listed entry differs from their state
// entry (see listedChanged), those the list does not show (the pages are
// not a snapshot, and an order may be hidden from the list: the read says
// what became of it, a 404 as in any read), those with a reissue by
// certform still pending, whose rejection only the order's reissues show,
// and those whose revoke request waits for a decision (revokeUndecided).
// Without tracked orders it calls nothing.
//
// The list carries neither disable_ct nor auto_reissue, so a change of
// those settings alone is not seen: only a full refresh (every order read)
// sees it.
func (r *Reconciler) markListed(ctx context.Context, known *state.File, byID map[int]string, read map[string]bool) error {
	if len(byID) == 0 {
		return nil
	}
	listed, err := r.API.ListOrders(ctx, digicert.OrderFilter{})
	if err != nil {
		return fmt.Errorf("reading the list of orders in CertCentral: %w", err)
	}
	seen := make(map[int]bool, len(byID))
	for i := range listed {
		o := &listed[i]
		n, ok := byID[o.ID]
		if !ok {
			continue
		}
		seen[o.ID] = true
		if listedChanged(known.Entries[n], o) {
			read[n] = true
		}
	}
	for id, n := range byID {
		if e := known.Entries[n]; !seen[id] || e.ReissuedFrom != 0 || revokeUndecided(e) {
			read[n] = true
		}
	}
	return nil
}

// revokeUndecided reports whether the entry's revoke request waits for an
// administrator's decision: a decision is recorded with a read of the
// order (see applyObservation), which the list alone would not cause
// while the order stays issued.
func revokeUndecided(e *state.Entry) bool {
	return e.Revoke != nil && e.Revoke.RequestID != 0 && e.Revoke.Status != "approved" && e.Revoke.Status != "rejected"
}

// listedChanged reports whether an order's entry in the order list says
// something the state entry does not record, in a field the list carries
// and a read of the order would record (see recordOrder): the status, the
// current certificate's id and serial number, the names, the certificate's
// end while the entry has none, the order's end, and whether the order was
// renewed. A field the list leaves out (an empty common name, no
// certificate id or serial, no order end) says nothing.
func listedChanged(e *state.Entry, o *digicert.Order) bool {
	c := o.Certificate
	if o.Status != e.Status || bool(o.IsRenewed) != e.Renewed {
		return true
	}
	if c.CommonName != "" && !nameset.Same(nameset.List(c.CommonName, c.DNSNames), e.Names) {
		return true
	}
	if c.ID != 0 {
		if c.ID != e.CertificateID || (c.SerialNumber != "" && canonicalSerial(c.SerialNumber) != e.SerialNumber) {
			return true
		}
		if _, ok := o.ValidTill(); ok && e.NotAfter.IsZero() {
			return true
		}
	}
	if t, ok := o.OrderEnds(); ok && !t.Equal(e.OrderValidTill) {
		return true
	}
	return false
}
