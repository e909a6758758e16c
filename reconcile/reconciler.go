package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/certform/certform/deliver"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/wait"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// Reconciler is certform's one reconcile loop, shared by the plan and apply
// commands and the daemon: refresh (read the known orders from
// CertCentral, when asked), load the specs from a quiet, consistent
// snapshot of the spec tree, consult CertCentral before any purchase, plan,
// and apply with re-checks just before irreversible calls. Neither the CLI
// nor the daemon wires these steps themselves.
//
// A Reconciler is used by one goroutine at a time: one cycle at once.
type Reconciler struct {
	// Dir is the spec directory.
	Dir string
	// API is CertCentral; nil makes no call at all (a plan without
	// --refresh): nothing is refreshed and CertCentral is not consulted.
	API API
	// Store is the locked state that Apply changes. Nil for a read-only
	// plan, which plans against Known.
	Store *state.Store
	Known *state.File
	// Cache, if set, lets repeated loads skip unchanged files.
	Cache *spec.Cache
	Log   *slog.Logger
	// Parallelism is how many specs are worked on (and orders refreshed)
	// at once; default 4.
	Parallelism int
	// Limits are the rails of what a cycle may send: budgets, resend
	// wait, clock skew. Embedded, like DeliveryOptions: their fields read
	// as the Reconciler's (r.MaxPurchases), only a literal names the group.
	Limits
	// Quiet is how long no file below Dir may have changed before the
	// specs are loaded: a checkout writes its files within milliseconds of
	// each other, so a quiet tree is a consistent one. Zero loads at once.
	Quiet time.Duration
	// DryRun plans and never writes: no call but GETs, no state change.
	DryRun bool
	// DeliveryOptions say where and how issued certificates are
	// delivered, and the hooks that run after.
	DeliveryOptions
	// Keys keeps the private keys certform makes for specs with key_type
	// (--key-dir for a state file); nil refuses to order, renew or reissue
	// them (ErrNoKeyStore) and to deliver their certificates.
	Keys KeyStore
	// PlanOptions say what a cycle plans for (--replace) and how a
	// plan-only cycle saves memory. Embedded, like Limits.
	PlanOptions
	// NoKeyStore says the state can keep no keys (a shared state without
	// an age identity): new specs with key_type are blocked orders
	// (BlockedKeyStore, with a note; no call); without it a nil Keys
	// refuses them when applied.
	NoKeyStore bool
	// Observe starts every cycle by reading what changed in CertCentral
	// since the last observation (see observe): apply and the daemon set
	// it; a plan reads CertCentral only with --refresh.
	Observe bool
	// Now and Sleep are the clock (default time.Now and a timer that ends
	// with ctx); tests inject their own.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// DCV, when set (--dcv-config), validates domains without a person:
	// see dcv.go.
	DCV *Validation
	// seen is what earlier cycles read of CertCentral.
	seen struct {
		// dcv is what the last cycle read of domain validation.
		dcv dcvSeen
		// observedAt is the time of the last complete observation when
		// it is later than the one saved in the state: a cycle that
		// observed no change saves its time only once the saved one is
		// observedSaveEvery old (see saveObservation). Zero when the
		// state has the latest.
		observedAt time.Time
		// specsQuiet is the time of the last change below Dir when the
		// last load read the specs from a quiet tree (see
		// loadUnchanged); zero before.
		specsQuiet time.Time
		// options are the ordering options of the last cycle's specs
		// (see orderingOptions).
		options map[*spec.Order]map[string]string
		// optionsOf are the specs options was made for.
		optionsOf []*spec.Order
		// sweep is where the daemon's toggle sweep is and what it read
		// (see SweepNext).
		sweep sweep
		// index is the plan's index of the state copy indexFrom (see
		// planInputOf).
		index     *knownIndex
		indexFrom *state.File
		// plan is the last plan made from the state and the specs
		// alone (see planOf).
		plan planMemo
		// checked says when recordChecked last found nothing to record.
		checked checkedSeen
	}
	// editSpecs, in tests only, changes the specs once loaded: a spec that
	// validation would refuse, as an older certform accepted it.
	editSpecs func([]*spec.Order)
}

