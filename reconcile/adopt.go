package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/certform/certform/adopt"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// adopt records the order a spec names with order_id as the spec's
// (adopt.Entry, with the spec's ordering-only options and what every read
// of an order records), after the checks of
// adoptProblem (on the order as the plan read it, or read now when the
// plan did not) and once more that no entry tracks it. Only GET calls.
func (ap *applier) adopt(ctx context.Context, a Action) (string, error) {
	d := a.Spec
	if d == nil {
		return "", fmt.Errorf("adopt %s: no spec", a.Name)
	}
	if prev := ap.Store.Entry(a.Name); !isNew(prev) {
		return "", fmt.Errorf("not adopted: the state now tracks order %d for %s (it changed after the plan was made)", prev.OrderID, a.Name)
	}
	ad := a.adoptee
	if ad == nil {
		o, err := ap.API.GetOrder(ctx, a.OrderID)
		switch {
		case digicert.IsNotFound(err):
			ad = &adoptee{Missing: true}
		case err != nil:
			return "", fmt.Errorf("reading order %d before adopting it: %w; nothing was adopted", a.OrderID, err)
		default:
			ad = adopteeFrom(o)
		}
	}
	if _, msg, _ := adoptProblem(d, ad); msg != "" {
		return "", errors.New(msg)
	}
	var owner string
	ap.Store.View(func(f *state.File) { owner = trackedOrders(f)[a.OrderID] })
	if owner != "" {
		return "", fmt.Errorf("not adopted: order %d is tracked as %s", a.OrderID, owner)
	}
	o := ad.order
	now := ap.now()
	err := ap.Store.Update(a.Name, func(e *state.Entry) bool {
		ne := adopt.Entry(d, o, now)
		ne.Options = d.OrderingOptions()
		recordOrder(&ne, o, now)
		*e = ne
		return true
	})
	if err != nil {
		return "", fmt.Errorf("order %d was checked but saving it failed: %w; the next apply adopts it again", a.OrderID, err)
	}
	return fmt.Sprintf("adopted order %d (%s)", o.ID, o.Status), nil
}

// settings returns the order's disable_ct and auto_reissue for adopting it
// for spec d. A setting CertCentral's answer leaves out (disable_ct is not
// on DigiCert's order-info page) is taken to be the spec's: certform never
// changes CT logging, which calls for a reissue, on a guess, and the entry
// records the spec's value. An adoptee made by hand (no order) has its
// fields as they are.
func (ad *adoptee) settings(d *spec.Order) (disableCT, autoReissue bool) {
	if ad.order == nil {
		return ad.DisableCT, ad.AutoReissue
	}
	return ad.order.DisableCT.Or(d.DisableCT), ad.order.AutoReissue.Or(d.AutoReissue)
}
