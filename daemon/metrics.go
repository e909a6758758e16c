package daemon

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/state"
)

// Metrics are the daemon's Prometheus metrics, on a registry of their own,
// served at /metrics. The CertCentral client feeds the call counters
// through ObserveCall; the daemon records every cycle. Safe for concurrent
// use.
type Metrics struct {
	reg           *prometheus.Registry
	cycles        *prometheus.CounterVec
	cycleSeconds  prometheus.Histogram
	actions       *prometheus.CounterVec
	apiCalls      *prometheus.CounterVec
	rateLimited   prometheus.Counter
	retries       prometheus.Counter
	specErrors    prometheus.Gauge
	orders        *prometheus.GaugeVec
	pendingRevoke prometheus.Gauge
	lastSuccess   prometheus.Gauge
	deliveries    *prometheus.CounterVec
	waiting       *prometheus.GaugeVec
	notAfter      *prometheus.GaugeVec
	orderEnd      *prometheus.GaugeVec
	// reissueOverdue is 1 per spec whose auto-reissue is overdue.
	reissueOverdue *prometheus.GaugeVec
	// leader is 1 while the daemon holds the state's lock, 0 while it
	// stands by.
	leader prometheus.Gauge
	// calls counts CertCentral calls ended: the watchdog's sign of
	// progress in a long cycle.
	calls atomic.Uint64
}

// NewMetrics returns the metrics, all zero.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "certform_cycles_total",
			Help: "Reconcile cycles, by what triggered them and how they ended (ok, failed)."}, []string{"trigger", "result"}),
		cycleSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "certform_cycle_duration_seconds",
			Help: "How long reconcile cycles take.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 8)}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "certform_plan_actions_total",
			Help: "Planned calls and notes, by kind (order, renew, adopt_renewal, reissue, set_ct, set_auto_reissue, revoke, blocked, and note kinds)."}, []string{"kind"}),
		apiCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "certform_api_calls_total",
			Help: "HTTP exchanges with CertCentral, by endpoint and status (0: no answer)."}, []string{"endpoint", "status"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{Name: "certform_api_rate_limited_total",
			Help: "CertCentral answers 429 request_limit_exceeded."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "certform_api_retries_total",
			Help: "Retried CertCentral calls (attempts after the first)."}),
		specErrors: prometheus.NewGauge(prometheus.GaugeOpts{Name: "certform_spec_errors",
			Help: "Spec errors found by the last cycle."}),
		orders: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "certform_orders",
			Help: "Orders in the state file, by the status last seen."}, []string{"status"}),
		pendingRevoke: prometheus.NewGauge(prometheus.GaugeOpts{Name: "certform_revoke_requests_pending",
			Help: "Revoke requests waiting for an administrator's approval."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "certform_last_success_timestamp_seconds",
			Help: "When the last cycle without failures ended (Unix time)."}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "certform_deliveries_total",
			Help: "Certificate deliveries and deploy hook runs, by result (delivered, failed, hook_ok, hook_failed)."}, []string{"result"}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "certform_orders_waiting",
			Help: "Orders waiting in CertCentral, by what they wait for: the order's status (needs_approval, pending, reissue_pending, waiting_pickup, processing)."}, []string{"reason"}),
		notAfter: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "certform_certificate_not_after_timestamp_seconds",
			Help: "When each spec's current certificate ends (Unix time), as last observed in CertCentral."}, []string{"name"}),
		orderEnd: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "certform_order_valid_till_timestamp_seconds",
			Help: "When each spec's order ends (Unix time), as last observed in CertCentral."}, []string{"name"}),
		reissueOverdue: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "certform_reissue_overdue",
			Help: "1 for each spec whose certificate ends within 7 days, on an order that lasts longer, with auto_reissue on and no reissue pending: DigiCert has not reissued it."}, []string{"name"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "certform_leader",
			Help: "1 while this daemon holds the state's lock and acts; 0 while it stands by."}),
	}
	m.reg.MustRegister(m.cycles, m.cycleSeconds, m.actions, m.apiCalls, m.rateLimited, m.retries, m.specErrors,
		m.orders, m.pendingRevoke, m.lastSuccess, m.deliveries, m.waiting, m.notAfter, m.orderEnd, m.reissueOverdue, m.leader)
	return m
}

// observeDeliveries counts a cycle's deliveries and hook runs.
func (m *Metrics) observeDeliveries(ds []reconcile.Delivery) {
	for _, dv := range ds {
		switch {
		case dv.Err != nil:
			m.deliveries.WithLabelValues("failed").Inc()
		case dv.Delivered:
			m.deliveries.WithLabelValues("delivered").Inc()
		}
		if dv.Hook != "" {
			m.deliveries.WithLabelValues("hook_" + dv.Hook).Inc()
		}
	}
}

