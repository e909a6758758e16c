package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/nameset"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// API is the part of *digicert.Client that the Reconciler uses.
type API interface {
	PlaceOrder(ctx context.Context, req *digicert.OrderRequest) (*digicert.OrderResponse, error)
	SetCT(ctx context.Context, orderID int, disable bool) error
	SetAutoReissue(ctx context.Context, orderID int, on bool) error
	Revoke(ctx context.Context, orderID int, comments string) (*digicert.RevokeRequest, error)
	GetOrder(ctx context.Context, orderID int) (*digicert.Order, error)
	FindByAlternativeID(ctx context.Context, altID string) ([]digicert.OrderRef, error)
	ListOrders(ctx context.Context, f digicert.OrderFilter) ([]digicert.Order, error)
	ListRequests(ctx context.Context, f digicert.RequestFilter) ([]digicert.Request, error)
	GetRequest(ctx context.Context, id int) (*digicert.Request, error)
	StatusChanges(ctx context.Context, minutes int) ([]digicert.OrderRef, error)
	DownloadCertificate(ctx context.Context, orderID int) ([]byte, error)
	Reissue(ctx context.Context, orderID int, req *digicert.ReissueRequest) (*digicert.ReissueResponse, error)
	ListReissues(ctx context.Context, orderID int) ([]digicert.Reissue, error)
}

// applier carries plans out.
type applier struct {
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
	// CheckClock, when set, is called before every order, renewal,
	// reissue and revocation: an error (a *ClockError) sends nothing.
	CheckClock func(ctx context.Context) error
	// Limits are the Reconciler's: the purchase budget is checked once
	// more in the write that saves each purchase's intent, the revocation
	// budget again when the read just before a revoke or reissue finds it
	// revoking certificates, and ResendAfter before an intent is sent
	// again. MaxClockSkew is not read: CheckClock checks the clock.
	Limits

	// claimed maps the names of each new order this applier started
	// (common name first, joined by spaces) to its spec: a second spec
	// with the same names is not ordered in the same run, even before
	// CertCentral lists the first one.
	claimMu sync.Mutex
	claimed map[string]string
	// live is the paged read of the account's live orders that the names
	// checks of this apply's new orders share; nil when few new orders are
	// placed (each is checked with a filtered GET). See liveRead.
	live *liveRead
	// Keys keeps the keys made for specs with key_type; nil refuses them
	// (ErrNoKeyStore).
	Keys KeyStore
}

// ErrWaiting is matched (errors.Is) by a *WaitError.
var ErrWaiting = errors.New("waiting")

// WaitError is the result of an action that waits: nothing was sent, and
// the action can go on at Until at the earliest.
type WaitError struct {
	Until time.Time
	Why   string
}

// Error says what is waited for.
func (e *WaitError) Error() string { return "waiting: " + e.Why }

// Is makes errors.Is(err, ErrWaiting) true.
func (e *WaitError) Is(target error) bool { return target == ErrWaiting }

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
func (ap *applier) Apply(ctx context.Context, p *Plan) []Result {
	log := ap.logger()
	for _, a := range p.Actions {
		log.Info("planned", actionAttrs(a)...)
	}
	for _, a := range p.Blocked {
		log.Warn("blocked", actionAttrs(a)...)
	}
	results := make([]Result, len(p.Actions))
	if use, n := ap.useLiveRead(p.Actions); use {
		ap.live = &liveRead{left: n}
	}
	names, byName := actionsBySpec(p.Actions)
	callCtx, stop := ap.callContext(ctx)
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
				ap.applySpec(ctx, callCtx, p.Actions, byName[name], results)
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

// actionsBySpec returns the spec names of actions in plan order, and the
// indexes of each spec's actions.
func actionsBySpec(actions []Action) (names []string, byName map[string][]int) {
	byName = map[string][]int{}
	for i, a := range actions {
		if _, ok := byName[a.Name]; !ok {
			names = append(names, a.Name)
		}
		byName[a.Name] = append(byName[a.Name], i)
	}
	return names, byName
}

// callContext returns the context the calls run in: it ends Grace
// (default 10 s) after ctx ends, so that calls in flight may finish.
// stop releases it.
func (ap *applier) callContext(ctx context.Context) (callCtx context.Context, stop func()) {
	callCtx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	grace := ap.Grace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	stopAfter := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancelCalls) })
	return callCtx, func() {
		stopAfter()
		cancelCalls()
	}
}

// applySpec makes the calls of one spec's actions (idx) in sequence, in
// callCtx, into results: none starts once ctx has ended, and a call that
// fails leaves the spec's later calls, which depend on it, not started.
func (ap *applier) applySpec(ctx, callCtx context.Context, actions []Action, idx []int, results []Result) {
	log := ap.logger()
	for _, i := range idx {
		a := actions[i]
		if ctx.Err() != nil {
			results[i] = Result{Action: a, Err: ErrStopping}
			continue
		}
		detail, err := ap.do(callCtx, a)
		results[i] = Result{Action: a, Detail: detail, Err: err}
		if err != nil {
			log.Error("failed", append(actionAttrs(a), "error", err.Error())...)
			// Later calls of the same spec depend on this one.
			for _, j := range idx {
				if j > i && results[j].Action.Kind == "" {
					results[j] = Result{Action: actions[j], Err: fmt.Errorf("not started: an earlier call for %s failed", a.Name)}
				}
			}
			return
		}
		log.Info("done", append(actionAttrs(a), "result", detail)...)
	}
}

func (ap *applier) logger() *slog.Logger { return loggerOr(ap.Log) }

