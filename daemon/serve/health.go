package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/certform/certform/status"
)

// Outcome is how a cycle ended, as /healthz judges the daemon: whether
// it works, not whether every spec landed.
type Outcome int

const (
	// Worked: the cycle reached its plan and CertCentral answered; one
	// spec's failure (a call, a delivery, a hook, a refused order) may
	// remain, which /status and the metrics report.
	Worked Outcome = iota
	// CycleErrors: the cycle reached its plan, but refreshing or
	// consulting CertCentral failed.
	CycleErrors
	// APIDown: CertCentral could not be reached or refused the key.
	APIDown
	// LockLost: another process holds the state's lock (a state that is
	// not shared: the daemon does not stand by).
	LockLost
	// Broken: the cycle failed before its plan for another reason (the
	// state or the spec directory could not be read).
	Broken
	// Stopped: the cycle ended because certform is stopping.
	Stopped
)

// DefaultUnreachableAfter is how long CertCentral may be unreachable or
// refuse the key before /healthz answers 503 "unreachable" when the
// daemon has no schedule (with one: three schedule intervals): three
// times the daemon's longest retry wait.
const DefaultUnreachableAfter = 45 * time.Minute

// NewHealth returns what /healthz, /readyz and /status report for a daemon
// started now, on the clock now. A non-zero staleAfter (three schedule
// intervals) makes /healthz answer 503 "stale" (or "unreachable") when no
// cycle worked for that long.
func NewHealth(now func() time.Time, staleAfter time.Duration) *Health {
	h := &Health{now: now, started: now(), unreachableAfter: DefaultUnreachableAfter, staleAfter: staleAfter}
	if staleAfter > 0 {
		h.unreachableAfter = staleAfter
	}
	return h
}

// Health is what /healthz, /readyz and /status report; its zero value
// judges no staleness. Safe for
// concurrent use.
//
// /healthz answers whether the daemon works, for a liveness probe:
// 200 "standby" with the reason (who holds the lock) while the daemon
// stands by on a shared state; 503 "clock_skew" with the cycle's
// *reconcile.ClockError while the last cycle found the local clock too far
// from CertCentral's (nothing can be ordered, renewed, reissued or
// revoked); 503 "lock_lost" while another process holds the lock of a
// state that is not shared; 503 "failing" while the last cycle failed
// before its plan (the state or the spec directory could not be read);
// 503 "unreachable" when CertCentral could not be reached or refused the
// key and no cycle worked for three schedule intervals (unreachableAfter);
// 503 "stale" when no cycle worked for three schedule intervals
// (staleAfter); 503 "degraded" while a folder below the spec directory
// cannot be watched; 200 "starting" until the first cycle ends; otherwise
// 200 "ok". One spec's failure (a failed call, a refused delivery, a
// failed deploy hook, a blocked action, a spec error) leaves it 200, with
// last_result "failed" and last_failure saying what failed. The body also
// gives the last cycle's end time, result and trigger and the last
// success (a cycle where everything landed); last_failure is given only
// with a 200 "ok" (a 503's reason says what is wrong).
//
// /readyz answers 200 "leading" while the daemon holds the state's lock,
// 503 "standby" (or "lock_lost") otherwise. /status answers the status of
// every spec as of the last cycle (see package status).
type Health struct {
	mu          sync.Mutex
	last        time.Time
	ok          bool
	trigger     string
	why         string // why the last cycle failed
	lastSuccess time.Time
	// started is when the daemon started, and lastWorked when the last
	// cycle that worked (see Outcome) ended.
	started, lastWorked time.Time
	Outcome             Outcome
	// problem is the error of an APIDown, LockLost or Broken cycle.
	problem   string
	unwatched []string
	// standby is why the daemon stands by (the error naming the lock's
	// holder); "" while it holds the lock.
	standby string
	// clock is the last cycle's clock error; "" when the clock was fine
	// or not checked.
	clock string
	// now, staleAfter and unreachableAfter judge staleness; a zero
	// staleAfter never does.
	now                          func() time.Time
	staleAfter, unreachableAfter time.Duration
	// specs is /status's answer, from the last cycle that made a plan.
	specs []status.Entry
}

// SetCycle records a cycle that ended at end.
func (h *Health) SetCycle(end time.Time, ok bool, trigger string, o Outcome) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if o == Stopped {
		return
	}
	h.last, h.ok, h.trigger, h.Outcome = end, ok, trigger, o
	if ok {
		h.lastSuccess, h.why = end, ""
	}
	if o == Worked {
		h.lastWorked, h.problem = end, ""
	}
}

// SetFailure records why the cycle about to be reported failed.
func (h *Health) SetFailure(why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.why = why
}

// SetProblem records the error of an APIDown, LockLost or Broken cycle
// about to be reported.
func (h *Health) SetProblem(why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.problem = why
}

// SetStandby records why the daemon stands by; "" once it took over.
func (h *Health) SetStandby(why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.standby = why
}

// SetClock records the clock error of the cycle about to be reported; ""
// when it had none.
func (h *Health) SetClock(why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clock = why
}

