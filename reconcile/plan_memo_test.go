package reconcile

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

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
	if p := r.planOf(in); len(p.Actions) != 1 {
		t.Fatalf("clock back: %+v", p.Actions)
	}
	// What the caller does to a plan handed out does not change the next.
	p := r.planOf(in)
	p.Actions[0].Name = "changed"
	p.Notes = append(p.Notes, Note{Kind: NoteWarning})
	if q := r.planOf(in); q.Actions[0].Name != "api" || len(q.Notes) != 0 {
		t.Fatalf("the kept plan changed with the one handed out: %+v %+v", q.Actions, q.Notes)
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