func (ap *applier) now() time.Time { return nowFrom(ap.Now) }

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
	case KindRenew:
		attrs = append(attrs, "change", "renewal: "+a.Reason)
		if a.Resume != "" {
			attrs = append(attrs, "resume", a.Resume)
		}
	case KindAdoptRenewal:
		attrs = append(attrs, "change", fmt.Sprintf("track order %d, which renews it", a.RenewedOrderID))
	case KindAdopt:
		attrs = append(attrs, "change", "adopt the order named by order_id")
	case KindReissue:
		attrs = append(attrs, "change", "reissue: "+a.Reason)
		if len(a.Changed) > 0 {
			attrs = append(attrs, "changed", strings.Join(a.Changed, ","))
		}
		if a.RevokesPrevious {
			attrs = append(attrs, "revokes_previous", true)
		}
	}
	return attrs
}

func (ap *applier) do(ctx context.Context, a Action) (string, error) {
	// A process that lost its state lock stops acting: no call, until it
	// takes the lock again and re-reads the state (the next cycle).
	if err := ap.Store.Check(); err != nil {
		return "", fmt.Errorf("not sent: %w", err)
	}
	if err := ap.checkClock(ctx, a); err != nil {
		return "", err
	}
	if a.Spec != nil && a.Spec.CSRDropped() {
		// A plan-only load keeps no CSR text (spec.LoadOptions.DropCheckedCSR);
		// its cycle is never applied. Refusing here keeps a wiring mistake
		// from sending a request without the spec's CSR.
		return "", fmt.Errorf("not sent: %s was loaded without its CSR text (a plan-only load); run apply, which loads it whole", a.Spec.File)
	}
	switch a.Kind {
	case KindOrder:
		return ap.order(ctx, a)
	case KindSetCT:
		return ap.toggle(ctx, a, "disable_ct", ap.API.SetCT, func(e *state.Entry, v bool) { e.DisableCT = v })
	case KindSetAutoReissue:
		return ap.toggle(ctx, a, "auto_reissue", ap.API.SetAutoReissue, func(e *state.Entry, v bool) { e.AutoReissue = v })
	case KindRevoke:
		return ap.revoke(ctx, a)
	case KindReissue:
		return ap.reissue(ctx, a)
	case KindRenew:
		return ap.renew(ctx, a)
	case KindAdoptRenewal:
		return ap.adoptRenewal(ctx, a, a.RenewedOrderID)
	case KindAdopt:
		return ap.adopt(ctx, a)
	}
	return "", fmt.Errorf("unknown action %q", a.Kind)
}

// toggle makes one settings call and records the value applied.
func (ap *applier) toggle(ctx context.Context, a Action, key string, call func(context.Context, int, bool) error, set func(*state.Entry, bool)) (string, error) {
	if err := call(ctx, a.OrderID, *a.To); err != nil {
		return "", err
	}
	if err := ap.Store.Update(a.Name, func(e *state.Entry) bool {
		set(e, *a.To)
		return true
	}); err != nil {
		return "", fmt.Errorf("%s was set to %v, but saving it failed: %w", key, *a.To, err)
	}
	return fmt.Sprintf("%s is %v", key, *a.To), nil
}

var notAltID = regexp.MustCompile(`[^A-Za-z0-9]+`)

