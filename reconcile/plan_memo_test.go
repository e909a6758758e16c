package reconcile

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"
	"weak"

	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// memoRig is a daemon's Reconciler (it has a spec cache, so it keeps its
// plans between cycles) and the input of one cycle.
func memoRig(specs []*spec.Order, f *state.File, now time.Time) (*Reconciler, planInput) {
	return &Reconciler{Cache: spec.NewCache()}, planInput{Desired: specs, Known: f, Now: now, MaxRevocations: 1, MaxPurchases: -1}
}

func TestPlanOf_clockCrossesRenewal(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	o := mkOrder("shop")
	// The order started a year ago and ends in 40 days: its renewal is
	// due 10 days from t0 (renew_before_days 30).
	e := entryFor(o, 100001, func(e *state.Entry) {
		e.OrderedAt, e.OrderValidTill = t0.AddDate(-1, 0, 0), t0.Add(40*24*time.Hour)
	})
	o.RenewBeforeDays = 30
	r, in := memoRig([]*spec.Order{o}, known(map[string]*state.Entry{"shop": e}), t0)
	if p := r.planOf(in); len(p.Actions) != 0 {
		t.Fatalf("at t0: %+v, want no action", p.Actions)
	}
	in.Now = t0.Add(10*24*time.Hour - time.Second)
	if p := r.planOf(in); len(p.Actions) != 0 {
		t.Fatalf("a second before the renewal is due: %+v, want no action", p.Actions)
	}
	in.Now = t0.Add(10 * 24 * time.Hour)
	p := r.planOf(in)
	if len(p.Actions) != 1 || p.Actions[0].Kind != KindRenew {
		t.Fatalf("once the renewal is due: %+v, want one renewal (the clock alone changed)", p.Actions)
	}
	// The clock set back to before the renewal is due plans again.
	in.Now = t0.Add(10*24*time.Hour - time.Second)
	if p := r.planOf(in); len(p.Actions) != 0 || !reflect.DeepEqual(p, plan(in)) {
		t.Fatalf("the clock back a second before the renewal is due: %+v, want no action", p.Actions)
	}
}

func TestPlanOf_inputChanged(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	o := mkOrder("shop")
	f := known(map[string]*state.Entry{"shop": entryFor(o, 100001)})
	r, in := memoRig([]*spec.Order{o}, f, t0)
	if p := r.planOf(in); len(p.Actions) != 0 {
		t.Fatalf("unchanged: %+v", p.Actions)
	}
	// A changed spec is another *spec.Order (the spec cache's).
	in.Desired = []*spec.Order{mkOrder("shop", withCT)}
	if p := r.planOf(in); len(p.Actions) != 1 || p.Actions[0].Kind != KindSetCT {
		t.Fatalf("spec changed: %+v, want set_ct", p.Actions)
	}
	// A changed state is another copy (the store's Frozen), here one
	// where another process recorded disable_ct.
	in.Known = known(map[string]*state.Entry{"shop": entryFor(o, 100001, func(e *state.Entry) { e.DisableCT = true })})
	if p := r.planOf(in); len(p.Actions) != 0 {
		t.Fatalf("state changed: %+v, want none", p.Actions)
	}
	// A new spec.
	in.Desired = append(in.Desired, mkOrder("api"))
	if p := r.planOf(in); len(p.Actions) != 1 || p.Actions[0].Kind != KindOrder || p.Actions[0].Name != "api" {
		t.Fatalf("new spec: %+v, want the order of api", p.Actions)
	}
	// The clock going back plans again.
	in.Now = t0.Add(-time.Hour)
	if p := r.planOf(in); len(p.Actions) != 1 || !reflect.DeepEqual(p, plan(in)) {
		t.Fatalf("clock back: %+v", p.Actions)
	}
	// What the caller does to a plan handed out (holdOnClock,
	// validatedNotes and addStep set, move and append) does not change
	// the next: neither to one handed out from the kept plan ...
	change := func(p *Plan) {
		p.Actions[0].Name = "changed"
		p.Blocked = append(p.Blocked, p.Actions[0])
		p.Notes = append(p.Notes, Note{Kind: NoteWarning})
	}
	change(r.planOf(in))
	if q := r.planOf(in); !reflect.DeepEqual(q, plan(in)) {
		t.Fatalf("the kept plan changed with the one handed out: %+v %+v %+v", q.Actions, q.Blocked, q.Notes)
	}
	// ... nor to the one planned when the plan was kept.
	in.Now = t0.Add(-2 * time.Hour)
	change(r.planOf(in))
	if q := r.planOf(in); !reflect.DeepEqual(q, plan(in)) {
		t.Fatalf("the kept plan changed with the one planned with it: %+v %+v %+v", q.Actions, q.Blocked, q.Notes)
	}
}

