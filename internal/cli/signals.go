package cli

import (
	"context"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// daemonOwnsSignals is set by certform run once its daemon takes SIGINT
// and SIGTERM itself: a second signal then stops the daemon (it returns
// at once), and Interrupts' forced channel stays open.
var daemonOwnsSignals atomic.Bool

// Interrupts turns SIGINT and SIGTERM into the end of ctx for Main: the
// first cancels ctx, and the command lets the call in flight finish; a
// second closes forced, and main then exits with ExitInterrupted at once
// (not during certform run, whose daemon handles a second signal itself).
// stop releases the signals.
func Interrupts(parent context.Context) (ctx context.Context, forced <-chan struct{}, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	second := make(chan struct{})
	go func() {
		n := 0
		for range ch {
			if n++; n == 1 {
				cancel()
			} else if n == 2 && !daemonOwnsSignals.Load() {
				close(second)
			}
		}
	}()
	return ctx, second, func() { signal.Stop(ch); cancel() }
}
