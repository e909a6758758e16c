package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/certform/certform/daemon/serve"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/state"
)

// sharedName is the fake shared state's Name.
const sharedName = "workspace test"

// sharedSelf is who holds sharedBackend's lock when this process does.
const sharedSelf = "this process"

// otherHolder is the other process that takes the lock in the tests.
const otherHolder = "certform on server-b pid 4242"

// sharedLockedError is the fake's answer when another process holds the
// lock: it matches state.ErrLocked and names the holder.
type sharedLockedError struct{ name, holder string }

func (e *sharedLockedError) Error() string {
	return fmt.Sprintf("%s is in use by another certform process (%s)", e.name, e.holder)
}

func (e *sharedLockedError) Is(target error) bool { return target == state.ErrLocked }

// sharedLostError is the fake's answer to a Check or Write once its lock
// was taken away: it matches state.ErrLockLost.
type sharedLostError struct{ name string }

func (e *sharedLostError) Error() string {
	return e.name + ": lock lost: another process took it; nothing was written"
}

func (e *sharedLostError) Is(target error) bool { return target == state.ErrLockLost }

// sharedBackend is an in-memory state.Backend that several servers share
// (state.Shared): its one lock is held by this process (sharedSelf), by
// another process (any other holder), or by none. Safe for concurrent use.
type sharedBackend struct {
	mu     sync.Mutex
	data   []byte // the state as last written; nil before the first Load
	holder string // "" while the lock is free
	down   error  // when set, Load fails with it: the database cannot be reached
	loads  int    // Load calls
}

func (b *sharedBackend) Name() string { return sharedName }

func (b *sharedBackend) Shared() bool { return true }

func (b *sharedBackend) Load() (*state.File, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.loads++
	if b.down != nil {
		return nil, b.down
	}
	if b.holder != "" && b.holder != sharedSelf {
		return nil, &sharedLockedError{name: sharedName, holder: b.holder}
	}
	if b.data == nil {
		enc, err := state.Encode(&state.File{Version: state.Version, Entries: map[string]*state.Entry{}})
		if err != nil {
			return nil, err
		}
		b.data = enc.Data
	}
	f, err := state.Decode(sharedName, b.data)
	if err != nil {
		return nil, err
	}
	b.holder = sharedSelf
	return f, nil
}

func (b *sharedBackend) Write(_, next *state.Encoded) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holder != sharedSelf {
		return &sharedLostError{name: sharedName}
	}
	b.data = next.Data
	return nil
}

func (b *sharedBackend) Check() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holder != sharedSelf {
		return &sharedLostError{name: sharedName}
	}
	return nil
}

func (b *sharedBackend) Release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holder == sharedSelf {
		b.holder = ""
	}
	return nil
}

// give hands the lock to another process, as if this process's session
// had ended and another server's daemon had taken over.
func (b *sharedBackend) give(holder string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.holder = holder
}

// free ends the other process's hold on the lock.
func (b *sharedBackend) free() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holder != sharedSelf {
		b.holder = ""
	}
}

// setDown makes Load fail with err (nil: reachable again).
func (b *sharedBackend) setDown(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down = err
}

func (b *sharedBackend) loadCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.loads
}

// standbyPoll is the tests' Config.StandbyPoll, on the fake clock.
const standbyPoll = 2 * time.Second

// standbyRig is a daemon running (Run) over a sharedBackend with a fake
// clock, a spec folder with one spec, /healthz on a free port, and
// SIGHUP/SIGTERM at hand.
type standbyRig struct {
	// events are the notifications the daemon sent.
	events *recorder
	d      *Daemon
	b      *sharedBackend
	clock  *fakeClock
	logs   *logBuffer
	sigs   chan os.Signal
	done   chan error // Run's result

	mu        sync.Mutex
	notes     []string // systemd notifications, WATCHDOG=1 left out
	pings     int      // WATCHDOG=1 notifications
	takeovers int      // TakeOver calls
	pending   []string // the reasons of the trigger pending at each TakeOver call
}