// newAlternativeID returns a fresh alternative order id for a spec: "cf",
// the name without its characters other than letters and digits (at most
// 40 of them), and 12 random hex digits: letters and digits only, at most
// 54 characters, as DigiCert documents alternative_order_id ("a custom
// alphanumeric ID", at most 64). Intents recorded with the earlier form
// (cf-NAME-HEX) keep theirs: an intent is resumed and looked up by the id
// it recorded, never by a new one.
func newAlternativeID(name string) string {
	s := notAltID.ReplaceAllString(name, "")
	if len(s) > 40 {
		s = s[:40]
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "cf" + s + hex.EncodeToString(b[:])
}

// orderRequest builds the order body for a spec, as DigiCert's "Order SSL
// (type_hint)" page documents it.
func orderRequest(o *spec.Order, altID string) *digicert.OrderRequest {
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

// order places an order exactly once; README's "Ordering exactly once"
// tells the rules.
func (ap *applier) order(ctx context.Context, a Action) (string, error) { return ap.place(ctx, a, 0) }

// renew places a renewal of order a.OrderID (an order with
// renewal_of_order_id) exactly once, by the rules of order, and tracks the
// new order under the same spec name; the renewed order is left as it is
// and its id kept in the entry's PreviousOrderIDs. Just before each send,
// the order renewed is read: one CertCentral renewed meanwhile (auto_renew,
// a person) is adopted instead of buying a second renewal.
func (ap *applier) renew(ctx context.Context, a Action) (string, error) {
	prev := ap.Store.Entry(a.Name)
	if prev == nil || prev.OrderID != a.OrderID {
		return "", fmt.Errorf("not renewed: the state no longer tracks order %d as %s (it changed after the plan was made)", a.OrderID, a.Name)
	}
	return ap.place(ctx, a, a.OrderID)
}

// place places an order, or a renewal of order renewal (when not 0),
// exactly once. An intent carrying the alternative order id is saved
// before every POST, and only proof settles it: a decoded answer with an
// order id, or a look-up that finds the order (which is then adopted). An
// intent left by an earlier attempt is looked up first; the order is sent
// again only when the look-up misses, the intent is at least ResendAfter
// old, and CertCentral holds no live order with the spec's names (for a
// renewal: neither a renewal of the order, nor another live order with
// the names than the order renewed and the spec's earlier orders).
//
// Just before a new order's first request, CertCentral is asked once more
// for live orders with the spec's names (recheckNames, issue 21): the plan's
// check may be minutes old. A renewal is not checked that way: its own
// order has the names; the order renewed is read instead (renewedYet), and
// CertCentral refuses a second renewal of one order. The purchase budget
// (MaxPurchases) is checked in the write that saves the intent, and a
// first request DigiCert refuses for good (refused) clears it.
func (ap *applier) place(ctx context.Context, a Action, renewal int) (string, error) {
	o := a.Spec
	if o == nil {
		return "", fmt.Errorf("%s %s: no spec", a.Kind, a.Name)
	}
	if o.KeyType != "" && ap.Keys == nil {
		return "", ErrNoKeyStore
	}
	kind := intentKind(renewal)
	prev := ap.Store.Entry(a.Name)
	var altID string
	first := false // the first request with a new alternative order id
	switch {
	case prev != nil && prev.Intent != nil && prev.Intent.Action == kind:
		altID = prev.Intent.AlternativeOrderID
		if detail, done, err := ap.resumeIntent(ctx, a, renewal, prev.Intent); done || err != nil {
			return detail, err
		}
	case renewal == 0 && prev != nil && (prev.OrderID != 0 || prev.Intent != nil):
		return "", fmt.Errorf("not ordered: the state now tracks order %d for %s (it changed after the plan was made)", prev.OrderID, a.Name)
	case renewal != 0 && prev.Intent != nil:
		return "", fmt.Errorf("not renewed: an earlier %s of order %d has an unknown outcome", prev.Intent.Action, renewal)
	case !a.Consulted:
		return "", fmt.Errorf("not ordered: CertCentral was not asked for live orders with these names first")
	default:
		if detail, done, err := ap.checkFirstSend(ctx, a, renewal); done || err != nil {
			return detail, err
		}
		altID = newAlternativeID(a.Name)
		first = true
	}
	k, err := ap.orderKey(a.Name, o, prev, kind, renewal)
	if err != nil {
		return "", err
	}
	if err := ap.saveOrderIntent(a, kind, renewal, altID, k); err != nil {
		return "", err
	}
	resp, err := ap.API.PlaceOrder(ctx, placeRequest(o, altID, renewal, k.csrPEM, prev))
	switch {
	case err == nil:
		return ap.savePlaced(a, renewal, altID, resp)
	case first && refused(err):
		return "", ap.clearRefused(a, renewal, altID, prev, k.key, err)
	}
	ap.attemptEnded(a.Name, altID)
	return ap.settlePlaceError(ctx, a, renewal, altID, err)
}

// attemptEnded records in the intent with alternative order id altID when
// its attempt ended: --resend-after counts from then, as the call may
// have waited for the rate limits before it went out.
func (ap *applier) attemptEnded(name, altID string) {
	ap.Store.Update(name, func(e *state.Entry) bool {
		if e.Intent != nil && e.Intent.AlternativeOrderID == altID {
			e.Intent.Started = ap.now()
			e.Intent.ResendAt = e.Intent.Started.Add(ap.ResendAfter)
		}
		return true
	})
}

// intentKind is the intent of an order (renewal 0) or of a renewal of
// order renewal.
func intentKind(renewal int) string {
	if renewal != 0 {
		return state.IntentRenew
	}
	return state.IntentOrder
}

// resumeIntent decides whether the intent in, left by an earlier attempt,
// is sent again: not when a look-up finds its order (adopted), nor before
// it is ResendAfter old, nor when the order renewed was renewed meanwhile
// (renewedYet) or another spec of this run claimed the names (claim), nor
// when CertCentral holds a live order with the names (checkNames). done
// or err ends the action with detail.
func (ap *applier) resumeIntent(ctx context.Context, a Action, renewal int, in *state.Intent) (detail string, done bool, err error) {
	altID := in.AlternativeOrderID
	if detail, found, err := ap.lookUp(ctx, a, altID); found || err != nil {
		return detail, true, err
	}
	if at := resendAt(in, ap.ResendAfter); ap.now().Before(at) {
		return "", true, &WaitError{Until: at, Why: fmt.Sprintf("alternative order id %s, sent at %s, is not found yet; CertCentral may still be working on it, so it is not sent again before %s",
			altID, in.Started.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))}
	}
	if renewal != 0 {
		if detail, done, err := ap.renewedYet(ctx, a); done || err != nil {
			return detail, true, err
		}
	} else if err := ap.claim(a); err != nil {
		return "", true, err
	}
	if err := ap.checkNames(ctx, a, in); err != nil {
		return "", true, err
	}
	return "", false, nil
}

// checkFirstSend runs the checks just before the first request with a new
// alternative order id: a renewal reads the order renewed (renewedYet), a
// new order asks CertCentral once more for live orders with its names
// (recheckNames). done or err ends the action with detail.
func (ap *applier) checkFirstSend(ctx context.Context, a Action, renewal int) (detail string, done bool, err error) {
	if renewal != 0 {
		if detail, done, err := ap.renewedYet(ctx, a); done || err != nil {
			return detail, true, err
		}
		return "", false, nil
	}
	if err := ap.recheckNames(ctx, a); err != nil {
		return "", true, err
	}
	return "", false, nil
}

// intentKey is the key of an order intent for a spec with key_type: the
// CSR sent, the key record saved with the intent, whether the key is new
// in this attempt (fresh: dropped again when the intent is not saved), and
// the intent's earlier record of the same key (stale) under an earlier
// CSR's name.
type intentKey struct {
	csrPEM     string
	key, stale *state.KeyRecord
	fresh      bool
}

// orderKey makes (or takes from the intent of an earlier attempt) the key
// of a spec with key_type and stores it, before the intent that records
// its CSR is saved. A spec without key_type has none.
func (ap *applier) orderKey(name string, o *spec.Order, prev *state.Entry, kind string, renewal int) (intentKey, error) {
	var k intentKey
	if o.KeyType == "" {
		return k, nil
	}
	var in *state.Intent
	var cur *state.KeyRecord
	if prev != nil {
		in, cur = prev.Intent, prev.Key
		if in != nil && in.Action != kind {
			in = nil
		}
	}
	var err error
	k.csrPEM, k.key, k.fresh, err = ap.requestKey(name, o, in, cur, renewal != 0 && o.KeyRotation == spec.KeyRotationNever)
	if err != nil {
		return k, err
	}
	if k.fresh && in != nil && in.Key != nil && in.Key.CSRFingerprint != k.key.CSRFingerprint {
		k.stale = in.Key // the same key, under its earlier CSR's name
	}
	return k, nil
}

// saveOrderIntent saves the intent of one attempt and counts its purchase,
// in one write that checks the purchase budget (MaxPurchases) again. A key
// made for this attempt goes again when nothing was saved; a stale record
// of the key goes once the intent is saved.
func (ap *applier) saveOrderIntent(a Action, kind string, renewal int, altID string, k intentKey) error {
	o := a.Spec
	var over error
	err := ap.Store.Mutate(func(f *state.File) {
		now := ap.now()
		counted := slices.ContainsFunc(f.PurchasesSince(now.Add(-purchaseWindow)), func(p state.Purchase) bool { return p.AlternativeOrderID == altID })
		if !counted {
			if over = ap.overBudget(f, now); over != nil {
				return
			}
			f.Purchases = append(f.Purchases, state.Purchase{Name: a.Name, AlternativeOrderID: altID, RenewalOfOrderID: renewal, Time: now})
		}
		e := f.Entries[a.Name]
		if e == nil {
			e = &state.Entry{}
			f.Entries[a.Name] = e
		}
		in := &state.Intent{Action: kind, AlternativeOrderID: altID, Fingerprint: o.Fingerprint, RenewalOfOrderID: renewal,
			Started: now, FirstSent: now, Attempts: 1, Names: [][]string{specNames(o)}, DisableCT: o.DisableCT, AutoReissue: o.AutoReissue,
			ResendAt: now.Add(ap.ResendAfter)}
		if old := e.Intent; old != nil {
			in.Attempts = old.Attempts + 1
			if !old.FirstSent.IsZero() {
				in.FirstSent = old.FirstSent
			}
			in.Names = addNames(old.Names, specNames(o))
		}
		in.CSR, in.Key = k.csrPEM, k.key
		e.Intent = in
		e.File = o.File
	})
	if err != nil {
		if k.fresh {
			ap.dropKey(a.Name, k.key, ap.Store.Entry(a.Name))
		}
		return fmt.Errorf("saving the intent before ordering: %w; nothing was ordered", err)
	}
	if over != nil {
		if k.fresh {
			ap.dropKey(a.Name, k.key, ap.Store.Entry(a.Name))
		}
		return over
	}
	if k.stale != nil {
		ap.dropKey(a.Name, k.stale, ap.Store.Entry(a.Name))
	}
	return nil
}

// placeRequest is the order request of one attempt: the spec's order, a
// renewal of order renewal when not 0, with the CSR of a spec with
// key_type. A re-send of the intent's CSR carries the names of its first
// request, even when the spec's changed since: the order is then reissued
// for the spec's names.
func placeRequest(o *spec.Order, altID string, renewal int, csrPEM string, prev *state.Entry) *digicert.OrderRequest {
	req := orderRequest(o, altID)
	req.RenewalOfOrderID = renewal
	if csrPEM == "" {
		return req
	}
	req.Certificate.CSR = csrPEM
	if prev != nil && prev.Intent != nil && prev.Intent.CSR == csrPEM {
		if cn, dns, ok := csrNames(csrPEM); ok {
			req.Certificate.CommonName, req.Certificate.DNSNames = cn, dns
		}
	}
	return req
}

// clearRefused handles DigiCert saying no to the first request (err):
// nothing was ordered, so nothing is left to find. The intent and the
// purchase go, the entry is as it was before the intent (prev: the first
// request is sent only without one), and a key made for it goes.
func (ap *applier) clearRefused(a Action, renewal int, altID string, prev *state.Entry, key *state.KeyRecord, err error) error {
	if uerr := ap.Store.Mutate(func(f *state.File) {
		if prev == nil {
			delete(f.Entries, a.Name)
		} else {
			f.Entries[a.Name] = prev
		}
		f.Purchases = slices.DeleteFunc(f.Purchases, func(p state.Purchase) bool { return p.AlternativeOrderID == altID })
	}); uerr != nil {
		return fmt.Errorf("%w (and clearing the intent failed: %v; %s)", err, uerr, ap.unsettled(altID))
	}
	ap.dropKey(a.Name, key, ap.Store.Entry(a.Name))
	what := "the order"
	if renewal != 0 {
		what = "the renewal"
	}
	return fmt.Errorf("%w; CertCentral refused %s, so nothing was ordered and nothing is left to look up: fix what the message names, and the next apply orders it", err, what)
}

// savePlaced records the order CertCentral answered with (resp) as the
// spec's entry, settling the intent.
func (ap *applier) savePlaced(a Action, renewal int, altID string, resp *digicert.OrderResponse) (string, error) {
	o := a.Spec
	status := "needs_approval"
	if resp.CertificateID != 0 {
		status = "issued"
	}
	err := ap.Store.Update(a.Name, func(e *state.Entry) bool {
		ne := state.Entry{
			OrderID: resp.ID, AlternativeOrderID: altID, Fingerprint: o.Fingerprint, Fixed: o.FixedFields(), Checked: o.Fingerprint,
			Options: o.OrderingOptions(), DisableCT: o.DisableCT, AutoReissue: o.AutoReissue, File: o.File,
			OrderedAt: ap.now(), Status: status, CertificateID: resp.CertificateID, DCVMethod: o.DCVMethod,
			DCVToken: resp.DCVRandomValue,
		}
		if e.Intent != nil && e.Intent.AlternativeOrderID == altID {
			ne.Key = e.Intent.Key
		}
		carryOver(e, &ne)
		*e = ne
		return true
	})
	if err != nil {
		return "", fmt.Errorf("order %d was placed but saving it failed: %w; the next apply finds it by alternative order id %s", resp.ID, err, altID)
	}
	if renewal != 0 {
		return fmt.Sprintf("renewed as order %d", resp.ID), nil
	}
	return fmt.Sprintf("ordered %d", resp.ID), nil
}

// settlePlaceError settles a request that failed (err) by what proof
// there is: a look-up that finds the order adopts it; otherwise the
// intent stays and the error says how to settle it.
func (ap *applier) settlePlaceError(ctx context.Context, a Action, renewal int, altID string, err error) (string, error) {
	switch {
	case errors.Is(err, digicert.ErrOutcomeUnknown):
		if _, found, lerr := ap.lookUp(ctx, a, altID); found && lerr == nil {
			id := ap.Store.Entry(a.Name).OrderID
			return fmt.Sprintf("ordered %d (the answer was lost; found by alternative order id %s)", id, altID), nil
		}
		return "", fmt.Errorf("%w; %s", err, ap.unsettled(altID))
	case renewal != 0 && digicert.IsRenewalConflict(err):
		// Renewed meanwhile, by someone else or by an earlier attempt
		// that a look-up does not show yet: adopt that renewal.
		if detail, done, rerr := ap.renewedYet(ctx, a); done && rerr == nil {
			return detail, nil
		}
		return "", fmt.Errorf("%w; %s", err, ap.unsettled(altID))
	case digicert.IsAlternativeIDTaken(err):
		if _, found, lerr := ap.lookUp(ctx, a, altID); found && lerr == nil {
			id := ap.Store.Entry(a.Name).OrderID
			return fmt.Sprintf("adopted order %d: CertCentral says alternative order id %s is taken, so an earlier attempt landed", id, altID), nil
		}
		return "", fmt.Errorf("%w: an earlier attempt with alternative order id %s landed, but a look-up does not show it yet; %s", err, altID, ap.unsettled(altID))
	default:
		return "", fmt.Errorf("%w; %s", err, ap.unsettled(altID))
	}
}

// refused reports whether err is CertCentral refusing an order for good:
// a 4xx that carries DigiCert's error body (a code), other than 408 and
// 429 (try again later), an alternative order id already taken (an
// earlier attempt landed) and a renewal conflict (the order was renewed
// meanwhile: that renewal is adopted). Anything else may have ordered.
func refused(err error) bool {
	var ae *digicert.APIError
	if errors.Is(err, digicert.ErrOutcomeUnknown) || !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 || ae.Transient() || ae.Code() == "" {
		return false
	}
	return !digicert.IsAlternativeIDTaken(err) && !digicert.IsRenewalConflict(err)
}

// resendAt returns the earliest time an order intent may be sent again
// after a look-up that misses: its last attempt plus resendAfter, and
// never before the time its sender recorded (a standby's shorter
// --resend-after does not win).
func resendAt(in *state.Intent, resendAfter time.Duration) time.Time {
	at := in.Started.Add(resendAfter)
	if in.ResendAt.After(at) {
		at = in.ResendAt
	}
	return at.UTC()
}

// recheckNames asks CertCentral, immediately before a new order's first
// request (after any approval prompt, and minutes after the plan in a
// large apply), for live orders with exactly the spec's names: one
// filtered GET by common name, or, when this apply places more than
// liveReadAbove new orders, the apply's paged read of the account
// (liveRead, at most liveMaxAge old). One found blocks the order (BlockedExists), and
// so does another spec that ordered the same names earlier in this run,
// which CertCentral may not list yet. A spec that allows existing names is
// not checked, but its names count for the other specs.
func (ap *applier) recheckNames(ctx context.Context, a Action) error {
	o := a.Spec
	want := specNames(o)
	if err := ap.claim(a); err != nil {
		return err
	}
	if o.AllowExistingNames {
		return nil
	}
	orders, err := ap.liveWithNames(ctx, o.CommonName, want)
	if err != nil {
		return err
	}
	var what []string
	first := 0
	for _, x := range orders {
		if first == 0 || x.ID < first {
			first = x.ID
		}
		what = append(what, fmt.Sprintf("order %d (%s)", x.ID, x.Status))
	}
	if len(what) == 0 {
		return nil
	}
	slices.Sort(what)
	return &BlockedError{By: BlockedExists, Why: fmt.Sprintf("not ordered: CertCentral now has a live order with exactly these names: %s, placed since the plan was made; nothing was ordered; "+
		"to track it, run %s; for a second, separate order with the same names, set allow_existing_names: true in the spec", strings.Join(what, ", "), importOrder(a.Name, first))}
}

// claim records that the action's spec orders its names in this run, or
// returns a *BlockedError (BlockedExists) when another spec did first and
// this spec does not allow existing names. A spec that allows them claims
// its names all the same: its order counts for the others.
func (ap *applier) claim(a Action) error {
	want := specNames(a.Spec)
	key := strings.Join(want, " ")
	ap.claimMu.Lock()
	other, taken := ap.claimed[key]
	if !taken {
		if ap.claimed == nil {
			ap.claimed = map[string]string{}
		}
		ap.claimed[key] = a.Name
	}
	ap.claimMu.Unlock()
	if !taken || other == a.Name || a.Spec.AllowExistingNames {
		return nil
	}
	return &BlockedError{By: BlockedExists, Why: fmt.Sprintf("not ordered: %s, ordered in this run, has exactly these names (%s); nothing was ordered; "+
		"keep one of these specs, or set allow_existing_names: true in this one for a second, separate order", other, strings.Join(want, ", "))}
}

// overBudget returns a *BlockedError when one more purchase does not fit
// in --max-purchases, counted in f (the state as this write changes it,
// with the purchases other workers saved meanwhile); nil when it fits.
func (ap *applier) overBudget(f *state.File, now time.Time) error {
	if ap.MaxPurchases < 0 {
		return nil
	}
	used := f.PurchasesSince(now.Add(-purchaseWindow))
	if len(used) < ap.MaxPurchases {
		return nil
	}
	return &BlockedError{By: BlockedMaxPurchases, Why: fmt.Sprintf("not ordered: %d of the %d purchases --max-purchases allows in 24 hours %s used already; nothing was ordered; "+
		"for a planned onboarding, run again with a higher --max-purchases", len(used), ap.MaxPurchases, wasWere(len(used)))}
}

// unsettled says what happens to an order intent that no proof settled.
func (ap *applier) unsettled(altID string) string {
	return fmt.Sprintf("the intent stays until CertCentral shows the order: the next apply looks alternative order id %s up first, and sends the order again only if it is not found, no earlier than %s",
		altID, ap.now().Add(ap.ResendAfter).UTC().Format(time.RFC3339))
}

// lookUp looks an alternative order id up and adopts the order if found.
// An error means the look-up did not answer clearly: nothing may be sent.
func (ap *applier) lookUp(ctx context.Context, a Action, altID string) (detail string, found bool, err error) {
	refs, err := ap.API.FindByAlternativeID(ctx, altID)
	if err != nil {
		return "", false, fmt.Errorf("looking up alternative order id %s before ordering again: %w; nothing was ordered", altID, err)
	}
	if len(refs) == 0 {
		return "", false, nil
	}
	id, err := ap.adoptFound(a, altID, refs)
	if err != nil {
		return "", false, err
	}
	return fmt.Sprintf("adopted order %d, placed earlier with alternative order id %s", id, altID), true, nil
}

// checkNames asks CertCentral, just before an order is sent again, for
// live orders with exactly the spec's names, or the names of an earlier
// attempt (the spec may have changed since): one may be the order whose
// answer was lost, not yet visible to look-ups. For a spec that allows
// existing names, orders other entries track and orders created before
// the first attempt are left out.
func (ap *applier) checkNames(ctx context.Context, a Action, in *state.Intent) error {
	o := a.Spec
	wants := addNames(in.Names, specNames(o))
	var tracked map[int]string
	// A renewal's own order, and the spec's earlier ones, are not matches.
	skip := map[int]bool{}
	ap.Store.View(func(f *state.File) {
		tracked = trackedOrders(f)
		if e := f.Entries[a.Name]; e != nil && in.RenewalOfOrderID != 0 {
			skip[in.RenewalOfOrderID] = true
			for _, id := range e.PreviousOrderIDs {
				skip[id] = true
			}
		}
	})
	var ids []string
	for _, want := range wants {
		orders, err := ap.API.ListOrders(ctx, digicert.OrderFilter{CommonName: want[0]})
		if err != nil {
			return fmt.Errorf("asking CertCentral for live orders named %s before sending the order again: %w; nothing was ordered", want[0], err)
		}
		for _, x := range orders {
			if digicert.IsClosed(x.Status) || skip[x.ID] || !nameset.Same(nameset.List(x.Certificate.CommonName, x.Certificate.DNSNames), want) {
				continue
			}
			if o.AllowExistingNames {
				if _, other := tracked[x.ID]; other || createdBefore(x.DateCreated, in.FirstSent) {
					continue
				}
			}
			ids = append(ids, fmt.Sprint(x.ID))
		}
	}
	if len(ids) > 0 {
		return fmt.Errorf("not sent again: CertCentral has a live order with the names of this order (%s), which may be the one sent earlier; nothing was ordered; "+
			"if it is, run %s, then %s", strings.Join(ids, ", "), forgetCommand(a.Name, true), importCommand(a.Name, ids[0]))
	}
	return nil
}

// createdBefore reports whether an order's date_created is known and more
// than a minute before t (clocks differ); an unknown date is not.
func createdBefore(dateCreated string, t time.Time) bool {
	if t.IsZero() {
		return false
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05-0700", "2006-01-02 15:04:05"} {
		if d, err := time.Parse(layout, dateCreated); err == nil {
			return d.Before(t.Add(-time.Minute))
		}
	}
	return false
}

// addNames returns the name sets with names added unless one is the same.
func addNames(sets [][]string, names []string) [][]string {
	out := slices.Clone(sets)
	for _, s := range sets {
		if nameset.Same(s, names) {
			return out
		}
	}
	return append(out, names)
}

// adoptFound records an order found by alternative order id. Should several
// carry the id, the oldest is kept and the rest reported loudly.
func (ap *applier) adoptFound(a Action, altID string, refs []digicert.OrderRef) (int, error) {
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
		ne := state.Entry{OrderID: ref.OrderID, AlternativeOrderID: altID, File: o.File, OrderedAt: ap.now(), Status: ref.Status,
			CertificateID: ref.CertificateID, DCVMethod: o.DCVMethod}
		if in != nil {
			ne.Fingerprint, ne.DisableCT, ne.AutoReissue = in.Fingerprint, in.DisableCT, in.AutoReissue
		}
		if ne.Fingerprint == o.Fingerprint {
			ne.Fixed, ne.Options = o.FixedFields(), o.OrderingOptions()
		}
		if in != nil {
			ne.Key = in.Key
		}
		carryOver(e, &ne)
		*e = ne
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("order %d was found but saving it failed: %w", ref.OrderID, err)
	}
	return ref.OrderID, nil
}

