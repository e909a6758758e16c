package reconcile

import (
	"context"
	"fmt"
	"maps"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/nameset"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// waitingFor says, by order status, what an order waits for outside
// certform; an order in any other status waits for nothing.
var waitingFor = map[string]string{
	"needs_approval":  "an administrator's approval in CertCentral",
	"pending":         "domain control validation",
	"reissue_pending": "its reissued certificate",
	"waiting_pickup":  "the pickup of its issued certificate",
	"processing":      "CertCentral to finish processing it",
}

// Waiting reports whether an order in this CertCentral status waits for
// something outside certform (an approval, domain validation, a reissue,
// a pickup, processing): certform looks at it every cycle, and the daemon
// polls while one does.
func Waiting(status string) bool { return waitingFor[status] != "" }

// feedWindow is the longest window GET /order/certificate/status-changes
// answers (7 days, shared/digicert-api.md); after a longer gap every
// tracked order is read instead.
const feedWindow = 7 * 24 * time.Hour

// observation is what one observation read: the orders, by spec name, and
// whether it saw every change since the last one (then the state's
// ObservedAt moves to its time).
type observation struct {
	orders   map[string]*digicert.Order
	complete bool
	// rejected are the orders, by spec name, whose pending reissue by
	// certform CertCentral rejected (see rejectedReissues).
	rejected map[string]bool
	// rejectedKeys are, by spec name, the keys of rejected reissues that
	// recording the observation dropped from their entries (see
	// restoreReissuedKey): removed from the key store once it is saved.
	rejectedKeys map[string]state.KeyRecord
	// began is when the observation started: a complete one saw every
	// change up to then (its reads came after), so the state's
	// ObservedAt moves to began, never to when the reads ended; a change
	// that lands while a long refresh reads is then in the next feed's
	// window.
	began time.Time
}

// at is the time an observation records as observed: when it began, or
// now for one made without that time.
func (ob *observation) at(now time.Time) time.Time {
	if ob.began.IsZero() || ob.began.After(now) {
		return now
	}
	return ob.began
}

// observe reads what changed in CertCentral since the last observation
// (known.ObservedAt): one GET /order/certificate/status-changes for the
// window since then, and GET /order/certificate/{id} only for the tracked
// orders it reports with another status or certificate id than the state
// holds, for the orders certform waits on (approval, validation, reissue,
// pickup), and for issued orders whose certificate it has not read yet. The first observation, one after a gap longer than the
// feed's window, and a full refresh read every tracked order instead; a
// list refresh reads the order list instead of the feed (see markListed).
// Only GET calls are made.
func (r *Reconciler) observe(ctx context.Context, known *state.File, mode refreshMode) (*observation, []error) {
	now, all := r.now(), mode == fullRefresh
	ob := &observation{orders: map[string]*digicert.Order{}, complete: true, began: now}
	byID := trackedOrders(known)
	read := map[string]bool{}
	since := known.ObservedAt
	if r.seen.observedAt.After(since) && !since.IsZero() {
		since = r.seen.observedAt
	}
	// A last observation in the future (the clock stepped back, or it
	// was saved by a clock that ran ahead) says nothing of when the orders
	// were last seen: every tracked order is read, as after a long gap,
	// never only the feed's last minute.
	full := all || since.IsZero() || since.After(now) || now.Sub(since) >= feedWindow
	if mode == listRefresh {
		if err := r.markListed(ctx, known, byID, read); err != nil {
			return &observation{orders: ob.orders}, []error{err}
		}
	} else if full {
		for _, n := range byID {
			if all || !digicert.IsClosed(known.Entries[n].Status) {
				read[n] = true
			}
		}
	} else if err := r.readFeed(ctx, known, byID, since, now, read); err != nil {
		return &observation{orders: ob.orders}, []error{err}
	}
	for _, n := range known.Names() {
		e := known.Entries[n]
		// Orders certform waits on, and issued ones it has not read yet:
		// an order's answer carries only its id, and a delivery reads
		// the certificate, not the order's end (order_valid_till).
		if e.OrderID != 0 && (waitingFor[e.Status] != "" || (e.Status == "issued" && (e.CertificateID == 0 || e.SerialNumber == "" || e.ObservedAt.IsZero()))) {
			read[n] = true
		}
	}
	errs := r.readObserved(ctx, known, read, ob)
	rejected, rerrs := r.rejectedReissues(ctx, known, ob.orders)
	ob.rejected = rejected
	errs = append(errs, rerrs...)
	sortErrors(errs)
	return ob, errs
}

// readFeed reads CertCentral's status-changes feed for the window since
// the last observation and marks in read the tracked orders (byID) it
// reports changed.
func (r *Reconciler) readFeed(ctx context.Context, known *state.File, byID map[int]string, since, now time.Time, read map[string]bool) error {
	// The window overlaps the last one by a minute: a change made
	// while it was read is not missed.
	minutes := int(math.Ceil(now.Sub(since).Minutes())) + 1
	minutes = max(1, min(minutes, int(feedWindow/time.Minute)))
	refs, err := r.API.StatusChanges(ctx, minutes)
	if err != nil {
		return fmt.Errorf("reading what changed in CertCentral: %w", err)
	}
	for _, ref := range refs {
		n, ok := byID[ref.OrderID]
		if !ok {
			continue
		}
		e := known.Entries[n]
		// An order that may be renewed (within renewWindow of its
		// end) is read when the feed reports it at all: a renewal
		// changes neither its status nor its certificate.
		if ref.Status != e.Status || (ref.CertificateID != 0 && ref.CertificateID != e.CertificateID) ||
			(!e.Renewed && !e.OrderValidTill.IsZero() && !now.Before(e.OrderValidTill.Add(-renewWindow))) {
			read[n] = true
		}
	}
	return nil
}

// readObserved reads the orders of the specs in read into ob; an order
// that cannot be read makes the observation incomplete.
func (r *Reconciler) readObserved(ctx context.Context, known *state.File, read map[string]bool, ob *observation) []error {
	names := make([]string, 0, len(read))
	ids := make([]int, 0, len(read))
	for n := range read {
		names = append(names, n)
		ids = append(ids, known.Entries[n].OrderID)
	}
	orders, failed := r.readOrders(ctx, ids)
	var errs []error
	for _, n := range names {
		id := known.Entries[n].OrderID
		if err := failed[id]; err != nil {
			errs = append(errs, fmt.Errorf("reading %s (order %d): %w", n, id, err))
			ob.complete = false
		} else if o := orders[id]; o != nil {
			ob.orders[n] = o
		}
	}
	return errs
}

// rejectedReissues finds certform's reissues that CertCentral rejected.
// A rejected reissue leaves the order issued with the certificate the
// reissue started from, which is also how a reissue looks before
// CertCentral shows it pending: for an order read so, the order's reissues
// are listed (GET .../reissue), and the reissue counts as rejected only
// when the newest one created since certform asked is rejected.
func (r *Reconciler) rejectedReissues(ctx context.Context, known *state.File, orders map[string]*digicert.Order) (map[string]bool, []error) {
	out := map[string]bool{}
	var errs []error
	for n, o := range orders {
		e := known.Entries[n]
		if e == nil || e.ReissuedFrom == 0 || o.Status != "issued" || o.Certificate.ID != e.ReissuedFrom {
			continue
		}
		rs, err := r.API.ListReissues(ctx, o.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("listing the reissues of %s (order %d) to see whether certform's reissue was rejected: %w", n, o.ID, err))
			continue
		}
		var newest *digicert.Reissue
		var newestAt time.Time
		for i := range rs {
			t, ok := rs[i].Created()
			if !ok || t.Before(e.ReissuedAt.Add(-time.Minute)) {
				continue
			}
			if newest == nil || t.After(newestAt) || (t.Equal(newestAt) && rs[i].ID > newest.ID) {
				newest, newestAt = &rs[i], t
			}
		}
		if newest != nil && newest.Status == "rejected" {
			out[n] = true
		}
	}
	return out, errs
}

