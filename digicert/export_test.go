package digicert

import (
	"context"
	"time"
)

// SetGateFresh sets how long a passed gate stands (gateFresh) until the
// test ends; restore is returned.
func SetGateFresh(d time.Duration) (restore func()) {
	old := gateFresh
	gateFresh = d
	return func() { gateFresh = old }
}

// SetClock replaces the client's clock and its sleep (the waits after a
// 429 and between retries, and the rate limiter's), so that tests of waits
// take no time. The limiter's wait for a slot's end to become known (one
// with no time) is not a sleep: it still waits for that.
func SetClock(c *Client, now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) {
	c.now, c.sleep = now, sleep
	if c.limiter != nil {
		c.limiter.now = now
		c.limiter.wait = func(ctx context.Context, d time.Duration, changed <-chan struct{}) error {
			if d >= 0 {
				return sleep(ctx, d)
			}
			return waitTimer(ctx, d, changed)
		}
	}
}
