package reconcile

import (
	"testing"
	"time"

	"github.com/certform/certform/digicert"
)

// TestObserve_savesWhenItBegan: a complete observation moves the state's
// ObservedAt to when it began, not to when its reads ended, so that a
// change landing while a long refresh reads falls in the next feed's
// window.
func TestObserve_savesWhenItBegan(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.cycle(1)
	r.clock.Add(2 * time.Hour) // past observedSaveEvery: the observation is saved
	rec := r.reconciler(1)
	began := r.clock.Now()
	ob := &observation{orders: map[string]*digicert.Order{}, complete: true, began: began}
	r.clock.Add(10 * time.Minute) // the reads took ten minutes
	wrote, err := rec.saveObservation(r.store.Snapshot(), ob, nil)
	if err != nil || !wrote {
		t.Fatalf("saveObservation: wrote %v, %v", wrote, err)
	}
	if got := r.store.Snapshot().ObservedAt; !got.Equal(began) {
		t.Fatalf("ObservedAt = %s, want %s (when the observation began)", got, began)
	}
}