// readOrders reads orders by id (GET /order/certificate/{id}), Parallelism
// at once, and returns those read and the errors, by order id.
func (r *Reconciler) readOrders(ctx context.Context, ids []int) (map[int]*digicert.Order, map[int]error) {
	orders, errs := map[int]*digicert.Order{}, map[int]error{}
	var mu sync.Mutex
	sem := make(chan struct{}, max(r.Parallelism, 1))
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o, err := r.API.GetOrder(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[id] = err
			} else {
				orders[id] = o
			}
		}()
	}
	wg.Wait()
	return orders, errs
}

// sortErrors sorts errors by their text, for output that does not depend
// on which call ended first.
func sortErrors(errs []error) {
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
}

// observedFrom returns what the plan needs of the orders read. A setting
// the answer leaves out (disable_ct is not on DigiCert's order-info page)
// is the one known records for the entry: unknown is never false, so an
// answer without it never makes the plan toggle CT and reissue.
func observedFrom(orders map[string]*digicert.Order, known *state.File) map[string]*observed {
	out := make(map[string]*observed, len(orders))
	for n, o := range orders {
		var was state.Entry
		if known != nil && known.Entries[n] != nil {
			was = *known.Entries[n]
		}
		ob := &observed{Status: o.Status, DisableCT: o.DisableCT.Or(was.DisableCT), AutoReissue: o.AutoReissue.Or(was.AutoReissue),
			Renewed: bool(o.IsRenewed), RenewedOrderID: o.RenewedOrderID}
		if o.Certificate.CommonName != "" {
			ob.Names = nameset.List(o.Certificate.CommonName, o.Certificate.DNSNames)
		}
		out[n] = ob
	}
	return out
}