// ErrSpecChanged is the error of a revocation not sent because its spec's
// file (or a defaults.yaml it inherits) changed after the plan was made.
var ErrSpecChanged = errors.New("not sent: the spec's file changed after the plan was made; the next run plans again")

// revoke asks for revocation once. The spec is read again (its files'
// stamps) just before the call, and the order is read (GET) in the same
// run: its names as CertCentral reports them now must be the spec's, else
// nothing is sent (a *BlockedError, names). An intent and a record in the
// revocation budget are saved before the call; an earlier request whose
// outcome is unknown is looked for (the order, then the revoke requests)
// before asking again, and a request found is recorded instead of sending
// another.
func (ap *applier) revoke(ctx context.Context, a Action) (string, error) {
	if a.Spec != nil && a.Spec.SourceChanged() {
		return "", ErrSpecChanged
	}
	prev := ap.Store.Entry(a.Name)
	if prev == nil || prev.OrderID != a.OrderID {
		return "", fmt.Errorf("not sent: the state no longer tracks order %d as %s", a.OrderID, a.Name)
	}
	// Read before acting: the names compared are CertCentral's now.
	o, err := ap.API.GetOrder(ctx, a.OrderID)
	if err != nil {
		return "", fmt.Errorf("reading order %d before revoking it: %w; nothing was sent", a.OrderID, err)
	}
	if err := ap.refresh(a.Name, o); err != nil {
		return "", fmt.Errorf("saving what CertCentral reports of order %d before revoking it: %w; nothing was sent", a.OrderID, err)
	}
	if detail, done, err := ap.revokedYet(ctx, a, prev.Intent, o); done || err != nil {
		return detail, err
	}
	if err := checkRevokeNames(a, o); err != nil {
		return "", err
	}
	now := ap.now()
	if err := ap.saveRevokeIntent(a, now); err != nil {
		return "", err
	}
	// The spec once more, immediately before the irreversible call.
	if a.Spec != nil && a.Spec.SourceChanged() {
		return "", ap.undoRevokeIntent(a, prev.Intent, now)
	}
	req, err := ap.API.Revoke(ctx, a.OrderID, a.Comments)
	if err != nil {
		return ap.settleRevokeError(ctx, a, err)
	}
	rec := &state.RevokeRecord{Status: "approved", Comments: a.Comments, Time: now}
	detail := "revoked"
	if req != nil {
		rec.RequestID, rec.Status = req.ID, req.Status
		detail = fmt.Sprintf("revoke request %d is %s", req.ID, req.Status)
	}
	return detail, ap.recordRevoke(a.Name, rec)
}

