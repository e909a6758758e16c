package serve

import (
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/runner"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/state"
	"github.com/certform/certform/status"
)

// Metrics are the daemon's Prometheus metrics, on a registry of their own,
// served at /metrics. The CertCentral client feeds the call counters
// through ObserveCall; the daemon records every cycle. Safe for concurrent
// use. They are grouped by topic: cycles, CertCentral calls, the state's
// orders, each spec's certificate, domain validation, notifications.
type Metrics struct {
	reg *prometheus.Registry
	cycleMetrics
	apiMetrics
	stateMetrics
	specMetrics
	dcvMetrics
	notifyMetrics
}

// cycleMetrics describe the reconcile cycles.
type cycleMetrics struct {
	cycles       *prometheus.CounterVec
	cycleSeconds prometheus.Histogram
	actions      *prometheus.CounterVec
	specErrors   prometheus.Gauge
	lastSuccess  prometheus.Gauge
	deliveries   *prometheus.CounterVec
}

// apiMetrics describe the calls to CertCentral.
type apiMetrics struct {
	apiCalls    *prometheus.CounterVec
	rateLimited prometheus.Counter
	retries     prometheus.Counter
	apiRequests *prometheus.CounterVec
	apiDuration *prometheus.HistogramVec
	// calls counts CertCentral calls ended: the watchdog's sign of
	// progress in a long cycle.
	calls atomic.Uint64
}

// stateMetrics describe the state's orders and the lock.
type stateMetrics struct {
	orders        *prometheus.GaugeVec
	pendingRevoke prometheus.Gauge
	waiting       *prometheus.GaugeVec
	// leader is 1 while the daemon holds the state's lock, 0 while it
	// stands by.
	leader prometheus.Gauge
	// lastStats are the numbers ObserveCycle set last: the same numbers
	// (a StateCounter's, unchanged) set nothing again. Used by the
	// daemon's loop only.
	lastStats *StateStats
}

// specMetrics describe each spec's certificate and order.
type specMetrics struct {
	notAfter *prometheus.GaugeVec
	orderEnd *prometheus.GaugeVec
	// reissueOverdue is 1 per spec whose auto-reissue is overdue.
	reissueOverdue *prometheus.GaugeVec
	// The cert-manager-shaped series (see docs/metrics.md), made at
	// each scrape from specs (see specCollector): held as gauges, their
	// half a million series at 100,000 specs were a fifth of the
	// daemon's heap, which the collector marks again and again.
	certExpiry, orderExpiry *prometheus.Desc // {name, order_id}
	renewalAt, ready        *prometheus.Desc // {name}; {name, condition}
	renewalPending          *prometheus.Desc // {name}
	specs                   specMemo         // what ObserveSpecs set last
	// dates are the ends ObserveCycle set last in notAfter and orderEnd,
	// by spec name; nil sets them all from scratch. Used by the daemon's
	// loop only.
	dates map[string]certDates
}

// dcvMetrics describe the account's domain validation.
type dcvMetrics struct {
	dcvExpiry *prometheus.GaugeVec // {domain, validation}
	// dcvWaiting counts the names of waiting orders CertCentral reports
	// pending validation.
	dcvWaiting prometheus.Gauge
}

// notifyMetrics describe the notifications sent.
type notifyMetrics struct {
	notifySent, notifyFailed *prometheus.CounterVec
}

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

func gauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
}

func gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
}

