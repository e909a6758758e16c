package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/certform/certform/adopt"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/cli/view"
	"github.com/spf13/pflag"
)

// liveStatuses are the statuses of CertCentral's live orders, the ones
// --status takes (digicert.IsClosed names the others).
var liveStatuses = []string{"needs_approval", "pending", "processing", "waiting_pickup", "issued", "reissue_pending"}

// parseStatuses reads --status: comma-separated order statuses, each a
// live one. It returns nil for "".
func parseStatuses(s string) (map[string]bool, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]bool{}
	for _, st := range strings.Split(s, ",") {
		st = strings.ToLower(strings.TrimSpace(st))
		switch {
		case st == "" || strings.Trim(st, "abcdefghijklmnopqrstuvwxyz_") != "":
			return nil, fmt.Errorf("--status %q: give order statuses separated by commas, such as issued,pending", s)
		case digicert.IsClosed(st):
			return nil, fmt.Errorf("--status %s: %s orders are not live, and adopt writes specs for live orders only", st, st)
		case !slices.Contains(liveStatuses, st):
			msg := fmt.Sprintf("--status %s: no order has this status", st)
			if near := nearest(st, liveStatuses); near != "" {
				msg += "; did you mean " + near + "?"
			}
			return nil, fmt.Errorf("%s\nhint: the live statuses are %s", msg, strings.Join(liveStatuses, ", "))
		}
		out[st] = true
	}
	return out, nil
}

// adoptCmd is certform adopt.
var adoptCmd = &command{
	name: "adopt", args: 0,
	short:    "generate specs for the account's orders that certform does not track",
	synopsis: "--dir DIR --state FILE --out FOLDER [--status S,...] [--common-name GLOB] [--dry-run]",
	long:     "write a spec with order_id for every live CertCentral order that neither the state file tracks nor a spec names; GET calls only, the state is only read",
	setup:    adoptSetup,
}

func adoptSetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stderr := s.stderr
	dir := fs.String("dir", "", specDirUsage)
	var st stateFlags
	st.register(fs, "state file or postgres:// URL, only read (required)")
	out := fs.String("out", "", "folder for the new specs, relative to --dir or absolute, inside --dir; created with mode 0700 (required)")
	statuses := fs.String("status", "", "only orders with one of these comma-separated statuses, such as issued,pending (default: every live status)")
	cn := fs.String("common-name", "", "only orders whose common name matches this pattern (Go's path.Match, whole name, lower case: * any characters, dots included; ? one; [...] a class; \\ escapes), such as '*.example.com'")
	dryRun := fs.Bool("dry-run", false, "print the files on stdout instead of writing them")
	parallelism := fs.Int("parallelism", 4, "orders read at once")
	st.registerAccountMoved(fs, "the state's orders moved to the CertCentral at --api-url: compare with its orders anyway")
	var api apiFlags
	api.register(fs)
	api.env = s.env
	var lf logFlags
	lf.register(fs)
	return func(args []string) int {
		if !requireFlags(fs, stderr, "dir", *dir, "state", st.state, "out", *out) {
			return exitUsage
		}
		loc, ok := checkLocation("adopt", st.state, st.workspace, stderr)
		if !ok {
			return exitUsage
		}
		if *parallelism < 1 {
			fmt.Fprintf(stderr, "certform adopt: --parallelism %d: it must be at least 1\n", *parallelism)
			return exitUsage
		}
		want, err := parseStatuses(*statuses)
		if err != nil {
			fmt.Fprintf(stderr, "certform adopt: %v\n", err)
			return exitUsage
		}
		pattern := strings.ToLower(*cn)
		if _, err := path.Match(pattern, ""); err != nil {
			fmt.Fprintf(stderr, "certform adopt: --common-name %q: %v\n", *cn, err)
			return exitUsage
		}
		run := adoptRun{loc: loc, api: &api, log: &lf, accountMoved: st.accountMoved, s: s}
		return run.adopt(adopt.Bulk{Dir: *dir, Out: *out, Statuses: want, CommonName: pattern, DryRun: *dryRun, Parallelism: *parallelism})
	}
}

// adoptRun is what certform adopt and certform import take from their
// command lines besides the job: where the state is, the API and logging
// flags, --account-moved, and the command's streams (its context, output
// and arguments).
type adoptRun struct {
	loc          stateLocation
	api          *apiFlags
	log          *logFlags
	accountMoved bool
	s            *streams
}

// preflightCheck is preflight as an adopt job's Check: it runs once the
// job has found its input good, before its first call.
func preflightCheck(client *digicert.Client) func(context.Context) error {
	return func(context.Context) error {
		preflight(client)
		return nil
	}
}

// adopt runs certform adopt's job (its API, Known and Check are set here)
// with the state only read, prints the report and returns the exit code.
func (c adoptRun) adopt(job adopt.Bulk) int {
	stdout, stderr := c.s.stdout, c.s.stderr
	logger, client, code := loggerAndClient("adopt", c.log, c.api, stderr, c.s)
	if code != 0 {
		return code
	}
	known, err := c.loc.Read()
	if err != nil {
		printStateError(stderr, "adopt", err)
		return exitError
	}
	if err := checkAPIURL(nil, known, c.loc.Name(), client.BaseURL(), c.accountMoved, logger); err != nil {
		fmt.Fprintf(stderr, "certform adopt: %v\n", err)
		return exitError
	}
	ctx := c.s.ctx
	job.API, job.Known, job.Check = client, known, preflightCheck(client)
	rep, err := job.Run(ctx)
	if unreachable("adopt", stderr, err) {
		return exitError
	}
	if err != nil {
		fmt.Fprintf(stderr, "certform adopt: %v\n", err)
		return exitError
	}
	return printAdopt(stdout, stderr, rep, job.DryRun)
}

