package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/certform/certform/dcv"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// Domain control validation without a person (issue 24): for each order
// waiting on validation, the names CertCentral still reports pending are
// published through the provider of their zone (package dcv), checked by
// CertCentral, and removed; domains whose validation ends within
// RevalidateBefore are revalidated the same way. Nothing here runs without
// a --dcv-config (Reconciler.DCV nil), nor in a plan without --refresh (no
// API): then certform behaves as before and only notes the token.

// Action kinds of domain validation. Neither costs money nor changes an
// order: they publish a record, ask CertCentral to check it and remove it.
const (
	// KindValidate validates one pending name of an order:
	// PUT .../dcv-random-value, publish, wait for the authoritative
	// servers, PUT .../check-dcv, remove.
	KindValidate Kind = "validate"
	// KindRevalidate revalidates an account domain whose validation ends
	// within --dcv-revalidate-before: its token (GET /domain/{id}, or a new
	// one), publish, wait, PUT /domain/{id}/dcv/validate-token, remove.
	KindRevalidate Kind = "revalidate"
)

// NoteDCVUnconfigured: a name waits on a validation certform could
// publish, but no zone of the --dcv-config serves it (or its provider
// cannot publish that method); the hint gives the line to add.
const NoteDCVUnconfigured = "dcv_unconfigured"

// DefaultRevalidateBefore is --dcv-revalidate-before: 30 days.
const DefaultRevalidateBefore = 720 * time.Hour

// Validation configures domain control validation (--dcv-config and its
// flags). The zero value of each duration means its default.
type Validation struct {
	Config *dcv.Config
	// RevalidateBefore is how long before a domain's validation ends it
	// is revalidated (--dcv-revalidate-before); negative turns
	// revalidation off.
	RevalidateBefore time.Duration
	// PropagationTimeout bounds the wait for the authoritative servers
	// (--dcv-propagation-timeout).
	PropagationTimeout time.Duration
	// Waiter, if set, replaces the propagation check (tests inject one
	// with their clock); its Timeout is PropagationTimeout when zero.
	Waiter *dcv.Waiter
}

// ValidationStep is what a validate or revalidate action does
// (Action.Validation).
type ValidationStep struct {
	// DNSName is the name validated (validate); Domain and DomainID the
	// account's domain (revalidate) and Ends when its validation ends.
	DNSName  string    `json:"dns_name,omitempty"`
	Domain   string    `json:"domain,omitempty"`
	DomainID int       `json:"domain_id,omitempty"`
	Ends     time.Time `json:"validation_ends,omitzero"`
	// EndsInDays is how many whole days were left of the domain's
	// validation when the plan was made.
	EndsInDays int `json:"ends_in_days,omitempty"`
	// Method is the DCV method; Zone and Provider the configured zone
	// and provider that publish it.
	Method   string `json:"dcv_method"`
	Zone     string `json:"zone"`
	Provider string `json:"provider"`
}

// DCVAPI are the CertCentral calls of domain validation; *digicert.Client
// has them. An API without them validates nothing.
type DCVAPI interface {
	OrderValidation(ctx context.Context, orderID int) (*digicert.OrderValidation, error)
	RandomValue(ctx context.Context, orderID int) (*digicert.RandomValue, error)
	CheckDCV(ctx context.Context, orderID int) (*digicert.CheckResult, error)
	ListDomains(ctx context.Context) ([]digicert.AccountDomain, error)
	GetDomain(ctx context.Context, domainID int) (*digicert.AccountDomain, error)
	NewDomainToken(ctx context.Context, domainID int) (*digicert.DomainToken, error)
	ValidateDomainToken(ctx context.Context, domainID int) (*digicert.DomainToken, error)
}

// tokenMethods are the DCV methods certform publishes.
var tokenMethods = map[string]bool{digicert.DCVDNSTXT: true, digicert.DCVDNSCNAME: true, digicert.DCVHTTP: true}

