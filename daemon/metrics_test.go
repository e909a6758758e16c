package daemon

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/certform/certform/state"
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
	st := countState(f, now)
	if diff := cmp.Diff([]string{"overdue", "reissue-landed"}, slices.Sorted(slices.Values(st.reissueOverdue))); diff != "" {
		t.Errorf("overdue (-want +got):\n%s", diff)
	}
	m := NewMetrics()
	m.observeCycle("cron", true, time.Second, now, 0, nil, st)
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

// TestHealth_failingAndStale: /healthz answers 503 "failing" with the
// reason while the last cycle failed, 503 "stale" once no cycle succeeded
// for three schedule intervals, and 200 otherwise.
func TestHealth_failingAndStale(t *testing.T) {
	sched, err := ParseSchedule("*/5 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	d, clock, _, _ := newTestDaemon(t, Config{Once: true, Schedule: sched})
	h := d.health
	if h.staleAfter != 15*time.Minute {
		t.Fatalf("staleAfter %v, want three 5-minute intervals", h.staleAfter)
	}
	t0 := clock.Now()
	h.setCycle(t0, true, reasonStart)
	if code, body := healthz(t, h); code != 200 || body["status"] != "ok" || body["last_success"] != t0.UTC().Format(time.RFC3339) {
		t.Errorf("after a good cycle: %d %v", code, body)
	}
	clock.Advance(5 * time.Minute)
	h.setFailure("2 failed calls, 1 blocked action")
	h.setCycle(clock.Now(), false, reasonSchedule)
	if code, body := healthz(t, h); code != 503 || body["status"] != "failing" || body["reason"] != "the last cycle failed: 2 failed calls, 1 blocked action" {
		t.Errorf("after a failed cycle: %d %v", code, body)
	}
	clock.Advance(5 * time.Minute)
	h.setCycle(clock.Now(), true, reasonSchedule)
	if code, body := healthz(t, h); code != 200 || body["reason"] != "" {
		t.Errorf("after a good cycle again: %d %v", code, body)
	}
	success := clock.Now()
	clock.Advance(16 * time.Minute)
	want := "no cycle succeeded since " + success.UTC().Format(time.RFC3339) + " (more than 15m0s)"
	if code, body := healthz(t, h); code != 503 || body["status"] != "stale" || body["reason"] != want {
		t.Errorf("after 16 minutes without a cycle: %d %v", code, body)
	}
}
