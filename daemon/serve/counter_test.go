package serve

import (
	"slices"
	"testing"
	"time"

	"github.com/certform/certform/state"
)

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
