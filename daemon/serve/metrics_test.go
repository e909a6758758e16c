package serve

import (
	"fmt"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/certform/certform/daemon/serve/servetest"
	"github.com/certform/certform/state"
	"github.com/certform/certform/status"
	"github.com/google/go-cmp/cmp"
)

// TestCountState_reissueOverdue: only a certificate within 7 days of its
// end, on an order that lasts longer, with auto_reissue on and no reissue
// pending, is an overdue auto-reissue; the metric shows 1 for it.
func TestCountState_reissueOverdue(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	entry := func(mod func(e *state.Entry)) *state.Entry {
		e := &state.Entry{OrderID: 1, Status: "issued", AutoReissue: true, CertificateID: 10, NotAfter: now.Add(5 * day), OrderValidTill: now.Add(100 * day)}
		mod(e)
		return e
	}
	f := &state.File{Entries: map[string]*state.Entry{
		"overdue":        entry(func(*state.Entry) {}),
		"pending":        entry(func(e *state.Entry) { e.Status = "reissue_pending" }),
		"reissued":       entry(func(e *state.Entry) { e.ReissuedFrom = 10 }),
		"off":            entry(func(e *state.Entry) { e.AutoReissue = false }),
		"ten-days":       entry(func(e *state.Entry) { e.NotAfter = now.Add(10 * day) }),
		"order-ends-too": entry(func(e *state.Entry) { e.OrderValidTill = e.NotAfter }),
		"revoked":        entry(func(e *state.Entry) { e.Status = "revoked" }),
		"no-certificate": entry(func(e *state.Entry) { e.NotAfter = time.Time{} }),
		"reissue-landed": entry(func(e *state.Entry) { e.ReissuedFrom, e.CertificateID = 10, 11 }),
	}}
	st := CountState(f, now)
	if diff := cmp.Diff([]string{"overdue", "reissue-landed"}, slices.Sorted(slices.Values(st.reissueOverdue))); diff != "" {
		t.Errorf("overdue (-want +got):\n%s", diff)
	}
	m := NewMetrics()
	m.ObserveCycle("cron", true, time.Second, now, 0, nil, st)
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fam := range fams {
		if fam.GetName() == "certform_reissue_overdue" {
			for _, mt := range fam.GetMetric() {
				got = append(got, fmt.Sprintf("%s=%v", mt.GetLabel()[0].GetValue(), mt.GetGauge().GetValue()))
			}
		}
	}
	if diff := cmp.Diff([]string{"overdue=1", "reissue-landed=1"}, got); diff != "" {
		t.Errorf("certform_reissue_overdue (-want +got):\n%s", diff)
	}
}

// TestStateCounter: the numbers are read again when the state changed
// (its version), when the clock went back, and when the clock alone made
// a reissue overdue; otherwise the last numbers are returned as they are.
func TestStateCounter(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	// The certificate ends in 10 days: its reissue is overdue from 7 days
	// before, 3 days from t0.
	e := &state.Entry{OrderID: 1, Status: "issued", AutoReissue: true, CertificateID: 10, NotAfter: t0.Add(10 * day), OrderValidTill: t0.Add(100 * day)}
	f := &state.File{Entries: map[string]*state.Entry{"shop": e}}
	var c StateCounter
	first := c.Count(1, f, t0)
	if len(first.reissueOverdue) != 0 {
		t.Fatalf("at t0: overdue %q, want none", first.reissueOverdue)
	}
	if got := c.Count(1, f, t0.Add(3*day-time.Second)); got != first {
		t.Fatal("the same state a second before the reissue is overdue: counted again, want the last numbers")
	}
	if got := c.Count(1, f, t0.Add(3*day)); !slices.Equal(got.reissueOverdue, []string{"shop"}) {
		t.Fatalf("once the reissue is overdue (the clock alone moved): overdue %q, want shop", got.reissueOverdue)
	}
	if got := c.Count(1, f, t0); len(got.reissueOverdue) != 0 {
		t.Fatalf("the clock back at t0: overdue %q, want none", got.reissueOverdue)
	}
	// Another state (here one whose order another process saw revoked).
	f = &state.File{Entries: map[string]*state.Entry{"shop": {OrderID: 1, Status: "revoked"}}}
	if got := c.Count(2, f, t0); got.orders["revoked"] != 1 || got.orders["issued"] != 0 {
		t.Fatalf("after the state changed: orders %v, want 1 revoked", got.orders)
	}
}

