package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// API is the part of *digicert.Client that Apply and Refresh use.
type API interface {
	PlaceOrder(ctx context.Context, req *digicert.OrderRequest) (*digicert.OrderResponse, error)
	SetCT(ctx context.Context, orderID int, disable bool) error
	SetAutoReissue(ctx context.Context, orderID int, on bool) error
	Revoke(ctx context.Context, orderID int, comments string) (*digicert.RevokeRequest, error)
	GetOrder(ctx context.Context, orderID int) (*digicert.Order, error)
	FindByAlternativeID(ctx context.Context, altID string) ([]digicert.OrderRef, error)
}

// Applier carries plans out.
type Applier struct {
	API   API
	Store *state.Store
	Log   *slog.Logger
	// Parallelism is how many specs are worked on at once (default 4);
	// the calls of one spec always run in sequence.
	Parallelism int
	// Grace bounds how long calls in flight may go on after the context
	// passed to Apply ends (default 10 s); no new call starts meanwhile.
	Grace time.Duration
	// Now returns the time recorded in state (default time.Now).
	Now func() time.Time
}

// Result is the outcome of one action.
type Result struct {
	Action Action
	// Detail says what happened, such as "ordered 100001".
	Detail string
	Err    error
}

// ErrStopping is the error of actions not started because Apply's context
// ended.
var ErrStopping = errors.New("not started: certform is stopping")

// Apply logs the whole plan, one record per action, then makes the calls:
// specs in parallel, each spec's calls in sequence, the state saved after
// each call that lands. An error on one spec does not stop the others.
// When ctx ends, no new call starts; calls in flight get Grace to finish.
// Results are in plan order.
func (ap *Applier) Apply(ctx context.Context, p *Changes) []Result {
	log := ap.logger()
	for _, a := range p.Actions {
		log.Info("planned", actionAttrs(a)...)
	}
	for _, a := range p.Blocked {
		log.Error("blocked", actionAttrs(a)...)
	}
	results := make([]Result, len(p.Actions))
	byName := map[string][]int{}
	var names []string
	for i, a := range p.Actions {
		if _, ok := byName[a.Name]; !ok {
			names = append(names, a.Name)
		}
		byName[a.Name] = append(byName[a.Name], i)
	}

	callCtx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	grace := ap.Grace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancelCalls) })
	defer stop()

	par := ap.Parallelism
	if par <= 0 {
		par = 4
	}
	work := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < min(par, max(len(names), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				for _, i := range byName[name] {
					a := p.Actions[i]
					if ctx.Err() != nil {
						results[i] = Result{Action: a, Err: ErrStopping}
						continue
					}
					detail, err := ap.do(callCtx, a)
					results[i] = Result{Action: a, Detail: detail, Err: err}
					attrs := append(actionAttrs(a), "result", detail)
					if err != nil {
						log.Error("failed", append(actionAttrs(a), "error", err.Error())...)
						// Later calls of the same spec depend on this one.
						for _, j := range byName[name] {
							if j > i && results[j].Action.Kind == "" {
								results[j] = Result{Action: p.Actions[j], Err: fmt.Errorf("not started: an earlier call for %s failed", name)}
							}
						}
						break
					}
					log.Info("done", attrs...)
				}
			}
		}()
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
	return results
}

func (ap *Applier) logger() *slog.Logger {
	if ap.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return ap.Log
}

func (ap *Applier) now() time.Time {
	if ap.Now == nil {
		return time.Now().UTC()
	}
	return ap.Now().UTC()
}

func actionAttrs(a Action) []any {
	attrs := []any{"action", string(a.Kind), "spec", a.Name}
	if a.OrderID != 0 {
		attrs = append(attrs, "order_id", a.OrderID)
	}
	switch a.Kind {
	case KindSetCT:
		attrs = append(attrs, "change", fmt.Sprintf("disable_ct %s -> %s", onOff(a.From), onOff(a.To)))
	case KindSetAutoReissue:
		attrs = append(attrs, "change", fmt.Sprintf("auto_reissue %s -> %s", onOff(a.From), onOff(a.To)))
	case KindOrder:
		if a.Spec != nil {
			attrs = append(attrs, "change", "new order for "+a.Spec.CommonName)
		}
		if a.Resume != "" {
			attrs = append(attrs, "resume", a.Resume)
		}
	case KindRevoke:
		attrs = append(attrs, "change", "revoke: "+a.Comments)
	}
	return attrs
}

