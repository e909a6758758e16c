package digicert

import (
	"context"
	"net/http/httptrace"
	"slices"
	"sync"
	"time"
)

// Limit is a rolling window: at most N requests in any span of Per.
type Limit struct {
	N   int
	Per time.Duration
}

// DefaultLimits are CertCentral's per-key limits: 100 requests per 5 seconds
// and 1000 per 3 minutes (DigiCert's "Rate limits" page, as summarised in
// shared/digicert-api.md).
var DefaultLimits = []Limit{{N: 100, Per: 5 * time.Second}, {N: 1000, Per: 3 * time.Minute}}

// windowLimiter keeps a client under several rolling windows at once, the
// rule CertCentral applies: a request is refused when N requests already
// arrived within Per before it.
//
// The server counts a request when it arrives, and the client cannot know
// that instant, only bounds of it: a request arrives after it was admitted
// here, and no later than a window's margin after its last byte was
// written, nor later than its answer. So every admitted request holds a
// place in each window from its admission until Per after the earliest of
// those two upper bounds, and a request is admitted only while every
// window has a free place. A request admitted but not yet written (it
// waits for the key's pause after a 429, for the gate's proof, for a
// connection, or its goroutine for the CPU) holds its place with no end
// yet: what delays a send can never let the requests after it crowd the
// server's window, as it did when each request was counted at the time it
// was allowed to start (the benchmark then saw 429s whenever sends lagged
// by more than the margin, and a 429's pause released a window's worth of
// requests that the limiter had counted seconds earlier).
//
// Requests are admitted one at a time in the order they asked.
//
// golang.org/x/time/rate is not used here: a token bucket with burst b and
// rate r admits b + r*Per requests in a window, so keeping under a rolling
// window with it costs a large part of the allowed throughput.
type windowLimiter struct {
	mu      sync.Mutex
	windows []window
	slots   []*slot       // admitted, in admission order, until no window counts them
	changed chan struct{} // closed, and replaced, when a slot's end becomes known
	turn    chan struct{} // held by the one request that waits to be admitted
	now     func() time.Time
	// wait waits d, or until changed is closed or ctx ends; d < 0 waits
	// only for those two. Tests replace it (SetClock).
	wait func(ctx context.Context, d time.Duration, changed <-chan struct{}) error
}

type window struct {
	Limit
	margin time.Duration
}

// slot is one admitted request's place in the windows.
type slot struct {
	l     *windowLimiter
	wrote time.Time // when its last byte was written; zero until then
	done  time.Time // when its answer or failure came; zero until then
	freed bool      // never sent: it holds no place
}

// newWindowLimiter returns a limiter for the limits. Each window's margin,
// 2% of Per plus 20 ms, absorbs the time from a request's last byte to the
// server's count of it.
func newWindowLimiter(limits []Limit) *windowLimiter {
	l := &windowLimiter{changed: make(chan struct{}), turn: make(chan struct{}, 1), now: time.Now, wait: waitTimer}
	for _, lim := range limits {
		if lim.N <= 0 || lim.Per <= 0 {
			continue
		}
		l.windows = append(l.windows, window{Limit: lim, margin: lim.Per/50 + 20*time.Millisecond})
	}
	return l
}

// waitTimer is windowLimiter.wait on the real clock.
func waitTimer(ctx context.Context, d time.Duration, changed <-chan struct{}) error {
	var fire <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		fire = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-changed:
	case <-fire:
	}
	return nil
}

// Wait blocks until a request may start under every window, and admits
// it: the slot returned holds its place until its end is known. The
// caller reports the request's progress on the slot (trace, finish) or
// frees it if nothing was sent. It returns ctx's error if ctx ends first.
// A nil limiter, or one without windows, returns a nil slot, whose methods
// do nothing.
func (l *windowLimiter) Wait(ctx context.Context) (*slot, error) {
	if l == nil || len(l.windows) == 0 {
		return nil, ctx.Err()
	}
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-l.turn }()
	for {
		l.mu.Lock()
		s, d := l.admit(l.now())
		changed := l.changed
		l.mu.Unlock()
		if s != nil {
			return s, nil
		}
		if err := l.wait(ctx, d, changed); err != nil {
			return nil, err
		}
	}
}

