package cli

import (
	"time"

	"github.com/certform/certform/internal/runner"
	"github.com/certform/certform/reconcile"
	"github.com/spf13/pflag"
)

// cycleFlags are the flags that tune every cycle, declared once for plan,
// apply and run.
type cycleFlags struct {
	maxRevocations int
	maxPurchases   int
	resendAfter    time.Duration
	maxClockSkew   time.Duration
	// quiet is the one quiet period: --quiet-period and --debounce are two
	// names for it (plan and apply say --quiet-period, run --debounce, and
	// each takes the other as an alias). The daemon debounces file changes
	// with it, and every cycle reads the specs only from a tree quiet that
	// long.
	quiet time.Duration
}

// quietUsage is the quiet period's help.
const quietUsage = "read the specs only once no file below --dir changed for this long (a git checkout in progress); the daemon also waits this long after a file change before reconciling (at most 10x this after the first change)"

// register declares the cycle flags on fs; name is the quiet period's
// flag (quiet-period or debounce), alias its other name.
func (c *cycleFlags) register(fs *pflag.FlagSet, name, alias string) {
	fs.IntVar(&c.maxRevocations, "max-revocations", 1, "revocation requests allowed in any 24 hours (recorded in the state); a plan with more blocks them all")
	fs.IntVar(&c.maxPurchases, "max-purchases", defaultMaxPurchases, maxPurchasesUsage)
	fs.DurationVar(&c.resendAfter, "resend-after", defaultResendAfter, "an order whose outcome is unknown and that a look-up does not find is sent again only this long after it was sent")
	fs.DurationVar(&c.maxClockSkew, "max-clock-skew", reconcile.DefaultMaxClockSkew, "the local clock may differ from CertCentral's (the Date header of its answers) by at most this much; beyond it no order, renewal, reissue or revocation is sent (0: no check)")
	fs.DurationVar(&c.quiet, name, time.Second, quietUsage)
	fs.DurationVar(&c.quiet, alias, time.Second, "the same setting as --"+name)
}

// negative reports whether a limit is negative (the quiet period's own
// range differs between commands and is checked by each).
func (c *cycleFlags) negative() bool {
	return c.maxRevocations < 0 || c.maxPurchases < 0 || c.resendAfter < 0 || c.maxClockSkew < 0
}

// limits are the cycle flags as the runner takes them.
func (c *cycleFlags) limits() runner.Limits {
	return runner.Limits{MaxRevocations: c.maxRevocations, MaxPurchases: c.maxPurchases, ResendAfter: c.resendAfter,
		MaxClockSkew: c.maxClockSkew, Quiet: c.quiet}
}

// setup is the delivery flags' runner.Setup: certificate folder, hooks
// and the keys' store (see apply and openKeys).
func (f *deliveryFlags) setup(specDir string, loc stateLocation) runner.Setup {
	return func(r *reconcile.Reconciler) error {
		if err := f.apply(r, specDir); err != nil {
			return err
		}
		return f.openKeys(r, specDir, loc)
	}
}