// waitingStatuses are the order statuses in which names may wait on
// validation.
var waitingStatuses = map[string]bool{"pending": true, "needs_approval": true, "reissue_pending": true}

func (r *Reconciler) dcvAPI() (DCVAPI, bool) {
	if r.DCV == nil || r.DCV.Config == nil || r.API == nil {
		return nil, false
	}
	api, ok := r.API.(DCVAPI)
	return api, ok
}

// dcvSeen is what the last plan read of domain validation, for metrics,
// and the steps that failed, for their backoff.
type dcvSeen struct {
	mu      sync.Mutex
	ends    map[string]time.Time
	waiting int
	retry   map[string]dcvRetry // by stepKey
	// bySpec are the ends of the domains each spec uses, to save in the
	// state; nil when the domains were not read.
	bySpec map[string]map[string]time.Time
}

// dcvRetry is a validation step that failed Failures times in a row; it
// is not tried again before Next.
type dcvRetry struct {
	Failures int
	Next     time.Time
}

// Backoff of a failed validation step: DCVRetryBase after the first
// failure, doubling with each failure in a row, at most DCVRetryMax. It
// lives as long as the Reconciler (the daemon's); each apply command starts
// afresh, since a person runs it.
const (
	DCVRetryBase = time.Minute
	DCVRetryMax  = time.Hour
)

// stepKey identifies a validation step across cycles.
func stepKey(a Action) string {
	if a.Kind == KindRevalidate {
		return fmt.Sprintf("domain %d", a.Validation.DomainID)
	}
	return fmt.Sprintf("order %d %s", a.OrderID, a.Validation.DNSName)
}

// backedOff returns the retry state of a step that may not run yet.
func (r *Reconciler) backedOff(a Action, now time.Time) (dcvRetry, bool) {
	r.seen.dcv.mu.Lock()
	defer r.seen.dcv.mu.Unlock()
	rt, ok := r.seen.dcv.retry[stepKey(a)]
	return rt, ok && now.Before(rt.Next)
}

// settle records each step's outcome for the backoff.
func (r *Reconciler) settle(results []Result) {
	r.seen.dcv.mu.Lock()
	defer r.seen.dcv.mu.Unlock()
	if r.seen.dcv.retry == nil {
		r.seen.dcv.retry = map[string]dcvRetry{}
	}
	now := r.now()
	for _, res := range results {
		if errors.Is(res.Err, ErrStopping) {
			continue
		}
		k := stepKey(res.Action)
		if res.Err == nil {
			delete(r.seen.dcv.retry, k)
			continue
		}
		rt := r.seen.dcv.retry[k]
		rt.Failures++
		wait := DCVRetryBase << min(rt.Failures-1, 10)
		rt.Next = now.Add(min(wait, DCVRetryMax))
		r.seen.dcv.retry[k] = rt
	}
}

// addStep adds a validation step to the plan, or a waiting note while it
// backs off after failures.
func (r *Reconciler) addStep(c *Cycle, a Action) {
	now := r.now()
	if rt, ok := r.backedOff(a, now); ok {
		what := a.Validation.DNSName
		if a.Kind == KindRevalidate {
			what = "domain " + a.Validation.Domain
		}
		c.Plan.Notes = append(c.Plan.Notes, Note{Kind: NoteWaiting, Name: a.Name, OrderID: a.OrderID,
			Message: fmt.Sprintf("the validation of %s failed %d times in a row; it is tried again after %s", what, rt.Failures, rt.Next.Format(time.RFC3339)),
			Hint:    "the last run's error says why (the provider's own answer); certform backs off, doubling up to an hour"})
		return
	}
	c.Plan.Actions = append(c.Plan.Actions, a)
}