// NewMetrics returns the metrics, all zero.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.cycleMetrics = cycleMetrics{
		cycles: counterVec("certform_cycles_total", "Reconcile cycles, by what triggered them and how they ended (ok, failed).", "trigger", "result"),
		cycleSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "certform_cycle_duration_seconds",
			Help: "How long reconcile cycles take.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 8)}),
		actions: counterVec("certform_plan_actions_total",
			"Planned calls and notes, by kind (order, renew, adopt_renewal, reissue, set_ct, set_auto_reissue, revoke, blocked, and note kinds).", "kind"),
		specErrors:  gauge("certform_spec_errors", "Spec errors found by the last cycle."),
		lastSuccess: gauge("certform_last_success_timestamp_seconds", "When the last cycle without failures ended (Unix time)."),
		deliveries: counterVec("certform_deliveries_total",
			"Certificate deliveries and deploy hook runs, by result (delivered, failed, hook_ok, hook_failed).", "result"),
	}
	m.apiMetrics = apiMetrics{
		apiCalls: counterVec("certform_api_calls_total",
			"Deprecated: use certform_api_requests_total. HTTP exchanges with CertCentral, by endpoint and status (0: no answer).", "endpoint", "status"),
		rateLimited: counter("certform_api_rate_limited_total", "CertCentral answers 429 request_limit_exceeded."),
		retries:     counter("certform_api_retries_total", "Retried CertCentral calls (attempts after the first)."),
		apiRequests: counterVec("certform_api_requests_total", "HTTP requests to CertCentral, by endpoint and status code (0: no answer).", "endpoint", "code"),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "certform_api_request_duration_seconds",
			Help: "How long HTTP requests to CertCentral take, by endpoint.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 10)}, []string{"endpoint"}),
	}
	m.stateMetrics = stateMetrics{
		orders:        gaugeVec("certform_orders", "Orders in the state file, by the status last seen.", "status"),
		pendingRevoke: gauge("certform_revoke_requests_pending", "Revoke requests waiting for an administrator's approval."),
		waiting: gaugeVec("certform_orders_waiting",
			"Orders waiting in CertCentral, by what they wait for: the order's status (needs_approval, pending, reissue_pending, waiting_pickup, processing).", "reason"),
		leader: gauge("certform_leader", "1 while this daemon holds the state's lock and acts; 0 while it stands by."),
	}
	m.specMetrics = newSpecMetrics()
	m.dcvMetrics = dcvMetrics{
		dcvExpiry: gaugeVec("certform_domain_validation_expiry_timestamp_seconds",
			"When each account domain a spec uses stops being validated (Unix time), as the last cycle with --dcv-config read it; validation is the validation type, empty for the earliest of them.", "domain", "validation"),
		dcvWaiting: gauge("certform_domain_validation_names_waiting",
			"Names of waiting orders that CertCentral reports pending domain validation, as the last cycle with --dcv-config read them."),
	}
	m.notifyMetrics = notifyMetrics{
		notifySent:   counterVec("certform_notifications_sent_total", "Notifications a receiver accepted, by receiver.", "receiver"),
		notifyFailed: counterVec("certform_notifications_failed_total", "Notifications dropped after their retries, by receiver.", "receiver"),
	}
	m.reg.MustRegister(m.cycles, m.cycleSeconds, m.actions, m.apiCalls, m.rateLimited, m.retries, m.specErrors,
		m.orders, m.pendingRevoke, m.lastSuccess, m.deliveries, m.waiting, m.notAfter, m.orderEnd, m.reissueOverdue, m.leader,
		specCollector{&m.specMetrics}, m.dcvExpiry, m.dcvWaiting, m.apiRequests, m.apiDuration, m.notifySent, m.notifyFailed)
	return m
}