func (ap *Applier) do(ctx context.Context, a Action) (string, error) {
	switch a.Kind {
	case KindOrder:
		return ap.order(ctx, a)
	case KindSetCT:
		return ap.toggle(ctx, a, "disable_ct", ap.API.SetCT, func(e *state.Entry, v bool) { e.DisableCT = v })
	case KindSetAutoReissue:
		return ap.toggle(ctx, a, "auto_reissue", ap.API.SetAutoReissue, func(e *state.Entry, v bool) { e.AutoReissue = v })
	case KindRevoke:
		return ap.revoke(ctx, a)
	}
	return "", fmt.Errorf("unknown action %q", a.Kind)
}

// toggle makes one settings call and records the value applied.
func (ap *Applier) toggle(ctx context.Context, a Action, key string, call func(context.Context, int, bool) error, set func(*state.Entry, bool)) (string, error) {
	if err := call(ctx, a.OrderID, *a.To); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s is %v", key, *a.To), ap.Store.Update(a.Name, func(e *state.Entry) bool {
		set(e, *a.To)
		return true
	})
}

var notAltID = regexp.MustCompile(`[^A-Za-z0-9]+`)

// NewAlternativeID returns a fresh alternative order id for a spec:
// "cf-", the name with every run of other characters than letters and
// digits turned into "-" (at most 40 characters), "-" and 12 random hex
// digits. It is alphanumeric with dashes and at most 56 characters, within
// DigiCert's 64.
func NewAlternativeID(name string) string {
	s := strings.Trim(notAltID.ReplaceAllString(name, "-"), "-")
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "-")
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "cf-" + s + "-" + hex.EncodeToString(b[:])
}

// OrderRequest builds the order body for a spec, as DigiCert's "Order SSL
// (type_hint)" page documents it.
func OrderRequest(o *spec.Order, altID string) *digicert.OrderRequest {
	req := &digicert.OrderRequest{
		Certificate: digicert.CertificateRequest{
			CommonName:    o.CommonName,
			DNSNames:      o.DNSNames,
			CSR:           o.CSR,
			SignatureHash: o.SignatureHash,
		},
		OrderValidity:               digicert.Validity{Years: o.ValidityYears, Days: o.ValidityDays},
		Product:                     digicert.Product{TypeHint: o.Product},
		AutoRenew:                   digicert.Bool01(o.AutoRenew),
		AutoReissue:                 digicert.Bool01(o.AutoReissue),
		DisableRenewalNotifications: o.DisableRenewalNotifications,
		AdditionalEmails:            o.AdditionalEmails,
		DisableCT:                   o.DisableCT,
		SkipApproval:                o.SkipApproval,
		Organization:                digicert.IDRef{ID: o.OrganizationID},
		DCVMethod:                   o.DCVMethod,
		Comments:                    o.Comments,
		AlternativeOrderID:          altID,
	}
	if o.ValidityDays != 0 {
		req.OrderValidity.Years = 0
	}
	if o.ContainerID != 0 {
		req.Container = &digicert.IDRef{ID: o.ContainerID}
	}
	if o.ServerPlatformID != nil {
		req.Certificate.ServerPlatform = &digicert.IDRef{ID: *o.ServerPlatformID}
	}
	return req
}

