package reconcile

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/nameset"
	"github.com/certform/certform/state"
)

// liveMaxAge is how long one paged read of the account's live orders
// (liveRead) stands for CertCentral's answer: a new order sent later than
// that after the read is checked against a new read. Real CertCentral lets
// 1,000 calls through per 3 minutes, so an apply of 1,000 new orders takes
// at least 3 minutes and reads the pages about 3 times; an order placed by
// someone else meanwhile is seen within a minute, as the per-order check
// of a few new orders would see it at once.
const liveMaxAge = time.Minute

// liveReadAbove is the cross-over between the two ways the names of new
// orders are checked just before their first request (recheckNames). Up
// to liveReadAbove new orders in one apply, each is preceded by one GET
// filtered by its common name, made immediately before its POST: the
// freshest answer, for one call per order, which at most doubles the
// calls of an apply that fits in DigiCert's short window (100 calls per 5
// seconds) anyway. Above it, the per-order GETs would double the time a
// large onboarding takes on the long window (1,000 calls per 3 minutes:
// 2,000 calls for 1,000 orders), so the apply reads the account's orders
// once instead (liveRead: one call per 1,000 orders in the account, read
// again each liveMaxAge), unless the orders the state knows of already
// fill as many pages as there are new orders. The plan's consult crosses
// over sooner (sweepAbove): it is made once, before any approval prompt,
// and only its number of calls counts.
const liveReadAbove = 100

// liveRead is one paged read of every order in the account
// (GET /order/certificate, 1,000 a page), shared by the names checks of
// the new orders of one apply (see liveReadAbove): the live orders by
// their names. The read is made when the first new order needs it, after
// any approval prompt, and again when an order is sent liveMaxAge or
// longer after it. Orders this apply placed after the read are covered by
// the in-run claims (claim), not by the read. A read that fails fails
// every order that needs it in this apply: nothing is ordered, and the
// pages are not asked for again in the same apply.
//
// A liveRead is safe for concurrent use: the first worker that needs it
// reads the pages, the others wait for that read.
type liveRead struct {
	mu    sync.Mutex
	at    time.Time              // when the read started; zero before the first
	err   error                  // the read's error, kept for the apply
	byKey map[string][]liveOrder // live orders by liveKey of their names
	// pages is how many pages the last read took; left how many new
	// orders still ask (see find): a read due again that would take at
	// least as many pages as there are orders left is not made, and those
	// orders are checked one GET each (the account's untracked orders,
	// which the state cannot count, make its pages).
	pages, left int
}

// liveKey is the map key of a list of names made by nameset.List: two
// lists are nameset.Same exactly when their keys are equal.
func liveKey(names []string) string { return strings.Join(names, "\n") }

// useLiveRead reports whether the new orders of actions share one paged
// read of the account (liveRead) for their names checks: more than
// liveReadAbove of them are to be checked, and more than the pages the
// orders the state knows of fill (the account holds at least those).
func (ap *applier) useLiveRead(actions []Action) (bool, int) {
	n := 0
	for _, a := range actions {
		if a.Kind == KindOrder && a.Resume == "" && a.Spec != nil && !a.Spec.AllowExistingNames {
			n++
		}
	}
	if n <= liveReadAbove {
		return false, n
	}
	known := 0
	ap.Store.View(func(f *state.File) {
		for _, e := range f.Entries {
			if e.OrderID != 0 {
				known++
			}
			known += len(e.PreviousOrderIDs)
		}
	})
	return (known+listPage-1)/listPage < n, n
}

// listPage is how many orders one page of GET /order/certificate holds
// (digicert.Client lists 1,000 a page, DigiCert's largest).
const listPage = 1000

// liveWithNames returns the live orders in CertCentral whose names are
// exactly want (made by nameset.List; cn is the common name): from the
// apply's paged read when there is one (read again when older than
// liveMaxAge, unless that read would take as many pages as there are new
// orders left), else from one GET filtered by cn. An error means CertCentral
// did not answer: nothing may be ordered.
func (ap *applier) liveWithNames(ctx context.Context, cn string, want []string) ([]liveOrder, error) {
	if ap.live != nil {
		if found, ok, err := ap.live.find(ctx, ap, want); ok {
			return found, err
		}
	}
	orders, err := ap.API.ListOrders(ctx, digicert.OrderFilter{CommonName: cn})
	if err != nil {
		return nil, fmt.Errorf("asking CertCentral for live orders named %s just before ordering: %w; nothing was ordered", cn, err)
	}
	var out []liveOrder
	for _, x := range orders {
		if lo := liveOrderOf(x); lo != nil && nameset.Same(lo.Names, want) {
			out = append(out, *lo)
		}
	}
	return out, nil
}

// find returns the live orders with exactly the names want, reading the
// pages first when they were not read yet, or were read liveMaxAge or
// longer before now (or after now: the clock went back). ok is false when
// a read is due again but would take at least as many pages as there are
// new orders left to check: the caller checks this one with its own GET.
func (lr *liveRead) find(ctx context.Context, ap *applier, want []string) (found []liveOrder, ok bool, err error) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	left := lr.left
	lr.left--
	if age := ap.now().Sub(lr.at); lr.err == nil && (lr.at.IsZero() || age < 0 || age >= liveMaxAge) {
		if !lr.at.IsZero() && lr.pages >= left {
			return nil, false, nil
		}
		lr.read(ctx, ap)
	}
	if lr.err != nil {
		return nil, true, lr.err
	}
	return lr.byKey[liveKey(want)], true, nil
}

// read reads every page of the account's orders and keeps the live ones.
// The caller holds lr.mu.
func (lr *liveRead) read(ctx context.Context, ap *applier) {
	at := ap.now()
	orders, err := ap.API.ListOrders(ctx, digicert.OrderFilter{})
	if err != nil {
		lr.err = fmt.Errorf("reading the account's live orders just before ordering: %w; nothing was ordered", err)
		return
	}
	lr.at, lr.byKey, lr.pages = at, map[string][]liveOrder{}, max(1, (len(orders)+listPage-1)/listPage)
	for _, x := range orders {
		if lo := liveOrderOf(x); lo != nil {
			k := liveKey(lo.Names)
			lr.byKey[k] = append(lr.byKey[k], *lo)
		}
	}
	ap.logger().Debug("read the account's orders for the names check of new orders", "orders", len(orders))
}

// liveOrderOf returns an order CertCentral listed as a liveOrder, or nil
// when it is closed (revoked, canceled, rejected, expired).
func liveOrderOf(x digicert.Order) *liveOrder {
	if digicert.IsClosed(x.Status) {
		return nil
	}
	return &liveOrder{ID: x.ID, Status: x.Status, Names: nameset.List(x.Certificate.CommonName, x.Certificate.DNSNames)}
}