// newSpecMetrics returns each spec's series, all zero.
func newSpecMetrics() specMetrics {
	return specMetrics{
		notAfter: gaugeVec("certform_certificate_not_after_timestamp_seconds",
			"Deprecated: use certform_certificate_expiration_timestamp_seconds. When each spec's current certificate ends (Unix time), as last observed in CertCentral.", "name"),
		orderEnd: gaugeVec("certform_order_valid_till_timestamp_seconds",
			"Deprecated: use certform_order_expiration_timestamp_seconds. When each spec's order ends (Unix time), as last observed in CertCentral.", "name"),
		reissueOverdue: gaugeVec("certform_reissue_overdue",
			"1 for each spec whose certificate ends within 7 days, on an order that lasts longer, with auto_reissue on and no reissue pending: DigiCert has not reissued it.", "name"),
		certExpiry: prometheus.NewDesc("certform_certificate_expiration_timestamp_seconds",
			"When each spec's current certificate ends (Unix time), as last observed in CertCentral.", []string{"name", "order_id"}, nil),
		orderExpiry: prometheus.NewDesc("certform_order_expiration_timestamp_seconds",
			"When each spec's order ends (Unix time), as last observed in CertCentral.", []string{"name", "order_id"}, nil),
		renewalAt: prometheus.NewDesc("certform_certificate_renewal_timestamp_seconds",
			"When certform will next reissue the spec's certificate or renew its order (Unix time; in the past while due or under way).", []string{"name"}, nil),
		renewalPending: prometheus.NewDesc("certform_certificate_renewal_pending",
			"1 while a reissue, renewal or order of the spec waits in CertCentral or has an unknown Outcome; 0 otherwise.", []string{"name"}, nil),
		ready: prometheus.NewDesc("certform_certificate_ready_status",
			"The spec's certificate's Ready condition: 1 on the current condition (True: issued, current, delivered; False: a failure, or expired or revoked; Unknown: waiting or not known yet), 0 on the others.", []string{"name", "condition"}, nil),
	}
}

// ObserveDeliveries counts a cycle's deliveries and hook runs.
func (m *Metrics) ObserveDeliveries(ds []runner.Delivery) {
	for _, dv := range ds {
		switch {
		case dv.Err != nil:
			m.deliveries.WithLabelValues("failed").Inc()
		case dv.Delivered:
			m.deliveries.WithLabelValues("delivered").Inc()
		}
		switch dv.Deploy {
		case runner.HookRan:
			m.deliveries.WithLabelValues("hook_ok").Inc()
		case runner.HookFailed:
			m.deliveries.WithLabelValues("hook_failed").Inc()
		}
	}
}

// NotificationSent counts a notification the receiver accepted, and
// NotificationFailed one dropped after its retries; they are the
// notifier's hooks (see package notify).
func (m *Metrics) NotificationSent(receiver string) { m.notifySent.WithLabelValues(receiver).Inc() }

// AddReceiver makes the notification counters of a receiver, at zero, so
// that they are in /metrics before its first event.
func (m *Metrics) AddReceiver(receiver string) {
	m.notifySent.WithLabelValues(receiver)
	m.notifyFailed.WithLabelValues(receiver)
}

// NotificationFailed counts a notification dropped after its retries.
func (m *Metrics) NotificationFailed(receiver string) { m.notifyFailed.WithLabelValues(receiver).Inc() }

// SetDomainValidation records when a domain's validation ends (the
// validation type, such as "ov" or "ev", as CertCentral names it); a zero
// expires removes the series.
func (m *Metrics) SetDomainValidation(domain, validation string, expires time.Time) {
	if expires.IsZero() {
		m.dcvExpiry.DeleteLabelValues(domain, validation)
		return
	}
	m.dcvExpiry.WithLabelValues(domain, validation).Set(float64(expires.Unix()))
}

// ObserveDomainValidation sets the domain validation series from
// reconcile.Reconciler.DomainValidation: each domain's end, under an empty
// validation label (the earliest end of the domain's validation types,
// which is what certform reads), and the names waiting on validation. A
// domain no longer reported loses its series, as a spec no longer loaded
// does.
func (m *Metrics) ObserveDomainValidation(ends map[string]time.Time, waiting int) {
	m.dcvExpiry.Reset()
	for domain, end := range ends {
		m.SetDomainValidation(domain, "", end)
	}
	m.dcvWaiting.Set(float64(waiting))
}

// specSeries is what ObserveSpecs keeps for one spec, from which each
// scrape makes the spec's series (see specCollector).
type specSeries struct {
	id                            string // order id label
	certExp, orderExp, renewal    float64
	hasCert, hasOrder, hasRenewal bool
	revoked                       bool // no pending or ready series
	pending                       float64
	cond                          string // the Ready condition
}

