package reconcile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/deliver"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// TestDeliver_hookFailedThenRenewed: a deploy hook that failed (and waits
// an hour for its retry) on an order that is renewed meanwhile runs on the
// renewal's delivery, for the renewal's certificate, and its failures
// start again from zero; HooksWaiting lists the wait before that.
func TestDeliver_hookFailedThenRenewed(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	certDir := filepath.Join(t.TempDir(), "certs")
	hookLog := filepath.Join(t.TempDir(), "hook.log")
	hook := &deliver.Hook{Command: "exit 3"}
	var last *Cycle
	cycle := func() []Delivery {
		t.Helper()
		rec := r.reconciler(1)
		rec.Observe, rec.CertDir, rec.Hook, rec.HookBackoff = true, certDir, hook, time.Hour
		c, err := rec.Prepare(context.Background(), CycleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rec.Apply(context.Background(), c)
		last = c
		return rec.Deliver(context.Background(), c)
	}
	waiting := func() []HookWait {
		rec := r.reconciler(1)
		rec.CertDir, rec.Hook = certDir, hook
		return rec.HooksWaiting(last, nil)
	}
	ds := cycle()
	if len(ds) != 1 || ds[0].Hook != "failed" {
		t.Fatalf("first delivery: %+v", ds)
	}
	old := r.entry("shop")
	if w := waiting(); len(w) != 1 || w[0].Name != "shop" || w[0].Serial != old.DeliveredSerial || w[0].Attempts != 1 || !w[0].RetryAt.Equal(r.clock.Now().Add(time.Hour)) {
		t.Fatalf("waiting: %+v", w)
	}
	hookDue := func(c *Cycle) time.Time {
		rec := r.reconciler(1)
		rec.CertDir, rec.Hook = certDir, hook
		return rec.HookDue(c)
	}
	if at := hookDue(last); !at.Equal(r.clock.Now().Add(time.Hour)) {
		t.Errorf("HookDue %v, want the retry time %v", at, r.clock.Now().Add(time.Hour))
	}
	// A spec gone, or asking for revocation, has no hook to run again.
	gone := *last
	gone.Specs = &spec.Result{}
	if at := hookDue(&gone); !at.IsZero() {
		t.Errorf("HookDue without the spec: %v, want none", at)
	}
	revoking := *last.Specs.Orders[0]
	revoking.Revoke = true
	gone.Specs = &spec.Result{Orders: []*spec.Order{&revoking}}
	if at := hookDue(&gone); !at.IsZero() {
		t.Errorf("HookDue of a spec asking for revocation: %v, want none", at)
	}
	// The order ends in 10 days: renewed; the hook, fixed, runs for the
	// renewal's certificate as soon as it is delivered.
	hook.Command = `echo "$CERTFORM_ORDER_ID $CERTFORM_SERIAL" >> ` + hookLog
	r.srv.OrderEndsIn(old.OrderID, 10*24*time.Hour)
	r.aged("shop", 10*24*time.Hour)
	r.clock.Add(time.Minute)
	ds = cycle()
	for range 3 {
		if len(ds) > 0 {
			break
		}
		r.clock.Add(time.Minute)
		ds = cycle()
	}
	e := r.entry("shop")
	if e.OrderID == old.OrderID {
		t.Fatalf("not renewed: %+v", e)
	}
	if len(ds) != 1 || !ds[0].Delivered || ds[0].Hook != "ok" || ds[0].OrderID != e.OrderID {
		t.Fatalf("the renewal's delivery: %+v\nentry %+v", ds, e)
	}
	got, _ := os.ReadFile(hookLog)
	if want := fmt.Sprintf("%d %s\n", e.OrderID, e.DeliveredSerial); string(got) != want || e.DeliveredSerial == old.DeliveredSerial {
		t.Errorf("hook runs %q, want %q", got, want)
	}
	if e.HookPending != "" || e.HookAttempts != 0 || !e.HookRetryAt.IsZero() {
		t.Errorf("entry: hook_pending %q, attempts %d, retry %v", e.HookPending, e.HookAttempts, e.HookRetryAt)
	}
	if at := hookDue(last); !at.IsZero() {
		t.Errorf("HookDue after the renewal's hook ran: %v, want none", at)
	}
	if w := waiting(); len(w) != 0 {
		t.Errorf("waiting after the renewal: %+v", w)
	}
	if strings.Count(string(got), "\n") != 1 {
		t.Errorf("hook ran %q", got)
	}
}

// TestHookDue_notRunYetHidesNothing: a hook recorded with its delivery and
// not run yet (no retry time) does not hide the retry time of another
// spec's failed hook, whatever order the state's entries come in.
func TestHookDue_notRunYetHidesNothing(t *testing.T) {
	st, err := state.Open(filepath.Join(t.TempDir(), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	retry := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for name, at := range map[string]time.Time{"a": {}, "b": retry, "c": {}} {
		err := st.Update(name, func(e *state.Entry) bool {
			e.OrderID, e.Status, e.CertificateID, e.DeliveredCertificateID = 1, "issued", 2, 2
			e.HookPending, e.HookRetryAt = "0A", at
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	r := &Reconciler{Store: st}
	r.CertDir, r.Hook = t.TempDir(), &deliver.Hook{Command: "true"}
	c := &Cycle{Specs: &spec.Result{Orders: []*spec.Order{{Name: "a"}, {Name: "b"}, {Name: "c"}}}}
	for range 50 {
		if at := r.HookDue(c); !at.Equal(retry) {
			t.Fatalf("HookDue %v, want b's retry time %v", at, retry)
		}
	}
}
