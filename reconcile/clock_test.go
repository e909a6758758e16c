package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/state"
)

const listCafe = "GET /order/certificate?filters%5Bcommon_name%5D=cafe.example.com&limit=1000&offset=0"

// twoYears is a clock two years off: 730 days.
const twoYears = 17520 * time.Hour

// skewed is a Reconciler on the rig whose clock is the fake's (which gives
// the Date header of its answers) plus off, which a test may change at any
// time; it observes CertCentral and checks the clock against it, with the
// default --max-clock-skew.
func (r *rig) skewed(off *atomic.Int64) *Reconciler {
	rec := r.reconciler(1)
	rec.Observe = true
	rec.MaxClockSkew = DefaultMaxClockSkew
	rec.Now = func() time.Time { return r.clock.Now().Add(time.Duration(off.Load())) }
	return rec
}

// resultLines returns the results as lines "kind name: detail" or
// "kind name: error: ...", as rig.cycle does.
func resultLines(res []Result) []string {
	var out []string
	for _, x := range res {
		if x.Err != nil {
			out = append(out, fmt.Sprintf("%s %s: error: %v", x.Action.Kind, x.Action.Name, x.Err))
		} else {
			out = append(out, fmt.Sprintf("%s %s: %s", x.Action.Kind, x.Action.Name, x.Detail))
		}
	}
	return out
}

// blockedLines returns the plan's blocked actions as "kind name: by".
func blockedLines(p *Plan) []string {
	var out []string
	for _, a := range p.Blocked {
		out = append(out, fmt.Sprintf("%s %s: %s", a.Kind, a.Name, a.BlockedBy))
	}
	return out
}

// writes returns the calls that are not GETs.
func writes(calls []string) []string {
	var out []string
	for _, c := range calls {
		if !strings.HasPrefix(c, "GET ") {
			out = append(out, c)
		}
	}
	return out
}

// TestClock_skewBlocksCostlyCalls: a local clock two years ahead of
// CertCentral's Date header (or an hour behind it) plans renewals, a
// reissue and a new order, but blocks them all (blocked_by clock) with one
// error saying both times; only GET calls are made, the state holds no
// intent. Within --max-clock-skew they are made.
func TestClock_skewBlocksCostlyCalls(t *testing.T) {
	for _, tt := range []struct {
		name    string
		off     time.Duration
		errMsg  string // "" when within --max-clock-skew
		blocked []string
	}{
		{"two years ahead", twoYears, "the local clock reads 2028-11-24T10:01:00Z but CertCentral's reads 2026-11-25T10:01:00Z (17520h0m0s ahead, more than --max-clock-skew 5m0s): no order, renewal, reissue or revocation is sent",
			[]string{"order cafe: clock", "renew shop: clock", "renew web: clock"}},
		{"an hour behind", -time.Hour, "the local clock reads 2026-11-25T09:01:00Z but CertCentral's reads 2026-11-25T10:01:00Z (1h0m0s behind, more than --max-clock-skew 5m0s): no order, renewal, reissue or revocation is sent",
			[]string{"order cafe: clock", "renew shop: clock", "reissue web: clock"}},
		{"four minutes ahead", 4 * time.Minute, "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.spec("web")
			r.endingOrder() // shop, 10 days from its end
			r.spec("cafe")
			r.specWithNames("web", "www.web.example.com")
			if now := r.clock.Now(); !now.Equal(time.Date(2026, 11, 25, 10, 1, 0, 0, time.UTC)) {
				t.Fatalf("the fake's clock reads %s", now)
			}
			orders := len(r.srv.Orders())
			var off atomic.Int64
			off.Store(int64(tt.off))
			rec := r.skewed(&off)
			c, err := rec.Prepare(context.Background(), CycleOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res := resultLines(rec.Apply(context.Background(), c))
			if tt.errMsg == "" {
				if len(c.Errors) != 0 || len(c.Plan.Blocked) != 0 {
					t.Fatalf("errors %v, blocked %v", c.Errors, blockedLines(c.Plan))
				}
				if len(res) != 3 || strings.Contains(strings.Join(res, "\n"), "error") || len(r.srv.Orders()) != orders+2 {
					t.Fatalf("results %q, %d orders", res, len(r.srv.Orders()))
				}
				return
			}
			if len(c.Errors) != 1 || c.Errors[0].Error() != tt.errMsg {
				t.Fatalf("errors %q, want one: %q", c.Errors, tt.errMsg)
			}
			var ce *ClockError
			if !errors.As(c.Errors[0], &ce) || ce.Hint() != ClockHint {
				t.Fatalf("error %#v is not a *ClockError with ClockHint", c.Errors[0])
			}
			if len(c.Plan.Actions) != 0 || len(res) != 0 {
				t.Fatalf("actions %+v, results %q", c.Plan.Actions, res)
			}
			wantLines(t, "blocked", blockedLines(c.Plan), tt.blocked)
			calls := r.calls()
			if len(calls) == 0 || len(writes(calls)) != 0 {
				t.Fatalf("calls: %q", calls)
			}
			if len(r.srv.Orders()) != orders {
				t.Fatalf("%d orders, want %d", len(r.srv.Orders()), orders)
			}
			for _, n := range []string{"shop", "cafe"} {
				if e := r.store.Entry(n); e != nil && e.Intent != nil {
					t.Fatalf("%s has an intent: %+v", n, e.Intent)
				}
			}
		})
	}
}

