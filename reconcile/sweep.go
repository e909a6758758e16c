package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/state"
)

// sweep is the state of the daemon's toggle sweep (see SweepNext): where
// it is in the tracked orders, and the orders it read that differ from
// the state, kept for the next cycle. mu guards it: the sweep reads on
// a goroutine of its own, between cycles.
type sweep struct {
	mu sync.Mutex
	// after is the spec name read last; the next read is the first
	// swept name after it, starting over after the last.
	after string
	// from is the state names was made from; names are its spec names
	// with a live order certform may sweep (see sweepable), sorted.
	from  *state.File
	names []string
	// found are the orders read that differ from their state entry, by
	// spec name, until a cycle takes them (takeSwept).
	found map[string]swept
}

// swept is an order the sweep read, with what its state entry said when
// it was read: a cycle takes the read only while the entry still says so
// (see sameTracked), never over a change made since (a reissue by this
// or another process, a lock lost and taken over meanwhile).
type swept struct {
	order *digicert.Order
	entry state.Entry
}

// SweepResult is what one read of the toggle sweep found.
type SweepResult struct {
	// Name and OrderID say which order was read; empty and zero when
	// none was (the state tracks no live order).
	Name    string
	OrderID int
	// Differs is true when the order differs from its state entry: its
	// disable_ct or auto_reissue setting, which the order list does not
	// carry, or a field a list refresh compares (see listedChanged). The
	// next cycle records and plans it as a refresh's read: a cycle should
	// run.
	Differs bool
	// Wrapped is true when this read started a new pass over the orders.
	Wrapped bool
}

// SweepNext makes one read of the daemon's toggle sweep (certform run
// --refresh-budget): GET /order/certificate/{id} of the live tracked order
// whose spec name follows the one it read last, by name, starting over
// after the last, so that every order is read in turn. An order that
// differs from its state entry (SweepResult.Differs) is kept for the next
// cycle, whose observation takes it as a refresh's read: saved to the
// state and planned (a drifted disable_ct or auto_reissue is set back).
// One that matches changes nothing and is not written. Orders certform
// waits on (a pending reissue, an undecided revoke request) are left to
// the cycles, which read them anyway.
//
// It may be called from another goroutine than the cycles', but not while
// one runs (the daemon pauses the sweep for each cycle); its call goes
// through the Reconciler's API, its limiter and retries.
func (r *Reconciler) SweepNext(ctx context.Context) (SweepResult, error) {
	if r.API == nil || r.Store == nil {
		return SweepResult{}, nil
	}
	known := r.known()
	name, wrapped := r.seen.sweep.next(known)
	if name == "" {
		return SweepResult{}, nil
	}
	e := known.Entries[name]
	res := SweepResult{Name: name, OrderID: e.OrderID, Wrapped: wrapped}
	o, err := r.API.GetOrder(ctx, e.OrderID)
	if err != nil {
		return res, fmt.Errorf("reading %s (order %d) for the toggle sweep: %w", name, e.OrderID, err)
	}
	if o.ID != e.OrderID || !sweptDiffers(e, o) {
		return res, nil
	}
	res.Differs = true
	r.seen.sweep.mu.Lock()
	defer r.seen.sweep.mu.Unlock()
	if r.seen.sweep.found == nil {
		r.seen.sweep.found = map[string]swept{}
	}
	r.seen.sweep.found[name] = swept{order: o, entry: *e}
	return res, nil
}

// next returns the swept name after the one read last (known's names,
// made again only when known is another copy of the state), and whether
// it started over; "" when there is none.
func (s *sweep) next(known *state.File) (name string, wrapped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.from != known {
		s.from, s.names = known, s.names[:0]
		for n, e := range known.Entries {
			if sweepable(e) {
				s.names = append(s.names, n)
			}
		}
		sort.Strings(s.names)
	}
	if len(s.names) == 0 {
		return "", false
	}
	i := sort.SearchStrings(s.names, s.after)
	if i < len(s.names) && s.names[i] == s.after {
		i++
	}
	if i == len(s.names) || s.after == "" {
		i, wrapped = 0, true
	}
	s.after = s.names[i]
	return s.after, wrapped
}

// sweepable reports whether the sweep reads an entry's order: a live
// order certform neither waits on for a reissue nor for a revoke
// request's decision (the cycles read those).
func sweepable(e *state.Entry) bool {
	return e.OrderID != 0 && !digicert.IsClosed(e.Status) && e.ReissuedFrom == 0 && !revokeUndecided(e)
}

// sweptDiffers reports whether a swept order differs from its entry: its
// settings (disable_ct, auto_reissue; an answer without them says
// nothing), or what a list refresh compares.
func sweptDiffers(e *state.Entry, o *digicert.Order) bool {
	return o.DisableCT.Or(e.DisableCT) != e.DisableCT || o.AutoReissue.Or(e.AutoReissue) != e.AutoReissue || listedChanged(e, o)
}

// takeSwept adds to ob the orders the sweep kept since the last cycle
// (see SweepNext), and forgets them: each one whose entry is still what
// it was when the sweep read it (sameTracked) and that this cycle's
// observation did not read afresh, as a refresh's read. A read whose
// entry changed since is dropped: the next pass reads the order again.
func (r *Reconciler) takeSwept(known *state.File, ob *observation) {
	r.seen.sweep.mu.Lock()
	found := r.seen.sweep.found
	r.seen.sweep.found = nil
	r.seen.sweep.mu.Unlock()
	for n, sw := range found {
		if e := known.Entries[n]; ob.orders[n] == nil && e != nil && sweepable(e) && sameTracked(e, &sw.entry) {
			ob.orders[n] = sw.order
		}
	}
}

// sameTracked reports whether entry e says of its order what was does
// (SweepNext keeps a read only when its order is was's): the same order,
// status, current certificate, names, renewal and settings.
func sameTracked(e, was *state.Entry) bool {
	return e.OrderID == was.OrderID && e.Status == was.Status && e.CertificateID == was.CertificateID &&
		e.SerialNumber == was.SerialNumber && e.Renewed == was.Renewed && e.ReissuedFrom == was.ReissuedFrom &&
		e.DisableCT == was.DisableCT && e.AutoReissue == was.AutoReissue && slices.Equal(e.Names, was.Names)
}