// specMemo holds the series ObserveSpecs set last, by spec name: what
// /metrics shows. A map once set is not changed (the next call sets
// another), so a scrape reads it outside mu.
type specMemo struct {
	mu   sync.Mutex
	last map[string]specSeries
	// rows, revoked and at are the last call's arguments; flip is the
	// first certificate end after at, when a Ready condition changes by
	// itself (zero: none).
	rows     []status.Entry
	revoked  map[string]bool
	at, flip time.Time
}

// unchanged reports whether ObserveSpecs(rows, revoked, now) would set
// what the last call set: the same rows (the same slice, which the daemon
// keeps while neither the state nor the specs change), the same revoked
// specs, and no certificate ended since (see ReadyCondition).
func (s *specMemo) unchanged(rows []status.Entry, revoked map[string]bool, now time.Time) bool {
	return s.last != nil && len(rows) > 0 && len(rows) == len(s.rows) && &rows[0] == &s.rows[0] && maps.Equal(revoked, s.revoked) &&
		!now.Before(s.at) && (s.flip.IsZero() || now.Before(s.flip))
}

// remember records a call's arguments for unchanged.
func (s *specMemo) remember(rows []status.Entry, revoked map[string]bool, now time.Time) {
	s.rows, s.revoked, s.at, s.flip = rows, maps.Clone(revoked), now, time.Time{}
	for _, r := range rows {
		if r.NotAfter != nil && r.NotAfter.After(now) && (s.flip.IsZero() || r.NotAfter.Before(s.flip)) {
			s.flip = *r.NotAfter
		}
	}
}

// ObserveSpecs sets the per-spec series from /status's entries at now;
// revoked names the specs that ask for their order's revocation (no
// Ready condition: a revoked certificate is what they want). Of two rows
// of one name (not expected: status.Build makes one per state entry), the
// last one's series are shown. The same rows again at a time when no
// certificate ended since (a quiet cycle) set nothing.
func (m *Metrics) ObserveSpecs(rows []status.Entry, revoked map[string]bool, now time.Time) {
	// The wall clock alone: a reading of time.Now compares with the last
	// one on the monotonic clock, which does not see the wall clock
	// stepped back (the Ready conditions read the wall clock).
	now = now.Round(0)
	m.specs.mu.Lock()
	defer m.specs.mu.Unlock()
	if m.specs.unchanged(rows, revoked, now) {
		return
	}
	m.specs.remember(rows, revoked, now)
	next := make(map[string]specSeries, len(rows))
	for _, r := range rows {
		if !r.Orphan {
			next[r.Name] = seriesOf(r, revoked, now)
		}
	}
	m.specs.last = next
}

// seriesOf returns the series of one /status entry at now.
func seriesOf(r status.Entry, revoked map[string]bool, now time.Time) specSeries {
	s := specSeries{id: strconv.Itoa(r.OrderID), revoked: revoked[r.Name]}
	if r.NotAfter != nil && r.Status != "revoked" {
		s.hasCert, s.certExp = true, float64(r.NotAfter.Unix())
	}
	if r.OrderValidTill != nil && r.Status != "revoked" {
		s.hasOrder, s.orderExp = true, float64(r.OrderValidTill.Unix())
	}
	if r.NextRenewal != nil {
		s.hasRenewal, s.renewal = true, float64(r.NextRenewal.Unix())
	}
	if !s.revoked {
		if r.Waiting != "" || r.Intent != nil {
			s.pending = 1
		}
		s.cond = ReadyCondition(r, now)
	}
	return s
}

var readyConditions = []string{"True", "False", "Unknown"}

// specCollector makes the per-spec series at each scrape from the series
// ObserveSpecs set last.
type specCollector struct{ m *specMetrics }

// Describe sends the per-spec series' descriptions.
func (c specCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.m.certExpiry, c.m.orderExpiry, c.m.renewalAt, c.m.renewalPending, c.m.ready} {
		ch <- d
	}
}