// importOrder runs certform import's job (its API, Store and Check are set
// here), prints what it did and returns the exit code.
func (c adoptRun) importOrder(im adopt.Import) int {
	stdout, stderr := c.s.stdout, c.s.stderr
	gate := &storeGate{}
	logger, client, code := loggerAndClient("import", c.log, c.api, stderr, c.s, digicert.WithGate(gate.check))
	if code != 0 {
		return code
	}
	store := openState("import", c.loc, im.Dir, stderr)
	if store == nil {
		return exitError
	}
	gate.set(store)
	defer store.Close()
	if err := checkAPIURL(store, nil, "", client.BaseURL(), c.accountMoved, logger); err != nil {
		fmt.Fprintf(stderr, "certform import: %v\n", err)
		return exitError
	}
	ctx := c.s.ctx
	im.API, im.Store, im.Check = client, store, preflightCheck(client)
	got, err := im.Run(ctx)
	if err != nil {
		return importFailed(stderr, err)
	}
	fmt.Fprintf(stdout, "Imported order %d (%s) as %s.\n", got.ID, got.Status, im.Name)
	fmt.Fprintf(stdout, "A spec can also adopt an order declaratively, reviewed in git like any change: write order_id: %d in it, and apply (see \"Adopting existing orders\" in docs/orders.md).\n", got.ID)
	return exitOK
}

// importFailed prints why certform import did nothing and returns the
// exit code.
func importFailed(stderr io.Writer, err error) int {
	var refused *adopt.Refusal
	switch {
	case unreachable("import", stderr, err):
	case errors.As(err, &refused):
		fmt.Fprintf(stderr, "certform import: %s\n", refused.Msg)
		for _, d := range refused.Details {
			fmt.Fprintln(stderr, d)
		}
		if refused.Hint != "" {
			fmt.Fprintf(stderr, "hint: %s\n", refused.Hint)
		}
	default:
		fmt.Fprintf(stderr, "certform import: %v\n", err)
	}
	return exitError
}

// printAdopt prints an adopt's report and returns the exit code. Without
// dry run the summary goes to stdout; with it stdout holds the files, each
// after a "# FILE" line, and the summary goes to stderr. Failures go to
// stderr.
func printAdopt(stdout, stderr io.Writer, rep *adopt.Report, dryRun bool) int {
	summary, verb, done := stdout, "Wrote", "written"
	if dryRun {
		summary, verb, done = stderr, "Would write", "to write (dry run: nothing written)"
		for _, w := range rep.Written {
			fmt.Fprintf(stdout, "# %s\n%s", w.File, w.Content)
		}
	}
	for _, w := range rep.Written {
		fmt.Fprintf(summary, "%s %s (order %d, %s).\n", verb, w.File, w.OrderID, w.CommonName)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(summary, "Skipped order %d (%s): %s.\n", s.OrderID, s.CommonName, s.Reason)
	}
	if len(rep.NotLive) > 0 {
		fmt.Fprintln(summary, notLiveLine(rep.NotLive))
	}
	fmt.Fprintf(summary, "Adopt: %s %s, %s skipped%s.\n", view.CountOf(len(rep.Written), "spec"), done, view.CountOf(len(rep.Skipped), "order"), view.FailedCount(len(rep.Failed)))
	return printAdoptProblems(stderr, rep)
}

// notLiveLine says how many orders adopt left out for not being live, by
// status.
func notLiveLine(notLive map[string]int) string {
	var statuses, counts []string
	n := 0
	for st, c := range notLive {
		statuses = append(statuses, st)
		n += c
	}
	sort.Strings(statuses)
	for _, st := range statuses {
		counts = append(counts, fmt.Sprintf("%d %s", notLive[st], st))
	}
	that := "orders that are"
	if n == 1 {
		that = "order that is"
	}
	return fmt.Sprintf("Left out %d %s not live: %s.", n, that, strings.Join(counts, ", "))
}

// printAdoptProblems prints the files written that Load finds invalid and
// the orders that failed, and returns the exit code.
func printAdoptProblems(stderr io.Writer, rep *adopt.Report) int {
	code := exitOK
	for _, e := range rep.Invalid {
		fmt.Fprintf(stderr, "certform adopt: %v\n", e)
		code = exitError
	}
	if len(rep.Failed) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "certform adopt: %d failed:", len(rep.Failed))
		for _, f := range rep.Failed {
			fmt.Fprintf(&b, "\n  order %d (%s): %s", f.OrderID, f.CommonName, f.Reason)
		}
		fmt.Fprintf(stderr, "%s\nhint: run certform adopt again for them; the files written stay, and the orders they name are skipped\n", b.String())
		code = exitError
	}
	return code
}
