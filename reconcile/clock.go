package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultMaxClockSkew is --max-clock-skew's default: how far the local
// clock may be from CertCentral's before no order, renewal, reissue or
// revocation is sent. NTP keeps a clock within milliseconds; minutes apart
// is a clock that is not synchronized at all, and the decisions that read
// it (an order's end, a renewal's time, a re-send's wait, the 24-hour
// budgets) are then wrong by as much.
const DefaultMaxClockSkew = 5 * time.Minute

// BlockedClock: the local clock and CertCentral's differ by more than
// --max-clock-skew, or CertCentral's could not be read (Action.BlockedBy).
// It holds every order, renewal, reissue and revocation; GET calls,
// deliveries and CT and auto-reissue settings go on.
const BlockedClock = "clock"

// ClockHint says what to do about a ClockError.
const ClockHint = "set the clock right and keep it synchronized (NTP: timedatectl set-ntp true; timedatectl status shows whether it is), then run again; " +
	"GET calls and deliveries go on meanwhile"

// ClockError is the error of a cycle, or of an action not sent, because the
// local clock cannot be trusted: it differs from CertCentral's (the Date
// header of its latest answer) by more than Max, or CertCentral's clock
// could not be read (Server is zero; Err says why). Every decision that
// reads the clock (an order's or a certificate's end, a renewal's time, a
// re-send's wait, the 24-hour budgets) would be wrong, so nothing that
// costs money or cannot be undone is sent.
type ClockError struct {
	// Local is the local clock's time, Server CertCentral's at the same
	// moment (its latest Date header plus the time since). Error shows
	// both to the second, and how far apart they are.
	Local, Server time.Time
	// Max is --max-clock-skew.
	Max time.Duration
	// Err is why CertCentral's clock is not known, when Server is zero.
	Err error
}

// Error says both times and by how much they differ, such as "the local
// clock reads 2028-12-06T06:00:00Z but CertCentral's reads
// 2026-12-07T06:00:00Z (17520h0m0s ahead, more than --max-clock-skew
// 5m0s): no order, renewal, reissue or revocation is sent".
func (e *ClockError) Error() string {
	const what = "no order, renewal, reissue or revocation is sent"
	if e.Server.IsZero() {
		return fmt.Sprintf("the local clock reads %s, but CertCentral's clock could not be read (%v): %s", stamp(e.Local), e.Err, what)
	}
	d, dir := e.Local.Sub(e.Server).Round(time.Second), "ahead"
	if d < 0 {
		d, dir = -d, "behind"
	}
	return fmt.Sprintf("the local clock reads %s but CertCentral's reads %s (%s %s, more than --max-clock-skew %s): %s",
		stamp(e.Local), stamp(e.Server), d, dir, e.Max, what)
}

// Unwrap returns Err.
func (e *ClockError) Unwrap() error { return e.Err }

// Hint returns ClockHint; when CertCentral's clock could not be read, it
// says how to go on without the check.
func (e *ClockError) Hint() string {
	const skip = "run with --max-clock-skew 0 to skip this check (a wrong local clock then goes unnoticed)"
	switch {
	case !e.Server.IsZero():
		return ClockHint
	case errors.Is(e.Err, errNoDate):
		return "a proxy between certform and CertCentral may drop the Date header: fix that, or " + skip
	case errors.Is(e.Err, errNoClock):
		return "this is a bug in certform: please report it; to go on meanwhile, " + skip
	}
	return "certform tries again at the next run; the local clock cannot be checked while CertCentral does not answer"
}

// errNoDate: CertCentral's answers carried no Date header.
var errNoDate = errors.New("its answers carry no Date header")

// errNoClock: the API in use does not report CertCentral's clock.
var errNoClock = errors.New("the API client in use does not report it")

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// serverClocker is an API that knows CertCentral's clock (digicert.Client).
type serverClocker interface {
	ServerClock() (date, seen time.Time, ok bool)
}

// clockReread is how old (by the monotonic clock) CertCentral's latest
// Date may be before a skew found with it is confirmed with a fresh one: a
// process that was suspended (a laptop asleep) counts less time passed
// than did.
const clockReread = 10 * time.Second