// Collect sends each spec's series.
func (c specCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.specs.mu.Lock()
	last := c.m.specs.last
	c.m.specs.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		mt, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...)
		if err != nil {
			// A label that is not UTF-8: the scrape fails, saying so.
			mt = prometheus.NewInvalidMetric(d, err)
		}
		ch <- mt
	}
	for name, s := range last {
		if s.hasCert {
			gauge(c.m.certExpiry, s.certExp, name, s.id)
		}
		if s.hasOrder {
			gauge(c.m.orderExpiry, s.orderExp, name, s.id)
		}
		if s.hasRenewal {
			gauge(c.m.renewalAt, s.renewal, name)
		}
		if s.revoked {
			continue
		}
		gauge(c.m.renewalPending, s.pending, name)
		for _, cond := range readyConditions {
			v := 0.0
			if cond == s.cond {
				v = 1
			}
			gauge(c.m.ready, v, name, cond)
		}
	}
}

// ReadyCondition returns a spec's Ready condition at now, as
// certform_certificate_ready_status shows it: "False" when its last call,
// delivery or deploy hook failed, or its order is revoked, canceled,
// rejected or expired, or its certificate has ended; "True" when its order
// is issued with a current certificate; "Unknown" otherwise (no order yet,
// an order waiting in CertCentral, a certificate not read yet).
func ReadyCondition(r status.Entry, now time.Time) string {
	switch {
	case r.LastError != "" || r.DeliveryError != "" || r.HookPending != "":
		return "False"
	case digicert.IsClosed(r.Status):
		return "False"
	case r.NotAfter != nil && !now.Before(*r.NotAfter):
		return "False"
	case r.OrderID != 0 && r.Status == "issued" && r.NotAfter != nil && r.Intent == nil:
		return "True"
	}
	return "Unknown"
}

// ObserveCall counts one HTTP exchange with CertCentral; it is the
// digicert client's observer (digicert.WithObserver).
func (m *Metrics) ObserveCall(c digicert.Call) {
	m.calls.Add(1)
	m.apiCalls.WithLabelValues(c.Endpoint, strconv.Itoa(c.Status)).Inc()
	m.apiRequests.WithLabelValues(c.Endpoint, strconv.Itoa(c.Status)).Inc()
	m.apiDuration.WithLabelValues(c.Endpoint).Observe(c.Duration.Seconds())
	if c.Status == http.StatusTooManyRequests {
		m.rateLimited.Inc()
	}
	if c.Attempt > 1 {
		m.retries.Inc()
	}
}

// ObserveCycle records a finished cycle that ended at end; p and stats
// are nil when no plan was made.
func (m *Metrics) ObserveCycle(trigger string, ok bool, d time.Duration, end time.Time, specErrors int, p *reconcile.Plan, stats *StateStats) {
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
	if stats != nil && stats != m.lastStats {
		m.lastStats = stats
		m.orders.Reset()
		for status, n := range stats.orders {
			m.orders.WithLabelValues(status).Set(float64(n))
		}
		m.pendingRevoke.Set(float64(stats.pendingRevokes))
		m.waiting.Reset()
		for reason, n := range stats.waiting {
			m.waiting.WithLabelValues(reason).Set(float64(n))
		}
		m.observeDates(stats.dates)
		m.reissueOverdue.Reset()
		for _, n := range stats.reissueOverdue {
			m.reissueOverdue.WithLabelValues(n).Set(1)
		}
	}
	if ok {
		m.lastSuccess.Set(float64(end.Unix()))
	}
}