// TestClock_recheckBeforeEachCall: a clock that goes wrong after the plan
// (stepped two years ahead) is caught by the applier before the order and
// the revocation: nothing is sent, no intent nor revocation is recorded,
// and no call at all is made (CertCentral's Date was read moments ago).
func TestClock_recheckBeforeEachCall(t *testing.T) {
	r := newRig(t)
	r.spec("gone")
	r.observeCycle(1)
	id := r.entry("gone").OrderID
	r.spec("gone", "revoke: true", "revoke_comments: gone")
	r.spec("cafe")
	r.clock.Add(time.Minute)
	r.calls()
	var off atomic.Int64
	rec := r.skewed(&off)
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil || len(c.Errors) != 0 {
		t.Fatal(err, c.Errors)
	}
	if len(c.Plan.Actions) != 2 || len(c.Plan.Blocked) != 0 {
		t.Fatalf("plan %+v, blocked %+v", c.Plan.Actions, c.Plan.Blocked)
	}
	r.calls()
	off.Store(int64(twoYears))
	res := resultLines(rec.Apply(context.Background(), c))
	const skew = "not sent: the local clock reads 2028-11-24T10:01:00Z but CertCentral's reads 2026-11-25T10:01:00Z (17520h0m0s ahead, more than --max-clock-skew 5m0s): no order, renewal, reissue or revocation is sent"
	wantLines(t, "results", res, []string{"order cafe: error: " + skew, "revoke gone: error: " + skew})
	wantLines(t, "calls", r.calls(), nil)
	if e := r.entry("gone"); e.Intent != nil || e.Revoke != nil {
		t.Fatalf("gone: %+v", e)
	}
	if e := r.store.Entry("cafe"); e != nil {
		t.Fatalf("cafe: %+v", e)
	}
	var f *state.File
	r.store.View(func(x *state.File) { f = x.Clone() })
	if len(f.Revocations) != 0 {
		t.Fatalf("revocations recorded: %+v", f.Revocations)
	}
	if o, _ := r.srv.Order(id); o.Status != "issued" {
		t.Fatalf("order %d is %s", id, o.Status)
	}
}

// TestClock_readBeforeTheFirstPurchase: when no answer gave CertCentral's
// clock yet (a first apply, allow_existing_names: no look-up), the clock is
// read with one GET before anything is bought; two years ahead, nothing is.
func TestClock_readBeforeTheFirstPurchase(t *testing.T) {
	r := newRig(t)
	r.spec("cafe", "allow_existing_names: true")
	var off atomic.Int64
	off.Store(int64(twoYears))
	rec := r.skewed(&off)
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Errors) != 1 || !IsClockError(c.Errors[0]) {
		t.Fatalf("errors %q", c.Errors)
	}
	wantLines(t, "blocked", blockedLines(c.Plan), []string{"order cafe: clock"})
	if res := rec.Apply(context.Background(), c); len(res) != 0 {
		t.Fatalf("results %q", resultLines(res))
	}
	wantLines(t, "calls", r.calls(), []string{"GET /order/certificate/status-changes?minutes=1"})
}

// noDate is CertCentral behind a proxy that drops the Date header.
type noDate struct{ API }

func (noDate) ServerClock() (date, seen time.Time, ok bool) { return time.Time{}, time.Time{}, false }

// TestClock_noDateHeader: answers without a Date header leave the clock
// unchecked, so nothing is bought; the hint says how to go on.
func TestClock_noDateHeader(t *testing.T) {
	r := newRig(t)
	r.spec("cafe")
	var off atomic.Int64
	rec := r.skewed(&off)
	rec.API = noDate{r.api}
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const want = "the local clock reads 2026-11-25T10:00:00Z, but CertCentral's clock could not be read (its answers carry no Date header): no order, renewal, reissue or revocation is sent"
	if len(c.Errors) != 1 || c.Errors[0].Error() != want {
		t.Fatalf("errors %q, want %q", c.Errors, want)
	}
	var ce *ClockError
	if !errors.As(c.Errors[0], &ce) || !strings.Contains(ce.Hint(), "--max-clock-skew 0") {
		t.Fatalf("hint: %v", c.Errors[0])
	}
	wantLines(t, "blocked", blockedLines(c.Plan), []string{"order cafe: clock"})
	if w := writes(r.calls()); len(w) != 0 {
		t.Fatalf("writes: %q", w)
	}
}

