package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/pgtest"
	"github.com/certform/certform/state"
	"github.com/certform/certform/state/pgstate"
)

// pgRig is a rig whose state is a PostgreSQL workspace on srv, and whose
// client proves the lock before each call, as certform apply and run do
// there. It returns a func that moves the workspace's epoch on, as
// another process taking the lock does.
func pgRig(t *testing.T, srv *pgtest.Server) (*rig, func()) {
	t.Helper()
	r := newRig(t)
	t.Setenv("PGPASSWORD", srv.Password)
	url := srv.CreateDatabase(t)
	cfg, err := pgstate.Parse(url, "")
	if err != nil {
		t.Fatal(err)
	}
	r.store.Close()
	if r.store, err = state.OpenBackend(pgstate.New(cfg)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.store.Close() })
	if r.api, err = digicert.New(testKey, digicert.WithBaseURL(r.srv.URL()), digicert.WithRetry(digicert.Retry{}), digicert.WithGate(r.store.Check)); err != nil {
		t.Fatal(err)
	}
	db := url[strings.LastIndex(url, "/")+1 : strings.Index(url, "?")]
	return r, func() { srv.Exec(t, db, `UPDATE certform.workspaces SET epoch = epoch + 1`) }
}

// fencedApply plans a cycle, lets another process take the workspace
// (the epoch moves on), then applies: it returns the planned actions
// ("kind name") and the results' errors by action.
func fencedApply(t *testing.T, r *rig, takeOver func()) ([]string, map[string]error) {
	t.Helper()
	rec := r.reconciler(1)
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil || len(c.Errors) > 0 {
		t.Fatalf("prepare: %v %v", err, c.Errors)
	}
	var kinds []string
	for _, a := range c.Plan.Actions {
		kinds = append(kinds, string(a.Kind)+" "+a.Name)
	}
	r.calls()
	takeOver()
	errs := map[string]error{}
	for _, res := range rec.Apply(context.Background(), c) {
		errs[string(res.Action.Kind)+" "+res.Action.Name] = res.Err
	}
	if calls := r.calls(); len(calls) != 0 {
		t.Errorf("calls after another process took the lock: %v", calls)
	}
	if err := r.store.Check(); !errors.Is(err, state.ErrLockLost) {
		t.Errorf("the store after the fenced apply: %v", err)
	}
	return kinds, errs
}

// Fencing on PostgreSQL: once another process has taken the workspace
// between the plan and the calls, no call is made and nothing is
// written: the proof of the lock that precedes every action asks the
// database, which answers that the epoch moved on (the intent write and
// the client's own check before the request would refuse it too).
func TestApply_postgresFenced(t *testing.T) {
	srv := pgtest.Start(t)
	const lost = "lock lost: the workspace's lock epoch moved on"
	t.Run("order", func(t *testing.T) {
		r, takeOver := pgRig(t, srv)
		r.spec("b")
		kinds, errs := fencedApply(t, r, takeOver)
		if !cmp.Equal(kinds, []string{"order b"}) {
			t.Fatalf("planned %v", kinds)
		}
		if err := errs["order b"]; err == nil || !strings.Contains(err.Error(), lost) || strings.Contains(err.Error(), "digicert:") {
			t.Errorf("order b: %v, want it not sent, %q", err, lost)
		}
		if n := r.ordersFor("b.example.com"); n != 0 {
			t.Errorf("%d orders for b", n)
		}
		if r.store.Entry("b") != nil {
			t.Errorf("an entry for b in memory: %+v", r.store.Entry("b"))
		}
	})
	t.Run("toggle", func(t *testing.T) {
		r, takeOver := pgRig(t, srv)
		r.spec("a")
		if _, out := r.cycle(1); !cmp.Equal(out, []string{"order a: ordered 100001"}) {
			t.Fatalf("first cycle: %v", out)
		}
		r.spec("a", "disable_ct: true", "reissue_on_ct_change: false")
		kinds, errs := fencedApply(t, r, takeOver)
		if !cmp.Equal(kinds, []string{"set_ct a"}) {
			t.Fatalf("planned %v", kinds)
		}
		if err := errs["set_ct a"]; err == nil || !strings.HasPrefix(err.Error(), "not sent: PostgreSQL workspace default at ") ||
			!strings.Contains(err.Error(), lost) {
			t.Errorf("set_ct a: %v, want the call not sent, %q", err, lost)
		}
	})
}
