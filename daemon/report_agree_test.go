package daemon

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/certform/certform/daemon/serve"
	"github.com/certform/certform/daemon/serve/servetest"
	"github.com/certform/certform/internal/runner"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
	"github.com/certform/certform/status"
)

// served returns the body of GET path from m's handler over h; for
// /metrics, only the lines of the per-spec families.
func served(t *testing.T, m *serve.Metrics, h *serve.Health, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler(h).ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if path != "/metrics" {
		return rec.Body.String()
	}
	return servetest.SpecLines(rec.Body.String())
}

// TestDaemon_reportAgreesOverTime: the daemon's /status JSON and per-spec
// metrics, from rows and revoked specs it keeps across cycles
// (statusRows, revokedOf, ObserveSpecs's memo), equal those built afresh
// from the same state, specs, last errors and clock, over random state
// changes, spec lists (the same list again, the same specs in a new
// slice, other specs), last errors and clock steps (forward, back, and to
// just before, at and just after a certificate's end).
func TestDaemon_reportAgreesOverTime(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	for seed := range uint64(10) {
		d, clock, _, _ := newTestDaemon(t, Config{})
		store := reconcilerOf(d).Store
		rng := rand.New(rand.NewPCG(seed, 6))
		var specs []*spec.Order
		newSpecs := func() {
			specs = nil
			for _, n := range names {
				if rng.IntN(4) > 0 {
					specs = append(specs, &spec.Order{Name: n, ReissueBeforeDays: rng.IntN(20), RenewBeforeDays: rng.IntN(20), Revoke: rng.IntN(5) == 0})
				}
			}
		}
		newSpecs()
		var ends []time.Time
		for i := range 200 {
			now := clock.Now()
			switch k := rng.IntN(12); {
			case k == 0:
				end := now.Add(time.Duration(rng.Int64N(int64(20*24*time.Hour))) - 5*24*time.Hour).Round(time.Second)
				ends = append(ends, end)
				err := store.Update(names[rng.IntN(len(names))], func(e *state.Entry) bool {
					e.OrderID, e.Status, e.NotAfter, e.OrderValidTill = 1+rng.IntN(3), []string{"issued", "revoked", "pending", ""}[rng.IntN(4)], end, end.Add(300*24*time.Hour)
					return true
				})
				if err != nil {
					t.Fatal(err)
				}
			case k == 1:
				newSpecs()
			case k == 2:
				specs = slices.Clone(specs) // the same specs, as an unchanged tree's load gives them
			case k == 3:
				clock.Advance(-time.Duration(rng.Int64N(int64(3 * 24 * time.Hour))))
			case k < 7 && len(ends) > 0:
				clock.Advance(ends[rng.IntN(len(ends))].Add(time.Duration(rng.IntN(3) - 1)).Sub(now))
			default:
				clock.Advance(time.Duration(rng.Int64N(int64(24 * time.Hour))))
			}
			rep := runner.Report{Cycle: &reconcile.Cycle{Specs: &spec.Result{Orders: specs}, Plan: &reconcile.Plan{}}}
			lastErrors := map[string]string{}
			if rng.IntN(4) == 0 {
				n := names[rng.IntN(len(names))]
				rep.Results = []reconcile.Result{{Action: reconcile.Action{Name: n}, Err: errors.New("boom")}}
				lastErrors[n] = "boom"
			}
			d.updateStatus(rep)

			var rows []status.Entry
			d.run.View(func(f *state.File) { rows = status.Build(f, specs, lastErrors) })
			revoked := map[string]bool{}
			for _, o := range specs {
				if o.Revoke {
					revoked[o.Name] = true
				}
			}
			fresh, health := serve.NewMetrics(), &serve.Health{}
			fresh.ObserveSpecs(rows, revoked, clock.Now())
			health.SetSpecs(rows)
			want, err := json.Marshal(rows)
			if err != nil {
				t.Fatal(err)
			}
			if got := served(t, d.met, d.health, "/status"); got != string(want)+"\n" || got != served(t, fresh, health, "/status") {
				t.Fatalf("seed %d, step %d: /status\n%s\nwant\n%s", seed, i, got, want)
			}
			if got, want := served(t, d.met, d.health, "/metrics"), served(t, fresh, health, "/metrics"); got != want {
				t.Fatalf("seed %d, step %d, at %v: /metrics\n%s\nwant\n%s", seed, i, clock.Now(), got, want)
			}
		}
	}
}
