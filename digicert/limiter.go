package digicert

import (
	"context"
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

// windowLimiter keeps a client under several rolling windows at once. It
// records the start time of the last N requests of each window and lets a
// request start only when the request N places back started more than Per
// (plus a safety margin) ago, which is exactly the rule the server applies.
//
// golang.org/x/time/rate is not used here: a token bucket with burst b and
// rate r admits b + r*Per requests in a window, so keeping under a rolling
// window with it costs a large part of the allowed throughput.
type windowLimiter struct {
	mu      sync.Mutex
	windows []*window
	now     func() time.Time
}

type window struct {
	Limit
	margin time.Duration
	times  []time.Time // ring of the last N start times, oldest at head
	head   int
	full   bool
}

// newWindowLimiter returns a limiter for the limits. Each window's margin,
// 2% of Per plus 20 ms, absorbs the difference between when the client
// starts a request and when the server counts it.
func newWindowLimiter(limits []Limit) *windowLimiter {
	l := &windowLimiter{now: time.Now}
	for _, lim := range limits {
		if lim.N <= 0 || lim.Per <= 0 {
			continue
		}
		l.windows = append(l.windows, &window{Limit: lim, margin: lim.Per/50 + 20*time.Millisecond, times: make([]time.Time, lim.N)})
	}
	return l
}

// Wait blocks until a request may start under every window, then counts it.
// It returns ctx's error if ctx ends first; the slot it had reserved is then
// not handed back, which only ever makes the client slower, never faster.
func (l *windowLimiter) Wait(ctx context.Context) error {
	if l == nil || len(l.windows) == 0 {
		return ctx.Err()
	}
	l.mu.Lock()
	at := l.now()
	for _, w := range l.windows {
		if w.full {
			if t := w.times[w.head].Add(w.Per + w.margin); t.After(at) {
				at = t
			}
		}
		// Keep every ring in start order: never before the latest slot.
		last := w.times[(w.head+len(w.times)-1)%len(w.times)]
		if (w.full || w.head > 0) && last.After(at) {
			at = last
		}
	}
	for _, w := range l.windows {
		w.times[w.head] = at
		w.head = (w.head + 1) % len(w.times)
		if w.head == 0 {
			w.full = true
		}
	}
	wait := at.Sub(l.now())
	l.mu.Unlock()
	if wait <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
