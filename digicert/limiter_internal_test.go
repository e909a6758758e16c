package digicert

import (
	"context"
	"errors"
	"testing"
	"time"
)

// testLimiter is a limiter of one window, 2 requests per 10 s (margin
// 220 ms), on a clock the test sets.
func testLimiter(now *time.Time) *windowLimiter {
	l := newWindowLimiter([]Limit{{N: 2, Per: 10 * time.Second}})
	l.now = func() time.Time { return *now }
	return l
}

// TestLimiter_placeHeldUntilSent: a request admitted but not yet written
// (it waits for the key's pause after a 429, or the gate's proof) holds
// its place however long that takes, and counts from when it is written:
// requests admitted before a 5 s pause and sent after it cannot let a
// window's worth more through at the pause's end.
func TestLimiter_placeHeldUntilSent(t *testing.T) {
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	l := testLimiter(&now)
	a, _ := l.admit(now)
	b, _ := l.admit(now)
	if a == nil || b == nil {
		t.Fatal("the first two requests were not admitted at once")
	}
	now = now.Add(time.Hour)
	if s, wait := l.admit(now); s != nil || wait >= 0 {
		t.Fatalf("an hour later, with both unsent: admitted %v, wait %s; want none until a send", s != nil, wait)
	}
	a.mark(&a.wrote, true) // written an hour late: counted from now on
	if s, wait := l.admit(now); s != nil || wait != 10*time.Second+220*time.Millisecond {
		t.Fatalf("one written: admitted %v, wait %s; want 10.22s (Per and the margin after it was written)", s != nil, wait)
	}
	now = now.Add(30 * time.Millisecond)
	a.finish() // answered 30 ms after it was written: counted by then
	if s, wait := l.admit(now); s != nil || wait != 10*time.Second {
		t.Fatalf("one answered: admitted %v, wait %s; want 10s (Per after its answer)", s != nil, wait)
	}
	b.free() // never sent (the gate refused it): its place is free
	if s, _ := l.admit(now); s == nil {
		t.Fatal("not admitted after the unsent request freed its place")
	}
	if s, wait := l.admit(now); s != nil || wait != 10*time.Second {
		t.Fatalf("window full again: admitted %v, wait %s; want 10s", s != nil, wait)
	}
	now = now.Add(10 * time.Second)
	if s, _ := l.admit(now); s == nil {
		t.Fatal("not admitted when a's place came free")
	}
	if s, wait := l.admit(now); s != nil || wait >= 0 {
		t.Fatalf("two unsent: admitted %v, wait %s; want none until a send", s != nil, wait)
	}
	if n := len(l.slots); n != 2 {
		t.Errorf("%d slots kept, want 2 (a's and b's are forgotten)", n)
	}
}

// TestLimiter_waitWakesOnSend: a request waiting for a place that only an
// unsent request's send can end is admitted when that request is written,
// without a timer; one whose context ends gets its error and leaves the
// turn to the next.
func TestLimiter_waitWakesOnSend(t *testing.T) {
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	l := testLimiter(&now)
	waiting := make(chan time.Duration, 10)
	l.wait = func(ctx context.Context, d time.Duration, changed <-chan struct{}) error {
		if d >= 0 {
			now = now.Add(d) // before the send: the test reads now after <-waiting
			waiting <- d
			return nil
		}
		waiting <- d
		return waitTimer(ctx, d, changed)
	}
	ctx := context.Background()
	a, _ := l.Wait(ctx)
	b, _ := l.Wait(ctx)
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error)
	go func() { _, err := l.Wait(cctx); errc <- err }()
	if d := <-waiting; d >= 0 {
		t.Fatalf("waits %s, want until a send", d)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	got := make(chan *slot)
	go func() { s, _ := l.Wait(ctx); got <- s }()
	if d := <-waiting; d >= 0 {
		t.Fatalf("waits %s, want until a send", d)
	}
	a.mark(&a.wrote, true)
	if d := <-waiting; d != 10*time.Second+220*time.Millisecond {
		t.Fatalf("after a's send: waits %s, want 10.22s", d)
	}
	if s := <-got; s == nil {
		t.Fatal("not admitted")
	}
	b.free()
}