// PlanOptions say what a Reconciler's cycles are asked to plan beyond
// the specs, and what a cycle that is only planned may leave out (issue
// 27). The zero value replaces nothing and keeps everything.
type PlanOptions struct {
	// Replace names the specs whose certificate is reissued now
	// (--replace; reason ReissueReplace), with a new key when certform
	// makes their keys.
	Replace []string
	// PlanOnly says that the cycle's orders are only planned: nothing is
	// applied, sent or saved from them (plan without --out). The load then
	// keeps no CSR text that the state records as checked
	// (spec.LoadOptions.DropCheckedCSR), to use less memory; the plan
	// asks only whether a spec has a CSR (spec.Order.HasCSR).
	PlanOnly bool
	// StateAfterLoad, when set and neither Store nor Known is, reads the
	// state to plan against once the specs are loaded, in a cycle that
	// reads nothing from CertCentral (see StateAfterLoad).
	StateAfterLoad *StateAfterLoad
}

// Limits are the rails of a Reconciler: what a cycle may send, and when.
// The zero value sends no purchase and no revocation, re-sends an unknown
// order at once after a look-up that misses, and does not check the clock.
type Limits struct {
	// MaxRevocations is the budget of revocation requests per rolling 24
	// hours (--max-revocations); negative means no limit.
	MaxRevocations int
	// MaxPurchases is the budget of purchases (new orders and renewals)
	// per rolling 24 hours (--max-purchases), counted from the state's
	// purchase log: a plan whose purchases do not fit blocks them all, and
	// apply checks again in the write before each one. Zero allows none
	// (the zero value buys nothing); negative means no limit.
	MaxPurchases int
	// ResendAfter is how old an order intent must be before the order may
	// be sent again after a look-up that misses (--resend-after).
	ResendAfter time.Duration
	// MaxClockSkew is how far the local clock (Now) may be from
	// CertCentral's, as the Date header of its answers gives it, before no
	// order, renewal, reissue or revocation is sent (--max-clock-skew; see
	// checkClock): the plan blocks them (BlockedClock), the cycle fails
	// with one *ClockError, and the applier checks again before each.
	// Zero turns the check off; the commands default to
	// DefaultMaxClockSkew.
	MaxClockSkew time.Duration
}

// DeliveryOptions say where a Reconciler delivers issued certificates and
// what runs after. They come from the command line only, never from the
// spec directory; the zero value delivers nothing.
type DeliveryOptions struct {
	// CertDir, when set, is where Deliver writes each issued certificate
	// (CertDir/NAME); Hook, when set, runs after each new delivery. Both
	// come from the command line only, never from the spec directory.
	CertDir string
	Hook    *deliver.Hook
	// CertGroup, when not nil, is the group id given read access to each
	// delivered privkey.pem (--cert-group).
	CertGroup *int
	// HookBackoff is the wait before a failed deploy hook runs again; it
	// doubles with each failure in a row, up to an hour. Zero means
	// DefaultHookBackoff.
	HookBackoff time.Duration
	// PostHook, when set, runs once after a cycle that delivered at least
	// one certificate, after every deploy hook of that cycle (see
	// RunPostHook). Command line only, like Hook.
	PostHook *deliver.Hook
}

// CycleOptions say what one cycle does besides planning.
type CycleOptions struct {
	// Refresh reads the known orders from CertCentral before planning
	// (GET calls only), and saves what it saw unless DryRun: the pages of
	// the order list, then one by one only the orders whose listed entry
	// differs from the state or that the list does not show (see
	// markListed). The list does not carry disable_ct or auto_reissue: a
	// change of those alone is seen only by FullRefresh.
	Refresh bool
	// FullRefresh, with Refresh, reads every known order one by one
	// instead (GET /order/certificate/{id}; --refresh=full): one call per
	// order, and the only refresh that sees every setting.
	FullRefresh bool
	// StopUnreachable ends the cycle after the observation when one of
	// its calls failed with a *digicert.CheckError (the client's first
	// call, its reachability check, failed; see
	// digicert.Client.CheckNextCall): Prepare returns that error and no
	// plan. The daemon sets it on the cycles whose first call checks.
	StopUnreachable bool
}

// StateAfterLoad reads the state after the specs (Reconciler's
// StateAfterLoad), so that a cycle never holds the decoded state and the
// specs' decoding at once (issue 27: a plan of 10,000 specs then needs a
// third less memory).
type StateAfterLoad struct {
	// Read reads the state, into Known; its error is Prepare's.
	Read func() (*state.File, error)
	// Checked are the fingerprints the load trusts as checked (a hint
	// such as state.ReadChecked gives); unless the state read records
	// exactly these, the specs are loaded again against what it records.
	// A cycle uses it up.
	Checked map[string]bool
}