// TestHealth_failingAndStale: /healthz stays 200 while one spec fails (a
// failed call, a blocked action), with last_failure saying what failed;
// it answers 503 "failing" while a cycle fails before its plan, 503
// "lock_lost" while another process holds the lock, 503 "unreachable"
// once CertCentral was unreachable for three schedule intervals, and 503
// "stale" once no cycle worked for three schedule intervals.
func TestHealth_failingAndStale(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := &stepClock{now: t0}
	// Three 5-minute schedule intervals (see the daemon's staleAfter).
	h := NewHealth(clock.Now, 15*time.Minute)
	if h.staleAfter != 15*time.Minute || h.unreachableAfter != 15*time.Minute {
		t.Fatalf("staleAfter %v, unreachableAfter %v, want three 5-minute intervals", h.staleAfter, h.unreachableAfter)
	}
	h.SetCycle(t0, true, "start", Worked)
	if code, body := servetest.Healthz(t, h); code != 200 || body["status"] != "ok" || body["last_success"] != t0.UTC().Format(time.RFC3339) {
		t.Errorf("after a good cycle: %d %v", code, body)
	}
	clock.Advance(5 * time.Minute)
	h.SetFailure("2 failed calls, 1 blocked action")
	h.SetCycle(clock.Now(), false, "schedule", Worked)
	if code, body := servetest.Healthz(t, h); code != 200 || body["status"] != "ok" || body["last_result"] != "failed" || body["last_failure"] != "2 failed calls, 1 blocked action" || body["reason"] != "" {
		t.Errorf("after a cycle where one spec failed: %d %v", code, body)
	}
	clock.Advance(5 * time.Minute)
	h.SetFailure("the cycle failed before its plan")
	h.SetProblem("reading state.json: unexpected end of JSON input")
	h.SetCycle(clock.Now(), false, "schedule", Broken)
	if code, body := servetest.Healthz(t, h); code != 503 || body["status"] != "failing" || body["reason"] != "the last cycle failed before its plan: reading state.json: unexpected end of JSON input" {
		t.Errorf("after a cycle that failed before its plan: %d %v", code, body)
	}
	h.SetProblem("state.json.lock is held by process 42")
	h.SetCycle(clock.Now(), false, "retry", LockLost)
	if code, body := servetest.Healthz(t, h); code != 503 || body["status"] != "lock_lost" || body["reason"] != "state.json.lock is held by process 42" {
		t.Errorf("while another process holds the lock: %d %v", code, body)
	}
	h.SetCycle(clock.Now(), true, "schedule", Worked)
	if code, body := servetest.Healthz(t, h); code != 200 || body["reason"] != "" || body["last_failure"] != "" {
		t.Errorf("after a good cycle again: %d %v", code, body)
	}
	good := clock.Now()
	// CertCentral refuses the key: 200 until three intervals passed.
	clock.Advance(10 * time.Minute)
	h.SetProblem("CertCentral cannot be reached or refuses the key: 401 access_denied")
	h.SetCycle(clock.Now(), false, "retry", APIDown)
	if code, body := servetest.Healthz(t, h); code != 200 || body["status"] != "ok" {
		t.Errorf("10 minutes after CertCentral stopped answering: %d %v", code, body)
	}
	clock.Advance(6 * time.Minute)
	want := "CertCentral cannot be reached or refuses the key: 401 access_denied (no cycle worked for more than 15m0s)"
	if code, body := servetest.Healthz(t, h); code != 503 || body["status"] != "unreachable" || body["reason"] != want {
		t.Errorf("16 minutes after CertCentral stopped answering: %d %v", code, body)
	}
	h.SetCycle(clock.Now(), false, "retry", CycleErrors)
	want = "no cycle worked since " + good.UTC().Format(time.RFC3339) + " (more than 15m0s)"
	if code, body := servetest.Healthz(t, h); code != 503 || body["status"] != "stale" || body["reason"] != want {
		t.Errorf("after 16 minutes without a cycle that worked: %d %v", code, body)
	}
}