// revokedYet settles what is known before a revoke request is sent: an
// order CertCentral shows revoked already (o) is recorded so; a re-check
// or an earlier attempt's intent (in) is settled by its revoke request
// when CertCentral lists one, and waits until --resend-after has passed
// since the earlier request when it does not. done or err ends the
// action with detail.
func (ap *applier) revokedYet(ctx context.Context, a Action, in *state.Intent, o *digicert.Order) (detail string, done bool, err error) {
	resuming := in != nil && in.Action == state.IntentRevoke
	if o.Status == "revoked" && !a.Recheck && !resuming {
		return fmt.Sprintf("order %d is revoked in CertCentral already; nothing was sent", a.OrderID), true,
			ap.recordRevoke(a.Name, &state.RevokeRecord{Status: "approved", Comments: a.Comments, Time: ap.now()})
	}
	if !a.Recheck && !resuming {
		return "", false, nil
	}
	detail, settled, err := ap.settleRevoke(ctx, a, o)
	if err != nil {
		return "", true, fmt.Errorf("finding out whether the earlier revoke request landed: %w; nothing was sent", err)
	}
	if settled {
		return detail, true, nil
	}
	// Not found: the request may not be listed yet. Asked again only
	// once --resend-after has passed since the earlier request.
	if in != nil {
		if at := in.Started.Add(ap.ResendAfter); ap.now().Before(at) {
			return "", true, &WaitError{Until: at, Why: fmt.Sprintf("the revoke request sent at %s is not found yet; it is not sent again before %s",
				in.Started.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))}
		}
	}
	return "", false, nil
}