// Cycle is one planned cycle: the specs it loaded and the plan.
type Cycle struct {
	Specs *spec.Result
	Plan  *Plan
	// Errors are the problems met while refreshing, consulting CertCentral
	// or saving what a refresh saw: the plan was made regardless, but the
	// cycle has failed.
	Errors []error
}

// sweepAbove is how many new specs are looked up one by one (one filtered
// list call each) before a single paged sweep of the whole account is the
// cheaper way to consult CertCentral.
const sweepAbove = 3

// Prepare runs a cycle up to its plan: refresh, load, consult, plan. An
// error means no plan could be made (the state lock was lost and cannot be
// taken again, or the spec directory cannot be read).
func (r *Reconciler) Prepare(ctx context.Context, opt CycleOptions) (*Cycle, error) {
	if err := r.proveLock(); err != nil {
		return nil, err
	}
	c := &Cycle{}
	var obs map[string]*observed
	// The state as this cycle plans from; nil once a write may have
	// changed it. Only this cycle writes to the store meanwhile.
	var known *state.File
	if r.API != nil && (opt.Refresh || r.Observe) {
		known, obs = r.observeCycle(ctx, c, opt.mode())
		if ce := checkError(c.Errors); ce != nil && opt.StopUnreachable {
			return c, ce
		}
	}
	// The specs are loaded after the refresh, which may take minutes: a
	// revoke reverted meanwhile is not acted on.
	specs, err := r.loadThenState(ctx, known == nil)
	if err != nil {
		return nil, err
	}
	c.Specs = specs
	if r.editSpecs != nil {
		r.editSpecs(specs.Orders)
	}
	if known == nil {
		known = r.known()
	}
	in := r.planInputOf(specs, known, obs)
	c.Plan = r.planOf(in)
	if r.Store != nil && !r.DryRun {
		if err := r.recordChecked(specs.Orders); err != nil {
			c.Errors = append(c.Errors, fmt.Errorf("saving which specs were checked: %w", err))
		}
	}
	if r.API != nil {
		r.consultAndReplan(ctx, c, in)
		r.holdOnClock(ctx, c)
		if _, ok := r.dcvAPI(); ok {
			r.planDCV(ctx, c, r.known())
		}
	}
	return c, nil
}

// checkError returns the first *digicert.CheckError among errs, or nil.
func checkError(errs []error) *digicert.CheckError {
	for _, err := range errs {
		var ce *digicert.CheckError
		if errors.As(err, &ce) {
			return ce
		}
	}
	return nil
}

// proveLock proves the lock before acting on the state: a lock file
// removed or replaced since (another process may hold the lock now) makes
// the store lost; it is locked and read again before anything else. A
// shared state's lost lock is an error: another server may lead now, and
// whoever takes the lock again (the daemon, standing by) checks the
// state's API URL and says so.
func (r *Reconciler) proveLock() error {
	if r.Store == nil {
		return nil
	}
	err := r.Store.Check()
	if err == nil || r.Store.Shared() {
		return err
	}
	r.logger().Warn("the state's lock was lost; taking it again and reading the state afresh", "error", err.Error())
	// The state read afresh may be older than what this process
	// observed: observe from its time, not from memory.
	r.seen.observedAt = time.Time{}
	return r.Store.Reacquire()
}

// observeCycle reads what changed in CertCentral (every known order with
// refresh) and the revoke requests waiting, and saves it unless DryRun. It
// returns the state to plan from (nil once the save wrote it) and what
// was observed of each spec's order.
func (r *Reconciler) observeCycle(ctx context.Context, c *Cycle, mode refreshMode) (*state.File, map[string]*observed) {
	known := r.known()
	ob, errs := r.observe(ctx, known, mode)
	c.Errors = append(c.Errors, errs...)
	r.takeSwept(known, ob)
	revokes, errs := r.revokeRequests(ctx, known, ob)
	c.Errors = append(c.Errors, errs...)
	obs := observedFrom(ob.orders, known)
	if r.Store != nil && !r.DryRun {
		wrote, err := r.saveObservation(known, ob, revokes)
		if err != nil {
			c.Errors = append(c.Errors, fmt.Errorf("saving what CertCentral reported: %w", err))
		}
		if wrote {
			known = nil
		}
	} else if len(ob.orders) > 0 || len(revokes) > 0 {
		// A dry run saves nothing, but plans from what it read, as
		// apply would after saving it (an order's end, its current
		// certificate, a revoke request's decision): the plan shows
		// what apply would do.
		known = known.Clone()
		applyObservation(known, ob, revokes, ob.at(r.now()))
	}
	return known, obs
}