// checkClock compares the local clock (Now) with CertCentral's, as its
// latest answer's Date header gave it, and returns a *ClockError when they
// differ by more than MaxClockSkew. It is nil when MaxClockSkew is zero;
// an API that does not report CertCentral's clock counts as one whose
// answers carry no Date header. A skew found
// on a Date older than clockReread is confirmed with a fresh one, read with
// one GET of the status-changes feed for the last minute; with read set, so
// is CertCentral's clock when no answer gave it yet. Without read, an
// unknown clock is nil: nothing is checked, and nothing may be sent on it.
func (r *Reconciler) checkClock(ctx context.Context, read bool) error {
	if r.MaxClockSkew <= 0 || r.API == nil {
		return nil
	}
	sc, ok := r.API.(serverClocker)
	if !ok {
		// An API that hides CertCentral's clock (a wrapper) must not
		// turn the check off unseen.
		if read {
			return &ClockError{Local: r.now(), Max: r.MaxClockSkew, Err: errNoClock}
		}
		return nil
	}
	date, seen, known := sc.ServerClock()
	skewed := func() bool {
		d := r.now().Sub(date.Add(time.Since(seen)))
		return d > r.MaxClockSkew || d < -r.MaxClockSkew
	}
	if (read && !known) || (known && skewed() && time.Since(seen) > clockReread) {
		if _, err := r.API.StatusChanges(ctx, 1); err != nil {
			return &ClockError{Local: r.now(), Max: r.MaxClockSkew, Err: fmt.Errorf("reading it: %w", err)}
		}
		date, seen, known = sc.ServerClock()
		if !known {
			return &ClockError{Local: r.now(), Max: r.MaxClockSkew, Err: errNoDate}
		}
	}
	if !known || !skewed() {
		return nil
	}
	return &ClockError{Local: r.now(), Server: date.Add(time.Since(seen)), Max: r.MaxClockSkew}
}

// costly reports whether an action costs money or cannot be undone: an
// order, a renewal, a reissue (DigiCert may revoke the earlier
// certificates) or a revocation. Only these wait for a clock that can be
// trusted.
func costly(k Kind) bool {
	return k == KindOrder || k == KindRenew || k == KindReissue || k == KindRevoke
}

// holdOnClock checks the local clock against CertCentral's once the cycle
// is planned (reading CertCentral's when the plan holds a costly action
// and no answer gave it yet) and, when it cannot be trusted, blocks every
// costly action (BlockedClock) and adds the *ClockError to the cycle's
// errors: one error, whatever the number of actions held.
func (r *Reconciler) holdOnClock(ctx context.Context, c *Cycle) {
	need := false
	for _, a := range c.Plan.Actions {
		need = need || costly(a.Kind)
	}
	err := r.checkClock(ctx, need)
	if err == nil {
		return
	}
	c.Errors = append(c.Errors, err)
	blockOnClock(c.Plan)
}

// blockOnClock moves every costly action of p to p.Blocked, BlockedClock.
func blockOnClock(p *Plan) {
	rest := []Action{}
	for _, a := range p.Actions {
		if costly(a.Kind) {
			a.BlockedBy = BlockedClock
			p.Blocked = append(p.Blocked, a)
		} else {
			rest = append(rest, a)
		}
	}
	p.Actions = rest
}

// IsClockError reports whether err is, or wraps, a *ClockError.
func IsClockError(err error) bool {
	var ce *ClockError
	return errors.As(err, &ce)
}

// checkClock is the applier's re-check of the clock before a costly
// action (see Reconciler.checkClock): the skew may have appeared since the
// plan, or the plan may have been made without reading CertCentral.
func (ap *applier) checkClock(ctx context.Context, a Action) error {
	if ap.CheckClock == nil || !costly(a.Kind) {
		return nil
	}
	if err := ap.CheckClock(ctx); err != nil {
		return fmt.Errorf("not sent: %w", err)
	}
	return nil
}
