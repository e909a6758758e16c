package adopt

import (
	"fmt"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/nameset"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// index says which orders are taken already: by the state, or by a
// spec.
type index struct {
	tracked  map[int]string    // order id -> entry tracking it
	previous map[int]string    // an entry's earlier (renewed) order -> entry
	renewals map[int]string    // the renewal CertCentral reported for an entry's order -> entry
	altIDs   map[string]string // alternative order id of an entry or its intent -> entry
	specIDs  map[int]string    // order_id -> spec file naming it
	names    map[string]*spec.Order
}

// newIndex indexes the orders the state tracks and the specs name.
func newIndex(known *state.File, specs *spec.Result) *index {
	x := &index{tracked: map[int]string{}, previous: map[int]string{}, renewals: map[int]string{},
		altIDs: map[string]string{}, specIDs: map[int]string{}, names: map[string]*spec.Order{}}
	hasOrder := map[string]bool{}
	if known != nil {
		for _, n := range known.Names() {
			e := known.Entries[n]
			if e.OrderID != 0 {
				x.tracked[e.OrderID] = n
			}
			for _, id := range e.PreviousOrderIDs {
				x.previous[id] = n
			}
			if e.RenewedOrderID != 0 {
				x.renewals[e.RenewedOrderID] = n
			}
			if e.AlternativeOrderID != "" {
				x.altIDs[e.AlternativeOrderID] = n
			}
			if e.Intent != nil && e.Intent.AlternativeOrderID != "" {
				x.altIDs[e.Intent.AlternativeOrderID] = n
			}
			hasOrder[n] = e.OrderID != 0 || e.Intent != nil
		}
	}
	for _, o := range specs.Orders {
		switch {
		case o.OrderID != 0:
			x.specIDs[o.OrderID] = o.File
		case !hasOrder[o.Name] && !o.AllowExistingNames:
			x.names[nameset.Key(o.CommonName, o.DNSNames)] = o
		}
	}
	return x
}

// taken returns why the order is not adopted, or "" when nothing tracks
// or names it.
func (x *index) taken(o *digicert.Order) string {
	if n, ok := x.tracked[o.ID]; ok {
		return fmt.Sprintf("tracked as %s in the state file", n)
	}
	if n, ok := x.previous[o.ID]; ok {
		return fmt.Sprintf("an earlier order of %s in the state file, which tracks its renewal", n)
	}
	if n, ok := x.renewals[o.ID]; ok {
		return fmt.Sprintf("the renewal of the order the state file tracks as %s; certform tracks it for %s itself", n, n)
	}
	if n, ok := x.tracked[o.RenewalOfOrderID]; ok && o.RenewalOfOrderID != 0 {
		return fmt.Sprintf("the renewal of order %d, tracked as %s in the state file; certform tracks it for %s itself", o.RenewalOfOrderID, n, n)
	}
	if n, ok := x.altIDs[o.AlternativeOrderID]; ok && o.AlternativeOrderID != "" {
		return fmt.Sprintf("placed by certform for %s (alternative order id %s); apply records it", n, o.AlternativeOrderID)
	}
	if f, ok := x.specIDs[o.ID]; ok {
		return "named by order_id in spec file " + f
	}
	if s, ok := x.names[nameset.Key(o.Certificate.CommonName, o.Certificate.DNSNames)]; ok {
		return fmt.Sprintf("spec %s (%s) has exactly its names; to track this order for it, run certform import %s %d", s.Name, s.File, s.Name, o.ID)
	}
	return ""
}