// planInputOf is what the planner needs of this cycle: the specs loaded,
// the state known, what was observed and the Reconciler's limits.
func (r *Reconciler) planInputOf(specs *spec.Result, known *state.File, obs map[string]*observed) planInput {
	in := planInput{Desired: specs.Orders, Invalid: specs.Invalid, Unreadable: specs.Unreadable(), Known: known,
		Observed: obs, MaxRevocations: r.MaxRevocations, MaxPurchases: r.MaxPurchases, Now: r.now(), ResendAfter: r.ResendAfter}
	in.NoKeyStore = r.NoKeyStore
	if r.Cache != nil {
		// A daemon: what the plan derives from an unchanged state, or
		// from the specs its cache keeps, is made once.
		in.OrderingOptions = r.orderingOptions(specs.Orders)
		if r.seen.indexFrom != known {
			r.seen.index, r.seen.indexFrom = indexOf(known), known
		}
		in.Index = r.seen.index
	}
	if len(r.Replace) > 0 {
		in.Replace = map[string]bool{}
		for _, n := range r.Replace {
			in.Replace[n] = true
		}
	}
	return in
}

// orderingOptions returns planInput.OrderingOptions for this cycle's
// specs: a spec the cache kept since the last cycle (the same *spec.Order,
// which the cache hands out for a file that did not change) has the
// options computed then. Only this cycle's specs are kept for the next;
// when they are exactly the last cycle's (an idle cycle: the same list,
// compared in order, with no look-up per spec), the last cycle's map is
// kept as it is, not copied entry by entry, and a spec the plan asks for
// first now is added to it. The map holds only the specs a plan asked
// for (those whose entry records ordering options).
func (r *Reconciler) orderingOptions(specs []*spec.Order) func(*spec.Order) map[string]string {
	prev := r.seen.options
	if prev == nil || !slices.Equal(r.seen.optionsOf, specs) {
		r.seen.options, r.seen.optionsOf = make(map[*spec.Order]map[string]string, len(specs)), specs
	}
	next := r.seen.options // prev itself in an idle cycle
	return func(o *spec.Order) map[string]string {
		if m, ok := next[o]; ok {
			return m
		}
		m, ok := prev[o]
		if !ok {
			m = o.OrderingOptions()
		}
		next[o] = m
		return m
	}
}

// consultAndReplan asks CertCentral what c's plan needs to know (live
// orders with the names of new specs, the orders that adoptions name) and
// plans again from in with the answers.
func (r *Reconciler) consultAndReplan(ctx context.Context, c *Cycle, in planInput) {
	replan := false
	if news := needConsult(c.Plan); len(news) > 0 {
		live, err := r.consult(ctx, news)
		if err != nil {
			c.Errors = append(c.Errors, fmt.Errorf("asking CertCentral for live orders with the names of new specs: %w; no new order is placed", err))
		} else {
			in.Consulted, in.Live, replan = true, live, true
		}
	}
	if ids := needAdoptees(c.Plan); len(ids) > 0 {
		var errs []error
		in.Adoptees, errs = r.readAdoptees(ctx, ids)
		c.Errors = append(c.Errors, errs...)
		replan = true
	}
	if replan {
		c.Plan = plan(in)
	}
}

// needAdoptees returns the ids of the orders that planned adoptions name
// and that were not read yet.
func needAdoptees(p *Plan) []int {
	var out []int
	for _, a := range p.Actions {
		if a.Kind == KindAdopt && !a.Verified {
			out = append(out, a.OrderID)
		}
	}
	return out
}

