package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/certform/certform/status"
)

// outcome is how a cycle ended, as /healthz judges the daemon: whether
// it works, not whether every spec landed.
type outcome int

const (
	// worked: the cycle reached its plan and CertCentral answered; one
	// spec's failure (a call, a delivery, a hook, a refused order) may
	// remain, which /status and the metrics report.
	worked outcome = iota
	// cycleErrors: the cycle reached its plan, but refreshing or
	// consulting CertCentral failed.
	cycleErrors
	// apiDown: CertCentral could not be reached or refused the key.
	apiDown
	// lockLost: another process holds the state's lock (a state that is
	// not shared: the daemon does not stand by).
	lockLost
	// broken: the cycle failed before its plan for another reason (the
	// state or the spec directory could not be read).
	broken
	// stopped: the cycle ended because certform is stopping.
	stopped
)

// DefaultUnreachableAfter is how long CertCentral may be unreachable or
// refuse the key before /healthz answers 503 "unreachable" when the
// daemon has no schedule (with one: three schedule intervals).
const DefaultUnreachableAfter = 3 * retryMax

// health is what /healthz, /readyz and /status report. Safe for
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
type health struct {
	mu          sync.Mutex
	last        time.Time
	ok          bool
	trigger     string
	why         string // why the last cycle failed
	lastSuccess time.Time
	// started is when the daemon started, and lastWorked when the last
	// cycle that worked (see outcome) ended.
	started, lastWorked time.Time
	outcome             outcome
	// problem is the error of an apiDown, lockLost or broken cycle.
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

// setCycle records a cycle that ended at end.
func (h *health) setCycle(end time.Time, ok bool, trigger string, o outcome) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if o == stopped {
		return
	}
	h.last, h.ok, h.trigger, h.outcome = end, ok, trigger, o
	if ok {
		h.lastSuccess, h.why = end, ""
	}
	if o == worked {
		h.lastWorked, h.problem = end, ""
	}
}

// setFailure records why the cycle about to be reported failed.
func (h *health) setFailure(why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.why = why
}

// setProblem records the error of an apiDown, lockLost or broken cycle
// about to be reported.
func (h *health) setProblem(why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.problem = why
}

// setStandby records why the daemon stands by; "" once it took over.
func (h *health) setStandby(why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.standby = why
}

// setClock records the clock error of the cycle about to be reported; ""
// when it had none.
func (h *health) setClock(why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clock = why
}

func (h *health) setUnwatched(reasons []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unwatched = reasons
}

// setSpecs records /status's answer.
func (h *health) setSpecs(specs []status.Entry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.specs = specs
}

func (h *health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	last, ok, trigger, unwatched, why, success, standby, clock := h.last, h.ok, h.trigger, h.unwatched, h.why, h.lastSuccess, h.standby, h.clock
	o, problem := h.outcome, h.problem
	since := h.lastWorked
	if since.IsZero() {
		since = h.started
	}
	var idle time.Duration
	if h.now != nil && !since.IsZero() {
		idle = h.now().Sub(since)
	}
	// A standby runs no cycle: it is never stale.
	stale := standby == "" && h.staleAfter > 0 && idle > h.staleAfter
	unreachable := standby == "" && o == apiDown && h.unreachableAfter > 0 && idle > h.unreachableAfter
	h.mu.Unlock()
	body := map[string]string{"status": "ok"}
	code := http.StatusOK
	if !last.IsZero() {
		result := "ok"
		if !ok {
			result = "failed"
		}
		body["last_cycle"], body["last_result"], body["trigger"] = last.UTC().Format(time.RFC3339), result, trigger
	}
	if !success.IsZero() {
		body["last_success"] = success.UTC().Format(time.RFC3339)
	}
	var reasons []string
	switch {
	case standby != "":
		body["status"] = "standby"
		reasons = append(reasons, standby)
	case clock != "":
		code, body["status"] = http.StatusServiceUnavailable, "clock_skew"
		reasons = append(reasons, clock)
	case o == lockLost && !last.IsZero():
		code, body["status"] = http.StatusServiceUnavailable, "lock_lost"
		reasons = append(reasons, problem)
	case o == broken && !last.IsZero():
		code, body["status"] = http.StatusServiceUnavailable, "failing"
		reasons = append(reasons, "the last cycle failed before its plan: "+problem)
	case unreachable:
		code, body["status"] = http.StatusServiceUnavailable, "unreachable"
		reasons = append(reasons, fmt.Sprintf("%s (no cycle worked for more than %s)", problem, h.unreachableAfter))
	case stale:
		code, body["status"] = http.StatusServiceUnavailable, "stale"
		from := "since the daemon started"
		if !h.lastWorked.IsZero() {
			from = "since " + h.lastWorked.UTC().Format(time.RFC3339)
		}
		reasons = append(reasons, fmt.Sprintf("no cycle worked %s (more than %s)", from, h.staleAfter))
	case len(unwatched) > 0:
		code, body["status"] = http.StatusServiceUnavailable, "degraded"
	case last.IsZero():
		body["status"] = "starting"
	}
	if code == http.StatusServiceUnavailable || standby != "" {
		reasons = append(reasons, unwatched...)
	}
	if len(reasons) > 0 {
		body["reason"] = strings.Join(reasons, "; ")
	}
	if !ok && !last.IsZero() && code == http.StatusOK && standby == "" {
		failure := why
		if failure == "" {
			failure = problem
		}
		if failure != "" {
			body["last_failure"] = failure
		}
	}
	writeJSON(w, code, body)
}

// serveReady is /readyz: 200 "leading" while the daemon holds the state's
// lock, 503 "standby" with the holder while it stands by, 503 "lock_lost"
// while another process holds the lock of a state that is not shared.
func (h *health) serveReady(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	standby, o, problem, last := h.standby, h.outcome, h.problem, h.last
	h.mu.Unlock()
	switch {
	case standby != "":
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "standby", "reason": standby})
	case o == lockLost && !last.IsZero():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "lock_lost", "reason": problem})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "leading"})
	}
}

// serveStatus is /status: the JSON array certform status --json prints
// (with the spec directory), as of the last cycle that made a plan, with
// each spec's last error; [] before the first.
func (h *health) serveStatus(w http.ResponseWriter, _ *http.Request) {
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
