package reconcile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// TestReconciler_checked: an order records its spec's fingerprint as
// checked; a spec with a fingerprint the state records as checked loads
// without its request's signature check; a spec loaded valid records its
// fingerprint in an entry that lacks it (apply, not a dry run).
func TestReconciler_checked(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.cycle(0)
	e := r.entry("shop")
	if e.Checked == "" || e.Checked != e.Fingerprint {
		t.Fatalf("after the order: checked %q, fingerprint %q: want the spec's fingerprint in both", e.Checked, e.Fingerprint)
	}
	ordered := e.Fingerprint

	// The entry records nothing checked: a dry run leaves it so, a cycle
	// that may write records it.
	if err := r.store.Update("shop", func(e *state.Entry) bool { e.Checked = ""; return true }); err != nil {
		t.Fatal(err)
	}
	dry := r.reconciler(0)
	dry.DryRun = true
	if _, err := dry.Prepare(context.Background(), CycleOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := r.entry("shop").Checked; got != "" {
		t.Fatalf("after a dry run: checked %q, want none", got)
	}
	if _, out := r.cycle(0); len(out) != 0 {
		t.Fatalf("results %q, want none", out)
	}
	if got := r.entry("shop").Checked; got != ordered {
		t.Fatalf("after a cycle: checked %q, want %q", got, ordered)
	}

	// The same spec with a request whose signature does not verify: refused
	// unless its fingerprint is recorded as checked.
	block, _ := pem.Decode([]byte(r.csrs["shop"]))
	block.Bytes[len(block.Bytes)-1] ^= 0xff
	r.csrs["shop"] = string(pem.EncodeToMemory(block))
	r.spec("shop")
	sum := sha256.Sum256(block.Bytes)
	fixed := maps.Clone(e.Fixed)
	fixed["csr"] = hex.EncodeToString(sum[:])
	bad := spec.Fingerprint(fixed)

	c, err := dry.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Specs.Errors) != 1 || len(c.Specs.Orders) != 0 {
		t.Fatalf("not recorded as checked: errors %v, orders %d: want the signature refused", c.Specs.Errors, len(c.Specs.Orders))
	}
	if want := "shop.yaml:5:6: csr: the certificate request's signature does not verify: x509: ECDSA verification failure"; c.Specs.Errors[0].Error() != want {
		t.Fatalf("error %q, want %q", c.Specs.Errors[0].Error(), want)
	}
	if err := r.store.Update("shop", func(e *state.Entry) bool { e.Checked = bad; return true }); err != nil {
		t.Fatal(err)
	}
	c, err = dry.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Specs.Errors) != 0 || len(c.Specs.Orders) != 1 || c.Specs.Orders[0].Fingerprint != bad {
		t.Fatalf("recorded as checked: errors %v, orders %d: want the spec valid, fingerprint %s", c.Specs.Errors, len(c.Specs.Orders), bad)
	}
}

// TestReconciler_planOnly: a plan-only cycle (plan without --out) loads
// the specs the state records as checked without their CSR text, and
// plans what a full load plans: a renewal that is due is planned (the
// spec has a CSR), not a needs_csr note.
func TestReconciler_planOnly(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.cycle(0)
	r.endsIn("shop", 10*24*time.Hour)
	plan := func(planOnly bool) *Cycle {
		t.Helper()
		rec := &Reconciler{Dir: r.dir, Known: r.store.Snapshot(), DryRun: true, Now: r.clock.Now, Limits: Limits{MaxPurchases: -1}, PlanOptions: PlanOptions{PlanOnly: planOnly}}
		c, err := rec.Prepare(context.Background(), CycleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Specs.Errors) != 0 || len(c.Specs.Orders) != 1 {
			t.Fatalf("specs: errors %v, %d orders", c.Specs.Errors, len(c.Specs.Orders))
		}
		return c
	}
	full, only := plan(false), plan(true)
	if o := only.Specs.Orders[0]; o.CSR != "" || !o.HasCSR() || o.Fingerprint != full.Specs.Orders[0].Fingerprint {
		t.Fatalf("plan-only spec: CSR %.40q, HasCSR %v, fingerprint %s: want no text, a CSR, %s", o.CSR, o.HasCSR(), o.Fingerprint, full.Specs.Orders[0].Fingerprint)
	}
	if full.Specs.Orders[0].CSR != r.csrs["shop"] {
		t.Fatalf("full load: CSR %.40q, want the spec's", full.Specs.Orders[0].CSR)
	}
	var want, got bytes.Buffer
	if err := full.Plan.WriteJSON(&want, nil); err != nil {
		t.Fatal(err)
	}
	if err := only.Plan.WriteJSON(&got, nil); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("plan-only plan:\n%s\nwant the full load's:\n%s", got.String(), want.String())
	}
	if len(only.Plan.Actions) != 1 || only.Plan.Actions[0].Kind != KindRenew || len(only.Plan.Notes) != 0 {
		t.Errorf("plan: actions %+v, notes %+v; want one renewal", only.Plan.Actions, only.Plan.Notes)
	}
}

