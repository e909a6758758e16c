package status

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// TestNextRenewal: the earlier of the reissue (certificate end minus
// reissue_before_days, when the order lasts beyond it) and the renewal
// (order end minus renew_before_days); unknown without an issued order or
// for a spec that asks for revocation.
func TestNextRenewal(t *testing.T) {
	day := 24 * time.Hour
	orderEnd := time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	o := &spec.Order{Name: "shop", ReissueBeforeDays: 30, RenewBeforeDays: 45}
	for _, c := range []struct {
		name string
		o    *spec.Order
		e    state.Entry
		want time.Time
	}{
		{"certificate ends before the order: reissue", o, state.Entry{OrderID: 1, Status: "issued", NotAfter: orderEnd.Add(-200 * day), OrderValidTill: orderEnd}, orderEnd.Add(-230 * day)},
		{"certificate ends with the order: renewal", o, state.Entry{OrderID: 1, Status: "issued", NotAfter: orderEnd, OrderValidTill: orderEnd}, orderEnd.Add(-45 * day)},
		{"certificate ends just before the order: renewal first", o, state.Entry{OrderID: 1, Status: "issued", NotAfter: orderEnd.Add(-5 * day), OrderValidTill: orderEnd}, orderEnd.Add(-45 * day)},
		{"order end unknown", o, state.Entry{OrderID: 1, Status: "issued", NotAfter: orderEnd}, time.Time{}},
		{"no order", o, state.Entry{}, time.Time{}},
		{"revoked", o, state.Entry{OrderID: 1, Status: "revoked", NotAfter: orderEnd, OrderValidTill: orderEnd}, time.Time{}},
		{"spec asks for revocation", &spec.Order{Name: "shop", Revoke: true, RenewBeforeDays: 30}, state.Entry{OrderID: 1, Status: "issued", OrderValidTill: orderEnd}, time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := NextRenewal(c.o, &c.e); !got.Equal(c.want) {
				t.Errorf("NextRenewal = %v, want %v", got, c.want)
			}
		})
	}
}

// TestBuild: one entry per state entry, sorted; orphans and next_renewal
// only with the specs; waiting for a status that waits; last errors by
// name.
func TestBuild(t *testing.T) {
	end := time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	f := &state.File{Entries: map[string]*state.Entry{
		"web":  {OrderID: 2, Status: "needs_approval"},
		"shop": {OrderID: 1, Status: "issued", NotAfter: end, OrderValidTill: end, DeliveryError: "wrong key"},
		"old":  {OrderID: 3, Status: "issued"},
	}}
	specs := []*spec.Order{{Name: "shop", RenewBeforeDays: 30}, {Name: "web", RenewBeforeDays: 30}}
	renew := end.Add(-30 * 24 * time.Hour)
	want := []Entry{
		{Name: "old", OrderID: 3, Status: "issued", Orphan: true},
		{Name: "shop", OrderID: 1, Status: "issued", NotAfter: &end, OrderValidTill: &end, DeliveryError: "wrong key", NextRenewal: &renew, LastError: "delivery: wrong key"},
		{Name: "web", OrderID: 2, Status: "needs_approval", Waiting: "needs_approval"},
	}
	if diff := cmp.Diff(want, Build(f, specs, map[string]string{"shop": "delivery: wrong key"})); diff != "" {
		t.Errorf("with specs (-want +got):\n%s", diff)
	}
	want[0].Orphan, want[1].NextRenewal, want[1].LastError = false, nil, ""
	if diff := cmp.Diff(want, Build(f, nil, nil)); diff != "" {
		t.Errorf("without specs (-want +got):\n%s", diff)
	}
}