// readAdoptees reads the orders specs name with order_id (GET, a few at
// once). An order CertCentral does not know is Missing; one that could not
// be read is left out (apply reads it again) and its error returned.
func (r *Reconciler) readAdoptees(ctx context.Context, ids []int) (map[int]*adoptee, []error) {
	out := map[int]*adoptee{}
	orders, errs := r.readOrders(ctx, ids)
	for id, o := range orders {
		out[id] = adopteeFrom(o)
	}
	var rest []error
	for id, err := range errs {
		if digicert.IsNotFound(err) {
			out[id] = &adoptee{Missing: true}
			continue
		}
		rest = append(rest, fmt.Errorf("reading order %d, named by order_id: %w", id, err))
	}
	sortErrors(rest)
	return out, rest
}

// Apply carries a prepared cycle's plan out (nothing in a dry run or a
// PlanOnly cycle, whose specs may lack their CSR text) and returns one
// result per action, in plan order.
func (r *Reconciler) Apply(ctx context.Context, c *Cycle) []Result {
	if r.DryRun || r.PlanOnly || r.Store == nil || r.API == nil {
		return nil
	}
	// Records an interrupted run left go first; validation steps last.
	left := r.cleanupDCV(ctx)
	if err := r.saveDomainEnds(); err != nil {
		r.logger().Error("saving the domains' validation ends", "error", err.Error())
	}
	p, steps := splitDCV(c.Plan)
	ap := &applier{API: r.API, Store: r.Store, Log: r.Log, Parallelism: r.Parallelism, Now: r.Now, Limits: r.Limits, Keys: r.Keys,
		CheckClock: func(ctx context.Context) error { return r.checkClock(ctx, true) }}
	return append(append(ap.Apply(ctx, p), r.applyDCV(ctx, steps)...), left...)
}

func (r *Reconciler) logger() *slog.Logger { return loggerOr(r.Log) }

func (r *Reconciler) now() time.Time { return nowFrom(r.Now) }

// loggerOr returns l, or a logger that discards everything when l is nil.
func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// nowFrom returns the time from clock (time.Now when nil), in UTC.
func nowFrom(clock func() time.Time) time.Time {
	if clock == nil {
		return time.Now().UTC()
	}
	return clock().UTC()
}

func (r *Reconciler) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	return wait.Sleep(ctx, d)
}

// known returns the state to plan against, read-only: the store's
// Frozen copy, made again only after the state changed (an idle cycle
// copies nothing), or Known.
func (r *Reconciler) known() *state.File {
	if r.Store != nil {
		return r.Store.Frozen()
	}
	if r.Known != nil {
		return r.Known
	}
	return &state.File{Version: state.Version, Entries: map[string]*state.Entry{}}
}

// load reads the specs from a consistent snapshot: once no file below Dir
// changed for Quiet, and again (after quiet) if any file it read, or the
// tree, changed while it read.
func (r *Reconciler) load(ctx context.Context) (*spec.Result, error) {
	if res := r.loadUnchanged(); res != nil {
		return res, nil
	}
	for {
		last, err := r.waitQuiet(ctx)
		if err != nil {
			return nil, err
		}
		res, err := spec.LoadOpts(r.Dir, r.loadOptions())
		if err != nil {
			return nil, err
		}
		changed := res.Changed()
		after, err := spec.LastChange(r.Dir)
		if err != nil {
			return nil, err
		}
		if len(changed) == 0 && after.Equal(last) {
			r.seen.specsQuiet = after
			return res, nil
		}
		r.logger().Info("the spec directory changed while it was read; waiting for it to be quiet and reading it again", "changed", changed)
		if r.Quiet <= 0 {
			// Without a quiet period, give the writer a moment.
			if err := r.sleep(ctx, 50*time.Millisecond); err != nil {
				return nil, err
			}
		}
	}
}

// loadOptions are the options of every load of the specs: the spec
// cache, the fingerprints the state records as checked, and, in a
// PlanOnly cycle, no CSR text kept for those (which spec.LoadOpts does
// only without a cache).
func (r *Reconciler) loadOptions() spec.LoadOptions {
	return spec.LoadOptions{Cache: r.Cache, Verified: r.checkedFingerprints(), DropCheckedCSR: r.PlanOnly}
}