// startStandby runs a daemon over store (on b); takeOver, if set, is its
// Config.TakeOver, after the rig has counted the call.
func startStandby(t *testing.T, b *sharedBackend, store *state.Store, takeOver func() error) *standbyRig {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "www.yaml"), []byte("name: www\ncommon_name: www.example.com\norder_id: 1234\norganization_id: 112233\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log, logs := newLog()
	r := &standbyRig{b: b, clock: newFakeClock(), logs: logs, sigs: make(chan os.Signal, 1), done: make(chan error, 1), events: newRecorder()}
	cfg := Config{
		Runner: asRunner(&reconcile.Reconciler{Dir: dir, Store: store, Log: log}, time.Millisecond),
		Log:    log, Clock: r.clock, Listen: "127.0.0.1:0", Signals: r.sigs, Notifier: r.events,
		// The Reconciler's quiet wait sleeps for real.
		Debounce: time.Millisecond,
		// The watchdog is pinged every 5 minutes.
		StandbyPoll: standbyPoll, Watchdog: 10 * time.Minute,
		Notify: func(s string) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if s == "WATCHDOG=1" {
				r.pings++
				return
			}
			r.notes = append(r.notes, s)
		},
		TakeOver: func() error {
			r.mu.Lock()
			r.takeovers++
			// The trigger queue is empty here: what arrived while
			// standing by was dropped.
			if p := r.d.triggers.take(); p != nil {
				r.pending = append(r.pending, p.reason())
			}
			r.mu.Unlock()
			if takeOver != nil {
				return takeOver()
			}
			return nil
		},
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return 10s after its context ended")
		}
		store.Close()
	})
	return r
}

// waitUntil polls cond until it holds, failing the test after 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// poll waits until the standby has armed its next attempt, then lets
// StandbyPoll pass: the standby tries to take the lock (one more Load).
func (r *standbyRig) poll(t *testing.T) {
	t.Helper()
	r.armed(t)
	loads := r.b.loadCount()
	r.clock.Advance(standbyPoll)
	waitUntil(t, "the standby to try to take the lock", func() bool { return r.b.loadCount() > loads })
}

// armed waits until the standby has armed its next attempt: it waits
// for the clock, and tries nothing until the clock moves.
func (r *standbyRig) armed(t *testing.T) {
	t.Helper()
	waitUntil(t, "the standby's next attempt to be armed", func() bool { return slices.Contains(r.clock.pending(), standbyPoll) })
}

// waitLog waits until n records with msg were logged.
func (r *standbyRig) waitLog(t *testing.T, n int, msg string) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d %q records", n, msg), func() bool { return len(r.logs.records(t, msg)) >= n })
}

// leader returns the certform_leader gauge.
func (r *standbyRig) leader(t *testing.T) float64 {
	t.Helper()
	return leaderGauge(t, r.d.met)
}

// leaderGauge returns m's certform_leader gauge.
func leaderGauge(t *testing.T, m *serve.Metrics) float64 {
	t.Helper()
	fams, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range fams {
		if fam.GetName() == "certform_leader" {
			return fam.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no certform_leader metric")
	return 0
}

// healthz asks the daemon's /healthz over HTTP.
func (r *standbyRig) healthz(t *testing.T) (int, map[string]string) {
	t.Helper()
	return r.getJSON(t, "/healthz")
}

// getJSON asks the daemon for path over HTTP and decodes its JSON object.
func (r *standbyRig) getJSON(t *testing.T, path string) (int, map[string]string) {
	t.Helper()
	resp, err := http.Get("http://" + r.d.ln.Addr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s body: %v", path, err)
	}
	return resp.StatusCode, body
}

// notifications returns the systemd notifications so far, WATCHDOG=1 left
// out.
func (r *standbyRig) notifications() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.notes)
}

func (r *standbyRig) takeOverCalls() (int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.takeovers, slices.Clone(r.pending)
}

// cycleStarts returns the trigger of every cycle started so far.
func (r *standbyRig) cycleStarts(t *testing.T) []any {
	t.Helper()
	var out []any
	for _, rec := range r.logs.records(t, "cycle start") {
		out = append(out, rec["trigger"])
	}
	return out
}

// standbyMessages are the records the standby tests compare.
var standbyMessages = []string{"standing by", "took over", "lock lost: standing by", "takeover check failed: exiting",
	"cycle start", "cycle failed", "the cycle failed; retrying later"}

// lockedBy is the cause a standby reports while otherHolder holds the lock.
var lockedBy = sharedName + " is in use by another certform process (" + otherHolder + ")"

