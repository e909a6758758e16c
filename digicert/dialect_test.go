package digicert_test

import (
	"context"
	"sync"
	"time"

	"github.com/certform/certform/digicert"
)

// fakeTime is a client's clock and sleep for tests of waits: each sleep
// advances the clock at once and is recorded, with the time it began.
type fakeTime struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

// useFakeTime gives c a fake clock, starting now, and returns it.
func useFakeTime(c *digicert.Client) *fakeTime {
	ft := &fakeTime{now: time.Now()}
	digicert.SetClock(c, ft.Now, ft.sleep)
	return ft
}

// Now returns the fake time.
func (ft *fakeTime) Now() time.Time {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.now
}

func (ft *fakeTime) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.slept = append(ft.slept, d)
	ft.now = ft.now.Add(d)
	return nil
}

// Slept returns the sleeps so far.
func (ft *fakeTime) Slept() []time.Duration {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return append([]time.Duration(nil), ft.slept...)
}

// Total returns the time slept so far.
func (ft *fakeTime) Total() time.Duration {
	var d time.Duration
	for _, s := range ft.Slept() {
		d += s
	}
	return d
}