// ObserveCall counts one HTTP exchange with CertCentral; it is the
// digicert client's observer (digicert.WithObserver).
func (m *Metrics) ObserveCall(c digicert.Call) {
	m.calls.Add(1)
	m.apiCalls.WithLabelValues(c.Endpoint, strconv.Itoa(c.Status)).Inc()
	if c.Status == http.StatusTooManyRequests {
		m.rateLimited.Inc()
	}
	if c.Attempt > 1 {
		m.retries.Inc()
	}
}

// observeCycle records a finished cycle that ended at end; p and stats
// are nil when no plan was made.
func (m *Metrics) observeCycle(trigger string, ok bool, d time.Duration, end time.Time, specErrors int, p *reconcile.Changes, stats *stateStats) {
	result := "ok"
	if !ok {
		result = "failed"
	}
	m.cycles.WithLabelValues(trigger, result).Inc()
	m.cycleSeconds.Observe(d.Seconds())
	m.specErrors.Set(float64(specErrors))
	if p != nil {
		for _, a := range p.Actions {
			m.actions.WithLabelValues(string(a.Kind)).Inc()
		}
		for range p.Blocked {
			m.actions.WithLabelValues("blocked").Inc()
		}
		for _, n := range p.Notes {
			m.actions.WithLabelValues(n.Kind).Inc()
		}
	}
	if stats != nil {
		m.orders.Reset()
		for status, n := range stats.orders {
			m.orders.WithLabelValues(status).Set(float64(n))
		}
		m.pendingRevoke.Set(float64(stats.pendingRevokes))
		m.waiting.Reset()
		for reason, n := range stats.waiting {
			m.waiting.WithLabelValues(reason).Set(float64(n))
		}
		m.notAfter.Reset()
		m.orderEnd.Reset()
		for _, d := range stats.dates {
			if !d.notAfter.IsZero() {
				m.notAfter.WithLabelValues(d.name).Set(float64(d.notAfter.Unix()))
			}
			if !d.orderEnd.IsZero() {
				m.orderEnd.WithLabelValues(d.name).Set(float64(d.orderEnd.Unix()))
			}
		}
		m.reissueOverdue.Reset()
		for _, n := range stats.reissueOverdue {
			m.reissueOverdue.WithLabelValues(n).Set(1)
		}
	}
	if ok {
		m.lastSuccess.Set(float64(end.Unix()))
	}
}

// stateStats are the state file's numbers the metrics show.
type stateStats struct {
	orders         map[string]int // by the status last seen ("unknown" if none)
	waiting        map[string]int // orders waiting in CertCentral, by status
	pendingRevokes int
	dates          []certDates
	// reissueOverdue names the specs whose certificate DigiCert should
	// have auto-reissued by now (see reconcile.ReissueOverdue).
	reissueOverdue []string
}

// certDates are one spec's certificate and order ends (zero: unknown).
type certDates struct {
	name               string
	notAfter, orderEnd time.Time
}

// countState reads the numbers from the state at now (under the store's lock, so
// it must be quick and keep nothing).
func countState(f *state.File, now time.Time) *stateStats {
	st := &stateStats{orders: map[string]int{}, waiting: map[string]int{}}
	for name, e := range f.Entries {
		if e.OrderID != 0 {
			status := e.Status
			if status == "" {
				status = "unknown"
			}
			st.orders[status]++
			if reconcile.Waiting(e.Status) {
				st.waiting[e.Status]++
			}
			// A revoked order's certificate no longer counts as its end.
			if e.Status != "revoked" && (!e.NotAfter.IsZero() || !e.OrderValidTill.IsZero()) {
				st.dates = append(st.dates, certDates{name: name, notAfter: e.NotAfter, orderEnd: e.OrderValidTill})
			}
			if reconcile.ReissueOverdue(e, now) {
				st.reissueOverdue = append(st.reissueOverdue, name)
			}
		}
		if e.Revoke != nil && (e.Revoke.Status == "pending" || e.Revoke.Status == "submitted") {
			st.pendingRevokes++
		}
	}
	return st
}

// handler serves /healthz, /readyz, /status and /metrics.
func (m *Metrics) handler(h *health) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/healthz", h)
	mux.HandleFunc("/readyz", h.serveReady)
	mux.HandleFunc("/status", h.serveStatus)
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return mux
}