// TestReconciler_stateAfterLoad: a cycle with StateAfterLoad reads the
// state once, after the load, and plans as one given the state (Known);
// the load trusts the hint (Checked), and when the state does not record
// exactly it, the specs are loaded again against what the state records,
// with the result a load against it gives. Read's error is Prepare's.
func TestReconciler_stateAfterLoad(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.cycle(0)
	r.endsIn("shop", 10*24*time.Hour)
	known := r.store.Snapshot()
	prepare := func(rec *Reconciler) *Cycle {
		t.Helper()
		c, err := rec.Prepare(context.Background(), CycleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	planJSON := func(c *Cycle) string {
		t.Helper()
		var b bytes.Buffer
		if err := c.Plan.WriteJSON(&b, c.Specs.Errors); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	want := planJSON(prepare(&Reconciler{Dir: r.dir, Known: known, DryRun: true, Now: r.clock.Now, Limits: Limits{MaxPurchases: -1}, PlanOptions: PlanOptions{PlanOnly: true}}))
	reads := 0
	readKnown := func() (*state.File, error) { reads++; return known, nil }
	hint := map[string]bool{known.Entries["shop"].Checked: true}
	rec := &Reconciler{Dir: r.dir, DryRun: true, Now: r.clock.Now, Limits: Limits{MaxPurchases: -1}, PlanOptions: PlanOptions{PlanOnly: true, StateAfterLoad: &StateAfterLoad{Read: readKnown, Checked: hint}}}
	if got := planJSON(prepare(rec)); got != want || reads != 1 || rec.Known != known {
		t.Errorf("reads %d, plan:\n%s\nwant:\n%s", reads, got, want)
	}

	// A request whose signature does not verify, trusted by a hint the
	// state does not bear out: loaded again, and refused.
	block, _ := pem.Decode([]byte(r.csrs["shop"]))
	block.Bytes[len(block.Bytes)-1] ^= 0xff
	r.csrs["shop"] = string(pem.EncodeToMemory(block))
	r.spec("shop")
	sum := sha256.Sum256(block.Bytes)
	fixed := maps.Clone(known.Entries["shop"].Fixed)
	fixed["csr"] = hex.EncodeToString(sum[:])
	bad := spec.Fingerprint(fixed)
	rec = &Reconciler{Dir: r.dir, DryRun: true, Now: r.clock.Now, Limits: Limits{MaxPurchases: -1}, PlanOptions: PlanOptions{PlanOnly: true, StateAfterLoad: &StateAfterLoad{Read: readKnown, Checked: map[string]bool{bad: true, known.Entries["shop"].Checked: true}}}}
	c := prepare(rec)
	if len(c.Specs.Errors) != 1 || len(c.Specs.Orders) != 0 ||
		c.Specs.Errors[0].Error() != "shop.yaml:5:6: csr: the certificate request's signature does not verify: x509: ECDSA verification failure" {
		t.Fatalf("a hint the state does not bear out: errors %v, orders %d; want the signature refused", c.Specs.Errors, len(c.Specs.Orders))
	}

	// The state records the bad request's fingerprint as checked, the
	// hint missed it: loaded again, and taken, as a load against the
	// state takes it.
	badKnown := known.Clone()
	badKnown.Entries["shop"].Checked = bad
	rec = &Reconciler{Dir: r.dir,
		DryRun: true, Now: r.clock.Now, Limits: Limits{MaxPurchases: -1}, PlanOptions: PlanOptions{PlanOnly: true, StateAfterLoad: &StateAfterLoad{Read: func() (*state.File, error) { return badKnown, nil }, Checked: map[string]bool{}}}}
	c = prepare(rec)
	if len(c.Specs.Errors) != 0 || len(c.Specs.Orders) != 1 || c.Specs.Orders[0].Fingerprint != bad {
		t.Fatalf("a hint that misses what the state records: errors %v, orders %d; want the spec taken", c.Specs.Errors, len(c.Specs.Orders))
	}

	broken := errors.New("state file s.json is not valid JSON")
	rec = &Reconciler{Dir: r.dir, DryRun: true, Now: r.clock.Now, Limits: Limits{MaxPurchases: -1}, PlanOptions: PlanOptions{StateAfterLoad: &StateAfterLoad{Read: func() (*state.File, error) { return nil, broken }}}}
	if _, err := rec.Prepare(context.Background(), CycleOptions{}); err != broken {
		t.Errorf("Prepare: %v, want Read's error", err)
	}
}

// TestReconciler_planOnlyApplies: a PlanOnly cycle, whose specs may lack
// their CSR text, is never applied: a renewal it plans sends nothing,
// while the same cycle without PlanOnly sends it with the spec's CSR.
func TestReconciler_planOnlyApplies(t *testing.T) {
	r, rec, c := planOnlyRenewal(t)
	if len(c.Plan.Actions) != 1 || c.Plan.Actions[0].Kind != KindRenew || c.Specs.Orders[0].CSR != "" {
		t.Fatalf("plan-only plan: %+v, CSR %.40q; want a renewal, no CSR text", c.Plan.Actions, c.Specs.Orders[0].CSR)
	}
	if res, calls := rec.Apply(context.Background(), c), r.calls(); len(res) != 0 || len(calls) != 0 {
		t.Fatalf("applied: %v, calls %q", res, calls)
	}
	_, out := r.cycle(0)
	if len(out) != 1 || !strings.HasPrefix(out[0], "renew shop: ") {
		t.Fatalf("results %q, want the renewal", out)
	}
	if sent := r.sentCSRs(); len(sent) != 1 || sent[0] != r.csrs["shop"] {
		t.Errorf("CSRs sent %q, want the spec's once", sent)
	}
}

// TestDeliver_planOnly: a PlanOnly cycle, whose specs may lack their CSR
// text (which the delivery checks the certificate against), delivers
// nothing and downloads nothing; the same cycle without PlanOnly delivers.
func TestDeliver_planOnly(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.cycle(0)
	certDir := filepath.Join(t.TempDir(), "certs")
	deliverOnce := func(planOnly bool) []Delivery {
		t.Helper()
		rec := r.reconciler(0)
		rec.CertDir, rec.PlanOnly = certDir, planOnly
		c, err := rec.Prepare(context.Background(), CycleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r.calls() // what Prepare read
		return rec.Deliver(context.Background(), c)
	}
	if ds, calls := deliverOnce(true), r.calls(); len(ds) != 0 || len(calls) != 0 {
		t.Fatalf("plan-only cycle: deliveries %+v, calls %q; want none", ds, calls)
	}
	if _, err := os.Stat(filepath.Join(certDir, "shop")); !os.IsNotExist(err) {
		t.Fatalf("plan-only cycle wrote %s: %v", certDir, err)
	}
	// An issued certificate not delivered yet is delivered only for a spec
	// that still wants it: none for a spec gone or asking for revocation.
	for _, tc := range []struct {
		name  string
		specs func(c *Cycle) *spec.Result
	}{
		{"spec gone", func(*Cycle) *spec.Result { return &spec.Result{} }},
		{"revocation asked", func(c *Cycle) *spec.Result {
			o := *c.Specs.Orders[0]
			o.Revoke = true
			return &spec.Result{Orders: []*spec.Order{&o}}
		}},
	} {
		rec := r.reconciler(0)
		rec.CertDir = certDir
		c, err := rec.Prepare(context.Background(), CycleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r.calls()
		c.Specs = tc.specs(c)
		if ds, calls := rec.Deliver(context.Background(), c), r.calls(); len(ds) != 0 || len(calls) != 0 {
			t.Fatalf("%s: deliveries %+v, calls %q; want none", tc.name, ds, calls)
		}
	}
	if ds := deliverOnce(false); len(ds) != 1 || !ds[0].Delivered || ds[0].Err != nil {
		t.Fatalf("deliveries %+v, want shop delivered", ds)
	}
}

// TestApply_droppedCSRNotSent: a cycle planned from a plan-only load (its
// specs without CSR text) and then handed to an applier that is not plan
// only (a wiring mistake) sends nothing: the action fails before any call.
func TestApply_droppedCSRNotSent(t *testing.T) {
	r, _, c := planOnlyRenewal(t)
	res := r.reconciler(0).Apply(context.Background(), c)
	want := "not sent: shop.yaml was loaded without its CSR text (a plan-only load); run apply, which loads it whole"
	if len(res) != 1 || res[0].Err == nil || res[0].Err.Error() != want {
		t.Fatalf("results %+v, want one error %q", res, want)
	}
	if calls := r.calls(); len(calls) != 0 {
		t.Fatalf("calls %q", calls)
	}
}

// planOnlyRenewal prepares a PlanOnly cycle over a spec "shop" whose
// certificate ends in 10 days (a renewal due); the calls Prepare made are
// taken from the rig.
func planOnlyRenewal(t *testing.T) (*rig, *Reconciler, *Cycle) {
	t.Helper()
	r := newRig(t)
	r.spec("shop")
	r.cycle(0)
	r.endsIn("shop", 10*24*time.Hour)
	r.calls()
	rec := r.reconciler(0)
	rec.PlanOnly = true
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.calls() // what Prepare read
	return r, rec, c
}
