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
// 429 and between retries), so that tests of waits take no time.
func SetClock(c *Client, now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) {
	c.now, c.sleep = now, sleep
}