// DomainValidation returns what the last cycle read with --dcv-config:
// when the validation of each account domain a spec uses ends (by domain
// name), and how many names of waiting orders CertCentral reported
// pending. Both are empty before such a cycle, or without --dcv-config.
// Safe to call from another goroutine (the daemon's metrics).
func (r *Reconciler) DomainValidation() (ends map[string]time.Time, waiting int) {
	r.seen.dcv.mu.Lock()
	defer r.seen.dcv.mu.Unlock()
	return maps.Clone(r.seen.dcv.ends), r.seen.dcv.waiting
}

// planDCV adds the validation steps to c's plan: GET calls only (each
// waiting order's validation status, the account's domains).
func (r *Reconciler) planDCV(ctx context.Context, c *Cycle, known *state.File) {
	api, ok := r.dcvAPI()
	if !ok {
		return
	}
	waiting := 0
	var ends map[string]time.Time
	var bySpec map[string]map[string]time.Time
	defer func() {
		r.seen.dcv.mu.Lock()
		defer r.seen.dcv.mu.Unlock()
		r.seen.dcv.waiting = waiting
		r.seen.dcv.bySpec = bySpec
		if ends != nil {
			r.seen.dcv.ends = ends
		}
	}()
	for _, name := range known.Names() {
		e := known.Entries[name]
		if e.OrderID == 0 || !waitingStatuses[e.Status] {
			continue
		}
		waiting += r.planValidations(ctx, api, c, name, e)
	}
	validatedNotes(c.Plan)
	if r.DCV.RevalidateBefore < 0 || c.Specs == nil {
		return
	}
	// The domains of the account that specs use, by the first spec (by
	// name) that uses each.
	domains, err := api.ListDomains(ctx)
	if err != nil {
		c.Errors = append(c.Errors, fmt.Errorf("reading the account's domains: %w", err))
		return
	}
	ends, bySpec = r.planRevalidations(c, domains)
}

// withSpecPlace returns a with the file and line of its spec in c.
func withSpecPlace(c *Cycle, a Action) Action {
	if c.Specs != nil {
		for _, o := range c.Specs.Orders {
			if o.Name == a.Name {
				a.File, a.Line = o.File, o.Line
			}
		}
	}
	return a
}

// planValidations reads the validation status of the waiting order of
// spec name (entry e) and plans a validate step for each of its pending
// names that a zone of the DCV config can publish (a note for the others,
// e-mail validation aside); it returns how many names are pending.
func (r *Reconciler) planValidations(ctx context.Context, api DCVAPI, c *Cycle, name string, e *state.Entry) int {
	cfg := r.DCV.Config
	v, err := api.OrderValidation(ctx, e.OrderID)
	if err != nil {
		c.Errors = append(c.Errors, fmt.Errorf("reading the validation status of order %d of %s: %w", e.OrderID, name, err))
		return 0
	}
	method := v.DCVMethod
	if method == "" {
		method = e.DCVMethod
	}
	for _, nv := range v.Pending() {
		m := method
		if nv.DCVMethod != "" {
			m = nv.DCVMethod
		}
		if !tokenMethods[m] {
			continue // e-mail validation waits on a person
		}
		dnsName := strings.ToLower(nv.DNSName)
		z, ok := cfg.Match(dnsName)
		if !ok {
			c.Plan.Notes = append(c.Plan.Notes, r.unconfiguredNote(name, e.OrderID, dnsName, m, ""))
			continue
		}
		if _, ok := dcv.ForName(cfg, z, m, dnsName, "x"); !ok {
			c.Plan.Notes = append(c.Plan.Notes, r.unconfiguredNote(name, e.OrderID, dnsName, m, z.Provider))
			continue
		}
		r.addStep(c, withSpecPlace(c, Action{Kind: KindValidate, Name: name, File: e.File, OrderID: e.OrderID,
			Validation: &ValidationStep{DNSName: dnsName, Method: m, Zone: z.Name, Provider: z.Provider}}))
	}
	return len(v.Pending())
}