// loadUnchanged reads the specs without first walking the tree to see it
// quiet, when the tree's last change is the one the last load saw (its
// quiet period long over): a daemon's idle cycle walks the tree once, not
// three times. It needs a spec cache (the daemon), which tells the files
// that changed since they were read. When the cache served every spec
// file, the load's own walk and stats give the tree's last change
// (spec.Result.Settled: each spec file stat'ed once); otherwise, or when
// a file the load read afresh changed or a symlink it met resolves
// elsewhere now, the files read are stat'ed again (Changed) and the tree
// walked again (LastChange), as load does. It returns nil when the tree
// cannot be shown unchanged (the first load, a file or folder changed, or
// an error): load then waits for quiet and reads as usual, and says so
// only then.
func (r *Reconciler) loadUnchanged() *spec.Result {
	if r.Cache == nil || r.seen.specsQuiet.IsZero() {
		return nil
	}
	res, err := spec.LoadOpts(r.Dir, r.loadOptions())
	if err != nil {
		return nil
	}
	if loadedHook != nil {
		loadedHook()
	}
	last, ok := res.Settled()
	if !ok {
		if len(res.Changed()) > 0 {
			return nil
		}
		if last, err = spec.LastChange(r.Dir); err != nil {
			return nil
		}
	}
	if !last.Equal(r.seen.specsQuiet) {
		return nil
	}
	return res
}

// loadedHook, in tests only, runs in loadUnchanged between the load and
// its checks that the tree did not change: a test changes a file there.
var loadedHook func()

// loadThenState loads the specs and then, when the cycle has not read the
// state yet (unread) and has a StateAfterLoad, reads it into Known. It
// loads the specs again, against the state read, unless the fingerprints
// the first load trusted (StateAfterLoad.Checked) are exactly those the
// state records as checked.
func (r *Reconciler) loadThenState(ctx context.Context, unread bool) (*spec.Result, error) {
	specs, err := r.load(ctx)
	later := r.StateAfterLoad
	if err != nil || !unread || r.Store != nil || r.Known != nil || later == nil {
		return specs, err
	}
	k, err := later.Read()
	if err != nil {
		return nil, err
	}
	r.Known = k
	if !sameChecked(later.Checked, k) {
		r.logger().Debug("the state does not record as checked what its hint gave; loading the specs again")
		return r.load(ctx)
	}
	return specs, nil
}

// sameChecked reports whether hint holds exactly the fingerprints f's
// entries record as checked: a load that trusted hint then trusted what a
// load against f trusts. It uses hint up (its values are cleared).
func sameChecked(hint map[string]bool, f *state.File) bool {
	found := 0
	for _, e := range f.Entries {
		if e.Checked == "" {
			continue
		}
		seen, ok := hint[e.Checked]
		if !ok {
			return false
		}
		if seen {
			hint[e.Checked] = false
			found++
		}
	}
	return found == len(hint)
}

// checkedFingerprints returns spec.LoadOptions.Verified for the state's
// entries: the fingerprints they record as checked (state.Entry.Checked).
// The set is built on the first call, from several goroutines at once,
// and only then: a load that validates no spec (the cache's files all
// unchanged) does not build it.
func (r *Reconciler) checkedFingerprints() func(fingerprint string) bool {
	var once sync.Once
	var set map[string]bool
	build := func(f *state.File) {
		set = make(map[string]bool, len(f.Entries))
		for _, e := range f.Entries {
			if e.Checked != "" {
				set[e.Checked] = true
			}
		}
	}
	return func(fingerprint string) bool {
		once.Do(func() {
			switch {
			case r.Store != nil:
				r.Store.View(build)
			case r.Known != nil:
				build(r.Known)
			case r.StateAfterLoad != nil:
				set = r.StateAfterLoad.Checked
			}
		})
		return set[fingerprint]
	}
}

// recordChecked records, in the entries of the specs that loaded valid,
// their fingerprints as checked (state.Entry.Checked) where the entry
// records another: one write, and only when one differs. A spec without
// an entry gets none; its order records it when placed.
func (r *Reconciler) recordChecked(specs []*spec.Order) error {
	seen := &r.seen.checked
	v := r.Store.Version()
	if r.Cache != nil && seen.specs != nil && seen.version == v && slices.Equal(seen.specs, specs) {
		return nil
	}
	var names []string
	r.Store.View(func(f *state.File) {
		for _, o := range specs {
			if e := f.Entries[o.Name]; e != nil && o.Fingerprint != "" && e.Checked != o.Fingerprint {
				names = append(names, o.Name)
			}
		}
	})
	if len(names) == 0 {
		if r.Cache != nil {
			// v was read before the look-up: a change since makes the
			// next cycle look again.
			*seen = checkedSeen{version: v, specs: specs}
		}
		return nil
	}
	*seen = checkedSeen{}
	fps := make(map[string]string, len(names))
	for _, o := range specs {
		fps[o.Name] = o.Fingerprint
	}
	return r.Store.Batch(func(entries map[string]*state.Entry) {
		for _, name := range names {
			if e := entries[name]; e != nil {
				e.Checked = fps[name]
			}
		}
	})
}