// observedSaveEvery is how old the state's ObservedAt may grow while
// cycles observe no change before one saves its time: saving it every
// cycle would rewrite the whole state file every cycle for nothing. The
// process keeps the exact time meanwhile; a restarted one reads the
// feed from the saved time, which is at most this old, and so misses
// nothing.
const observedSaveEvery = time.Hour

// saveObservation records an observation (see recordObservation), except
// when it saw no change and the state's ObservedAt is younger than
// observedSaveEvery (and not in the future, which is replaced at once):
// then only this process remembers its time.
// It reports whether it changed the state.
func (r *Reconciler) saveObservation(known *state.File, ob *observation, revokeRequests map[string]string) (bool, error) {
	now := r.now()
	if len(ob.orders) == 0 && len(revokeRequests) == 0 && (!ob.complete || !known.ObservedAt.IsZero() && !known.ObservedAt.After(now) && now.Sub(known.ObservedAt) < observedSaveEvery) {
		if ob.complete {
			r.seen.observedAt = ob.at(now)
		}
		return false, nil
	}
	err := recordObservation(r.Store, ob, revokeRequests, ob.at(now))
	if err == nil {
		r.dropRejectedKeys(ob.rejectedKeys)
	}
	if err == nil && ob.complete {
		r.seen.observedAt = time.Time{}
	}
	return true, err
}

// recordObservation saves what an observation read: each order's status,
// current certificate and end, and when it was read; a revoke request's
// decision; and, when the observation saw every change, its time as the
// state's ObservedAt.
func recordObservation(store *state.Store, ob *observation, revokeRequests map[string]string, now time.Time) error {
	return store.Mutate(func(f *state.File) { applyObservation(f, ob, revokeRequests, now) })
}

// applyObservation copies what an observation read into f (see
// recordObservation): the store's file, or a dry run's copy.
func applyObservation(f *state.File, ob *observation, revokeRequests map[string]string, now time.Time) {
	now = now.UTC()
	for name, o := range ob.orders {
		e := f.Entries[name]
		if e == nil || e.OrderID != o.ID {
			continue
		}
		recordOrder(e, o, now)
		if ob.rejected[name] && e.ReissuedFrom != 0 {
			recordRejection(e, now)
			if k := restoreReissuedKey(e); k != nil {
				if ob.rejectedKeys == nil {
					ob.rejectedKeys = map[string]state.KeyRecord{}
				}
				ob.rejectedKeys[name] = *k
			}
		}

		if e.Revoke != nil && e.Revoke.Status != "approved" {
			switch rs := revokeRequests[name]; {
			case o.Status == "revoked":
				e.Revoke.Status = "approved"
			case rs == "approved" || rs == "rejected":
				e.Revoke.Status = rs
			}
		}
	}
	if ob.complete {
		f.ObservedAt = now
	}
}