// TestReadyCondition: one row per way a spec is ready, not ready or not
// known yet.
func TestReadyCondition(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	for _, c := range []struct {
		name string
		row  status.Entry
		want string
	}{
		{"issued and current", status.Entry{OrderID: 1, Status: "issued", NotAfter: &later}, "True"},
		{"no order yet", status.Entry{}, "Unknown"},
		{"waiting for approval", status.Entry{OrderID: 1, Status: "needs_approval"}, "Unknown"},
		{"issued, certificate not read", status.Entry{OrderID: 1, Status: "issued"}, "Unknown"},
		{"an outcome unknown", status.Entry{OrderID: 1, Status: "issued", NotAfter: &later, Intent: &state.Intent{Action: "reissue"}}, "Unknown"},
		{"ended", status.Entry{OrderID: 1, Status: "issued", NotAfter: &earlier}, "False"},
		{"revoked", status.Entry{OrderID: 1, Status: "revoked", NotAfter: &later}, "False"},
		{"delivery refused", status.Entry{OrderID: 1, Status: "issued", NotAfter: &later, DeliveryError: "wrong key"}, "False"},
		{"hook failing", status.Entry{OrderID: 1, Status: "issued", NotAfter: &later, HookPending: "0A"}, "False"},
		{"call failed", status.Entry{OrderID: 1, Status: "issued", NotAfter: &later, LastError: "503"}, "False"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ReadyCondition(c.row, now); got != c.want {
				t.Errorf("ReadyCondition = %s, want %s", got, c.want)
			}
		})
	}
}

