// Package reconcile decides and carries out what certform does. Its one
// loop, the Reconciler, serves the plan and apply commands and the daemon:
// it refreshes what CertCentral reports (when asked), loads the specs
// (package spec) from a quiet, consistent snapshot, consults CertCentral
// before any purchase, plans against the state (package state), and makes
// the calls through package digicert, recording each one as it lands and
// re-checking just before irreversible ones.
//
// The planning step (plan) is pure and deterministic, golden-tested.
// Reconciling is level-based: every plan is computed from the whole desired
// and known state, never from the event that caused it. It does not watch
// files, schedule cycles or serve health checks; package daemon does.
package reconcile

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/nameset"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// Kind is what an action does.
type Kind string

// Action kinds: each is one CertCentral call (an order resumed from an
// earlier, unknown outcome starts with a look-up).
const (
	KindOrder          Kind = "order"
	KindSetCT          Kind = "set_ct"
	KindSetAutoReissue Kind = "set_auto_reissue"
	KindRevoke         Kind = "revoke"
	// KindReissue is POST /order/certificate/{id}/reissue: a new
	// certificate on the same order, at no cost (see Action.Reason).
	KindReissue Kind = "reissue"
	// KindRenew is a renewal order: the spec's order with
	// renewal_of_order_id, for an order that ends within
	// renew_before_days or has expired. It costs money, like KindOrder.
	KindRenew Kind = "renew"
	// KindAdopt tracks existing order OrderID for a spec that names it
	// with order_id: GET calls only; nothing is ever ordered for such a
	// spec. Toggles the spec asks for follow it in the same plan when the
	// order was read (Verified).
	KindAdopt Kind = "adopt"
	// KindAdoptRenewal tracks the order CertCentral renewed an order with
	// (auto_renew, or a person in CertCentral) under the same spec name:
	// GET calls only.
	KindAdoptRenewal Kind = "adopt_renewal"
)

// Why a renewal is planned (Action.Reason of a KindRenew).
const (
	// RenewEnding: the order ends within renew_before_days.
	RenewEnding = "ending"
	// RenewExpired: the order has expired.
	RenewExpired = "expired"
	// RenewResume: an earlier renewal's outcome is unknown (Action.Resume).
	RenewResume = "resume"
)

// renewWindow is how long before an order's end DigiCert accepts its
// renewal (shared/digicert-api.md), and the most renew_before_days allows.
const renewWindow = 90 * 24 * time.Hour

// Why a reissue is planned (Action.Reason).
const (
	// ReissueChanged: names, CSR, signature hash or server platform changed.
	ReissueChanged = "changed"
	// ReissueCT: disable_ct changed, so that the certificate follows it.
	ReissueCT = "disable_ct"
	// ReissueExpiring: the certificate ends within reissue_before_days.
	ReissueExpiring = "expiring"
	// ReissueResume: an earlier reissue's outcome is unknown.
	ReissueResume = "resume"
	// ReissueReplace: certform apply --replace NAME asked for it; with a
	// new key when certform makes the spec's keys, whatever key_rotation.
	ReissueReplace = "replace"
	// ReissueKey: the certificate's public key is neither the spec CSR's
	// key nor a key certform holds for the spec (an order imported or
	// adopted, a CSR changed by hand): reissued with the desired key.
	ReissueKey = "key"
)

// autoReissueWarnDays: with auto_reissue on, certform warns when the
// certificate is this close to its end and DigiCert has not reissued it.
const autoReissueWarnDays = 7

// Action is one call the plan makes.
type Action struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"`
	// File and Line locate the spec.
	File string `json:"file"`
	Line int    `json:"line"`
	// OrderID is the order acted on; 0 for a new order.
	OrderID int `json:"order_id,omitempty"`
	// From and To are the old and new values of a toggle.
	From *bool `json:"from,omitempty"`
	To   *bool `json:"to,omitempty"`
	// Resume is the alternative order id of an earlier order (or revoke)
	// whose outcome is unknown: Apply looks it up before anything else.
	Resume string `json:"resume_alternative_order_id,omitempty"`
	// ResendAt is set on a resumed order: the earliest time the order may
	// be sent again if the look-up does not find it (the intent's last
	// attempt plus --resend-after). Before then apply only looks it up.
	ResendAt time.Time `json:"resend_at,omitzero"`
	// Consulted is set on a new order when CertCentral was asked for live
	// orders with the spec's names and none was found (or the spec says
	// allow_existing_names). Apply places no new order without it.
	Consulted bool `json:"consulted,omitempty"`
	// Recheck is set on a revoke whose earlier request's outcome is
	// unknown: Apply reads the order first and revokes only if needed.
	Recheck bool `json:"recheck,omitempty"`
	// OrderNames are the names (common name first, then the others,
	// sorted) of the order a revoke acts on, as certform knows them.
	OrderNames []string `json:"order_names,omitempty"`
	// BlockedBy says, for a blocked action, which safety rail holds it
	// back: "max_revocations", "names" (a revoke whose order's names are
	// not the spec's), "duplicate" (a certificate another spec has or asks
	// for), "exists" (CertCentral has a live order with these names) or
	// "clock" (the local clock is not CertCentral's; see BlockedClock).
	// "max_purchases" (new orders and renewals over --max-purchases).
	BlockedBy string `json:"blocked_by,omitempty"`
	// Comments is the revoke request's comments.
	Comments string `json:"comments,omitempty"`
	// Reason says why a reissue is planned (ReissueChanged, ReissueCT,
	// ReissueExpiring, ReissueResume), Changed which fields it changes
	// (spec keys, sorted), and RevokesPrevious that DigiCert will revoke
	// the order's earlier certificates 48-72 hours after the new one is
	// issued (the common name changes or a name is removed): such a
	// reissue counts against --max-revocations.
	Reason          string   `json:"reason,omitempty"`
	Changed         []string `json:"changed,omitempty"`
	RevokesPrevious bool     `json:"revokes_previous,omitempty"`
	// OrderEnds is, on a renewal, when the order renewed ends (or ended).
	OrderEnds time.Time `json:"order_valid_till,omitzero"`
	// RenewedOrderID is, on an adopt_renewal, the order CertCentral
	// renewed OrderID with: certform tracks it from then on.
	RenewedOrderID int `json:"renewed_order_id,omitempty"`
	// Verified is set on an adopt when the order was read in this cycle
	// and found live, untracked and with exactly the spec's names;
	// OrderStatus is then its status. Apply reads an unverified one first.
	Verified    bool   `json:"verified,omitempty"`
	OrderStatus string `json:"order_status,omitempty"`
	// Validation is set on a validate or revalidate action (see dcv.go).
	Validation *ValidationStep `json:"validation,omitempty"`
	// adoptee is the order read for an adopt, for apply.
	adoptee *adoptee
	// Spec is the desired order (nil in a decoded plan).
	Spec *spec.Order `json:"-"`
}

// Why an action is blocked (Action.BlockedBy).
const (
	BlockedMaxRevocations = "max_revocations"
	BlockedNames          = "names"
	BlockedDuplicate      = "duplicate"
	BlockedExists         = "exists"
	// BlockedOrderID: a spec's order_id names an order that cannot be
	// adopted (missing, not live), or not the order the state tracks.
	BlockedOrderID = "order_id"
	// BlockedMaxPurchases: the new orders and renewals planned do not fit
	// in what is left of --max-purchases in the rolling 24 hours.
	BlockedMaxPurchases = "max_purchases"
)

// Note kinds: diagnostics that make no call.
const (
	NoteOrphan        = "orphan"
	NoteNeedsNewOrder = "needs_new_order"
	NoteIrreversible  = "irreversible"
	NotePending       = "pending"
	NoteDrift         = "drift"
	NoteBlocked       = "blocked"
	NoteNoEffect      = "no_effect"
	NoteWarning       = "warning"
	NoteDuplicate     = "duplicate"
	// NoteExists: CertCentral already has a live order with exactly the
	// names of a new spec; it is not ordered.
	NoteExists = "exists"
	// NoteWaiting: certform waits for something before it acts (an order
	// whose outcome is unknown, before it may be sent again).
	NoteWaiting = "waiting"
	// NoteNeedsCSR: a reissue or renewal is due, but the spec (adopting
	// an order by order_id) gives no CSR; nothing is sent until it does.
	NoteNeedsCSR = "needs_csr"
	// NoteRejected: CertCentral rejected certform's reissue of the order;
	// it is not asked again until the spec asks for something else.
	NoteRejected = "rejected"
)