// TestDaemon_standby starts a daemon with a state.Standby store while
// another process holds the shared state's lock: it stands by (no cycle,
// /healthz 200 "standby" naming the holder, certform_leader 0, READY=1,
// the watchdog pinged), logs the holder once, drops a SIGHUP, and takes
// over once the lock is free: TakeOver once, a "takeover" cycle, leader 1.
func TestDaemon_standby(t *testing.T) {
	b := &sharedBackend{}
	b.give(otherHolder)
	_, err := state.OpenBackend(b)
	if !errors.Is(err, state.ErrLocked) {
		t.Fatalf("OpenBackend while another process holds the lock: %v", err)
	}
	r := startStandby(t, b, state.Standby(b, err), nil)
	r.waitLog(t, 1, "standing by")

	if code, body := r.healthz(t); code != http.StatusOK || !cmp.Equal(body, map[string]string{"status": "standby", "reason": lockedBy}) {
		t.Errorf("/healthz while standing by: %d %v", code, body)
	}
	if code, body := r.getJSON(t, "/readyz"); code != http.StatusServiceUnavailable || !cmp.Equal(body, map[string]string{"status": "standby", "reason": lockedBy}) {
		t.Errorf("/readyz while standing by: %d %v", code, body)
	}
	if v := r.leader(t); v != 0 {
		t.Errorf("certform_leader %v while standing by, want 0", v)
	}
	if want := []string{"READY=1", "STATUS=standby: " + lockedBy}; !cmp.Equal(want, r.notifications()) {
		t.Errorf("notifications %v, want %v", r.notifications(), want)
	}
	// Still held: the next attempt fails the same way and logs nothing.
	r.poll(t)
	r.poll(t)
	// A SIGHUP while standing by is dropped: the takeover cycle covers it.
	r.sigs <- syscall.SIGHUP
	r.waitLog(t, 1, "SIGHUP: reconciling now")
	// The watchdog is pinged while standing by.
	r.clock.Advance(5 * time.Minute)
	waitUntil(t, "a watchdog ping", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.pings > 0 })
	r.armed(t) // the attempts those 5 minutes made are over
	if got := r.cycleStarts(t); len(got) != 0 {
		t.Errorf("cycles %v while standing by", got)
	}
	if n, _ := r.takeOverCalls(); n != 0 {
		t.Errorf("TakeOver called %d times while standing by", n)
	}

	b.free()
	r.poll(t)
	r.waitLog(t, 1, "cycle done")
	want := []map[string]any{
		{"level": "INFO", "msg": "standing by", "state": sharedName, "holder": lockedBy},
		{"level": "INFO", "msg": "took over", "state": sharedName},
		{"level": "INFO", "msg": "cycle start", "cycle": 1.0, "trigger": "takeover"},
	}
	if diff := cmp.Diff(want, r.logs.records(t, standbyMessages...)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	done := r.logs.records(t, "cycle done")
	if len(done) != 1 || done[0]["specs"] != 1.0 || done[0]["trigger"] != "takeover" {
		t.Errorf("cycles done %v, want the takeover cycle over 1 spec", done)
	}
	if n, pending := r.takeOverCalls(); n != 1 || len(pending) != 0 {
		t.Errorf("TakeOver called %d times, triggers pending then %v; want once, none", n, pending)
	}
	if v := r.leader(t); v != 1 {
		t.Errorf("certform_leader %v after the takeover, want 1", v)
	}
	if code, body := r.healthz(t); code != http.StatusOK || body["status"] != "ok" || body["trigger"] != "takeover" || body["reason"] != "" {
		t.Errorf("/healthz after the takeover: %d %v", code, body)
	}
	if code, body := r.getJSON(t, "/readyz"); code != http.StatusOK || !cmp.Equal(body, map[string]string{"status": "leading"}) {
		t.Errorf("/readyz after the takeover: %d %v", code, body)
	}
	wantNotes := []string{"READY=1", "STATUS=standby: " + lockedBy, "STATUS=took over; cycle running",
		"STATUS=last cycle ok; planned 1 to adopt, 0 to order, 0 to update, 0 to revoke (2026-03-01T12:05:06Z)"}
	if diff := cmp.Diff(wantNotes, r.notifications()); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
}