// order places an order exactly once. An intent with the alternative order
// id is saved before the POST; an intent left by an earlier attempt is
// resolved by looking its id up first, and a found order is adopted.
func (ap *Applier) order(ctx context.Context, a Action) (string, error) {
	o := a.Spec
	if o == nil {
		return "", fmt.Errorf("order %s: no spec", a.Name)
	}
	prev := ap.Store.Entry(a.Name)
	altID := ""
	if prev != nil && prev.Intent != nil && prev.Intent.Action == state.IntentOrder {
		altID = prev.Intent.AlternativeOrderID
		refs, err := ap.API.FindByAlternativeID(ctx, altID)
		if err != nil {
			return "", fmt.Errorf("looking up alternative order id %s before ordering again: %w; nothing was ordered", altID, err)
		}
		if len(refs) > 0 {
			id, err := ap.adopt(a, altID, refs)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("adopted order %d, placed earlier with alternative order id %s", id, altID), nil
		}
	} else {
		altID = NewAlternativeID(a.Name)
	}
	err := ap.Store.Update(a.Name, func(e *state.Entry) bool {
		attempts := 1
		if e.Intent != nil {
			attempts = e.Intent.Attempts + 1
		}
		e.Intent = &state.Intent{Action: state.IntentOrder, AlternativeOrderID: altID, Fingerprint: o.Fingerprint,
			Started: ap.now(), Attempts: attempts, DisableCT: o.DisableCT, AutoReissue: o.AutoReissue}
		e.File = o.File
		return true
	})
	if err != nil {
		return "", fmt.Errorf("saving the intent before ordering: %w; nothing was ordered", err)
	}
	resp, err := ap.API.PlaceOrder(ctx, OrderRequest(o, altID))
	if errors.Is(err, digicert.ErrOutcomeUnknown) {
		refs, lerr := ap.API.FindByAlternativeID(ctx, altID)
		if lerr == nil && len(refs) > 0 {
			id, aerr := ap.adopt(a, altID, refs)
			if aerr != nil {
				return "", aerr
			}
			return fmt.Sprintf("ordered %d (the answer was lost; found by alternative order id %s)", id, altID), nil
		}
		return "", fmt.Errorf("%w; the next apply looks up alternative order id %s before it orders again", err, altID)
	}
	if err != nil {
		// CertCentral refused the order: none was created.
		if uerr := ap.Store.Update(a.Name, func(e *state.Entry) bool {
			e.Intent = nil
			return e.OrderID != 0
		}); uerr != nil {
			return "", fmt.Errorf("%w (and clearing the intent failed: %v)", err, uerr)
		}
		return "", err
	}
	status := "needs_approval"
	if resp.CertificateID != 0 {
		status = "issued"
	}
	err = ap.Store.Update(a.Name, func(e *state.Entry) bool {
		*e = state.Entry{
			OrderID: resp.ID, AlternativeOrderID: altID, Fingerprint: o.Fingerprint, Fixed: o.FixedFields(),
			Options: orderingOptions(o), DisableCT: o.DisableCT, AutoReissue: o.AutoReissue, File: o.File,
			OrderedAt: ap.now(), Status: status,
		}
		return true
	})
	if err != nil {
		return "", fmt.Errorf("order %d was placed but saving it failed: %w; the next apply finds it by alternative order id %s", resp.ID, err, altID)
	}
	return fmt.Sprintf("ordered %d", resp.ID), nil
}

