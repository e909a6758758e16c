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