// TestDaemon_standby_lockLost takes the lock away from a leader: its next
// cycle fails the lock check, and the daemon stands by at once (no retry
// backoff), then takes over again once the lock is free.
func TestDaemon_standby_lockLost(t *testing.T) {
	b, store, r := startLeader(t)
	if v := r.leader(t); v != 1 {
		t.Errorf("certform_leader %v while leading, want 1", v)
	}

	b.give(otherHolder) // this process's session ended; server B took the lock
	r.sigs <- syscall.SIGHUP
	r.waitLog(t, 1, "standing by")
	// The cycle does not take the lock again itself: the standby does,
	// and runs TakeOver.
	lost := sharedName + ": lock lost: another process took it; nothing was written"
	want := []map[string]any{
		{"level": "INFO", "msg": "cycle start", "cycle": 1.0, "trigger": "start"},
		{"level": "INFO", "msg": "cycle start", "cycle": 2.0, "trigger": "signal"},
		{"level": "ERROR", "msg": "cycle failed", "cycle": 2.0, "error": lost,
			"hint": "this daemon does not hold the shared state's lock: it stands by, calling nothing and writing nothing, and takes over once it can take the lock"},
		{"level": "WARN", "msg": "lock lost: standing by", "state": sharedName, "error": lost},
		{"level": "INFO", "msg": "standing by", "state": sharedName, "holder": lockedBy},
	}
	if diff := cmp.Diff(want, r.logs.records(t, append(standbyMessages, "the state's lock was lost; taking it again and reading the state afresh")...)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	r.armed(t)
	if got := r.clock.pending(); !cmp.Equal(got, []time.Duration{standbyPoll, DefaultLockCheck, 5 * time.Minute}) {
		t.Errorf("timers %v, want the standby's attempt in 2s, the lock check's and the watchdog's ping (no retry backoff)", got)
	}
	if code, body := r.healthz(t); code != http.StatusOK || body["status"] != "standby" || body["reason"] != lockedBy {
		t.Errorf("/healthz while standing by: %d %v", code, body)
	}
	if v := r.leader(t); v != 0 {
		t.Errorf("certform_leader %v while standing by, want 0", v)
	}
	if got := r.events.take(); !cmp.Equal(got, []string{"takeover : another server took over the state's lock; this one stands by: " + lockedBy}) {
		t.Errorf("events when the lock was lost: %q", got)
	}

	b.free()
	r.poll(t)
	r.waitLog(t, 2, "cycle done") // the failed cycle logged "cycle failed" instead
	host, _ := os.Hostname()
	if got := r.events.take(); !cmp.Equal(got, []string{"takeover : this server (" + host + ") took over the state's lock of " + sharedName + " and leads now"}) {
		t.Errorf("events after taking over: %q", got)
	}
	if got := r.cycleStarts(t); !cmp.Equal(got, []any{"start", "signal", "takeover"}) {
		t.Errorf("cycles %v", got)
	}
	if got := r.logs.records(t, "took over"); len(got) != 1 {
		t.Errorf("took over %v, want once", got)
	}
	if n, _ := r.takeOverCalls(); n != 1 {
		t.Errorf("TakeOver called %d times, want once", n)
	}
	if v := r.leader(t); v != 1 {
		t.Errorf("certform_leader %v after taking over again, want 1", v)
	}
	if err := store.Update("x", func(*state.Entry) bool { return true }); err != nil {
		t.Errorf("writing after taking over: %v", err)
	}
}

// TestDaemon_standby_backendDown: a standby that cannot reach the shared
// state logs that at WARN, then the holder at INFO once it can, each only
// when it changes; the first SIGTERM ends the standby and Run returns nil.
func TestDaemon_standby_backendDown(t *testing.T) {
	b := &sharedBackend{}
	down := errors.New("connecting to PostgreSQL at db.example:5432: dial tcp 10.0.0.5:5432: connect: connection refused")
	b.setDown(down)
	_, err := state.OpenBackend(b)
	if !errors.Is(err, down) {
		t.Fatalf("OpenBackend while down: %v", err)
	}
	r := startStandby(t, b, state.Standby(b, err), nil)
	r.waitLog(t, 1, "standing by")
	r.poll(t)
	b.setDown(nil)
	b.give(otherHolder)
	r.poll(t)
	r.poll(t)
	r.sigs <- syscall.SIGTERM
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if err != nil {
			t.Errorf("Run after SIGTERM: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after SIGTERM while standing by")
	}
	want := []map[string]any{
		{"level": "WARN", "msg": "standing by", "state": sharedName, "error": down.Error()},
		{"level": "INFO", "msg": "standing by", "state": sharedName, "holder": lockedBy},
	}
	if diff := cmp.Diff(want, r.logs.records(t, standbyMessages...)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	if want := []string{"READY=1", "STATUS=standby: " + down.Error(), "STATUS=standby: " + lockedBy, "STOPPING=1"}; !cmp.Equal(want, r.notifications()) {
		t.Errorf("notifications %v, want %v", r.notifications(), want)
	}
}

// TestDaemon_standby_takeOverFails: TakeOver's error ends Run with it,
// logged at ERROR, before any cycle.
func TestDaemon_standby_takeOverFails(t *testing.T) {
	b := &sharedBackend{}
	b.give(otherHolder)
	_, err := state.OpenBackend(b)
	if !errors.Is(err, state.ErrLocked) {
		t.Fatalf("OpenBackend while another process holds the lock: %v", err)
	}
	mismatch := errors.New("the state was used with https://www.digicert.com/services/v2, not https://api.example.test")
	r := startStandby(t, b, state.Standby(b, err), func() error { return mismatch })
	r.waitLog(t, 1, "standing by")
	b.free()
	r.poll(t)
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if err != mismatch {
			t.Errorf("Run: %v, want TakeOver's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after TakeOver failed")
	}
	want := []map[string]any{
		{"level": "INFO", "msg": "standing by", "state": sharedName, "holder": lockedBy},
		{"level": "INFO", "msg": "took over", "state": sharedName},
		{"level": "ERROR", "msg": "takeover check failed: exiting", "state": sharedName, "error": mismatch.Error()},
	}
	if diff := cmp.Diff(want, r.logs.records(t, standbyMessages...)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// TestDaemon_notShared: a daemon on the state file is the leader while it
// runs.
func TestDaemon_notShared(t *testing.T) {
	d, _, logs, _ := newTestDaemon(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	waitUntil(t, "the start cycle", func() bool { return len(logs.records(t, "cycle done")) == 1 })
	if v := leaderGauge(t, d.met); v != 1 {
		t.Errorf("certform_leader %v, want 1", v)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestDaemon_standby_lockCheck: an idle leader whose lock is gone (its
// session ended, server B took over) finds out at its next lock check,
// with no cycle and no trigger: it stands by within DefaultLockCheck.
func TestDaemon_standby_lockCheck(t *testing.T) {
	b, _, r := startLeader(t)
	waitUntil(t, "the lock check to be armed", func() bool { return slices.Contains(r.clock.pending(), DefaultLockCheck) })
	r.clock.Advance(DefaultLockCheck) // the lock still held: nothing happens
	b.give(otherHolder)
	waitUntil(t, "the lock check to be armed again", func() bool { return slices.Contains(r.clock.pending(), DefaultLockCheck) })
	if got := r.logs.records(t, "lock lost: standing by"); len(got) != 0 {
		t.Fatalf("lost before the check: %v", got)
	}
	r.clock.Advance(DefaultLockCheck)
	r.waitLog(t, 1, "standing by")
	want := []map[string]any{
		{"level": "INFO", "msg": "cycle start", "cycle": 1.0, "trigger": "start"},
		{"level": "WARN", "msg": "lock lost: standing by", "state": sharedName, "error": sharedName + ": lock lost: another process took it; nothing was written"},
		{"level": "INFO", "msg": "standing by", "state": sharedName, "holder": lockedBy},
	}
	if diff := cmp.Diff(want, r.logs.records(t, standbyMessages...)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	if v := r.leader(t); v != 0 {
		t.Errorf("certform_leader %v after the lock check failed, want 0", v)
	}
}

// startLeader runs a daemon that holds the fake shared state's lock, and
// waits for its start cycle.
func startLeader(t *testing.T) (*sharedBackend, *state.Store, *standbyRig) {
	t.Helper()
	b := &sharedBackend{}
	store, err := state.OpenBackend(b)
	if err != nil {
		t.Fatal(err)
	}
	r := startStandby(t, b, store, nil)
	r.waitLog(t, 1, "cycle done")
	return b, store, r
}