// checkedSeen are the state's version (state.Store.Version) and the
// specs of a cycle whose entries all record their spec's fingerprint as
// checked: the daemon's idle cycles, with the same state and the same
// specs (the spec cache's), look none up again.
type checkedSeen struct {
	version uint64
	specs   []*spec.Order
}

// waitQuiet waits until no file or folder below Dir has changed for
// Quiet, and returns the time of the last change. A time stamp in the
// future (clock skew, an archive's times) counts as quiet once it has not
// moved for a whole quiet period.
func (r *Reconciler) waitQuiet(ctx context.Context) (time.Time, error) {
	last, err := spec.LastChange(r.Dir)
	if err != nil || r.Quiet <= 0 {
		return last, err
	}
	waited := time.Duration(0)
	for {
		age := r.now().Sub(last)
		if age >= r.Quiet {
			return last, nil
		}
		wait := min(r.Quiet-age, r.Quiet)
		if waited > 10*r.Quiet && waited-wait <= 10*r.Quiet {
			r.logger().Info("waiting for the spec directory to be quiet before reading it", "dir", r.Dir, "waited", waited.String())
		}
		if err := r.sleep(ctx, wait); err != nil {
			return last, err
		}
		waited += wait
		next, err := spec.LastChange(r.Dir)
		if err != nil {
			return last, err
		}
		if next.Equal(last) && wait >= r.Quiet {
			return last, nil
		}
		last = next
	}
}

// needConsult returns the specs of the planned new orders and renewals
// that may not buy names CertCentral already has.
func needConsult(p *Plan) []*spec.Order {
	var out []*spec.Order
	for _, a := range p.Actions {
		if (a.Kind == KindOrder || a.Kind == KindRenew) && a.Resume == "" && a.Spec != nil && !a.Spec.AllowExistingNames {
			out = append(out, a.Spec)
		}
	}
	return out
}

// consult asks CertCentral for the orders that may have the names of the
// new specs: one filtered list per spec for a few, one paged sweep of the
// account for more (GET calls only). Only live orders are returned.
func (r *Reconciler) consult(ctx context.Context, news []*spec.Order) ([]liveOrder, error) {
	var filters []digicert.OrderFilter
	if len(news) > sweepAbove {
		filters = []digicert.OrderFilter{{}}
	} else {
		seen := map[string]bool{}
		for _, o := range news {
			if !seen[o.CommonName] {
				seen[o.CommonName] = true
				filters = append(filters, digicert.OrderFilter{CommonName: o.CommonName})
			}
		}
	}
	var live []liveOrder
	seen := map[int]bool{}
	for _, f := range filters {
		orders, err := r.API.ListOrders(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, o := range orders {
			lo := liveOrderOf(o)
			if lo == nil || seen[o.ID] {
				continue
			}
			seen[o.ID] = true
			live = append(live, *lo)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].ID < live[j].ID })
	return live, nil
}

// revokeRequests reads the state of each revoke request the state holds
// as submitted or pending (GET /request/{id}) whose order is not revoked:
// a rejection does not change the order, so the feed does not report it.
// It returns the statuses by spec name.
func (r *Reconciler) revokeRequests(ctx context.Context, known *state.File, ob *observation) (map[string]string, []error) {
	out := map[string]string{}
	var errs []error
	for _, n := range known.Names() {
		e := known.Entries[n]
		if e.Revoke == nil || e.Revoke.RequestID == 0 || e.Revoke.Status == "approved" || e.Revoke.Status == "rejected" || e.Status == "revoked" {
			continue
		}
		if o := ob.orders[n]; o != nil && o.Status == "revoked" {
			continue
		}
		req, err := r.API.GetRequest(ctx, e.Revoke.RequestID)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading revoke request %d of %s: %w", e.Revoke.RequestID, n, err))
			continue
		}
		out[n] = req.Status
	}
	return out, errs
}