// checkRevokeNames blocks a revoke of an order whose names in CertCentral
// now (o) are not the spec's (or, without a spec, the plan's).
func checkRevokeNames(a Action, o *digicert.Order) error {
	have, want := namesOf(o), a.OrderNames
	if a.Spec != nil {
		want = specNames(a.Spec)
	}
	if nameset.Same(have, want) {
		return nil
	}
	return &BlockedError{By: BlockedNames,
		Why: fmt.Sprintf("order %d's names in CertCentral now (%s) are not the spec's (%s: %s); nothing was revoked",
			a.OrderID, strings.Join(have, ", "), strings.Join(want, ", "), describeNames(have, want)),
		Hint: fmt.Sprintf("a revoke acts on the order the spec describes; if order %d must go with these names, write them in the spec", a.OrderID)}
}

// saveRevokeIntent saves the revoke intent in the write that takes the
// revocation from the budget (MaxRevocations) at now.
func (ap *applier) saveRevokeIntent(a Action, now time.Time) error {
	fits, used := true, 0
	err := ap.Store.Mutate(func(f *state.File) {
		e := f.Entries[a.Name]
		if e == nil {
			return
		}
		if fits, used = takeRevocation(f, a.Name, a.OrderID, now, ap.MaxRevocations); !fits {
			return
		}
		attempts := 1
		if e.Intent != nil {
			attempts = e.Intent.Attempts + 1
		}
		e.Intent = &state.Intent{Action: state.IntentRevoke, Started: now, Attempts: attempts}
	})
	if err != nil {
		return fmt.Errorf("saving the intent before revoking: %w; nothing was revoked", err)
	}
	if !fits {
		return budgetBlocked(fmt.Sprintf("the revocation of order %d does not fit in the budget any more", a.OrderID), ap.MaxRevocations, used)
	}
	return nil
}