// TestPlanOf_limitsChanged: a kept plan is not handed out for an input
// that differs only in a limit (--max-purchases, --max-revocations,
// --resend-after) or in having a key store.
func TestPlanOf_limitsChanged(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	revoke := mkOrder("old", withRevoke)
	resumed := mkOrder("resumed")
	specs := []*spec.Order{mkOrder("new"), mkOrder("keyed", func(o *spec.Order) { o.CSR, o.KeyType = "", "ecdsa-p256" }), revoke, resumed}
	f := known(map[string]*state.Entry{
		"old": entryFor(revoke, 100001, func(e *state.Entry) { e.Names = specNames(revoke) }),
		"resumed": entryFor(resumed, 0, func(e *state.Entry) {
			e.Intent = &state.Intent{Action: state.IntentOrder, AlternativeOrderID: "cf-resumed", Started: t0.Add(-time.Hour)}
		}),
	})
	for _, tc := range []struct {
		name   string
		change func(in *planInput)
	}{
		{"max purchases", func(in *planInput) { in.MaxPurchases = 0 }},
		{"max revocations", func(in *planInput) { in.MaxRevocations = 0 }},
		{"resend after", func(in *planInput) { in.ResendAfter = 3 * time.Hour }},
		{"no key store", func(in *planInput) { in.NoKeyStore = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, in := memoRig(specs, f, t0)
			in.ResendAfter = 2 * time.Hour
			before := r.planOf(in)
			tc.change(&in)
			got, want := r.planOf(in), plan(in)
			if reflect.DeepEqual(before, want) {
				t.Fatalf("the change changes nothing: the test tests nothing (%s)", want.Summary())
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("after the change: the kept plan (%s), want a fresh one (%s)", got.Summary(), want.Summary())
			}
		})
	}
}

// TestPlanOf_revocationLeavesWindow: a revocation blocked by
// --max-revocations is planned once the revocation that used the budget
// leaves its 24-hour window (a revocation exactly 24 hours old still
// counts), the clock alone having moved.
func TestPlanOf_revocationLeavesWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	o := mkOrder("shop", withRevoke)
	f := known(map[string]*state.Entry{"shop": entryFor(o, 100001, func(e *state.Entry) { e.Names = specNames(o) })})
	f.Revocations = []state.Revocation{{Name: "gone", OrderID: 99, Time: t0.Add(-23 * time.Hour)}}
	r, in := memoRig([]*spec.Order{o}, f, t0)
	for _, step := range []struct {
		after   time.Duration
		revokes int
	}{{0, 0}, {time.Hour - time.Second, 0}, {time.Hour, 0}, {time.Hour + time.Second, 1}} {
		in.Now = t0.Add(step.after)
		p := r.planOf(in)
		if len(p.Actions) != step.revokes || !reflect.DeepEqual(p, plan(in)) {
			t.Fatalf("at t0+%s: %s, want %d revocation(s), as planned afresh", step.after, p.Summary(), step.revokes)
		}
	}
}