// TestObserve_futureWatermark: a last observation in the future (the clock
// stepped back) reads every tracked order, never only the feed's last
// minute, and is replaced by the time of that read; the next cycle reads
// the feed from there.
func TestObserve_futureWatermark(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.observeCycle(1)
	id := r.entry("shop").OrderID
	r.clock.Add(time.Minute)
	r.observeCycle(1)
	future := r.clock.Now().Add(twoYears)
	if err := r.store.Mutate(func(f *state.File) { f.ObservedAt = future }); err != nil {
		t.Fatal(err)
	}
	r.calls()
	r.clock.Add(time.Minute)
	if p, res := r.observeCycle(1); len(p.Actions) != 0 || len(res) != 0 {
		t.Fatalf("plan %+v results %q", p.Actions, res)
	}
	wantLines(t, "calls", r.calls(), []string{fmt.Sprintf("GET /order/certificate/%d", id)})
	var at time.Time
	r.store.View(func(f *state.File) { at = f.ObservedAt })
	if !at.Equal(r.clock.Now()) {
		t.Fatalf("observed_at %s, want %s", at, r.clock.Now())
	}
	r.clock.Add(time.Minute)
	r.observeCycle(1)
	wantLines(t, "calls", r.calls(), []string{"GET /order/certificate/status-changes?minutes=2"})
}

// TestObserve_futureWatermarkNothingOpen: with no open order to read, a
// last observation in the future is still replaced at once (not kept until
// it is an hour old, which it never becomes).
func TestObserve_futureWatermarkNothingOpen(t *testing.T) {
	r := newRig(t)
	future := r.clock.Now().Add(twoYears)
	if err := r.store.Mutate(func(f *state.File) { f.ObservedAt = future }); err != nil {
		t.Fatal(err)
	}
	r.observeCycle(1)
	var at time.Time
	r.store.View(func(f *state.File) { at = f.ObservedAt })
	if !at.Equal(r.clock.Now()) {
		t.Fatalf("observed_at %s, want %s", at, r.clock.Now())
	}
}

// asleep is CertCentral as a process suspended for an hour sees it: its
// latest Date is an hour old, but the monotonic clock counted a minute,
// until it reads the feed again.
type asleep struct {
	*digicert.Client
	date time.Time
	woke atomic.Bool
}

func (a *asleep) ServerClock() (date, seen time.Time, ok bool) {
	if !a.woke.Load() {
		return a.date, time.Now().Add(-time.Minute), true
	}
	return a.Client.ServerClock()
}

func (a *asleep) StatusChanges(ctx context.Context, minutes int) ([]digicert.OrderRef, error) {
	a.woke.Store(true)
	return a.Client.StatusChanges(ctx, minutes)
}

// TestClock_staleDateReadAgain: a skew found on an old Date (a process
// that was suspended counts less time passed than did) is confirmed with a
// fresh one before anything is blocked; the fresh one agrees, so the order
// is placed.
func TestClock_staleDateReadAgain(t *testing.T) {
	r := newRig(t)
	r.spec("cafe")
	var off atomic.Int64
	rec := r.skewed(&off)
	rec.API = &asleep{Client: r.api, date: r.clock.Now().Add(-time.Hour)}
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil || len(c.Errors) != 0 || len(c.Plan.Blocked) != 0 {
		t.Fatalf("%v %q %v", err, c.Errors, blockedLines(c.Plan))
	}
	res := resultLines(rec.Apply(context.Background(), c))
	if len(res) != 1 || !strings.HasPrefix(res[0], "order cafe: ordered ") {
		t.Fatalf("results %q", res)
	}
	wantLines(t, "calls", r.calls(), []string{listCafe, "GET /order/certificate/status-changes?minutes=1", listCafe, postOrder})
}

// hidden is an API wrapper that does not pass ServerClock on.
type hidden struct{ API }

// TestClock_apiWithoutClock: an API that does not report CertCentral's
// clock does not turn the check off unseen: the order is blocked.
func TestClock_apiWithoutClock(t *testing.T) {
	r := newRig(t)
	r.spec("cafe")
	var off atomic.Int64
	rec := r.skewed(&off)
	rec.API = hidden{r.api}
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const want = "the local clock reads 2026-11-25T10:00:00Z, but CertCentral's clock could not be read (the API client in use does not report it): no order, renewal, reissue or revocation is sent"
	if len(c.Errors) != 1 || c.Errors[0].Error() != want {
		t.Fatalf("errors %q, want %q", c.Errors, want)
	}
	wantLines(t, "blocked", blockedLines(c.Plan), []string{"order cafe: clock"})
}