// TestMetrics_domainValidation: each cycle's domains replace the last
// one's: a domain no longer reported loses its series; the names waiting
// follow.
func TestMetrics_domainValidation(t *testing.T) {
	m := NewMetrics()
	a, b := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	m.ObserveDomainValidation(map[string]time.Time{"a.example": a, "b.example": b}, 3)
	want := []string{fmt.Sprintf("domain=a.example,validation=: %v", float64(a.Unix())), fmt.Sprintf("domain=b.example,validation=: %v", float64(b.Unix()))}
	if diff := cmp.Diff(want, servetest.Gauges(t, m.reg, "certform_domain_validation_expiry_timestamp_seconds")); diff != "" {
		t.Errorf("first cycle (-want +got):\n%s", diff)
	}
	m.ObserveDomainValidation(map[string]time.Time{"b.example": b}, 0)
	if diff := cmp.Diff(want[1:], servetest.Gauges(t, m.reg, "certform_domain_validation_expiry_timestamp_seconds")); diff != "" {
		t.Errorf("second cycle (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{": 0"}, servetest.Gauges(t, m.reg, "certform_domain_validation_names_waiting")); diff != "" {
		t.Errorf("names waiting (-want +got):\n%s", diff)
	}
}

// TestMetrics_specsFollowChanges: the same values in new rows show the
// same series; a spec gone or an order replaced loses its old series, and
// a revoked spec loses its pending and ready series.
func TestMetrics_specsFollowChanges(t *testing.T) {
	m := NewMetrics()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	end := now.Add(60 * 24 * time.Hour)
	row := func(name string, id int) status.Entry {
		return status.Entry{Name: name, OrderID: id, Status: "issued", NotAfter: &end}
	}
	e := fmt.Sprint(float64(end.Unix()))
	m.ObserveSpecs([]status.Entry{row("a", 1), row("b", 2)}, nil, now)
	if diff := cmp.Diff([]string{"name=a,order_id=1: " + e, "name=b,order_id=2: " + e},
		servetest.Gauges(t, m.reg, "certform_certificate_expiration_timestamp_seconds")); diff != "" {
		t.Fatalf("first cycle (-want +got):\n%s", diff)
	}
	// The same values in new rows.
	m.ObserveSpecs([]status.Entry{row("a", 1), row("b", 2)}, nil, now)
	if diff := cmp.Diff([]string{"name=a,order_id=1: " + e, "name=b,order_id=2: " + e},
		servetest.Gauges(t, m.reg, "certform_certificate_expiration_timestamp_seconds")); diff != "" {
		t.Fatalf("the same values (-want +got):\n%s", diff)
	}
	// a has another order; b is gone.
	m.ObserveSpecs([]status.Entry{row("a", 3)}, nil, now)
	if diff := cmp.Diff([]string{"name=a,order_id=3: " + e},
		servetest.Gauges(t, m.reg, "certform_certificate_expiration_timestamp_seconds")); diff != "" {
		t.Errorf("a's new order, b gone (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"condition=False,name=a: 0", "condition=True,name=a: 1", "condition=Unknown,name=a: 0"},
		servetest.Gauges(t, m.reg, "certform_certificate_ready_status")); diff != "" {
		t.Errorf("ready, b gone (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"name=a: 0"}, servetest.Gauges(t, m.reg, "certform_certificate_renewal_pending")); diff != "" {
		t.Errorf("pending, b gone (-want +got):\n%s", diff)
	}
	m.ObserveSpecs([]status.Entry{row("a", 3)}, map[string]bool{"a": true}, now)
	if got := servetest.Gauges(t, m.reg, "certform_certificate_ready_status"); len(got) != 0 {
		t.Errorf("ready of a revoked spec: %q, want none", got)
	}
	if got := servetest.Gauges(t, m.reg, "certform_certificate_renewal_pending"); len(got) != 0 {
		t.Errorf("pending of a revoked spec: %q, want none", got)
	}
}

// stepClock is a clock that moves only when a test advances it.
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time          { return c.now }
func (c *stepClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// TestMetrics_datesSetOnlyWhatChanged: ObserveCycle sets a spec's
// certificate and order end series only when they changed, and deletes
// those of an end gone or a spec gone.
func TestMetrics_datesSetOnlyWhatChanged(t *testing.T) {
	m := NewMetrics()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	t1, t2, o1 := now.Add(24*time.Hour), now.Add(48*time.Hour), now.Add(365*24*time.Hour)
	at := func(ts time.Time) string { return fmt.Sprint(float64(ts.Unix())) }
	observe := func(entries map[string]*state.Entry) {
		m.ObserveCycle("cron", true, time.Second, now, 0, nil, CountState(&state.File{Entries: entries}, now))
	}
	check := func(what string, notAfter, orderEnd []string) {
		t.Helper()
		if diff := cmp.Diff(notAfter, servetest.Gauges(t, m.reg, "certform_certificate_not_after_timestamp_seconds")); diff != "" {
			t.Errorf("%s: not after (-want +got):\n%s", what, diff)
		}
		if diff := cmp.Diff(orderEnd, servetest.Gauges(t, m.reg, "certform_order_valid_till_timestamp_seconds")); diff != "" {
			t.Errorf("%s: order end (-want +got):\n%s", what, diff)
		}
	}
	observe(map[string]*state.Entry{
		"a": {OrderID: 1, Status: "issued", NotAfter: t1, OrderValidTill: o1},
		"b": {OrderID: 2, Status: "issued", NotAfter: t1},
	})
	check("first", []string{"name=a: " + at(t1), "name=b: " + at(t1)}, []string{"name=a: " + at(o1)})
	m.notAfter.WithLabelValues("b").Set(7) // not set again while b's end stays
	observe(map[string]*state.Entry{
		"a": {OrderID: 1, Status: "issued", NotAfter: t2},
		"b": {OrderID: 2, Status: "issued", NotAfter: t1},
		"c": {OrderID: 3, Status: "issued", OrderValidTill: o1},
	})
	check("changed", []string{"name=a: " + at(t2), "name=b: 7"}, []string{"name=c: " + at(o1)})
	observe(map[string]*state.Entry{"c": {OrderID: 3, Status: "revoked", OrderValidTill: o1}})
	check("gone", nil, nil)
}

// TestMetrics_specsSameRows: the same rows again (the daemon's idle
// cycle) set nothing, until a certificate ends, when its Ready condition
// turns False; other rows are looked at again.
func TestMetrics_specsSameRows(t *testing.T) {
	m := NewMetrics()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	soon, later := now.Add(time.Hour), now.Add(48*time.Hour)
	rows := []status.Entry{
		{Name: "a", OrderID: 1, Status: "issued", NotAfter: &soon},
		{Name: "b", OrderID: 2, Status: "issued", NotAfter: &later},
	}
	m.ObserveSpecs(rows, nil, now)
	kept := m.specs.last
	kept["b"] = specSeries{id: "2", certExp: 7, hasCert: true} // not set again while nothing changes
	m.ObserveSpecs(rows, nil, now.Add(time.Minute))
	if got := servetest.Gauges(t, m.reg, "certform_certificate_expiration_timestamp_seconds"); !slices.Contains(got, "name=b,order_id=2: 7") {
		t.Errorf("the same rows set the series again: %q", got)
	}
	m.ObserveSpecs(rows, nil, soon) // a's certificate ends
	if diff := cmp.Diff([]string{"condition=False,name=a: 1", "condition=False,name=b: 0", "condition=True,name=a: 0",
		"condition=True,name=b: 1", "condition=Unknown,name=a: 0", "condition=Unknown,name=b: 0"},
		servetest.Gauges(t, m.reg, "certform_certificate_ready_status")); diff != "" {
		t.Errorf("after a's end (-want +got):\n%s", diff)
	}
	m.ObserveSpecs(slices.Clone(rows), map[string]bool{"b": true}, soon)
	if got := servetest.Gauges(t, m.reg, "certform_certificate_ready_status"); len(got) != 3 {
		t.Errorf("b revoked: ready %q, want a's alone", got)
	}
}

// wallSteppedBack returns what time.Now reads a second after now once the
// system's wall clock was stepped back by back: the monotonic reading a
// second later, the wall clock back-1s earlier. No exported function of
// package time makes such a reading (Add moves both clocks), so the
// monotonic reading is copied in by hand; the result is checked.
func wallSteppedBack(t *testing.T, now time.Time, back time.Duration) time.Time {
	t.Helper()
	type timeLayout struct { // time.Time's fields
		wall uint64
		ext  int64 // the monotonic reading, when wall says there is one
		loc  *time.Location
	}
	later, earlier := now.Add(time.Second), now.Add(time.Second-back)
	raw := *(*timeLayout)(unsafe.Pointer(&earlier))
	raw.ext = (*timeLayout)(unsafe.Pointer(&later)).ext
	stepped := *(*time.Time)(unsafe.Pointer(&raw))
	if stepped.Before(now) || !stepped.Round(0).Equal(later.Round(0).Add(-back)) {
		t.Fatalf("could not make a reading after a step of the wall clock (time.Time's layout changed?): %v from %v", stepped, now)
	}
	return stepped
}

// TestStateCounter_wallClockBack: the numbers are read again when the
// wall clock was stepped back, also when time.Now's monotonic reading
// (which the daemon's clock has) moved on.
func TestStateCounter_wallClockBack(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	// The certificate ended a day ago: its reissue is overdue since 8
	// days ago.
	e := &state.Entry{OrderID: 1, Status: "issued", AutoReissue: true, CertificateID: 10, NotAfter: now.Add(-day).Round(0), OrderValidTill: now.Add(100 * day).Round(0)}
	f := &state.File{Entries: map[string]*state.Entry{"shop": e}}
	var c StateCounter
	if got := c.Count(1, f, now); !slices.Equal(got.reissueOverdue, []string{"shop"}) {
		t.Fatalf("now: overdue %q, want shop", got.reissueOverdue)
	}
	if got := c.Count(1, f, wallSteppedBack(t, now, 30*day)); len(got.reissueOverdue) != 0 {
		t.Fatalf("the wall clock 30 days back: overdue %q, want none", got.reissueOverdue)
	}
}

// TestMetrics_specsWallClockBack: ObserveSpecs sets the Ready
// conditions again when the wall clock was stepped back to before a
// certificate's end, also when time.Now's monotonic reading moved on.
func TestMetrics_specsWallClockBack(t *testing.T) {
	m := NewMetrics()
	now := time.Now()
	ended := now.Add(-time.Hour).Round(0)
	rows := []status.Entry{{Name: "a", OrderID: 1, Status: "issued", NotAfter: &ended}}
	m.ObserveSpecs(rows, nil, now)
	if got := servetest.Gauges(t, m.reg, "certform_certificate_ready_status"); !slices.Contains(got, "condition=False,name=a: 1") {
		t.Fatalf("after the end: ready %q, want False", got)
	}
	m.ObserveSpecs(rows, nil, wallSteppedBack(t, now, 2*time.Hour))
	if got := servetest.Gauges(t, m.reg, "certform_certificate_ready_status"); slices.Contains(got, "condition=False,name=a: 1") {
		t.Fatalf("the wall clock back to before the end: ready %q, want it no longer False", got)
	}
}
