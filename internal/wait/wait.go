// Package wait holds the one context-aware sleep the client, the
// reconciler and domain validation share. It owns nothing else.
package wait

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends, and then returns ctx's error; nil when
// the whole of d passed.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