// undoRevokeIntent puts the entry's intent back to what it was before
// (old) and returns the revocation taken at now to the budget, when the
// spec changed just before the call: ErrSpecChanged.
func (ap *applier) undoRevokeIntent(a Action, old *state.Intent, now time.Time) error {
	if err := ap.Store.Mutate(func(f *state.File) {
		if e := f.Entries[a.Name]; e != nil {
			e.Intent = old
		}
		f.Revocations = slices.DeleteFunc(f.Revocations, func(r state.Revocation) bool {
			return r.OrderID == a.OrderID && r.Time.Equal(now)
		})
	}); err != nil {
		return fmt.Errorf("%w (and undoing the intent failed: %v)", ErrSpecChanged, err)
	}
	return ErrSpecChanged
}

// settleRevokeError settles a revoke request that failed (err): a revoke
// request CertCentral lists settles it; a refusal while CertCentral holds
// no request clears the intent (none was made); anything else keeps the
// intent for the next apply.
func (ap *applier) settleRevokeError(ctx context.Context, a Action, err error) (string, error) {
	detail, settled, serr := ap.settleRevoke(ctx, a, nil)
	if settled {
		return detail, nil
	}
	var apiErr *digicert.APIError
	if serr == nil && !errors.Is(err, digicert.ErrOutcomeUnknown) && errors.As(err, &apiErr) && apiErr.Status < 500 {
		// Refused, and CertCentral holds no request: none was made.
		if uerr := ap.Store.Update(a.Name, func(e *state.Entry) bool { e.Intent = nil; return true }); uerr != nil {
			return "", fmt.Errorf("%w (and clearing the intent failed: %v)", err, uerr)
		}
		return "", err
	}
	ap.Store.Update(a.Name, func(e *state.Entry) bool {
		if e.Intent != nil && e.Intent.Action == state.IntentRevoke {
			e.Intent.Started = ap.now() // --resend-after counts from here
		}
		return true
	})
	return "", fmt.Errorf("%w; the next apply reads order %d and its revoke requests before it asks again", err, a.OrderID)
}

