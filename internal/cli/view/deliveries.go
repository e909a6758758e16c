package view

import (
	"fmt"
	"io"
	"time"

	"github.com/certform/certform/internal/runner"
)

// Deliveries reports each delivery of a cycle on stdout and every failure
// on stderr, naming cmd (apply, run --once); it returns whether any failed.
func Deliveries(stdout, stderr io.Writer, cmd string, ds []runner.Delivery) (failed bool) {
	for _, dv := range ds {
		if dv.Err != nil {
			failed = true
			fmt.Fprintf(stderr, "certform %s: delivering %s: %v\n", cmd, dv.Name, dv.Err)
			continue
		}
		if dv.Delivered {
			fmt.Fprintf(stdout, "Delivered %s (serial %s, valid until %s) to %s.\n", dv.Name, dv.Serial, dv.NotAfter.Format(time.RFC3339), dv.Dir)
		}
		if dv.Deploy == runner.HookRan && !dv.Delivered {
			fmt.Fprintf(stdout, "The deploy hook for %s (serial %s) ran again and succeeded.\n", dv.Name, dv.Serial)
		}
		if dv.Deploy == runner.HookFailed {
			failed = true
			when := "with backoff"
			if !dv.RetryAt.IsZero() {
				when = "at the first cycle from " + dv.RetryAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(stderr, "certform %s: %s: %v; the certificate stays delivered, and the hook runs again %s\n", cmd, dv.Name, dv.HookErr, when)
			if len(dv.HookOutput) > 0 {
				fmt.Fprintf(stderr, "%s", dv.HookOutput)
				if dv.HookOutput[len(dv.HookOutput)-1] != '\n' {
					fmt.Fprintln(stderr)
				}
			}
		}
	}
	return failed
}