// observeDates sets the per-spec end series (notAfter, orderEnd) to
// dates: the series of a spec whose ends did not change since the last
// call stay as they are, so that an idle cycle over 10,000 specs sets
// none.
func (m *Metrics) observeDates(dates []certDates) {
	next := make(map[string]certDates, len(dates))
	for _, d := range dates {
		next[d.name] = d
	}
	if m.dates == nil || len(next) != len(dates) {
		m.notAfter.Reset()
		m.orderEnd.Reset()
		m.dates = map[string]certDates{}
	}
	for name, old := range m.dates {
		d, ok := next[name]
		if !old.notAfter.IsZero() && (!ok || d.notAfter.IsZero()) {
			m.notAfter.DeleteLabelValues(name)
		}
		if !old.orderEnd.IsZero() && (!ok || d.orderEnd.IsZero()) {
			m.orderEnd.DeleteLabelValues(name)
		}
	}
	for _, d := range dates {
		old, ok := m.dates[d.name]
		if !d.notAfter.IsZero() && (!ok || !old.notAfter.Equal(d.notAfter)) {
			m.notAfter.WithLabelValues(d.name).Set(float64(d.notAfter.Unix()))
		}
		if !d.orderEnd.IsZero() && (!ok || !old.orderEnd.Equal(d.orderEnd)) {
			m.orderEnd.WithLabelValues(d.name).Set(float64(d.orderEnd.Unix()))
		}
	}
	m.dates = next
	if len(next) != len(dates) {
		m.dates = nil // names seen twice (not expected): from scratch next time
	}
}

// Gatherer is what /metrics serves.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// SetLeader sets certform_leader: 1 while the daemon holds the state's
// lock, 0 while it stands by.
func (m *Metrics) SetLeader(leading bool) {
	if leading {
		m.leader.Set(1)
	} else {
		m.leader.Set(0)
	}
}

// Calls counts the CertCentral calls ended so far: the watchdog's sign of
// progress in a long cycle.
func (m *Metrics) Calls() uint64 { return m.calls.Load() }

// Waiting reports whether an order waits in CertCentral.
func (st *StateStats) Waiting() bool { return len(st.waiting) > 0 }

// StateStats are the state file's numbers the metrics show.
type StateStats struct {
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

// CountState reads the numbers from the state at now (under the store's lock, so
// it must be quick and keep nothing).
func CountState(f *state.File, now time.Time) *StateStats {
	st, _ := countState(f, now)
	return st
}

// countState is CountState, and also returns the first time after now at
// which an entry's reissue may become overdue (zero: none may).
func countState(f *state.File, now time.Time) (st *StateStats, until time.Time) {
	st = &StateStats{orders: map[string]int{}, waiting: map[string]int{}}
	for name, e := range f.Entries {
		if t := reconcile.ReissueOverdueFrom(e); t.After(now) && (until.IsZero() || t.Before(until)) {
			until = t
		}
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
	return st, until
}

// StateCounter keeps the numbers CountState read last, so that a
// daemon's idle cycles over 100,000 entries do not read every entry again
// (issue 27). The zero value is ready; it is used by one goroutine.
type StateCounter struct {
	stats   *StateStats
	version uint64
	// at is the time the numbers were read at; until is the first time
	// after it at which an entry's reissue may become overdue (zero:
	// none may).
	at, until time.Time
}

// Count returns CountState(f, now). It returns the numbers read last
// when the state is the same (version, the store's state.Store.Version,
// read before f is) and now is from their time up to (not including) the
// first time an entry's reissue may become overdue by the clock alone
// (reconcile.ReissueOverdueFrom): the only number that depends on the
// time. The numbers returned are not changed afterwards.
func (c *StateCounter) Count(version uint64, f *state.File, now time.Time) *StateStats {
	// The wall clock alone, which the numbers are read on: a reading of
	// time.Now compares with the last one on the monotonic clock, which
	// does not see the wall clock stepped back.
	now = now.Round(0)
	if c.stats != nil && c.version == version && !now.Before(c.at) && (c.until.IsZero() || now.Before(c.until)) {
		return c.stats
	}
	c.stats, c.until = countState(f, now)
	c.version, c.at = version, now
	return c.stats
}

// handler serves /healthz, /readyz, /status and /metrics.
func (m *Metrics) Handler(h *Health) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/healthz", h)
	mux.HandleFunc("/readyz", h.serveReady)
	mux.HandleFunc("/status", h.serveStatus)
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return mux
}