// validatedNotes rewrites the hint of a waiting note that asks a person to
// publish (or, for http-token, serve) what certform publishes itself (a
// spec with validate steps).
func validatedNotes(p *Plan) {
	validating := map[string]bool{}
	for _, a := range p.Actions {
		if a.Kind == KindValidate {
			validating[a.Name] = true
		}
	}
	for i, n := range p.Notes {
		if validating[n.Name] && (n.Kind == NoteWaiting || n.Kind == NotePending) && (strings.Contains(n.Hint, "publish") || strings.HasPrefix(n.Hint, "serve the token")) {
			p.Notes[i].Hint = "certform publishes the value through the DCV config (the validate steps above), asks CertCentral to check it, and removes it"
		}
	}
}

// planRevalidations plans a revalidate step for each account domain that
// a spec uses and whose validation ends within RevalidateBefore (a note
// when no DNS zone of the DCV config serves it). It returns when the
// validation of each domain a spec uses ends, and the same by spec.
func (r *Reconciler) planRevalidations(c *Cycle, domains []digicert.AccountDomain) (ends map[string]time.Time, bySpec map[string]map[string]time.Time) {
	cfg := r.DCV.Config
	before := r.DCV.RevalidateBefore
	if before == 0 {
		before = DefaultRevalidateBefore
	}
	now := r.now()
	ends = map[string]time.Time{}
	bySpec = map[string]map[string]time.Time{}
	specs := append(c.Specs.Orders[:0:0], c.Specs.Orders...)
	sort.Slice(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name })
	for _, d := range domains {
		domain := strings.ToLower(d.Name)
		end, ok := d.ValidationEnds()
		user := domainUser(specs, domain, func(spec string) {
			if ok {
				if bySpec[spec] == nil {
					bySpec[spec] = map[string]time.Time{}
				}
				bySpec[spec][domain] = end
			}
		})
		if user != "" && ok {
			ends[domain] = end
		}
		if user == "" || !ok || end.Sub(now) > before {
			continue
		}
		z, ok := cfg.Match(domain)
		if !ok || cfg.Providers[z.Provider].Type == dcv.TypeWebroot {
			p := ""
			if ok {
				p = z.Provider
			}
			n := r.unconfiguredNote(user, 0, domain, digicert.DCVDNSTXT, p)
			n.Message = fmt.Sprintf("the validation of domain %s ends on %s and no DNS zone of the DCV config serves it", domain, end.Format("2006-01-02"))
			c.Plan.Notes = append(c.Plan.Notes, n)
			continue
		}
		r.addStep(c, withSpecPlace(c, Action{Kind: KindRevalidate, Name: user,
			Validation: &ValidationStep{Domain: domain, DomainID: d.ID, Ends: end, EndsInDays: max(0, int(end.Sub(now)/(24*time.Hour))), Method: digicert.DCVDNSTXT, Zone: z.Name, Provider: z.Provider}}))
	}
	return ends, bySpec
}

// domainUser calls uses with the name of each spec (of specs, sorted by
// name) with a name in domain, and returns the first, "" when none.
func domainUser(specs []*spec.Order, domain string, uses func(spec string)) string {
	user := ""
	for _, o := range specs {
		for _, n := range specNames(o) {
			n = strings.TrimPrefix(n, "*.")
			if n == domain || strings.HasSuffix(n, "."+domain) {
				if user == "" {
					user = o.Name
				}
				uses(o.Name)
				break
			}
		}
	}
	return user
}

