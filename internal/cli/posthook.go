package cli

import (
	"fmt"
	"github.com/certform/certform/internal/cli/view"
	"io"
	"strings"
	"time"

	"github.com/certform/certform/reconcile"
)

// printPostHook reports a post hook's run (nil: it did not run); it
// returns whether it failed.
func printPostHook(stdout, stderr io.Writer, cmd string, run *reconcile.PostHookRun) (failed bool) {
	if run == nil {
		return false
	}
	if run.Err == nil {
		fmt.Fprintf(stdout, "The post hook ran after delivering %s.\n", strings.Join(run.Names, ", "))
		return false
	}
	fmt.Fprintf(stderr, "certform %s: post hook after delivering %s: %v; the certificates stay delivered, and the post hook runs again after the next delivery\n",
		cmd, strings.Join(run.Names, ", "), run.Err)
	if len(run.Output) > 0 {
		fmt.Fprintf(stderr, "%s", run.Output)
		if run.Output[len(run.Output)-1] != '\n' {
			fmt.Fprintln(stderr)
		}
	}
	return true
}

// printHooksWaiting says, for each deploy hook that failed earlier and is
// not due yet, that it waits and until when; it returns whether any does
// (the hook has not succeeded: the command fails).
func printHooksWaiting(stderr io.Writer, cmd string, ws []reconcile.HookWait) bool {
	for _, w := range ws {
		fmt.Fprintf(stderr, "certform %s: %s: the deploy hook for serial %s failed %s; it waits until %s to run again (--deploy-hook-backoff)\n",
			cmd, w.Name, w.Serial, view.CountOf(w.Attempts, "time"), w.RetryAt.UTC().Format(time.RFC3339))
	}
	if len(ws) > 0 {
		fmt.Fprintf(stderr, "hint: run certform apply again from then on, or let certform run retry it; certform status shows the failures\n")
	}
	return len(ws) > 0
}