// admit admits a request at now if every window has a free place, and
// otherwise says how long to wait before asking again (< 0: until a
// slot's end becomes known). Callers hold l.mu.
func (l *windowLimiter) admit(now time.Time) (*slot, time.Duration) {
	// Forget the slots that no window counts any more.
	l.slots = slices.DeleteFunc(l.slots, func(s *slot) bool {
		for _, w := range l.windows {
			if s.counts(w, now) {
				return false
			}
		}
		return true
	})
	var wait time.Duration
	for _, w := range l.windows {
		held := 0
		for _, s := range l.slots {
			if s.counts(w, now) {
				held++
			}
		}
		if held < w.N {
			continue
		}
		var ends []time.Time // of the counted slots whose end is known
		for _, s := range l.slots {
			if end, ok := s.end(w); ok && !s.freed && now.Before(end) {
				ends = append(ends, end)
			}
		}
		// held-N+1 places must come free; the slots without an end free
		// theirs only once it is known.
		free := held - w.N + 1
		if free > len(ends) {
			wait = -1
			continue
		}
		slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
		if d := ends[free-1].Sub(now); wait >= 0 && d > wait {
			wait = d
		}
	}
	if wait != 0 {
		return nil, wait
	}
	s := &slot{l: l}
	l.slots = append(l.slots, s)
	return s, 0
}

// end returns when s stops counting in w, if that is known yet: Per after
// the earliest upper bound of its arrival at the server.
func (s *slot) end(w window) (time.Time, bool) {
	var latest time.Time
	switch {
	case !s.wrote.IsZero() && !s.done.IsZero():
		latest = s.wrote.Add(w.margin)
		if s.done.Before(latest) {
			latest = s.done
		}
	case !s.wrote.IsZero():
		latest = s.wrote.Add(w.margin)
	case !s.done.IsZero():
		latest = s.done
	default:
		return time.Time{}, false
	}
	return latest.Add(w.Per), true
}

// counts reports whether s still holds a place in w at now.
func (s *slot) counts(w window, now time.Time) bool {
	if s.freed {
		return false
	}
	end, ok := s.end(w)
	return !ok || now.Before(end)
}

// trace returns ctx with an httptrace that records when the request's
// last byte was written: the last time, if the transport writes it again
// on a new connection after a reused one failed.
func (s *slot) trace(ctx context.Context) context.Context {
	if s == nil {
		return ctx
	}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { s.mark(&s.wrote, true) },
	})
}

// finish records that the request's answer, or its failure, came: it was
// counted by now if it reached the server at all.
func (s *slot) finish() {
	if s != nil {
		s.mark(&s.done, false)
	}
}

// free hands the place back: the request was never sent (the gate refused
// it, or the context ended before the send).
func (s *slot) free() {
	if s == nil {
		return
	}
	s.l.mu.Lock()
	s.freed = true
	s.l.notify()
	s.l.mu.Unlock()
}

// mark sets *t to now: once, or every time if again.
func (s *slot) mark(t *time.Time, again bool) {
	s.l.mu.Lock()
	if t.IsZero() || again {
		*t = s.l.now()
		s.l.notify()
	}
	s.l.mu.Unlock()
}

// notify wakes the request waiting to be admitted. Callers hold l.mu.
func (l *windowLimiter) notify() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// Rate returns how many requests per second the client's limits allow
// over a long run: the smallest N/Per of its windows (DefaultLimits: 1000
// per 3 minutes, about 5.6 per second). Zero when the client has no
// limits. The daemon's toggle sweep paces itself to a share of it.
func (c *Client) Rate() float64 {
	if c.limiter == nil {
		return 0
	}
	rate := 0.0
	for _, w := range c.limiter.windows {
		if r := float64(w.N) / w.Per.Seconds(); rate == 0 || r < rate {
			rate = r
		}
	}
	return rate
}
