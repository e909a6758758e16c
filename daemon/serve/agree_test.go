package serve

import (
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/certform/certform/daemon/serve/servetest"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
	"github.com/certform/certform/status"
)

// metricsText returns m's /metrics text, less the lines of the families
// that count cycles (certform_cycles_total and the cycle duration
// histogram), which a fresh Metrics fed one cycle has not seen.
func metricsText(t testing.TB, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler(&Health{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(rec.Body.String(), "\n") {
		if !strings.Contains(l, "certform_cycles_total") && !strings.Contains(l, "certform_cycle_duration_seconds") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// agreeWorld is a random state and spec list over a few names, with ends
// near a clock, for TestMetrics_agreesOverTime.
type agreeWorld struct {
	rng     *rand.Rand
	f       *state.File
	version uint64
	specs   []*spec.Order
	rows    []status.Entry
	revoked map[string]bool
	now     time.Time
}

var agreeNames = []string{"a", "b", "c", "d", "e", "f"}

// entry returns a random entry whose times lie around w.now.
func (w *agreeWorld) entry() *state.Entry {
	r := w.rng
	day := 24 * time.Hour
	around := func() time.Time {
		if r.IntN(5) == 0 {
			return time.Time{}
		}
		return w.now.Add(time.Duration(r.Int64N(int64(30*day))) - 10*day).Round(0)
	}
	e := &state.Entry{OrderID: 1 + r.IntN(3), Status: []string{"issued", "issued", "revoked", "reissue_pending", "needs_approval", "", "canceled"}[r.IntN(7)],
		AutoReissue: r.IntN(2) == 0, CertificateID: 10 + r.IntN(2), NotAfter: around(), OrderValidTill: around()}
	if r.IntN(4) == 0 {
		e.ReissuedFrom = 10
	}
	if r.IntN(5) == 0 {
		e.OrderID = 0
	}
	if r.IntN(6) == 0 {
		e.Revoke = &state.RevokeRecord{Status: []string{"pending", "submitted", "approved"}[r.IntN(3)]}
	}
	if r.IntN(6) == 0 {
		e.Intent = &state.Intent{Action: "reissue"}
	}
	if r.IntN(8) == 0 {
		e.HookPending = "serial"
	}
	return e
}

// changeState changes, adds or removes one entry: a new state version.
func (w *agreeWorld) changeState() {
	name := agreeNames[w.rng.IntN(len(agreeNames))]
	entries := maps.Clone(w.f.Entries)
	if _, ok := entries[name]; ok && w.rng.IntN(4) == 0 {
		delete(entries, name)
	} else {
		entries[name] = w.entry()
	}
	w.f = &state.File{Entries: entries}
	w.version++
}

// changeSpecs makes a new spec list over a random subset of the names
// (a spec without an entry, an entry without a spec: an orphan).
func (w *agreeWorld) changeSpecs() {
	w.specs, w.revoked = nil, map[string]bool{}
	for _, n := range agreeNames {
		if w.rng.IntN(4) == 0 {
			continue
		}
		o := &spec.Order{Name: n, RenewBeforeDays: w.rng.IntN(20), ReissueBeforeDays: w.rng.IntN(20), Revoke: w.rng.IntN(6) == 0}
		w.specs = append(w.specs, o)
		if o.Revoke {
			w.revoked[n] = true
		}
	}
}

// thresholds are the times at which what the metrics show of w changes
// by the clock alone: each certificate's end and each entry's overdue
// reissue.
func (w *agreeWorld) thresholds() []time.Time {
	var ts []time.Time
	for _, e := range w.f.Entries {
		if !e.NotAfter.IsZero() {
			ts = append(ts, e.NotAfter)
		}
		if t := reconcile.ReissueOverdueFrom(e); !t.IsZero() {
			ts = append(ts, t)
		}
	}
	return ts
}

// step moves the clock: forward or back by a little or a lot, or to just
// before, exactly at or just after a threshold.
func (w *agreeWorld) step() {
	r := w.rng
	switch ts := w.thresholds(); {
	case len(ts) > 0 && r.IntN(2) == 0:
		w.now = ts[r.IntN(len(ts))].Add(time.Duration(r.IntN(3)-1) * time.Nanosecond)
	case r.IntN(6) == 0:
		w.now = w.now.Add(-time.Duration(r.Int64N(int64(10 * 24 * time.Hour))))
	default:
		w.now = w.now.Add(time.Duration(r.Int64N(int64(3 * 24 * time.Hour))))
	}
}

// TestMetrics_agreesOverTime: the metrics of a long-lived Metrics and
// StateCounter, fed cycle after cycle as the daemon feeds them (the same
// rows slice while neither the state nor the specs change), equal those
// of a fresh Metrics fed the same inputs once, over random states, spec
// lists and clock steps (to just before, at and just after each
// certificate end and overdue reissue, and back).
func TestMetrics_agreesOverTime(t *testing.T) {
	for seed := range uint64(30) {
		w := &agreeWorld{rng: rand.New(rand.NewPCG(seed, 27)), f: &state.File{Entries: map[string]*state.Entry{}},
			now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
		w.changeSpecs()
		m, c := NewMetrics(), &StateCounter{}
		for i := range 300 {
			switch k := w.rng.IntN(10); {
			case k == 0:
				w.changeState()
				w.rows = nil
			case k == 1:
				w.changeSpecs()
				w.rows = nil
			case k == 2:
				w.rows = nil // rebuilt: the same values in a new slice
			case k == 3:
				// Another revoked set over the same rows (ObserveSpecs
				// takes the two apart).
				n := agreeNames[w.rng.IntN(len(agreeNames))]
				w.revoked = maps.Clone(w.revoked)
				if w.revoked[n] {
					delete(w.revoked, n)
				} else {
					w.revoked[n] = true
				}
			default:
				w.step()
			}
			if w.rows == nil {
				w.rows = status.Build(w.f, w.specs, nil)
			}
			m.ObserveSpecs(w.rows, w.revoked, w.now)
			m.ObserveCycle("cron", true, time.Second, w.now, 0, nil, c.Count(w.version, w.f, w.now))
			fresh := NewMetrics()
			fresh.ObserveSpecs(status.Build(w.f, w.specs, nil), w.revoked, w.now)
			fresh.ObserveCycle("cron", true, time.Second, w.now, 0, nil, CountState(w.f, w.now))
			if got, want := metricsText(t, m), metricsText(t, fresh); got != want {
				t.Fatalf("seed %d, step %d, at %v: the kept metrics differ from fresh ones:\n%s", seed, i, w.now, lineDiff(want, got))
			}
		}
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("-" + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("+" + l + "\n")
		}
	}
	return b.String()
}

// descText reads a metric's name and help from its description's text.
var descText = regexp.MustCompile(`fqName: "([^"]*)", help: "([^"]*)"`)

// gaugeSpecSeries returns the /metrics text of the per-spec series of
// rows at now as they were held before specCollector, in gauges set row
// by row: the reference the collector's output must equal byte for byte.
func gaugeSpecSeries(t *testing.T, rows []status.Entry, revoked map[string]bool, now time.Time) string {
	t.Helper()
	n := newSpecMetrics()
	vec := func(d *prometheus.Desc, labels ...string) *prometheus.GaugeVec {
		// The name and help of d, as its String gives them (no help
		// has a quote).
		m := descText.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name and help in %s", d)
		}
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: m[1], Help: m[2]}, labels)
	}
	certExpiry, orderExpiry := vec(n.certExpiry, "name", "order_id"), vec(n.orderExpiry, "name", "order_id")
	renewalAt, renewalPending, ready := vec(n.renewalAt, "name"), vec(n.renewalPending, "name"), vec(n.ready, "name", "condition")
	reg := prometheus.NewRegistry()
	reg.MustRegister(certExpiry, orderExpiry, renewalAt, renewalPending, ready)
	for _, r := range rows {
		if r.Orphan {
			continue
		}
		s := seriesOf(r, revoked, now.Round(0))
		if s.hasCert {
			certExpiry.WithLabelValues(r.Name, s.id).Set(s.certExp)
		}
		if s.hasOrder {
			orderExpiry.WithLabelValues(r.Name, s.id).Set(s.orderExp)
		}
		if s.hasRenewal {
			renewalAt.WithLabelValues(r.Name).Set(s.renewal)
		}
		if s.revoked {
			continue
		}
		renewalPending.WithLabelValues(r.Name).Set(s.pending)
		for _, c := range readyConditions {
			v := 0.0
			if c == s.cond {
				v = 1
			}
			ready.WithLabelValues(r.Name, c).Set(v)
		}
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// TestMetrics_specSeriesAsGauges: the per-spec series specCollector makes
// at a scrape are, byte for byte in /metrics, those the gauges held before
// it showed for the same rows, over random states, specs and times.
func TestMetrics_specSeriesAsGauges(t *testing.T) {
	shown := 0
	for seed := range uint64(30) {
		w := &agreeWorld{rng: rand.New(rand.NewPCG(seed, 28)), f: &state.File{Entries: map[string]*state.Entry{}},
			now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
		for range 50 {
			w.changeState()
			w.changeSpecs()
			w.step()
			rows := status.Build(w.f, w.specs, nil)
			m := NewMetrics()
			m.ObserveSpecs(rows, w.revoked, w.now)
			got := servetest.SpecLines(metricsText(t, m))
			want := gaugeSpecSeries(t, rows, w.revoked, w.now)
			if got != want {
				t.Fatalf("seed %d: /metrics of the collector:\n%s\nof gauges:\n%s", seed, got, want)
			}
			shown += strings.Count(want, "\n")
		}
	}
	if shown < 1000 {
		t.Errorf("only %d lines compared", shown)
	}
}