func (h *Health) SetUnwatched(reasons []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unwatched = reasons
}

// SetSpecs records /status's answer.
func (h *Health) SetSpecs(specs []status.Entry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.specs = specs
}

// healthView is what one /healthz answer is made from, copied under the
// lock.
type healthView struct {
	last, success, lastWorked             time.Time
	ok                                    bool
	trigger, why, standby, clock, problem string
	unwatched                             []string
	Outcome                               Outcome
	stale, unreachable                    bool
	staleAfter, unreachableAfter          time.Duration
}

// view copies what /healthz answers from and judges staleness: a
// standby runs no cycle, so it is never stale.
func (h *Health) view() healthView {
	h.mu.Lock()
	defer h.mu.Unlock()
	v := healthView{last: h.last, success: h.lastSuccess, lastWorked: h.lastWorked, ok: h.ok, trigger: h.trigger, why: h.why,
		standby: h.standby, clock: h.clock, problem: h.problem, unwatched: h.unwatched, Outcome: h.Outcome,
		staleAfter: h.staleAfter, unreachableAfter: h.unreachableAfter}
	since := h.lastWorked
	if since.IsZero() {
		since = h.started
	}
	var idle time.Duration
	if h.now != nil && !since.IsZero() {
		idle = h.now().Sub(since)
	}
	v.stale = v.standby == "" && h.staleAfter > 0 && idle > h.staleAfter
	v.unreachable = v.standby == "" && v.Outcome == APIDown && h.unreachableAfter > 0 && idle > h.unreachableAfter
	return v
}

// verdict returns /healthz's code, status and reasons (see Health).
func (v healthView) verdict() (code int, st string, reasons []string) {
	const unavailable = http.StatusServiceUnavailable
	switch {
	case v.standby != "":
		return http.StatusOK, "standby", []string{v.standby}
	case v.clock != "":
		return unavailable, "clock_skew", []string{v.clock}
	case v.Outcome == LockLost && !v.last.IsZero():
		return unavailable, "lock_lost", []string{v.problem}
	case v.Outcome == Broken && !v.last.IsZero():
		return unavailable, "failing", []string{"the last cycle failed before its plan: " + v.problem}
	case v.unreachable:
		return unavailable, "unreachable", []string{fmt.Sprintf("%s (no cycle worked for more than %s)", v.problem, v.unreachableAfter)}
	case v.stale:
		from := "since the daemon started"
		if !v.lastWorked.IsZero() {
			from = "since " + v.lastWorked.UTC().Format(time.RFC3339)
		}
		return unavailable, "stale", []string{fmt.Sprintf("no cycle worked %s (more than %s)", from, v.staleAfter)}
	case len(v.unwatched) > 0:
		return unavailable, "degraded", nil
	case v.last.IsZero():
		return http.StatusOK, "starting", nil
	}
	return http.StatusOK, "ok", nil
}

// lastFailure is what failed in the last cycle, given only with a 200
// "ok" (a 503's reason says what is wrong); "" when nothing did.
func (v healthView) lastFailure(code int) string {
	if v.ok || v.last.IsZero() || code != http.StatusOK || v.standby != "" {
		return ""
	}
	if v.why != "" {
		return v.why
	}
	return v.problem
}

// ServeHTTP is /healthz (see Health).
func (h *Health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	v := h.view()
	code, st, reasons := v.verdict()
	body := map[string]string{"status": st}
	if !v.last.IsZero() {
		result := "ok"
		if !v.ok {
			result = "failed"
		}
		body["last_cycle"], body["last_result"], body["trigger"] = v.last.UTC().Format(time.RFC3339), result, v.trigger
	}
	if !v.success.IsZero() {
		body["last_success"] = v.success.UTC().Format(time.RFC3339)
	}
	if code == http.StatusServiceUnavailable || v.standby != "" {
		reasons = append(reasons, v.unwatched...)
	}
	if len(reasons) > 0 {
		body["reason"] = strings.Join(reasons, "; ")
	}
	if f := v.lastFailure(code); f != "" {
		body["last_failure"] = f
	}
	writeJSON(w, code, body)
}

// serveReady is /readyz: 200 "leading" while the daemon holds the state's
// lock, 503 "standby" with the holder while it stands by, 503 "lock_lost"
// while another process holds the lock of a state that is not shared.
func (h *Health) serveReady(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	standby, o, problem, last := h.standby, h.Outcome, h.problem, h.last
	h.mu.Unlock()
	switch {
	case standby != "":
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "standby", "reason": standby})
	case o == LockLost && !last.IsZero():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "lock_lost", "reason": problem})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "leading"})
	}
}

// serveStatus is /status: the JSON array certform status --json prints
// (with the spec directory), as of the last cycle that made a plan, with
// each spec's last error; [] before the first.
func (h *Health) serveStatus(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	specs := h.specs
	h.mu.Unlock()
	if specs == nil {
		specs = []status.Entry{}
	}
	writeJSON(w, http.StatusOK, specs)
}

// writeJSON answers code with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	// An error here is the client's going away; there is no one to tell.
	_ = json.NewEncoder(w).Encode(v)
}