// adopt records an order found by alternative order id. Should several
// carry the id, the oldest is kept and the rest reported loudly.
func (ap *Applier) adopt(a Action, altID string, refs []digicert.OrderRef) (int, error) {
	ref := refs[0]
	for _, r := range refs[1:] {
		if r.OrderID < ref.OrderID {
			ref = r
		}
	}
	if len(refs) > 1 {
		var ids []string
		for _, r := range refs {
			ids = append(ids, fmt.Sprint(r.OrderID))
		}
		ap.logger().Error("several orders carry one alternative order id; certform tracks the oldest, check the others in CertCentral",
			"spec", a.Name, "alternative_order_id", altID, "orders", strings.Join(ids, ","), "tracked", ref.OrderID)
	}
	o := a.Spec
	err := ap.Store.Update(a.Name, func(e *state.Entry) bool {
		in := e.Intent
		ne := state.Entry{OrderID: ref.OrderID, AlternativeOrderID: altID, File: o.File, OrderedAt: ap.now(), Status: ref.Status}
		if in != nil {
			ne.Fingerprint, ne.DisableCT, ne.AutoReissue = in.Fingerprint, in.DisableCT, in.AutoReissue
		}
		if ne.Fingerprint == o.Fingerprint {
			ne.Fixed, ne.Options = o.FixedFields(), orderingOptions(o)
		}
		*e = ne
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("order %d was found but saving it failed: %w", ref.OrderID, err)
	}
	return ref.OrderID, nil
}

// revoke asks for revocation once: an intent is saved before the call, and
// a revoke whose earlier outcome is unknown reads the order first.
func (ap *Applier) revoke(ctx context.Context, a Action) (string, error) {
	if a.Recheck {
		o, err := ap.API.GetOrder(ctx, a.OrderID)
		if err != nil {
			return "", fmt.Errorf("reading order %d before revoking again: %w; nothing was revoked", a.OrderID, err)
		}
		if o.Status == "revoked" {
			return "order is revoked (the earlier request landed)", ap.Store.Update(a.Name, func(e *state.Entry) bool {
				e.Intent = nil
				e.Status = "revoked"
				e.Revoke = &state.RevokeRecord{Status: "approved", Comments: a.Comments, Time: ap.now()}
				return true
			})
		}
	}
	err := ap.Store.Update(a.Name, func(e *state.Entry) bool {
		e.Intent = &state.Intent{Action: state.IntentRevoke, Started: ap.now(), Attempts: 1}
		return true
	})
	if err != nil {
		return "", fmt.Errorf("saving the intent before revoking: %w; nothing was revoked", err)
	}
	req, err := ap.API.Revoke(ctx, a.OrderID, a.Comments)
	if errors.Is(err, digicert.ErrOutcomeUnknown) {
		return "", fmt.Errorf("%w; the next apply reads order %d before it asks again", err, a.OrderID)
	}
	if err != nil {
		if uerr := ap.Store.Update(a.Name, func(e *state.Entry) bool { e.Intent = nil; return true }); uerr != nil {
			return "", fmt.Errorf("%w (and clearing the intent failed: %v)", err, uerr)
		}
		return "", err
	}
	rec := &state.RevokeRecord{Status: "approved", Comments: a.Comments, Time: ap.now()}
	detail := "revoked"
	if req != nil {
		rec.RequestID, rec.Status = req.ID, req.Status
		detail = fmt.Sprintf("revoke request %d is %s", req.ID, req.Status)
	}
	return detail, ap.Store.Update(a.Name, func(e *state.Entry) bool {
		e.Intent = nil
		e.Revoke = rec
		if rec.Status == "approved" {
			e.Status = "revoked"
		}
		return true
	})
}

// Refresh reads every known order from CertCentral (parallelism at once)
// and returns what it reports by spec name, with one error per order that
// could not be read. It only makes GET calls.
func Refresh(ctx context.Context, api API, known *state.File, parallelism int) (map[string]*Observed, []error) {
	if parallelism <= 0 {
		parallelism = 4
	}
	var mu sync.Mutex
	obs := map[string]*Observed{}
	var errs []error
	sem := make(chan struct{}, parallelism)
	var wg sync.WaitGroup
	for _, name := range known.Names() {
		e := known.Entries[name]
		if e.OrderID == 0 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o, err := api.GetOrder(ctx, e.OrderID)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("refresh %s (order %d): %w", name, e.OrderID, err))
				return
			}
			obs[name] = &Observed{Status: o.Status, DisableCT: bool(o.DisableCT), AutoReissue: bool(o.AutoReissue)}
		}()
	}
	wg.Wait()
	return obs, errs
}

// RecordObserved saves what a refresh saw: each order's status and the
// time, and a pending revoke request's approval once the order is revoked.
func RecordObserved(store *state.Store, obs map[string]*Observed, now time.Time) error {
	if len(obs) == 0 {
		return nil
	}
	return store.Batch(func(entries map[string]*state.Entry) {
		for name, o := range obs {
			e := entries[name]
			if e == nil {
				continue
			}
			e.Status, e.RefreshedAt = o.Status, now.UTC()
			if o.Status == "revoked" && e.Revoke != nil && e.Revoke.Status != "approved" {
				e.Revoke.Status = "approved"
			}
		}
	})
}

// StoreOptions say how PlanStore plans.
type StoreOptions struct {
	// Refresh reads every known order from CertCentral first (GET calls
	// only); Record then saves what it saw in the state.
	Refresh, Record bool
	MaxRevocations  int
	Parallelism     int // for the refresh
}

// PlanStore plans the loaded specs against the state a Store holds: the
// one sequence apply and the daemon share. It refreshes first when asked
// and returns the plan (never nil), one error per order a refresh could not
// read, and the error of saving what the refresh saw, if that failed.
func PlanStore(ctx context.Context, api API, store *state.Store, specs *spec.Result, o StoreOptions) (*Changes, []error, error) {
	var obs map[string]*Observed
	var refreshErrs []error
	var recordErr error
	if o.Refresh {
		var known *state.File
		store.View(func(f *state.File) { known = f.Clone() })
		obs, refreshErrs = Refresh(ctx, api, known, o.Parallelism)
		if o.Record {
			recordErr = RecordObserved(store, obs, time.Now())
		}
	}
	var p *Changes
	store.View(func(f *state.File) {
		p = Plan(Input{Desired: specs.Orders, Invalid: specs.Invalid, Unreadable: specs.Unreadable(), Known: f,
			Observed: obs, MaxRevocations: o.MaxRevocations})
	})
	return p, refreshErrs, recordErr
}