// Note is a diagnostic: something certform will not do by itself, with
// what to do about it.
type Note struct {
	Kind    string `json:"kind"`
	Name    string `json:"name,omitempty"`
	OrderID int    `json:"order_id,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Plan is what the planner returns for a cycle (Cycle.Plan): the calls
// to make, the ones a rail holds back, and the notes.
type Plan struct {
	Actions []Action `json:"actions"`
	// Blocked are calls held back by a safety rail: revocations over
	// --max-revocations, purchases over --max-purchases, and orders for a
	// certificate that another spec already has or asks for (duplicates).
	// Each makes the run fail.
	Blocked []Action `json:"blocked"`
	Notes   []Note   `json:"notes"`
}

// Counts returns the order, update and revoke numbers of the plan's summary
// line (not the adoptions or the DCV steps).
func (p *Plan) Counts() (order, update, revoke int) {
	n := p.counts()
	return n.order, n.update, n.revoke
}

// planCounts are the numbers of the plan's summary line.
type planCounts struct {
	order, update, revoke, adopt int
	// validate and revalidate count the DCV steps (KindValidate,
	// KindRevalidate): no money, no change to an order, but calls.
	validate, revalidate int
}

// counts returns Counts, the number of adoptions and of DCV steps.
func (p *Plan) counts() (n planCounts) {
	for _, a := range p.Actions {
		switch a.Kind {
		case KindAdopt:
			n.adopt++
		case KindOrder, KindRenew:
			n.order++
		case KindSetCT, KindSetAutoReissue, KindReissue, KindAdoptRenewal:
			n.update++
		case KindRevoke:
			n.revoke++
		case KindValidate:
			n.validate++
		case KindRevalidate:
			n.revalidate++
		}
	}
	return
}

// Summary returns "Plan: 2 to order, 1 to update, 0 to revoke.", with
// "N to adopt, " first when the plan adopts orders, and ", N to validate"
// and ", N to revalidate" last when it has DCV steps. Orders count new
// orders and renewals (both cost money); updates count calls: a spec whose
// CT and auto-reissue both change counts 2.
func (p *Plan) Summary() string {
	n := p.counts()
	adopt, dcv := "", ""
	if n.adopt > 0 {
		adopt = fmt.Sprintf("%d to adopt, ", n.adopt)
	}
	if n.validate > 0 {
		dcv += fmt.Sprintf(", %d to validate", n.validate)
	}
	if n.revalidate > 0 {
		dcv += fmt.Sprintf(", %d to revalidate", n.revalidate)
	}
	return fmt.Sprintf("Plan: %s%d to order, %d to update, %d to revoke%s.", adopt, n.order, n.update, n.revoke, dcv)
}

// observed is what CertCentral reported for an order in a refresh.
type observed struct {
	Status      string
	DisableCT   bool
	AutoReissue bool
	// Names are the order's common name and DNS names (lower case, the
	// common name first); nil when not reported.
	Names []string
	// Renewed and RenewedOrderID are is_renewed and renewed_order_id.
	Renewed        bool
	RenewedOrderID int
}

// liveOrder is an order CertCentral holds, found when certform consulted
// the account before a purchase.
type liveOrder struct {
	ID     int
	Status string
	// Names are the common name and DNS names, lower case, the common name
	// first.
	Names []string
}

// revocationWindow is the rolling window of the --max-revocations budget.
const revocationWindow = 24 * time.Hour

// purchaseWindow is the rolling window of the --max-purchases budget.
const purchaseWindow = 24 * time.Hour

// planInput is everything plan looks at.
type planInput struct {
	// Desired are the valid specs.
	Desired []*spec.Order
	// Replace names the specs to reissue now (--replace).
	Replace map[string]bool
	// NoKeyStore says that the state has no key store (a shared state
	// without an age identity): a new spec with key_type is a blocked
	// order (BlockedKeyStore), with a note.
	NoKeyStore bool
	// Invalid names specs that exist but are currently invalid.
	Invalid []string
	// Unreadable lists spec files whose specs could not be named at all
	// (broken YAML, too large...): a spec that seems gone may be in one.
	Unreadable []string
	// Known is the state.
	Known *state.File
	// Observed, when refreshing, is what CertCentral reported per spec
	// name. Entries missing from it are judged from the state alone.
	Observed map[string]*observed
	// MaxRevocations is the budget of orders asked to be revoked in any
	// rolling 24 hours, counted from Known.Revocations: a plan whose
	// revocations of orders not yet counted do not fit in what is left
	// blocks them all. Negative means no limit.
	MaxRevocations int
	// MaxPurchases is the budget of purchases (new orders and renewals)
	// in any rolling 24 hours, counted from Known.Purchases: a plan whose
	// purchases not yet counted do not fit in what is left blocks them all.
	// Negative means no limit.
	MaxPurchases int
	// Now is the time the plan is made at (the budget's window and the
	// re-send times are measured from it); zero means time.Now.
	Now time.Time
	// ResendAfter is how old an order intent must be before the order may
	// be sent again after a look-up that misses (--resend-after).
	ResendAfter time.Duration
	// Consulted says that CertCentral was asked for live orders with the
	// names of every new spec (Live holds what it found); without it new
	// orders are planned but not marked Consulted, and apply refuses them.
	Consulted bool
	Live      []liveOrder
	// Adoptees are the orders named by order_id in new specs, read from
	// CertCentral (by order id); an order not in it was not read.
	Adoptees map[int]*adoptee
	// OrderingOptions returns a spec's spec.Order.OrderingOptions, which
	// the caller may keep between plans; nil looks each option an entry
	// records up alone (see planCtx.optionsChanged).
	OrderingOptions func(*spec.Order) map[string]string
	// Index, when set, is indexOf(Known), which the caller may keep for
	// as long as Known does not change; nil makes it.
	Index *knownIndex
}

// knownIndex is what a plan derives from the state alone.
type knownIndex struct {
	names   []string       // the entries' names, sorted
	tracked map[int]string // see trackedOrders
	// unordered counts the entries with neither an order nor an intent
	// (isNew): with none, and every spec with an entry, no spec is a new
	// order and duplicates has nothing to look for.
	unordered int
}

// indexOf makes known's index.
func indexOf(known *state.File) *knownIndex {
	idx := &knownIndex{names: known.Names(), tracked: trackedOrders(known)}
	for _, e := range known.Entries {
		if isNew(e) {
			idx.unordered++
		}
	}
	return idx
}

// optionsChanged returns changedKeys(old, d.OrderingOptions()): the
// ordering-only options recorded for d's order (old, the entry's) whose
// values d changed, sorted. An entry that records none (an order adopted,
// or placed by an older certform) asks nothing of d. A daemon's plan
// compares with the options it keeps (OrderingOptions); otherwise each
// recorded key is looked up alone, without building d's map (plan memory,
// issue 27).
func (pc *planCtx) optionsChanged(old map[string]string, d *spec.Order) []string {
	switch {
	case len(old) == 0:
		return nil
	case pc.in.OrderingOptions != nil:
		return changedKeys(old, pc.in.OrderingOptions(d))
	}
	return optionsChanged(old, d)
}

// optionsChanged is changedKeys(old, d.OrderingOptions()), key by key.
func optionsChanged(old map[string]string, d *spec.Order) []string {
	var out []string
	for k, was := range old {
		if v, ok := d.OrderingOption(k); ok && v != was {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// adoptee is an order a spec names with order_id, as read from
// CertCentral: Missing when CertCentral has no such order.
type adoptee struct {
	Missing     bool
	Status      string
	Names       []string
	DisableCT   bool
	AutoReissue bool
	order       *digicert.Order
}

func boolp(b bool) *bool { return &b }

// changedKeys returns the keys whose values differ between a and b, sorted.
// Keys missing from old are not reported (an older state lacks them).
func changedKeys(old, cur map[string]string) []string {
	var out []string
	for k, v := range cur {
		if ov, ok := old[k]; ok && ov != v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// plan computes the actions and notes for in. It makes no call and
// changes nothing; the result depends only on in.
func plan(in planInput) *Plan {
	p, _ := planUntil(in)
	return p
}

// planUntil is plan, and also returns until: the plan of the same input
// at any time from in.Now up to (not including) until is the same; zero
// when the clock alone never changes it.
func planUntil(in planInput) (p *Plan, until time.Time) {
	p = &Plan{Actions: []Action{}, Blocked: []Action{}, Notes: []Note{}}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	desired := specsByNameOf(in.Desired)
	invalid := make(map[string]bool, len(in.Invalid))
	for _, n := range in.Invalid {
		invalid[n] = true
	}
	known := in.Known
	if known == nil {
		known = &state.File{Entries: map[string]*state.Entry{}}
	}
	idx := in.Index
	if idx == nil || in.Known == nil {
		idx = indexOf(known)
	}
	sorted := desired.withEntryNames(known, idx.names)
	if len(in.Desired) == 0 && len(in.Invalid) == 0 && len(known.Entries) > 0 {
		p.Notes = append(p.Notes, Note{Kind: NoteWarning,
			Message: fmt.Sprintf("the spec directory holds no specs, but the state tracks %s; nothing is revoked or changed", plural(len(known.Entries), "order")),
			Hint:    "check --dir: a wrong path or an unmounted volume looks like this"})
	}
	gone := "deleted or renamed"
	if len(in.Unreadable) > 0 {
		gone = "deleted, renamed, or in a file that cannot be read now: " + strings.Join(in.Unreadable, ", ")
	}
	var dups map[string]duplicate
	if len(sorted) > len(idx.names) || idx.unordered > 0 {
		dups = duplicates(in.Desired, known)
	}
	pc := &planCtx{in: &in, known: known, tracked: idx.tracked}
	for _, name := range sorted {
		if dup, ok := dups[name]; ok {
			d := desired.get(name)
			p.Blocked = append(p.Blocked, Action{Kind: KindOrder, Name: name, File: d.File, Line: d.Line, Spec: d, BlockedBy: BlockedDuplicate})
			p.Notes = append(p.Notes, Note{Kind: NoteDuplicate, Name: name, Message: dup.reason + "; it is not ordered", Hint: dup.hint})
			continue
		}
		from := len(p.Actions)
		pc.planOne(p, name, desired.get(name), known.Entries[name], invalid[name], in.Observed[name], gone)
		if in.NoKeyStore {
			blockKeylessFrom(p, from)
		}
	}
	pc.budgets(p)
	sameNamesNotes(p)
	return p, pc.until
}

// sameNamesNotes warns of new orders in p that ask for exactly the same
// names (after the budgets held back what they hold back): apply orders
// the first of them to reach CertCentral and blocks each other one that
// does not set allow_existing_names (applier.claim), so a plan that shows
// them all would promise more than apply does. The plan keeps them all as
// actions; which one is ordered is up to apply.
func sameNamesNotes(p *Plan) {
	groups := map[string][]*spec.Order{}
	var keys []string
	for _, a := range p.Actions {
		if a.Kind != KindOrder || a.Spec == nil {
			continue
		}
		k := strings.Join(specNames(a.Spec), " ")
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], a.Spec)
	}
	for _, k := range keys {
		specs := groups[k]
		if len(specs) < 2 {
			continue
		}
		for _, d := range specs {
			if d.AllowExistingNames {
				continue
			}
			var others []string
			for _, o := range specs {
				if o != d {
					others = append(others, o.Name)
				}
			}
			p.Notes = append(p.Notes, Note{Kind: NoteWarning, Name: d.Name,
				Message: fmt.Sprintf("%s, also ordered in this plan, %s exactly these names (%s); apply orders only the first of them to reach CertCentral, and this one may be blocked (exists)",
					strings.Join(others, ", "), hasHave(len(others)), strings.ReplaceAll(k, " ", ", ")),
				Hint: "keep one of these specs, or set allow_existing_names: true in this one for a second, separate order"})
		}
	}
}

// hasHave is "has" for one, "have" for more.
func hasHave(n int) string {
	if n == 1 {
		return "has"
	}
	return "have"
}

// budgets holds back what p plans beyond the revocation and purchase
// budgets (none for a negative limit), and records (changesAt) when each
// purchase and revocation they count leaves its rolling window. The
// state's records of each window are read once, for both.
func (pc *planCtx) budgets(p *Plan) {
	if pc.in.MaxRevocations >= 0 {
		recent := pc.known.RevocationsSince(pc.in.Now.Add(-revocationWindow))
		budgetRevocations(p, recent, pc.in.MaxRevocations)
		for _, r := range recent {
			pc.changesAt(r.Time.Add(revocationWindow))
		}
	}
	if pc.in.MaxPurchases >= 0 {
		used := pc.known.PurchasesSince(pc.in.Now.Add(-purchaseWindow))
		budgetPurchases(p, used, pc.in.MaxPurchases)
		for _, u := range used {
			pc.changesAt(u.Time.Add(purchaseWindow))
		}
	}
}

// budgetPurchases blocks every planned purchase (a new order or a renewal)
// not yet counted when they do not all fit in what is left of the rolling
// 24-hour budget. An order resumed with an alternative order id already
// counted takes nothing more from it and is not blocked: a look-up may
// find it. used are the state's purchases of the rolling 24 hours.
func budgetPurchases(p *Plan, used []state.Purchase, max int) {
	counted := map[string]bool{}
	for _, u := range used {
		counted[u.AlternativeOrderID] = true
	}
	var buys, rest []Action
	for _, a := range p.Actions {
		if (a.Kind == KindOrder || a.Kind == KindRenew) && (a.Resume == "" || !counted[a.Resume]) {
			buys = append(buys, a)
		} else {
			rest = append(rest, a)
		}
	}
	if len(buys) == 0 || len(used)+len(buys) <= max {
		return
	}
	var ns []string
	for _, a := range buys {
		ns = append(ns, a.Name)
	}
	p.Actions = append([]Action{}, rest...)
	for _, a := range buys {
		a.BlockedBy = BlockedMaxPurchases
		p.Blocked = append(p.Blocked, a)
	}
	msg := fmt.Sprintf("%s (new orders and renewals) planned, more than --max-purchases=%d allows in 24 hours: %s; none of them is made",
		plural(len(buys), "purchase"), max, strings.Join(ns, ", "))
	hint := fmt.Sprintf("every order costs money: check these specs; for a planned onboarding, run again with --max-purchases=%d", len(used)+len(buys))
	if len(used) > 0 {
		oldest := used[0].Time
		msg = fmt.Sprintf("%s (new orders and renewals) planned, but %d of the %d purchases --max-purchases allows in 24 hours %s used already: %s; none of them is made",
			plural(len(buys), "purchase"), len(used), max, wasWere(len(used)), strings.Join(ns, ", "))
		hint = fmt.Sprintf("every order costs money: the budget frees up from %s; to go on now (a planned onboarding), check these specs, then run again with --max-purchases=%d",
			oldest.Add(purchaseWindow).UTC().Format(time.RFC3339), len(used)+len(buys))
	}
	p.Notes = append(p.Notes, Note{Kind: NoteBlocked, Message: msg, Hint: hint})
}

// revoking reports whether an action revokes something: a revoke, or a
// reissue that makes DigiCert revoke the earlier certificates.
func revoking(a Action) bool {
	return a.Kind == KindRevoke || a.Kind == KindReissue && a.RevokesPrevious
}

// budgetRevocations blocks every planned revocation when they do not all
// fit in what is left of the rolling 24-hour budget. recent are the
// state's revocation records of the rolling 24 hours.
func budgetRevocations(p *Plan, recent []state.Revocation, max int) {
	var revokes, rest []Action
	for _, a := range p.Actions {
		if revoking(a) {
			revokes = append(revokes, a)
		} else {
			rest = append(rest, a)
		}
	}
	used, counted := revocationsUsed(recent)
	fresh := 0
	for _, a := range revokes {
		if !counted[a.OrderID] {
			fresh++
		}
	}
	if fresh == 0 || len(used)+fresh <= max {
		return
	}
	p.Actions = append([]Action{}, rest...)
	for _, a := range revokes {
		a.BlockedBy = BlockedMaxRevocations
		p.Blocked = append(p.Blocked, a)
	}
	p.Notes = append(p.Notes, revocationBudgetNote(revokes, used, fresh, max))
}

// revocationsUsed returns the revocations of recent (the records of the
// rolling 24 hours), one per order, and the orders they count. The budget
// counts orders asked to be revoked: asking again for an order already
// counted (a re-check after a lost answer, new comments after a
// rejection) takes nothing more from it.
func revocationsUsed(recent []state.Revocation) (used []state.Revocation, counted map[int]bool) {
	counted = map[int]bool{}
	for _, r := range recent {
		if !counted[r.OrderID] {
			counted[r.OrderID] = true
			used = append(used, r)
		}
	}
	return used, counted
}

// revocationBudgetNote says that the revocations planned (revokes, fresh
// of them not counted yet) do not fit in the budget max, used already by
// used, and when it frees up.
func revocationBudgetNote(revokes []Action, used []state.Revocation, fresh, max int) Note {
	var ns []string
	for _, a := range revokes {
		ns = append(ns, a.Name)
	}
	msg := fmt.Sprintf("%d revocations planned, more than --max-revocations=%d allows: %s; none of them is made", len(revokes), max, strings.Join(ns, ", "))
	hint := fmt.Sprintf("revocation is irreversible: check these specs, then run again with --max-revocations=%d", len(used)+fresh)
	if len(used) > 0 {
		oldest := used[0].Time
		for _, r := range used[1:] {
			if r.Time.Before(oldest) {
				oldest = r.Time
			}
		}
		msg = fmt.Sprintf("%s planned, but %d of the %d revocation requests --max-revocations allows in 24 hours %s used already: %s; none of them is made",
			plural(len(revokes), "revocation"), len(used), max, wasWere(len(used)), strings.Join(ns, ", "))
		hint = fmt.Sprintf("revocation is irreversible: the budget frees up from %s; to go on now, check these specs, then run again with --max-revocations=%d",
			oldest.Add(revocationWindow).UTC().Format(time.RFC3339), len(used)+fresh)
	}
	return Note{Kind: NoteBlocked, Message: msg, Hint: hint}
}

func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

// planCtx carries what planOne needs besides the one spec and entry.
type planCtx struct {
	in      *planInput
	known   *state.File
	tracked map[int]string // order id -> the entry that tracks it
	// until is the earliest time, not before in.Now, at which a check
	// of the plan against the clock may come out otherwise (zero: none
	// may); see planUntil.
	until time.Time
}

// changesAt records that a check of the plan against the clock may come
// out otherwise from t on (see planCtx.until).
func (pc *planCtx) changesAt(t time.Time) {
	if t.Before(pc.in.Now) {
		return
	}
	if pc.until.IsZero() || t.Before(pc.until) {
		pc.until = t
	}
}

// watchTimes records (changesAt) every time at which a check of spec d
// against entry e compares with the clock: the renewal's and the
// reissue's windows, the overdue auto-reissue, the half-life rules and an
// intent's re-send time. It records more than the checks reached need,
// never fewer.
func (pc *planCtx) watchTimes(d *spec.Order, e *state.Entry) {
	if e.Intent != nil {
		pc.changesAt(resendAt(e.Intent, pc.in.ResendAfter))
	}
	if !e.OrderValidTill.IsZero() {
		pc.changesAt(renewFrom(e, d.RenewBeforeDays))
		if half, ok := halfLife(orderStart(e), e.OrderValidTill); ok {
			pc.changesAt(half)
		}
	}
	if !e.NotAfter.IsZero() {
		pc.changesAt(expiringFrom(e, d.ReissueBeforeDays))
		pc.changesAt(expiringFrom(e, autoReissueWarnDays))
		if half, ok := halfLife(e.NotBefore, e.NotAfter); ok {
			pc.changesAt(half)
		}
	}
}

// trackedOrders maps every order id the state tracks to its entry's name,
// the first by name when several entries track one order.
func trackedOrders(known *state.File) map[int]string {
	out := make(map[int]string, len(known.Entries))
	for n, e := range known.Entries {
		if id := e.OrderID; id != 0 {
			if have, ok := out[id]; !ok || n < have {
				out[id] = n
			}
		}
	}
	return out
}

// specNames returns a spec's names as certform compares them with an
// order's: the common name first, then the other names sorted, lower case,
// without repeats.
func specNames(o *spec.Order) []string { return nameset.List(o.CommonName, o.DNSNames) }

// entryNames returns the names of the order an entry tracks: as
// CertCentral last reported them (every read records them), else as
// recorded when certform ordered, adopted or reissued it (nil when
// neither is recorded).
func entryNames(e *state.Entry) []string {
	if len(e.Names) > 0 {
		return e.Names
	}
	return entryFixedNames(e)
}

// entryFixedNames returns the names certform last asked for on the
// entry's order (ordered, adopted or reissued with), nil when not
// recorded.
func entryFixedNames(e *state.Entry) []string {
	cn, ok := e.Fixed["common_name"]
	if !ok || cn == "" {
		return nil
	}
	var dns []string
	if s := e.Fixed["dns_names"]; s != "" {
		dns = strings.Split(s, ",")
	}
	return nameset.List(cn, dns)
}

// liveMatches returns the live orders in the account whose names are
// exactly the spec's, but for the orders in skip.
func (pc *planCtx) liveMatches(d *spec.Order, skip ...int) []liveOrder {
	want := specNames(d)
	var out []liveOrder
	for _, o := range pc.in.Live {
		if !digicert.IsClosed(o.Status) && nameset.Same(o.Names, want) && !slices.Contains(skip, o.ID) {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// isNew reports whether a desired spec would be a new order: no entry, or
// one with neither an order nor an intent.
func isNew(e *state.Entry) bool { return e == nil || (e.OrderID == 0 && e.Intent == nil) }

// live reports whether an entry stands for an order that still counts: not
// revoked, canceled, rejected or expired.
func live(e *state.Entry) bool {
	return !digicert.IsClosed(e.Status) && (e.Revoke == nil || e.Revoke.Status != "approved")
}

// duplicate says why a new order is held back and what to do.
type duplicate struct{ reason, hint string }

// duplicates finds new orders that would buy a certificate again: a spec
// whose fingerprint a live order in the state already has under another
// name (typically a renamed spec), or several new specs with one
// fingerprint. It returns them by spec name.
func duplicates(desired []*spec.Order, known *state.File) map[string]duplicate {
	groups := map[string][]string{}
	for _, d := range desired {
		if !d.Revoke && d.OrderID == 0 && isNew(known.Entries[d.Name]) {
			groups[d.Fingerprint] = append(groups[d.Fingerprint], d.Name)
		}
	}
	out := map[string]duplicate{}
	if len(groups) == 0 {
		// No new order (an idle cycle): nothing to look up.
		return out
	}
	owner := fingerprintOwners(known)
	const same = "asks for the same certificate (names, CSR, product, validity, organization) as "
	for fp, names := range groups {
		sort.Strings(names)
		if o, ok := owner[fp]; ok {
			e := known.Entries[o]
			what := fmt.Sprintf("order %d", e.OrderID)
			if e.OrderID == 0 {
				what = "the order with alternative order id " + e.Intent.AlternativeOrderID
			}
			for _, n := range names {
				hint := "for a second certificate, make a new CSR"
				if e.OrderID != 0 {
					hint = fmt.Sprintf("if %s was renamed to %s, move the order to the new name: %s; %s",
						o, n, moveCommands(o, n, strconv.Itoa(e.OrderID)), hint)
				}
				out[n] = duplicate{fmt.Sprintf(same+"%s, tracked as %s", what, o), hint}
			}
			continue
		}
		if len(names) > 1 {
			for _, n := range names {
				var others []string
				for _, m := range names {
					if m != n {
						others = append(others, m)
					}
				}
				out[n] = duplicate{same + strings.Join(others, ", "), "keep one of these specs; for a second certificate, make a new CSR"}
			}
		}
	}
	return out
}

// fingerprintOwners returns, by fingerprint, the first entry (by name)
// with a live order or an order intent for it.
func fingerprintOwners(known *state.File) map[string]string {
	owner := map[string]string{}
	for _, name := range known.Names() {
		e := known.Entries[name]
		fp := e.Fingerprint
		if e.OrderID == 0 && e.Intent != nil {
			fp = e.Intent.Fingerprint
		}
		if fp != "" && live(e) && (e.OrderID != 0 || e.Intent != nil) {
			if _, ok := owner[fp]; !ok {
				owner[fp] = name
			}
		}
	}
	return owner
}

// noteFunc adds a note about one spec to the plan.
type noteFunc = func(kind string, orderID int, hint, format string, args ...any)

// posFunc gives an action the spec's name, place and order.
type posFunc = func(Action) Action

// planOne plans one spec d (nil when it is gone) against its entry e.
func (pc *planCtx) planOne(p *Plan, name string, d *spec.Order, e *state.Entry, invalid bool, obs *observed, gone string) {
	note := func(kind string, orderID int, hint, format string, args ...any) {
		p.Notes = append(p.Notes, Note{Kind: kind, Name: name, OrderID: orderID, Message: fmt.Sprintf(format, args...), Hint: hint})
	}
	if d == nil {
		planGone(note, name, e, invalid, gone)
		return
	}
	if e != nil {
		pc.watchTimes(d, e)
	}
	pos := func(a Action) Action {
		a.Name, a.File, a.Line, a.Spec = name, d.File, d.Line, d
		return a
	}
	switch {
	case isNew(e) && d.OrderID != 0:
		pc.planAdopt(p, pos, note, d)
	case isNew(e):
		pc.planNew(p, pos, note, name, d)
	case e.OrderID == 0:
		pc.planUnsettled(p, pos, note, name, d, e)
	case d.OrderID != 0 && d.OrderID != e.OrderID && !slices.Contains(e.PreviousOrderIDs, d.OrderID):
		p.Blocked = append(p.Blocked, pos(Action{Kind: KindAdopt, OrderID: d.OrderID, BlockedBy: BlockedOrderID}))
		note(NoteBlocked, e.OrderID, fmt.Sprintf("set order_id: %d (or remove it); to track order %d instead, run %s, then apply", e.OrderID, d.OrderID, forgetCommand(name, false)),
			"the spec says order_id: %d, but certform tracks order %d for it; nothing is done for this spec", d.OrderID, e.OrderID)
	default:
		pc.planTracked(p, pos, note, name, d, e, obs)
	}
}

// planGone notes the entry e of a spec that is gone, or invalid: its order
// is left as it is.
func planGone(note noteFunc, name string, e *state.Entry, invalid bool, gone string) {
	if e == nil || (e.OrderID == 0 && e.Intent == nil) {
		return
	}
	what := fmt.Sprintf("order %d", e.OrderID)
	if e.OrderID == 0 {
		what = fmt.Sprintf("an order whose outcome is unknown (alternative order id %s)", e.Intent.AlternativeOrderID)
	}
	if invalid {
		note(NoteOrphan, e.OrderID, "fix the spec's errors listed above",
			"the spec is currently invalid; %s is left as it is until it is fixed", what)
		return
	}
	note(NoteOrphan, e.OrderID, fmt.Sprintf("to revoke it, restore the spec with revoke: true; to stop tracking it, run %s", forgetCommand(name, false)),
		"the spec is gone (%s; last seen in %s); nothing is revoked, %s is left as it is", gone, orNone(e.File), what)
}

// planNew plans the order of a spec certform has no order for: blocked
// when CertCentral holds a live order with its names (unless
// allow_existing_names), not planned at all when it asks to be revoked or
// needs a key no store can keep.
func (pc *planCtx) planNew(p *Plan, pos posFunc, note noteFunc, name string, d *spec.Order) {
	if d.Revoke {
		note(NoteWarning, 0, fmt.Sprintf("to revoke an order made elsewhere, adopt it first: %s", importCommand(name, anyOrderID)),
			"revoke is true but certform has no order for this spec; nothing is ordered or revoked")
		return
	}
	if pc.in.NoKeyStore && d.KeyType != "" {
		// Not planned at all: no call, not even the names check.
		blockKeyType(p, pos(Action{Kind: KindOrder}))
		return
	}
	a := pos(Action{Kind: KindOrder, Consulted: d.AllowExistingNames})
	if pc.in.Consulted && !d.AllowExistingNames {
		if found := pc.liveMatches(d); len(found) > 0 {
			a.BlockedBy = BlockedExists
			p.Blocked = append(p.Blocked, a)
			p.Notes = append(p.Notes, pc.existsNote(name, found))
			return
		}
		a.Consulted = true
	}
	p.Actions = append(p.Actions, a)
}

// planUnsettled plans for an entry with no order yet but an intent whose
// outcome is unknown: an order intent is resumed (looked up, and sent
// again once --resend-after has passed); nothing is done while the spec
// names another order or asks for revocation.
func (pc *planCtx) planUnsettled(p *Plan, pos posFunc, note noteFunc, name string, d *spec.Order, e *state.Entry) {
	in := e.Intent
	if d.OrderID != 0 {
		note(NoteWarning, 0, fmt.Sprintf("after checking CertCentral for alternative order id %s, run %s; the next apply adopts order %d", in.AlternativeOrderID, forgetCommand(name, true), d.OrderID),
			"an earlier order's outcome is unknown (alternative order id %s) and the spec now names order %d; nothing is done", in.AlternativeOrderID, d.OrderID)
		return
	}
	if in.Action != state.IntentOrder {
		return
	}
	if d.Revoke {
		note(NoteWarning, 0, "run certform apply with revoke: false to resolve the earlier order first, then ask for revocation",
			"an earlier order's outcome is unknown (alternative order id %s) and the spec asks for revocation; nothing is done", in.AlternativeOrderID)
		return
	}
	a := pos(Action{Kind: KindOrder, Resume: in.AlternativeOrderID, ResendAt: resendAt(in, pc.in.ResendAfter)})
	p.Actions = append(p.Actions, a)
	if pc.in.Now.Before(a.ResendAt) {
		note(NoteWaiting, 0, fmt.Sprintf("CertCentral may still be working on it; to give up on it after checking CertCentral, run %s", forgetCommand(name, true)),
			"the order sent at %s has an unknown outcome; apply looks alternative order id %s up and adopts the order if found; it is not sent again before %s",
			in.Started.UTC().Format(time.RFC3339), in.AlternativeOrderID, a.ResendAt.Format(time.RFC3339))
	}
}

// planTracked plans for a spec whose order certform tracks: revocation
// and closed orders first, then renewal, and else the changes made in
// place (settings toggled, a reissue).
func (pc *planCtx) planTracked(p *Plan, pos posFunc, note noteFunc, name string, d *spec.Order, e *state.Entry, obs *observed) {
	status := e.Status
	if obs != nil {
		status = obs.Status
	}
	if pc.planRevokeOrClosed(p, pos, note, name, d, e, status, obs) {
		return
	}
	if pc.planRenewal(p, pos, note, d, e, status, obs) {
		return
	}
	if why := waitingFor[status]; why != "" {
		msg, hint := waitingNote(e, d, status, why)
		note(NoteWaiting, e.OrderID, hint, "%s", msg)
	}
	changedInPlace := pc.fieldChanges(note, d, e, status)
	ct, ar := e.DisableCT, e.AutoReissue
	if obs != nil {
		ct, ar = obs.DisableCT, obs.AutoReissue
	}
	if d.DisableCT != ct {
		p.Actions = append(p.Actions, pos(Action{Kind: KindSetCT, OrderID: e.OrderID, From: boolp(ct), To: boolp(d.DisableCT)}))
	}
	if d.AutoReissue != ar {
		p.Actions = append(p.Actions, pos(Action{Kind: KindSetAutoReissue, OrderID: e.OrderID, From: boolp(ar), To: boolp(d.AutoReissue)}))
	}
	pc.planReissue(p, pos, note, d, e, status, changedInPlace, d.DisableCT != ct)
}

// planRevokeOrClosed plans what a revocation asked for, done or pending
// needs, and notes an order closed in CertCentral (an expired one may be
// renewed); true when nothing else is planned for the spec.
func (pc *planCtx) planRevokeOrClosed(p *Plan, pos posFunc, note noteFunc, name string, d *spec.Order, e *state.Entry, status string, obs *observed) bool {
	revokeUnknown := e.Intent != nil && e.Intent.Action == state.IntentRevoke
	switch {
	case !d.Revoke && (e.Revoke != nil || revokeUnknown):
		noteRevokeStays(note, e, revokeUnknown)
	case d.Revoke && e.Intent != nil && e.Intent.Action == state.IntentRenew:
		// Revoking now would drop the renewal's intent: a renewal that
		// landed would be bought and never tracked.
		note(NoteWarning, e.OrderID, "run certform apply with revoke: false to settle the renewal first; certform then tracks the renewal, and revoke: true acts on it",
			"the renewal of order %d sent at %s has an unknown outcome (alternative order id %s) and the spec asks for revocation; nothing is done",
			e.OrderID, e.Intent.Started.UTC().Format(time.RFC3339), e.Intent.AlternativeOrderID)
	case d.Revoke && (status == "revoked" || (e.Revoke != nil && e.Revoke.Status == "approved")):
	case d.Revoke && e.Revoke != nil && e.Revoke.Status == "rejected" && e.Revoke.Comments == d.RevokeComments:
		note(NotePending, e.OrderID, "to ask again, change revoke_comments",
			"the revoke request %d was rejected by an administrator", e.Revoke.RequestID)
	case d.Revoke && e.Revoke != nil && e.Revoke.Status != "rejected":
		note(NotePending, e.OrderID, "an administrator approves or rejects it in CertCentral",
			"revoke request %d is %s, waiting for approval", e.Revoke.RequestID, e.Revoke.Status)
	case d.Revoke && digicert.IsClosed(status):
		note(NoteDrift, e.OrderID, "", "the order is %s in CertCentral; there is nothing to revoke", status)
	case d.Revoke:
		planRevoke(p, pos, note, d, e, obs, revokeUnknown)
	case status == "expired" && pc.planRenewal(p, pos, note, d, e, status, obs):
	case digicert.IsClosed(status):
		note(NoteDrift, e.OrderID, "for a new certificate, write a spec with a new name; to stop tracking this one, run "+forgetCommand(name, false).String(),
			"the order is %s in CertCentral, changed outside certform; certform changes nothing on it", status)
	default:
		return false
	}
	return true
}

// noteRevokeStays notes that setting revoke back to false does not undo
// a revocation asked for (or one whose outcome is unknown).
func noteRevokeStays(note noteFunc, e *state.Entry, revokeUnknown bool) {
	if e.Revoke != nil {
		note(NoteIrreversible, e.OrderID, "revocation cannot be undone; for a new certificate, write a spec with a new name",
			"revoke was requested on %s (request %d, %s); setting revoke back to false does not undo it",
			e.Revoke.Time.UTC().Format("2006-01-02"), e.Revoke.RequestID, e.Revoke.Status)
		return
	}
	note(NoteIrreversible, e.OrderID, "check the order in CertCentral; revocation cannot be undone",
		"a revoke request was sent and its outcome is unknown; setting revoke back to false does not undo it")
}

// planRevoke plans the revocation of the order e tracks, blocked unless
// its names (as CertCentral last reported them) are the spec's.
func planRevoke(p *Plan, pos posFunc, note noteFunc, d *spec.Order, e *state.Entry, obs *observed, revokeUnknown bool) {
	a := pos(Action{Kind: KindRevoke, OrderID: e.OrderID, Comments: d.RevokeComments, Recheck: revokeUnknown})
	have := entryNames(e)
	if obs != nil && len(obs.Names) > 0 {
		have = obs.Names
	}
	a.OrderNames = have
	want := specNames(d)
	if !nameset.Same(have, want) {
		a.BlockedBy = BlockedNames
	}
	switch {
	case len(have) == 0:
		p.Blocked = append(p.Blocked, a)
		note(NoteBlocked, e.OrderID, "run with --refresh so that certform reads the order's names from CertCentral",
			"the spec asks to revoke order %d, but the state does not record the order's names; nothing is revoked", e.OrderID)
	case !nameset.Same(have, want):
		p.Blocked = append(p.Blocked, a)
		note(NoteBlocked, e.OrderID, fmt.Sprintf("a revoke acts on the order the spec describes; if order %d must go, write its names in the spec; if this spec is meant for a new certificate, give it a new name", e.OrderID),
			"the spec asks to revoke order %d, but the order's names (%s) are not the spec's (%s); nothing is revoked",
			e.OrderID, strings.Join(have, ", "), strings.Join(want, ", "))
	default:
		p.Actions = append(p.Actions, a)
	}
}

// fieldChanges notes the spec's changes that order e cannot take (fields
// fixed once ordered, ordering-only options) and returns the reissuable
// fields that changed, the names judged by namesChanged.
func (pc *planCtx) fieldChanges(note noteFunc, d *spec.Order, e *state.Entry, status string) []string {
	var changedInPlace, changedFixed []string
	// The fixed fields are built only when needed: an idle cycle over
	// 10,000 specs whose fingerprints match builds none.
	var fixed map[string]string
	fp := d.Fingerprint
	// A spec with the entry's fingerprint has the entry's fixed fields
	// (certform writes an entry's fingerprint from its fixed fields), so
	// no CSR was added to an order adopted without one: an idle cycle
	// looks nothing up in the entry's fields.
	matches := fp == e.Fingerprint
	if csr, ok := e.Fixed["csr"]; !matches && ok && csr == "" && e.Fixed["key_type"] == "" {
		if fixed = d.FixedFields(); fixed["csr"] != "" {
			// The order was adopted without its CSR: a CSR given later
			// is taken as the order's, not as a change.
			fixed["csr"] = ""
			fp = spec.Fingerprint(fixed)
		}
	}
	if e.Fingerprint != "" && fp != e.Fingerprint {
		if fixed == nil {
			fixed = d.FixedFields()
		}
		for _, k := range changedKeys(e.Fixed, fixed) {
			if spec.ReissueChanges(k) {
				changedInPlace = append(changedInPlace, k)
			} else {
				changedFixed = append(changedFixed, k)
			}
		}
		if len(changedInPlace)+len(changedFixed) == 0 {
			note(NoteNeedsNewOrder, e.OrderID, "for a new order, give the spec a new name",
				"fields that are fixed once ordered changed; order %d keeps its values", e.OrderID)
		}
	}
	if len(e.Names) > 0 {
		changedInPlace = pc.namesChanged(note, d, e, status, changedInPlace)
	}
	if len(changedFixed) > 0 {
		note(NoteNeedsNewOrder, e.OrderID, "certform does not buy a new certificate by itself: for a new order, give the spec a new name; revoke the old order (revoke: true under the old name) only once the new certificate is installed",
			"%s changed; %s fixed once ordered, and order %d keeps %s", strings.Join(changedFixed, ", "), isAre(len(changedFixed)), e.OrderID, itThem(len(changedFixed)))
	}
	if changed := pc.optionsChanged(e.Options, d); len(changed) > 0 {
		note(NoteNoEffect, e.OrderID, "",
			"%s changed; %s only used while ordering and has no effect on order %d", strings.Join(changed, ", "), isAre(len(changed)), e.OrderID)
	}
	return changedInPlace
}

// namesChanged returns changed (the reissuable fields that changed) with
// the names judged on the names CertCentral last reported for the order
// (e.Names), not on those certform asked for: "common_name" and
// "dns_names" are in it when the order's differ from the spec's. Names
// that differ from the spec's and that certform did not ask for (changed
// in CertCentral's console, say) are a drift note; the reissue this plans
// brings them back to the spec's.
func (pc *planCtx) namesChanged(note noteFunc, d *spec.Order, e *state.Entry, status string, changed []string) []string {
	have, want := e.Names, specNames(d)
	changed = slices.DeleteFunc(slices.Clone(changed), func(k string) bool { return k == "common_name" || k == "dns_names" })
	if have[0] != want[0] {
		changed = append(changed, "common_name")
	}
	if !slices.Equal(have[1:], want[1:]) {
		changed = append(changed, "dns_names")
	}
	sort.Strings(changed)
	asked := entryFixedNames(e)
	if nameset.Same(have, want) || asked == nil || nameset.Same(have, asked) || e.Intent != nil || reissuePending(e, status) || pc.rejected(d, e) {
		return changed
	}
	note(NoteDrift, e.OrderID, "if the change made in CertCentral is wanted, write the order's names in the spec; otherwise certform reissues the order with the spec's names (a reissue that drops a name counts against --max-revocations)",
		"order %d's names in CertCentral changed outside certform (%s); a reissue to the spec's names is planned", e.OrderID, describeNames(have, want))
	return changed
}

// rejected reports whether CertCentral rejected certform's last reissue
// of the entry's order and the spec still asks for the same content: the
// same reissuable fields and the same CT setting.
func (pc *planCtx) rejected(d *spec.Order, e *state.Entry) bool {
	rj := e.ReissueRejected
	if rj == nil || rj.DisableCT != d.DisableCT {
		return false
	}
	fixed := d.FixedFields()
	for k, v := range rj.Fixed {
		if fixed[k] != v {
			return false
		}
	}
	return true
}

// planReissue plans a reissue of an order (after its toggles, which the
// same worker makes first): to resume one whose outcome is unknown, for
// changed names, CSR, signature hash or server platform, after a
// disable_ct change (unless reissue_on_ct_change is false), or when the
// certificate ends within reissue_before_days and auto_reissue is off.
// Only an issued order with no reissue pending is reissued; otherwise the
// reissue waits, with a note.
func (pc *planCtx) planReissue(p *Plan, pos posFunc, note noteFunc, d *spec.Order, e *state.Entry, status string, changed []string, ctChanged bool) {
	a := pos(Action{Kind: KindReissue, OrderID: e.OrderID, Changed: changed})
	if !pc.reissueReason(note, d, e, status, ctChanged, &a) {
		return
	}
	if a.Reason != ReissueResume && pc.reissueWaits(note, d, e, status, a.Reason) {
		return
	}
	if !d.HasCSR() && d.KeyType == "" && a.Reason != ReissueResume {
		note(NoteNeedsCSR, e.OrderID, "add csr or csr_file to the spec (the request for the key the new certificate is for), or key_type for certform to make the key",
			"a reissue (%s) is due, but the spec gives no CSR; nothing is sent until it does", a.Reason)
		return
	}
	old := entryNames(e)
	a.OrderNames = old
	a.RevokesPrevious = revokesPrevious(old, specNames(d))
	p.Actions = append(p.Actions, a)
}

// reissueReason sets why a reissue of order e is due (a.Reason, and
// a.Changed for a disable_ct change), and reports whether one is: none,
// or one held back by the half-life rule or left to DigiCert's
// auto-reissue (with a note).
func (pc *planCtx) reissueReason(note noteFunc, d *spec.Order, e *state.Entry, status string, ctChanged bool, a *Action) bool {
	now := pc.in.Now
	switch {
	case e.Intent != nil && e.Intent.Action == state.IntentReissue:
		a.Reason, a.Recheck = ReissueResume, true
	case pc.in.Replace[d.Name] && e.CertificateID != 0:
		a.Reason = ReissueReplace
	case len(a.Changed) > 0:
		a.Reason = ReissueChanged
		if ctChanged && d.ReissueOnCTChange {
			a.Changed = append(a.Changed, "disable_ct")
			sort.Strings(a.Changed)
		}
	case ctChanged && d.ReissueOnCTChange && e.CertificateID != 0:
		a.Reason, a.Changed = ReissueCT, []string{"disable_ct"}
	case e.CertificateID != 0 && foreignKey(d, e):
		a.Reason = ReissueKey
	case expiring(e, d.ReissueBeforeDays, now) && !d.AutoReissue:
		if half, ok := halfLife(e.NotBefore, e.NotAfter); ok && now.Before(half) {
			note(NoteWarning, e.OrderID, "reissue_before_days is not shorter than the certificate's lifetime, so every new certificate would be reissued at once: lower reissue_before_days in the spec",
				"the certificate ends at %s, within reissue_before_days (%d), but it has not lived half its lifetime (from %s); certform does not reissue it for its end before %s",
				e.NotAfter.UTC().Format(time.RFC3339), d.ReissueBeforeDays, e.NotBefore.UTC().Format(time.RFC3339), half.UTC().Format(time.RFC3339))
			return false
		}
		a.Reason = ReissueExpiring
	case d.AutoReissue && reissueOverdue(e, status, now):
		note(NoteWarning, e.OrderID, "check the order's reissue request in CertCentral, or set auto_reissue: false so that certform reissues it",
			"the certificate ends at %s and DigiCert has not reissued it, although auto_reissue is on", e.NotAfter.UTC().Format(time.RFC3339))
		return false
	default:
		return false
	}
	return true
}

// reissueWaits notes and reports why a new reissue (for reason) of order
// e waits: CertCentral rejected the same reissue, one is pending, or the
// order is not issued.
func (pc *planCtx) reissueWaits(note noteFunc, d *spec.Order, e *state.Entry, status string, reason string) bool {
	if rj := e.ReissueRejected; rj != nil && pc.rejected(d, e) {
		what := "the same names and CSR"
		if len(rj.Changed) > 0 {
			what = "a change of " + strings.Join(rj.Changed, ", ")
		}
		requested := ""
		if !rj.Requested.IsZero() {
			requested = " requested at " + rj.Requested.UTC().Format(time.RFC3339)
		}
		note(NoteRejected, e.OrderID, "to ask again, change the spec (names, CSR, signature hash, server platform or disable_ct), or ask the administrator who rejected it",
			"the reissue of order %d%s (%s; names %s) was rejected in CertCentral, seen at %s; it is not asked again while the spec asks for the same (a reissue for %s waits)",
			e.OrderID, requested, what, strings.Join(rj.Names, ", "), rj.Seen.UTC().Format(time.RFC3339), reason)
		return true
	}
	if reissuePending(e, status) {
		note(NoteWaiting, e.OrderID, "nothing to do: certform reads the order again every cycle",
			"a reissue (%s) waits until the reissue requested at %s is issued", reason, e.ReissuedAt.UTC().Format(time.RFC3339))
		return true
	}
	if status != "issued" {
		note(NoteWaiting, e.OrderID, "the reissue is made once CertCentral shows the order issued",
			"a reissue (%s) waits: order %d is %s", reason, e.OrderID, orNone(status))
		return true
	}
	return false
}

// planRenewal plans what keeps an order alive at its end, and reports
// whether it planned anything (then nothing else is planned for the
// order: a renewal carries the spec's values). CertCentral renewed the
// order (renewed_order_id): the renewal is adopted, whenever it was made.
// An earlier renewal's outcome is unknown: it is resumed like an order.
// The order ends within renew_before_days, or has expired, and is issued
// (or expired): a renewal order is placed, unless CertCentral holds
// another live order with the spec's names (the order renewed, and the
// spec's earlier orders, do not count).
func (pc *planCtx) planRenewal(p *Plan, pos posFunc, note noteFunc, d *spec.Order, e *state.Entry, status string, obs *observed) bool {
	now := pc.in.Now
	renewed, renewedID := e.Renewed, e.RenewedOrderID
	if obs != nil {
		renewed, renewedID = obs.Renewed, obs.RenewedOrderID
	}
	if e.Intent != nil && e.Intent.Action != state.IntentRenew {
		return false // another call's outcome is settled first
	}
	ends := !e.OrderValidTill.IsZero() && !now.Before(renewFrom(e, d.RenewBeforeDays))
	switch {
	case renewedID != 0 && renewedID != e.OrderID:
		p.Actions = append(p.Actions, pos(Action{Kind: KindAdoptRenewal, OrderID: e.OrderID, RenewedOrderID: renewedID}))
		return true
	case e.Intent != nil:
		in := e.Intent
		a := pos(Action{Kind: KindRenew, OrderID: e.OrderID, Reason: RenewResume, Resume: in.AlternativeOrderID,
			ResendAt: resendAt(in, pc.in.ResendAfter), OrderEnds: e.OrderValidTill})
		p.Actions = append(p.Actions, a)
		if now.Before(a.ResendAt) {
			note(NoteWaiting, e.OrderID, fmt.Sprintf("CertCentral may still be working on it; to give up on it after checking CertCentral, run %s", forgetCommand(d.Name, true)),
				"the renewal of order %d sent at %s has an unknown outcome; apply looks alternative order id %s up and tracks the new order if found; it is not sent again before %s",
				e.OrderID, in.Started.UTC().Format(time.RFC3339), in.AlternativeOrderID, a.ResendAt.Format(time.RFC3339))
		}
		return true
	case !ends && (status != "expired" || !e.OrderValidTill.IsZero()):
		// An expired order whose end is not known is renewed; one that
		// lasts beyond renew_before_days is left to the drift note.
		return false
	case renewed:
		note(NoteWarning, e.OrderID, fmt.Sprintf("find the renewal in CertCentral, then track it: %s", moveCommands(d.Name, d.Name, renewalOrderID)),
			"order %d ends at %s and CertCentral says it was renewed, but not by which order; certform does not renew it again", e.OrderID, e.OrderValidTill.UTC().Format(time.RFC3339))
		return true
	case status != "issued" && status != "expired":
		note(NoteWaiting, e.OrderID, "the renewal is placed once CertCentral shows the order issued",
			"order %d ends at %s; its renewal waits: the order is %s", e.OrderID, e.OrderValidTill.UTC().Format(time.RFC3339), orNone(status))
		return false
	}
	if halfLifeHolds(note, d, e, now) {
		return false
	}
	return pc.planRenewOrder(p, pos, note, d, e, status)
}

// halfLifeHolds notes and reports whether the half-life rule holds the
// renewal of order e back. The rule holds for orders certform bought (and
// renewals of them): an order imported or adopted started before certform
// saw it, and it is renewed as soon as it is due; its renewal is
// certform's.
func halfLifeHolds(note noteFunc, d *spec.Order, e *state.Entry, now time.Time) bool {
	start := orderStart(e)
	if e.Imported || start.IsZero() || e.OrderValidTill.IsZero() {
		return false
	}
	half, ok := halfLife(start, e.OrderValidTill)
	if !ok {
		note(NoteWarning, e.OrderID, "check this machine's clock (and CertCentral's order): certform renews only an order that has lived half its validity",
			"order %d ends at %s, not after certform recorded its start (%s); certform does not renew it", e.OrderID, e.OrderValidTill.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
		return true
	}
	if now.Before(half) {
		note(NoteWarning, e.OrderID, "renew_before_days is not shorter than the order's validity, so every new order would be renewed at once: lower renew_before_days in the spec",
			"order %d ends at %s, within renew_before_days (%d), but it has not lived half its validity (from %s); certform does not renew it before %s",
			e.OrderID, e.OrderValidTill.UTC().Format(time.RFC3339), d.RenewBeforeDays, start.UTC().Format(time.RFC3339), half.UTC().Format(time.RFC3339))
		return true
	}
	return false
}

// planRenewOrder plans a renewal order for order e, blocked when
// CertCentral holds another live order with the spec's names (the order
// renewed and the spec's earlier orders aside), not planned without a
// CSR; it reports true (nothing else is planned for the order).
func (pc *planCtx) planRenewOrder(p *Plan, pos posFunc, note noteFunc, d *spec.Order, e *state.Entry, status string) bool {
	a := pos(Action{Kind: KindRenew, OrderID: e.OrderID, Reason: RenewEnding, OrderEnds: e.OrderValidTill, Consulted: d.AllowExistingNames})
	if status == "expired" {
		a.Reason = RenewExpired
	}
	if !d.HasCSR() && d.KeyType == "" {
		note(NoteNeedsCSR, e.OrderID, "add csr or csr_file to the spec (the request for the key the renewal's certificate is for), or key_type for certform to make the key",
			"order %d ends at %s and needs a renewal, but the spec gives no CSR; nothing is ordered until it does", e.OrderID, e.OrderValidTill.UTC().Format(time.RFC3339))
		return true
	}
	if pc.in.Consulted && !d.AllowExistingNames {
		if found := pc.liveMatches(d, append([]int{e.OrderID}, e.PreviousOrderIDs...)...); len(found) > 0 {
			a.BlockedBy = BlockedExists
			p.Blocked = append(p.Blocked, a)
			n := pc.existsNote(d.Name, found)
			n.Message = strings.Replace(n.Message, "; it is not ordered", fmt.Sprintf("; order %d is not renewed", e.OrderID), 1)
			n.Hint = fmt.Sprintf("if order %d is the renewal, track it: %s; to renew anyway, set allow_existing_names: true in the spec", found[0].ID, moveCommands(d.Name, d.Name, strconv.Itoa(found[0].ID)))
			p.Notes = append(p.Notes, n)
			return true
		}
		a.Consulted = true
	}
	p.Actions = append(p.Actions, a)
	return true
}

// ReissueOverdue reports whether DigiCert should have auto-reissued the
// entry's certificate by now: auto_reissue is on (as last applied), the
// certificate ends within 7 days on an order that lasts longer, and no
// reissue is pending. certform warns about it (a note; the daemon's
// certform_reissue_overdue metric).
func ReissueOverdue(e *state.Entry, now time.Time) bool {
	return e.AutoReissue && e.OrderID != 0 && !digicert.IsClosed(e.Status) && reissueOverdue(e, e.Status, now)
}

// ReissueOverdueFrom returns a time at or after which ReissueOverdue(e,
// now) may change as the clock alone moves on (it then holds for every
// later time while e does not change); zero when the clock alone never
// changes it.
func ReissueOverdueFrom(e *state.Entry) time.Time {
	if e.NotAfter.IsZero() {
		return time.Time{}
	}
	return expiringFrom(e, autoReissueWarnDays)
}

func reissueOverdue(e *state.Entry, status string, now time.Time) bool {
	return expiring(e, autoReissueWarnDays, now) && !reissuePending(e, status)
}

// planAdopt plans the adoption of the order a new spec names with
// order_id. An order another entry tracks is blocked. When the order was
// read (pc.in.Adoptees), it must exist, be live and have exactly the
// spec's names; the adoption is then Verified and the toggles the spec
// asks for follow it. An order not read is planned unverified: apply
// reads and checks it first.
func (pc *planCtx) planAdopt(p *Plan, pos posFunc, note noteFunc, d *spec.Order) {
	a := pos(Action{Kind: KindAdopt, OrderID: d.OrderID})
	blocked := func(by, hint, format string, args ...any) {
		a.BlockedBy = by
		p.Blocked = append(p.Blocked, a)
		note(NoteBlocked, d.OrderID, hint, format, args...)
	}
	if owner, ok := pc.tracked[d.OrderID]; ok {
		blocked(BlockedDuplicate, fmt.Sprintf("one order, one spec: if %s was renamed to %s, run %s; the next apply adopts the order here", owner, d.Name, forgetCommand(owner, false)),
			"order %d is tracked as %s; nothing is adopted", d.OrderID, owner)
		return
	}
	ad := pc.in.Adoptees[d.OrderID]
	if ad == nil {
		p.Actions = append(p.Actions, a)
		return
	}
	if by, msg, hint := adoptProblem(d, ad); by != "" {
		blocked(by, hint, "%s", msg)
		return
	}
	a.Verified, a.OrderStatus, a.adoptee = true, ad.Status, ad
	p.Actions = append(p.Actions, a)
	if d.Revoke {
		return // the revoke is planned once the order is tracked
	}
	ct, ar := ad.settings(d)
	if d.DisableCT != ct {
		p.Actions = append(p.Actions, pos(Action{Kind: KindSetCT, OrderID: d.OrderID, From: boolp(ct), To: boolp(d.DisableCT)}))
	}
	if d.AutoReissue != ar {
		p.Actions = append(p.Actions, pos(Action{Kind: KindSetAutoReissue, OrderID: d.OrderID, From: boolp(ar), To: boolp(d.AutoReissue)}))
	}
}

// adoptProblem says why the order ad cannot be adopted for spec d (what
// blocks it, the message and the hint), or "" when it can: it must exist,
// be live, and have exactly the spec's names.
func adoptProblem(d *spec.Order, ad *adoptee) (blockedBy, msg, hint string) {
	switch {
	case ad.Missing:
		return BlockedOrderID, fmt.Sprintf("order %d does not exist in this CertCentral account; nothing is adopted", d.OrderID),
			"check order_id against the order's id in CertCentral"
	case digicert.IsClosed(ad.Status):
		return BlockedOrderID, fmt.Sprintf("order %d is %s in CertCentral; only a live order is adopted", d.OrderID, ad.Status),
			"for a new order, remove order_id from the spec"
	}
	want := specNames(d)
	if nameset.Same(ad.Names, want) {
		return "", "", ""
	}
	extra, missing := nameset.Diff(want, ad.Names)
	var parts []string
	if len(extra) > 0 {
		parts = append(parts, "only on the order: "+strings.Join(extra, ", "))
	}
	if len(missing) > 0 {
		parts = append(parts, "only in the spec: "+strings.Join(missing, ", "))
	}
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("the order's common name is %s, the spec's %s", first(ad.Names), want[0]))
	}
	return BlockedNames, fmt.Sprintf("order %d's names are not the spec's (%s); nothing is adopted", d.OrderID, strings.Join(parts, "; ")),
		"write the order's names in the spec, or check order_id"
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// adopteeFrom reduces an order read from CertCentral to what adoption
// checks.
func adopteeFrom(o *digicert.Order) *adoptee {
	return &adoptee{Status: o.Status, Names: nameset.List(o.Certificate.CommonName, o.Certificate.DNSNames),
		DisableCT: o.DisableCT.Or(false), AutoReissue: o.AutoReissue.Or(false), order: o}
}

// expiring reports whether the entry's certificate ends within days of
// now while its order lasts beyond it (a reissue can help).
func expiring(e *state.Entry, days int, now time.Time) bool {
	return !e.NotAfter.IsZero() && !e.OrderValidTill.IsZero() && e.OrderValidTill.After(e.NotAfter) &&
		!now.Before(expiringFrom(e, days))
}

// expiringFrom returns when the entry's certificate starts ending within
// days (see expiring).
func expiringFrom(e *state.Entry, days int) time.Time {
	return e.NotAfter.Add(-time.Duration(days) * 24 * time.Hour)
}

// renewFrom returns when the entry's order starts ending within days,
// its renew_before_days (see planRenewal).
func renewFrom(e *state.Entry, days int) time.Time {
	return e.OrderValidTill.Add(-time.Duration(days) * 24 * time.Hour)
}

// orderStart returns the earliest known start of the entry's order: when
// certform placed or adopted it (OrderedAt) or when its current
// certificate starts (NotBefore), whichever is earlier; zero when neither
// is known. For an order adopted late this is later than the order's real
// start, which only delays its renewal towards the middle of what is left.
func orderStart(e *state.Entry) time.Time {
	start := e.OrderedAt
	if !e.NotBefore.IsZero() && (start.IsZero() || e.NotBefore.Before(start)) {
		start = e.NotBefore
	}
	return start
}

// halfLife returns the middle of [start, end]: an order is renewed, and a
// certificate reissued for its end, only from then on (issue 21: a
// renew_before_days or reissue_before_days not shorter than the validity
// would otherwise buy or reissue every cycle). ok is false when end is not
// after start (a clock stepped ahead when the start was recorded); a zero
// start or end gives the zero time and ok, which holds nothing back.
func halfLife(start, end time.Time) (time.Time, bool) {
	if start.IsZero() || end.IsZero() {
		return time.Time{}, true
	}
	if !end.After(start) {
		return time.Time{}, false
	}
	return start.Add(end.Sub(start) / 2), true
}

// reissuePending reports whether a reissue of the order waits for its
// certificate: CertCentral says so, or certform's last reissue has not
// yet shown another current certificate.
func reissuePending(e *state.Entry, status string) bool {
	return status == "reissue_pending" || e.ReissuedFrom != 0 && e.CertificateID == e.ReissuedFrom
}

// removedNames returns the names in old that are not in cur.
func removedNames(old, cur []string) []string {
	var out []string
	for _, n := range old {
		if !slices.Contains(cur, n) {
			out = append(out, n)
		}
	}
	return out
}

func itThem(n int) string {
	if n == 1 {
		return "its value"
	}
	return "their values"
}

// waitingNote says what an order waits for and what a person can do.
func waitingNote(e *state.Entry, d *spec.Order, status, why string) (msg, hint string) {
	msg = fmt.Sprintf("order %d is %s: it waits for %s", e.OrderID, status, why)
	names := strings.Join(specNames(d), ", ")
	switch {
	case status == "needs_approval":
		hint = "approve the request in CertCentral; certform reads the order again every cycle"
	case status == "pending" && e.DCVToken != "":
		msg += fmt.Sprintf(" of %s with the token %s (%s)", names, e.DCVToken, e.DCVMethod)
		switch e.DCVMethod {
		case "dns-txt-token":
			hint = "publish a TXT record holding the token at each name (or at _dnsauth.NAME)"
		case "dns-cname-token":
			hint = "publish a CNAME record TOKEN.NAME pointing to dcv.digicert.com for each name"
		case "http-token":
			hint = "serve the token at http://NAME/.well-known/pki-validation/fileauth.txt for each name"
		default:
			hint = "publish the token as the order's validation method asks"
		}
		hint += "; CertCentral then validates, and certform reads the order again every cycle"
	case status == "pending":
		msg += " of " + names
		hint = "complete the domain validation in CertCentral (for e-mail validation, the domain's contacts answer DigiCert's e-mail)"
	default:
		hint = "nothing to do: certform reads the order again every cycle"
	}
	return msg, hint
}

// existsNote says that live orders with a new spec's names exist, and how
// to track one of them instead of buying again.
func (pc *planCtx) existsNote(name string, found []liveOrder) Note {
	var what []string
	for _, o := range found {
		w := fmt.Sprintf("order %d (%s", o.ID, o.Status)
		if t, ok := pc.tracked[o.ID]; ok {
			w += ", tracked as " + t
		}
		what = append(what, w+")")
	}
	id := found[0].ID
	hint := fmt.Sprintf("to track it, run %s", importOrder(name, id))
	if t, ok := pc.tracked[id]; ok {
		hint = fmt.Sprintf("if %s was renamed to %s, run %s", t, name, moveCommands(t, name, strconv.Itoa(id)))
	}
	hint += "; for a second, separate order with the same names, set allow_existing_names: true in the spec"
	return Note{Kind: NoteExists, Name: name, OrderID: id,
		Message: fmt.Sprintf("CertCentral already has a live order with exactly these names: %s; it is not ordered", strings.Join(what, ", ")),
		Hint:    hint}
}

func isAre(n int) string {
	if n == 1 {
		return "it is"
	}
	return "they are"
}

func orNone(s string) string {
	if s == "" {
		return "an unknown file"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// foreignKey reports whether the entry's current certificate is known to
// be for a key that is neither the spec CSR's nor one certform holds for
// the spec: delivery found it so (ForeignKeyCertificateID), or the spec
// has key_type and certform holds no key for the order (one imported or
// adopted) or only one of another type (a state an older certform wrote
// when a key_type change reissued with the old key).
func foreignKey(d *spec.Order, e *state.Entry) bool {
	if e.ForeignKeyCertificateID != 0 && e.ForeignKeyCertificateID == e.CertificateID {
		return true
	}
	return d.KeyType != "" && !d.HasCSR() && e.Intent == nil && (e.Key == nil || e.Key.Type != string(d.KeyType))
}