// unconfiguredNote says that name waits on validation by method and no
// zone serves it (provider "") or provider cannot publish method, with the
// line to add to the config.
func (r *Reconciler) unconfiguredNote(spec string, orderID int, name, method, provider string) Note {
	cfg := r.DCV.Config
	zone := baseDomain(name)
	want := "PROVIDER"
	for _, pn := range sortedKeys(cfg.Providers) {
		isWeb := cfg.Providers[pn].Type == dcv.TypeWebroot
		if isWeb == (method == digicert.DCVHTTP) {
			want = pn
			break
		}
	}
	msg := fmt.Sprintf("%s waits on validation (%s) and no zone of the DCV config serves it", name, method)
	if provider != "" {
		msg = fmt.Sprintf("%s waits on validation (%s), which provider %s (%s) cannot publish", name, method, provider, cfg.Providers[provider].Type)
	}
	if method == digicert.DCVHTTP {
		zone = name
	}
	return Note{Kind: NoteDCVUnconfigured, Name: spec, OrderID: orderID, Message: msg,
		Hint: fmt.Sprintf("add \"%s: %s\" under zones: in %s (a provider that can publish %s); until then, publish the value by hand", zone, want, cfg.Path, method)}
}

// baseDomain guesses the zone of name: its last two labels.
func baseDomain(name string) string {
	labels := strings.Split(strings.TrimPrefix(name, "*."), ".")
	if len(labels) <= 2 {
		return strings.Join(labels, ".")
	}
	return strings.Join(labels[len(labels)-2:], ".")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// saveDomainEnds records in each tracked spec's entry when the
// validation of the domains it uses ends (for certform status), in one
// write, and only when that changed. Entries are never created.
func (r *Reconciler) saveDomainEnds() error {
	r.seen.dcv.mu.Lock()
	bySpec := r.seen.dcv.bySpec
	r.seen.dcv.mu.Unlock()
	if bySpec == nil {
		return nil
	}
	known := r.Store.Snapshot()
	changed := false
	for name, e := range known.Entries {
		if !maps.EqualFunc(e.DomainValidationEnds, bySpec[name], time.Time.Equal) {
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return r.Store.Batch(func(entries map[string]*state.Entry) {
		for name, e := range entries {
			if e != nil {
				e.DomainValidationEnds = maps.Clone(bySpec[name])
			}
		}
	})
}

// isDCV reports whether an action is a validation step.
func isDCV(a Action) bool { return a.Kind == KindValidate || a.Kind == KindRevalidate }

// splitDCV returns p without its validation steps, and those steps.
func splitDCV(p *Plan) (*Plan, []Action) {
	var steps []Action
	rest := *p
	rest.Actions = nil
	for _, a := range p.Actions {
		if isDCV(a) {
			steps = append(steps, a)
		} else {
			rest.Actions = append(rest.Actions, a)
		}
	}
	if steps == nil {
		return p, nil
	}
	return &rest, steps
}

func (r *Reconciler) waiter() *dcv.Waiter {
	w := dcv.Waiter{Timeout: r.DCV.PropagationTimeout, Now: r.Now, Sleep: r.Sleep}
	if r.DCV.Waiter != nil {
		w = *r.DCV.Waiter
		if w.Timeout == 0 {
			w.Timeout = r.DCV.PropagationTimeout
		}
	}
	return &w
}

// cleanupDCV removes every record a run logged in the state and did not
// clean up (it was killed between publish and clean-up), before anything
// else touches the entries. A record whose provider fails stays logged and
// is tried again next run.
//
// A record that could not be removed is a failed result (a validate
// action of the spec naming the record), so that the run fails and says so.
func (r *Reconciler) cleanupDCV(ctx context.Context) []Result {
	if _, ok := r.dcvAPI(); !ok {
		return nil
	}
	var out []Result
	known := r.Store.Snapshot()
	for _, name := range known.Names() {
		for _, rec := range known.Entries[name].DCVRecords {
			r.logger().Warn("removing a domain validation record an interrupted run left", "spec", name, "record", recordOf(rec).String(), "provider", rec.Provider)
			if err := r.removeRecord(ctx, name, rec); err != nil {
				out = append(out, Result{Action: Action{Kind: KindValidate, Name: name, Validation: &ValidationStep{DNSName: rec.Name, Zone: rec.Zone, Provider: rec.Provider}},
					Err: fmt.Errorf("removing %s, left by an interrupted run: %w", recordOf(rec), err)})
			}
		}
	}
	return out
}

func recordOf(rec state.DCVRecord) dcv.Record {
	return dcv.Record{Type: rec.Type, Zone: rec.Zone, Name: rec.Name, Value: rec.Value}
}

// publish logs rec in spec's state entry, then publishes it.
func (r *Reconciler) publish(ctx context.Context, spec string, rec state.DCVRecord) error {
	p := r.DCV.Config.Provider(rec.Provider)
	if p == nil {
		return fmt.Errorf("no provider %q in %s", rec.Provider, r.DCV.Config.Path)
	}
	err := r.Store.Update(spec, func(e *state.Entry) bool {
		for _, x := range e.DCVRecords {
			if x.Provider == rec.Provider && x.Type == rec.Type && x.Name == rec.Name && x.Value == rec.Value {
				return true
			}
		}
		e.DCVRecords = append(e.DCVRecords, rec)
		return true
	})
	if err != nil {
		return fmt.Errorf("logging %s in the state before publishing it: %w", recordOf(rec), err)
	}
	if err := p.Present(ctx, recordOf(rec)); err != nil {
		return fmt.Errorf("publishing through provider %s: %w", rec.Provider, err)
	}
	return nil
}

// removeRecord cleans rec up and, once done, drops it from the state.
func (r *Reconciler) removeRecord(ctx context.Context, spec string, rec state.DCVRecord) error {
	p := r.DCV.Config.Provider(rec.Provider)
	if p == nil {
		return fmt.Errorf("removing %s: no provider %q in %s any more\nhint: put provider %s back in the DCV config: certform then removes the record and forgets it", recordOf(rec), rec.Provider, r.DCV.Config.Path, rec.Provider)
	}
	if err := p.CleanUp(ctx, recordOf(rec)); err != nil {
		return fmt.Errorf("removing through provider %s: %w", rec.Provider, err)
	}
	return r.Store.Update(spec, func(e *state.Entry) bool {
		var keep []state.DCVRecord
		for _, x := range e.DCVRecords {
			if x != rec {
				keep = append(keep, x)
			}
		}
		e.DCVRecords = keep
		return true
	})
}

// applyDCV carries out the validation steps: one random value and one
// check per order for all its names, one token and one check per domain.
// Records are removed whatever the outcome. A failure is the action's
// error; the other steps go on.
func (r *Reconciler) applyDCV(ctx context.Context, steps []Action) []Result {
	api, ok := r.dcvAPI()
	if !ok || len(steps) == 0 {
		return nil
	}
	results := make([]Result, len(steps))
	for i := range steps {
		results[i].Action = steps[i]
	}
	// Validate: by order, in plan order.
	var orders []int
	byOrder := map[int][]int{}
	for i, a := range steps {
		if a.Kind == KindValidate {
			if byOrder[a.OrderID] == nil {
				orders = append(orders, a.OrderID)
			}
			byOrder[a.OrderID] = append(byOrder[a.OrderID], i)
		}
	}
	for _, id := range orders {
		if ctx.Err() != nil {
			for _, i := range byOrder[id] {
				results[i].Err = ErrStopping
			}
			continue
		}
		r.validateOrder(ctx, api, id, steps, byOrder[id], results)
	}
	for i, a := range steps {
		if a.Kind != KindRevalidate {
			continue
		}
		if ctx.Err() != nil {
			results[i].Err = ErrStopping
			continue
		}
		results[i].Detail, results[i].Err = r.revalidate(ctx, api, a)
	}
	r.settle(results)
	return results
}

// validateOrder validates the names idx of order id.
func (r *Reconciler) validateOrder(ctx context.Context, api DCVAPI, id int, steps []Action, idx []int, results []Result) {
	rv, err := api.RandomValue(ctx, id)
	if err != nil {
		failSteps(results, idx, fmt.Errorf("getting the random value: %w", err))
		return
	}
	spec := steps[idx[0]].Name
	recs, serves := r.dcvRecords(steps, idx, rv.Value, results)
	// Every record is removed whatever happens: a failed publish may have
	// landed.
	defer r.removeRecords(context.WithoutCancel(ctx), spec, recs, idx, results)
	for k, rec := range recs {
		if err := r.publish(ctx, spec, rec); err != nil {
			for _, i := range serves[k] {
				results[i].Err = err
			}
		}
	}
	w := r.waiter()
	for k, rec := range recs {
		if results[serves[k][0]].Err != nil {
			continue
		}
		if err := w.Wait(ctx, recordOf(rec), r.DCV.Config.Providers[rec.Provider].Nameservers); err != nil {
			for _, i := range serves[k] {
				results[i].Err = fmt.Errorf("waiting for the authoritative name servers: %w", err)
			}
		}
	}
	if !slices.ContainsFunc(idx, func(i int) bool { return results[i].Err == nil }) {
		return
	}
	res, err := api.CheckDCV(ctx, id)
	if err != nil {
		failSteps(results, idx, fmt.Errorf("asking CertCentral to check: %w", err))
		return
	}
	checkedSteps(res, id, steps, idx, results)
}

// failSteps sets err as the result of the steps idx that have not failed
// yet.
func failSteps(results []Result, idx []int, err error) {
	for _, i := range idx {
		if results[i].Err == nil {
			results[i].Err = err
		}
	}
}

// dcvRecords returns the records that publish value for the steps idx,
// once each (a wildcard and its base name share one), and which steps
// each serves (record index -> step indexes). A step no provider can
// publish fails.
func (r *Reconciler) dcvRecords(steps []Action, idx []int, value string, results []Result) (recs []state.DCVRecord, serves map[int][]int) {
	serves = map[int][]int{}
	for _, i := range idx {
		v := steps[i].Validation
		z := dcv.Zone{Name: v.Zone, Provider: v.Provider}
		if cz, ok := r.DCV.Config.Match(v.DNSName); ok {
			z = cz
		}
		rec, ok := dcv.ForName(r.DCV.Config, z, v.Method, v.DNSName, value)
		if !ok {
			results[i].Err = fmt.Errorf("provider %s cannot publish %s for %s", z.Provider, v.Method, v.DNSName)
			continue
		}
		sr := state.DCVRecord{Provider: z.Provider, Type: rec.Type, Zone: rec.Zone, Name: rec.Name, Value: rec.Value, Since: r.now()}
		k := -1
		for j, x := range recs {
			if x.Provider == sr.Provider && x.Type == sr.Type && x.Name == sr.Name && x.Value == sr.Value {
				k = j
			}
		}
		if k < 0 {
			recs = append(recs, sr)
			k = len(recs) - 1
		}
		serves[k] = append(serves[k], i)
	}
	return recs, serves
}

// removeRecords removes the records published for the steps idx of spec;
// one that cannot be removed stays logged in the state (the next run
// tries again) and fails the steps that have not failed yet.
func (r *Reconciler) removeRecords(ctx context.Context, spec string, recs []state.DCVRecord, idx []int, results []Result) {
	for _, rec := range recs {
		if err := r.removeRecord(ctx, spec, rec); err != nil {
			r.logger().Error("a domain validation record could not be removed; the next run tries again", "spec", spec, "record", recordOf(rec).String(), "error", err.Error())
			failSteps(results, idx, fmt.Errorf("validated, but %s could not be removed: %w", recordOf(rec), err))
		}
	}
}

// checkedSteps sets the results of the steps idx that have not failed by
// what CertCentral's check of order id found (res).
func checkedSteps(res *digicert.CheckResult, id int, steps []Action, idx []int, results []Result) {
	status := map[string]string{}
	for _, n := range res.Names {
		status[strings.ToLower(n.DNSName)] = n.Status
	}
	for _, i := range idx {
		if results[i].Err != nil {
			continue
		}
		n := steps[i].Validation.DNSName
		switch st := status[n]; {
		case res.OrderStatus == "issued" || digicert.NameValidation{Status: st}.Validated():
			results[i].Detail = fmt.Sprintf("validated %s (order %d: %s)", n, id, res.OrderStatus)
		default:
			results[i].Err = fmt.Errorf("CertCentral did not find the value for %s yet (status %q); the record was removed and the next run tries again", n, st)
		}
	}
}

// revalidate revalidates one account domain.
func (r *Reconciler) revalidate(ctx context.Context, api DCVAPI, a Action) (string, error) {
	v := a.Validation
	d, err := api.GetDomain(ctx, v.DomainID)
	if err != nil {
		return "", fmt.Errorf("reading domain %s: %w", v.Domain, err)
	}
	tok := d.DCVToken
	if tok == nil || tok.Token == "" || tok.Expired(r.now()) {
		if tok, err = api.NewDomainToken(ctx, v.DomainID); err != nil {
			return "", fmt.Errorf("making a token for domain %s: %w", v.Domain, err)
		}
	}
	z, ok := r.DCV.Config.Match(v.Domain)
	if !ok {
		return "", fmt.Errorf("no zone of %s serves %s any more", r.DCV.Config.Path, v.Domain)
	}
	rec, ok := dcv.ForName(r.DCV.Config, z, digicert.DCVDNSTXT, v.Domain, tok.Token)
	if !ok {
		return "", fmt.Errorf("provider %s cannot publish a TXT record for %s", z.Provider, v.Domain)
	}
	sr := state.DCVRecord{Provider: z.Provider, Type: rec.Type, Zone: rec.Zone, Name: rec.Name, Value: rec.Value, Since: r.now()}
	perr := r.publish(ctx, a.Name, sr)
	if perr == nil {
		if err := r.waiter().Wait(ctx, rec, r.DCV.Config.Providers[z.Provider].Nameservers); err != nil {
			perr = fmt.Errorf("waiting for the authoritative name servers: %w", err)
		}
	}
	if perr == nil {
		if _, err := api.ValidateDomainToken(ctx, v.DomainID); err != nil {
			perr = fmt.Errorf("asking CertCentral to check domain %s: %w", v.Domain, err)
		}
	}
	if err := r.removeRecord(context.WithoutCancel(ctx), a.Name, sr); err != nil && perr == nil {
		perr = fmt.Errorf("revalidated, but %s could not be removed: %w", rec, err)
	}
	if perr != nil {
		return "", perr
	}
	return fmt.Sprintf("revalidated domain %s", v.Domain), nil
}

// writeValidation renders a validation step: "~ validate NAME: example.com
// via corp (dns-txt-token)" or "~ revalidate example.com (ends in 12
// days)", and what it publishes.
func writeValidation(b *strings.Builder, a Action, c func(string, string) string) {
	v := a.Validation
	if v == nil {
		return
	}
	if a.Kind == KindValidate {
		fmt.Fprintf(b, "  %s %s: %s via %s (%s)\n", c(yellow, "~ validate"), a.Name, v.DNSName, v.Provider, v.Method)
		fmt.Fprintf(b, "        order %d: the order's random value is published in zone %s, checked by CertCentral, then removed\n", a.OrderID, v.Zone)
		return
	}
	days := "days"
	if v.EndsInDays == 1 {
		days = "day"
	}
	fmt.Fprintf(b, "  %s %s (ends in %d %s)\n", c(yellow, "~ revalidate"), v.Domain, v.EndsInDays, days)
	fmt.Fprintf(b, "        domain %d, used by %s: its token is published via %s in zone %s, checked by CertCentral, then removed\n", v.DomainID, a.Name, v.Provider, v.Zone)
}