// recordOrder copies what CertCentral reports of an order into its entry:
// every read of an order refreshes its status, names and current
// certificate, and an order read revoked settles certform's revoke intent. A certificate's dates are DigiCert's days until the
// certificate itself is read (on delivery): they are kept when the
// certificate is the same.
func recordOrder(e *state.Entry, o *digicert.Order, now time.Time) {
	e.Status, e.RefreshedAt, e.ObservedAt = o.Status, now, now
	if o.Status == "revoked" && e.Intent != nil && e.Intent.Action == state.IntentRevoke {
		// certform's revoke landed (its answer was lost): settled in the
		// same write that records the order revoked, which a plan then
		// leaves alone.
		e.Intent = nil
		if e.Revoke == nil {
			e.Revoke = &state.RevokeRecord{Status: "approved", Time: now}
		}
	}
	if o.Certificate.CommonName != "" {
		e.Names = nameset.List(o.Certificate.CommonName, o.Certificate.DNSNames)
	}
	if c := o.Certificate; c.ID != 0 {
		another := c.ID != e.CertificateID
		e.CertificateID = c.ID
		if e.ReissuedFrom != 0 && c.ID != e.ReissuedFrom && o.Status != "reissue_pending" {
			// certform's reissue is issued (a pending one may show its
			// certificate's id already, and go back if rejected).
			e.ReissuedAt, e.ReissuedFrom, e.ReissuedUndo, e.ReissuedKeyFrom = time.Time{}, 0, nil, nil
		}
		if c.SerialNumber != "" || another {
			e.SerialNumber = canonicalSerial(c.SerialNumber)
		}
		if another || e.NotAfter.IsZero() {
			e.NotBefore, _ = digicert.ParseDate(c.ValidFrom)
			e.NotAfter, _ = o.ValidTill()
		}
	}
	if t, ok := o.OrderEnds(); ok {
		e.OrderValidTill = t
	}
	e.Renewed, e.RenewedOrderID = bool(o.IsRenewed), o.RenewedOrderID
	if o.DCVMethod != "" {
		e.DCVMethod = o.DCVMethod
	}
	if o.DCVRandomValue != "" {
		e.DCVToken = o.DCVRandomValue
	}
}

// recordRejection records that CertCentral rejected certform's pending
// reissue of the entry's order: the pending marker is cleared, the fixed
// fields the order had before the reissue are put back (the order keeps
// them), and what the reissue asked for is kept in ReissueRejected, so
// that it is not asked again until the spec asks for something else
// (another certificate on the order, a console reissue say, does not
// lift it: the administrator rejected the change, not the certificate).
func recordRejection(e *state.Entry, now time.Time) {
	asked := map[string]string{}
	for k, v := range e.Fixed {
		if spec.ReissueChanges(k) {
			asked[k] = v
		}
	}
	rj := &state.ReissueRejection{Fixed: asked, DisableCT: e.DisableCT, Names: entryFixedNames(e), Requested: e.ReissuedAt, Seen: now,
		CertificateID: e.ReissuedFrom}
	if e.ReissuedUndo != nil {
		for k, v := range e.ReissuedUndo {
			if asked[k] != v {
				rj.Changed = append(rj.Changed, k)
			}
		}
		sort.Strings(rj.Changed)
		fixed := maps.Clone(e.Fixed)
		maps.Copy(fixed, e.ReissuedUndo)
		e.Fixed, e.Fingerprint = fixed, spec.Fingerprint(fixed)
	}
	e.ReissueRejected = rj
	e.ReissuedAt, e.ReissuedFrom, e.ReissuedUndo = time.Time{}, 0, nil
}
