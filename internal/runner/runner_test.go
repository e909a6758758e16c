package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certform/certform/deliver"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec/spectest"
	"github.com/certform/certform/state"
)

// rig is a Runner built by New against the fake CertCentral, over one
// spec (shop) that the fake issues at once, a certificate folder and a
// deploy hook that fails.
func rig(t *testing.T) (*Runner, *digicerttest.Server) {
	t.Helper()
	srv := digicerttest.New("runner-key")
	url := srv.Start()
	t.Cleanup(srv.Close)
	api, err := digicert.New("runner-key", digicert.WithBaseURL(url), digicert.WithRetry(digicert.Retry{}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	csr, err := spectest.CSR("shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	yaml := "name: shop\ncommon_name: shop.example.com\norganization_id: 1\nskip_approval: true\ncsr: |\n" + spectest.Indent(csr)
	if err := os.WriteFile(filepath.Join(dir, "shop.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(filepath.Join(t.TempDir(), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	certs := t.TempDir()
	rn, err := New(Options{Dir: dir, API: api, Store: store, Parallelism: 2, Limits: Limits{MaxRevocations: 1, MaxPurchases: 2}},
		func(r *reconcile.Reconciler) error {
			r.CertDir = certs
			r.Hook = &deliver.Hook{Command: "echo reload refused >&2; exit 3", Timeout: 10 * time.Second}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return rn, srv
}

// TestOnce_reportsTyped: a cycle orders shop, delivers its certificate and
// runs the deploy hook, which fails: the Report counts one call done, one
// delivery, one failed hook (HookFailed, not a string), and did not land.
func TestOnce_reportsTyped(t *testing.T) {
	rn, srv := rig(t)
	var reviewed *reconcile.Cycle
	rep := rn.Once(context.Background(), Step{Review: func(c *reconcile.Cycle) error { reviewed = c; return nil }})
	if rep.Err != nil || rep.Stopped != nil {
		t.Fatalf("Once: %v, stopped %v", rep.Err, rep.Stopped)
	}
	if reviewed != rep.Cycle || len(rep.Cycle.Plan.Actions) != 1 {
		t.Fatalf("Review saw %p, the report has %p with %d actions", reviewed, rep.Cycle, len(rep.Cycle.Plan.Actions))
	}
	if rep.Calls != (Tally{Done: 1}) || len(rep.Failed()) != 0 || len(srv.Orders()) != 1 {
		t.Errorf("calls %+v, failed %v, %d orders in CertCentral; want one order placed", rep.Calls, rep.Failed(), len(srv.Orders()))
	}
	if len(rep.Deliveries) != 1 || !rep.Deliveries[0].Delivered || rep.Deliveries[0].Deploy != HookFailed {
		t.Fatalf("deliveries %+v, want shop delivered with its hook failed", rep.Deliveries)
	}
	if rep.DeliveriesFailed() != 0 || rep.HooksFailed() != 1 || rep.Landed() {
		t.Errorf("deliveries failed %d, hooks failed %d, landed %v; want 0, 1, false", rep.DeliveriesFailed(), rep.HooksFailed(), rep.Landed())
	}
	if ws := rn.HooksWaiting(rep); len(ws) != 0 {
		t.Errorf("hooks waiting %+v: the hook of shop ran in this cycle", ws)
	}
}

// TestOnce_reviewStops: Review's error stops the cycle before Apply:
// nothing is ordered or delivered, and the report keeps the error.
func TestOnce_reviewStops(t *testing.T) {
	rn, srv := rig(t)
	no := errors.New("not approved")
	rep := rn.Once(context.Background(), Step{Review: func(*reconcile.Cycle) error { return no }})
	if rep.Err != nil || !errors.Is(rep.Stopped, no) {
		t.Fatalf("Once: %v, stopped %v; want stopped by the review", rep.Err, rep.Stopped)
	}
	if rep.Results != nil || rep.Deliveries != nil || rep.PostHook != nil || len(srv.Orders()) != 0 || rep.Landed() {
		t.Errorf("results %v, deliveries %v, %d orders, landed %v; want nothing done", rep.Results, rep.Deliveries, len(srv.Orders()), rep.Landed())
	}
}

// TestOnce_dryRun: a runner without a store (plan) only plans.
func TestOnce_dryRun(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("name: a\ncommon_name: a.example.com\norganization_id: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rn, err := New(Options{Dir: dir, Known: &state.File{}, Limits: Limits{MaxRevocations: 1, MaxPurchases: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if !rn.DryRun() {
		t.Fatal("a runner without a store is not a dry run")
	}
	rep := rn.Once(context.Background(), Step{ApplyIdle: true})
	if rep.Err != nil || rep.Cycle == nil || rep.Results != nil || rep.Deliveries != nil {
		t.Errorf("dry run: err %v, cycle %v, results %v, deliveries %v", rep.Err, rep.Cycle, rep.Results, rep.Deliveries)
	}
}

// TestNew_setupError: a setup's error is New's, and no Runner is made.
func TestNew_setupError(t *testing.T) {
	bad := errors.New("--cert-dir: no such folder")
	rn, err := New(Options{Dir: t.TempDir()}, func(*reconcile.Reconciler) error { return nil }, func(*reconcile.Reconciler) error { return bad })
	if !errors.Is(err, bad) || rn != nil {
		t.Errorf("New = %v, %v; want the setup's error", rn, err)
	}
}

// TestHookOutcome: the one place that reads reconcile.Delivery.Hook.
func TestHookOutcome(t *testing.T) {
	for hook, want := range map[string]HookOutcome{"": HookNotRun, "ok": HookRan, "failed": HookFailed} {
		if got := hookOutcome(hook); got != want {
			t.Errorf("hookOutcome(%q) = %v, want %v", hook, got, want)
		}
	}
}