// TestPlanOf_agreesOverTime checks that a daemon's kept plans (planOf)
// are those planned afresh (plan), cycle after cycle while the clock
// moves on over random orders: renewals and reissues falling due, the
// half-life rules, overdue auto-reissues, intents' re-send times and the
// budgets' windows.
func TestPlanOf_agreesOverTime(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for seed := range uint64(20) {
		rnd := rand.New(rand.NewPCG(seed, 27))
		specs, f := randomOrders(rnd, t0, 40)
		r, in := memoRig(specs, f, t0)
		in.MaxPurchases, in.MaxRevocations, in.ResendAfter = rnd.IntN(4)-1, rnd.IntN(4)-1, time.Duration(rnd.IntN(48))*time.Hour
		kept := 0
		for step := 0; step < 300; step++ {
			in.Now = in.Now.Add(time.Duration(rnd.IntN(72*60)) * time.Minute)
			memoBefore := r.seen.plan.plan
			got, want := r.planOf(in), plan(in)
			if r.seen.plan.plan == memoBefore {
				kept++
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d, step %d (%s): the kept plan (%s; %d notes) is not the fresh one (%s; %d notes)",
					seed, step, in.Now, got.Summary(), len(got.Notes), want.Summary(), len(want.Notes))
			}
		}
		if kept == 0 {
			t.Errorf("seed %d: no plan was kept: the test tests nothing", seed)
		}
	}
}

// randomOrders returns n specs and a state tracking their orders, with
// ends, starts, intents, purchases and revocations spread around t0.
func randomOrders(rnd *rand.Rand, t0 time.Time, n int) ([]*spec.Order, *state.File) {
	at := func(days int) time.Time {
		return t0.Add(time.Duration(rnd.IntN(days*24*60)-days*24*60/3) * time.Minute)
	}
	statuses := []string{"issued", "issued", "issued", "pending", "expired", "reissue_pending", "needs_approval"}
	intents := []string{"", "", "", state.IntentOrder, state.IntentRenew, state.IntentReissue}
	f := known(map[string]*state.Entry{})
	var specs []*spec.Order
	for i := range n {
		o := mkOrder(fmt.Sprintf("s%03d", i), func(o *spec.Order) {
			o.AutoReissue = rnd.IntN(3) == 0
			o.RenewBeforeDays, o.ReissueBeforeDays = 1+rnd.IntN(60), 1+rnd.IntN(60)
		})
		specs = append(specs, o)
		if rnd.IntN(8) == 0 {
			continue // a new spec
		}
		id := 100000 + i
		e := entryFor(o, id, func(e *state.Entry) {
			e.Status = statuses[rnd.IntN(len(statuses))]
			e.OrderedAt, e.NotBefore = at(400), at(400)
			e.OrderValidTill, e.NotAfter = at(500), at(500)
			e.CertificateID, e.AutoReissue = id+1, o.AutoReissue
			if a := intents[rnd.IntN(len(intents))]; a != "" {
				e.Intent = &state.Intent{Action: a, AlternativeOrderID: fmt.Sprintf("cf-%d", i), Started: at(30), ResendAt: at(30)}
				if a == state.IntentOrder {
					e.OrderID = 0
				}
			}
		})
		f.Entries[o.Name] = e
		if rnd.IntN(4) == 0 {
			f.Purchases = append(f.Purchases, state.Purchase{Name: o.Name, AlternativeOrderID: fmt.Sprintf("cf-%d", i), Time: at(10)})
		}
		if rnd.IntN(6) == 0 {
			f.Revocations = append(f.Revocations, state.Revocation{Name: o.Name, OrderID: id, Time: at(10)})
		}
	}
	return specs, f
}

