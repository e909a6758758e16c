package reconcile

import (
	"context"
	"strings"
	"time"

	"github.com/certform/certform/state"
)

// PostHookRun is what RunPostHook came to.
type PostHookRun struct {
	// Names are the specs whose certificates the cycle delivered, sorted.
	Names []string
	// Output is the post hook's stdout and stderr (see deliver.Hook.Run),
	// Err why it failed; nil when it exited 0.
	Output []byte
	Err    error
}

// RunPostHook runs PostHook once when ds, a cycle's deliveries (Deliver),
// delivered at least one certificate, as certbot's --post-hook: one reload
// for many certificates. It runs after every deploy hook of the cycle
// (Deliver returns when they all ended), with CERTFORM_CERT_DIR (CertDir)
// and CERTFORM_NAMES (the delivered specs, space-separated) in its
// environment. It returns nil when it did not run: no PostHook, or nothing
// delivered (a deploy hook run again for an earlier delivery does not
// count). A failed post hook is not run again: the next cycle that
// delivers something runs it.
func (r *Reconciler) RunPostHook(ctx context.Context, ds []Delivery) *PostHookRun {
	if r.PostHook == nil {
		return nil
	}
	var names []string
	for _, dv := range ds {
		if dv.Delivered {
			names = append(names, dv.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	run := &PostHookRun{Names: names}
	run.Output, run.Err = r.PostHook.Run(ctx, map[string]string{
		"CERTFORM_CERT_DIR": r.CertDir,
		"CERTFORM_NAMES":    strings.Join(names, " "),
	})
	return run
}

// HookWait is a deploy hook that failed and waits for its next run.
type HookWait struct {
	Name    string
	OrderID int
	// Serial is the certificate the hook is for; Attempts its failed runs
	// in a row; RetryAt the earliest time it runs again.
	Serial   string
	Attempts int
	RetryAt  time.Time
}

// HooksWaiting lists the deploy hooks of c's specs that failed earlier and
// wait for their retry time (HookDue's entries not due yet), sorted by
// name, leaving out the specs named in skip (those whose hook ran in this
// cycle). apply reports them: before the retry time it does not run the
// hook, and says so instead of being silent.
func (r *Reconciler) HooksWaiting(c *Cycle, skip map[string]bool) []HookWait {
	if r.CertDir == "" || r.Hook == nil || r.DryRun || r.Store == nil || c == nil || c.Specs == nil {
		return nil
	}
	desired := specsMap(c.Specs.Orders)
	now := r.now()
	var out []HookWait
	r.Store.View(func(f *state.File) {
		for _, n := range f.Names() {
			e := f.Entries[n]
			if skip[n] || e.HookPending == "" || !deliverable(e, desired[n]) || e.DeliveredCertificateID != e.CertificateID || !now.Before(e.HookRetryAt) {
				continue
			}
			out = append(out, HookWait{Name: n, OrderID: e.OrderID, Serial: e.HookPending, Attempts: e.HookAttempts, RetryAt: e.HookRetryAt})
		}
	})
	return out
}