// recordRevoke saves a revoke request's outcome and settles the intent.
func (ap *applier) recordRevoke(name string, rec *state.RevokeRecord) error {
	return ap.Store.Update(name, func(e *state.Entry) bool {
		e.Intent = nil
		e.Revoke = rec
		if rec.Status == "approved" {
			e.Status = "revoked"
		}
		return true
	})
}

// settleRevoke finds out whether a revoke request for the action's order
// exists: the order revoked, or a pending (or submitted) revoke request,
// or a rejected one with the same comments. What it finds is recorded and
// settles the intent. o is the order as just read, or nil to read it.
func (ap *applier) settleRevoke(ctx context.Context, a Action, o *digicert.Order) (detail string, settled bool, err error) {
	if o == nil {
		if o, err = ap.API.GetOrder(ctx, a.OrderID); err != nil {
			return "", false, fmt.Errorf("reading order %d: %w", a.OrderID, err)
		}
	}
	if o.Status == "revoked" {
		return "order is revoked (the earlier request landed)", true,
			ap.recordRevoke(a.Name, &state.RevokeRecord{Status: "approved", Comments: a.Comments, Time: ap.now()})
	}
	for _, status := range []string{"pending", "submitted", "rejected"} {
		reqs, err := ap.API.ListRequests(ctx, digicert.RequestFilter{Status: status})
		if err != nil {
			return "", false, fmt.Errorf("listing %s requests: %w", status, err)
		}
		var found *digicert.Request
		for i := range reqs {
			r := &reqs[i]
			if r.Type == "revoke" && r.Order.ID == a.OrderID && (found == nil || r.ID > found.ID) {
				found = r
			}
		}
		if found == nil || (status == "rejected" && found.Comments != a.Comments) {
			continue
		}
		rec := &state.RevokeRecord{RequestID: found.ID, Status: found.Status, Comments: a.Comments, Time: ap.now()}
		if rec.Status == "" {
			rec.Status = status
		}
		return fmt.Sprintf("revoke request %d is %s (found after the earlier answer was lost)", found.ID, rec.Status), true, ap.recordRevoke(a.Name, rec)
	}
	return "", false, nil
}

// refresh records an order read just before a call (every read refreshes
// the record: status, names, current certificate), unless the entry holds
// all of that already.
func (ap *applier) refresh(name string, o *digicert.Order) error {
	e := ap.Store.Entry(name)
	if e == nil || e.OrderID != o.ID || (e.Status == o.Status && e.CertificateID == o.Certificate.ID && slices.Equal(e.Names, namesOf(o))) {
		return nil
	}
	return ap.Store.Update(name, func(e *state.Entry) bool {
		if e.OrderID == o.ID {
			recordOrder(e, o, ap.now())
		}
		return true
	})
}