// TestRecordChecked_stateChanged: a daemon's idle cycle (the same specs,
// from its spec cache, and the same state) looks up no entry to record
// its spec as checked, but one after a change of the state does (here a
// change that cleared the record, as another process's write could).
func TestRecordChecked_stateChanged(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.cycle(0)
	ordered := r.entry("shop").Checked
	rc := r.reconciler(0)
	rc.Cache = spec.NewCache()
	for range 2 {
		if _, err := rc.Prepare(context.Background(), CycleOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if rc.seen.checked.specs == nil {
		t.Fatal("an idle cycle kept nothing: the test tests nothing")
	}
	if err := r.store.Update("shop", func(e *state.Entry) bool { e.Checked = ""; return true }); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Prepare(context.Background(), CycleOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := r.entry("shop").Checked; got != ordered {
		t.Fatalf("after the state changed: checked %q, want %q", got, ordered)
	}
}

// TestPrepare_keptPlanSeesTheClock: a daemon's idle cycles (Prepare with
// a spec cache) keep their plan while nothing changed, and plan the
// renewal once the clock alone makes it due.
func TestPrepare_keptPlanSeesTheClock(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.cycle(0)
	now := r.clock.Now()
	// The order was placed a year ago and ends 10 days after its renewal
	// window opens.
	ends := now.Add(time.Duration(spec.DefaultBeforeDays+10) * 24 * time.Hour)
	if err := r.store.Update("shop", func(e *state.Entry) bool {
		e.OrderedAt, e.NotBefore, e.OrderValidTill, e.NotAfter = now.AddDate(-1, 0, 0), time.Time{}, ends, ends
		return true
	}); err != nil {
		t.Fatal(err)
	}
	rc := r.reconciler(0)
	rc.Cache = spec.NewCache()
	prepare := func() *Plan {
		t.Helper()
		c, err := rc.Prepare(context.Background(), CycleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Plan
	}
	if p := prepare(); len(p.Actions) != 0 {
		t.Fatalf("at first: %+v, want no action", p.Actions)
	}
	kept := rc.seen.plan.plan
	r.clock.Add(10*24*time.Hour - time.Minute)
	if p := prepare(); len(p.Actions) != 0 || rc.seen.plan.plan != kept {
		t.Fatalf("a minute before the renewal is due: %+v (kept plan reused: %v), want no action from the kept plan", p.Actions, rc.seen.plan.plan == kept)
	}
	r.clock.Add(time.Minute)
	if p := prepare(); len(p.Actions) != 1 || p.Actions[0].Kind != KindRenew {
		t.Fatalf("once the renewal is due: %+v, want the renewal", p.Actions)
	}
}

// TestPlanOf_observedCycleDropsKept: a cycle that plans from what it
// observed of CertCentral drops the kept plan, and with it the state copy
// it was planned from: after an apply's writes and cycles that observe
// changes, no outdated copy of the state stays in memory (about 110 MB at
// 100,000 entries).
func TestPlanOf_observedCycleDropsKept(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	o := mkOrder("shop")
	r, in := memoRig([]*spec.Order{o}, known(map[string]*state.Entry{"shop": entryFor(o, 100001)}), t0)
	r.planOf(in)
	if r.seen.plan.plan == nil {
		t.Fatal("no plan kept: the test tests nothing")
	}
	outdated := weak.Make(in.Known)
	// The next cycle plans from a new copy (an apply wrote) and from
	// what it observed.
	in.Known = known(map[string]*state.Entry{"shop": entryFor(o, 100001, func(e *state.Entry) { e.Status = "pending" })})
	in.Observed = map[string]*observed{"shop": {Status: "issued", Names: specNames(o)}}
	r.planOf(in)
	if r.seen.plan.plan != nil || r.seen.plan.in.known != nil || r.seen.plan.in.desired != nil {
		t.Fatalf("a cycle that observed kept %+v", r.seen.plan)
	}
	in = planInput{}
	runtime.GC()
	if outdated.Value() != nil {
		t.Fatal("the state copy of the kept plan is still in memory after a cycle that observed")
	}
	runtime.KeepAlive(r) // the daemon's Reconciler lives on
}

// TestOrderingOptions_sameSpecsKeepMisses: an idle cycle (the same
// specs as the last) keeps the ordering options of a spec its plan asks
// for first, for the next cycles.
func TestOrderingOptions_sameSpecsKeepMisses(t *testing.T) {
	a, b := mkOrder("a"), mkOrder("b", func(o *spec.Order) { o.Comments = "for b" })
	specs := []*spec.Order{a, b}
	r := &Reconciler{Cache: spec.NewCache()}
	r.orderingOptions(specs)(a)
	// The same specs: b is asked for first now (its entry changed, say).
	if got := r.orderingOptions(slices.Clone(specs))(b); !maps.Equal(got, b.OrderingOptions()) {
		t.Fatalf("b's options %v, want %v", got, b.OrderingOptions())
	}
	if _, ok := r.seen.options[b]; !ok {
		t.Fatal("b's options were computed and not kept: every plan computes them again")
	}
	if got := r.orderingOptions(slices.Clone(specs))(b); !maps.Equal(got, b.OrderingOptions()) {
		t.Fatalf("b's options %v, want %v", got, b.OrderingOptions())
	}
}
