package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/certform/certform/daemon/serve/servetest"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/runner"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/state"
)

// newTestDaemon returns a daemon over an empty spec folder and a new state
// file, with a fake clock; the Reconciler makes no API call.
func newTestDaemon(t *testing.T, cfg Config) (*Daemon, *fakeClock, *logBuffer, string) {
	t.Helper()
	return newTestDaemonClock(t, cfg, newFakeClock())
}

// newTestDaemonClock is newTestDaemon on the given clock.
func newTestDaemonClock(t *testing.T, cfg Config, clock *fakeClock) (*Daemon, *fakeClock, *logBuffer, string) {
	t.Helper()
	st := filepath.Join(t.TempDir(), "s.json")
	store, err := state.Open(st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log, logs := newLog()
	if cfg.Runner == nil {
		cfg.Runner = runner.From(&reconcile.Reconciler{Dir: t.TempDir()})
	}
	r := cfg.Runner.(*runner.Runner).Reconciler()
	r.Store, r.Log = store, log
	cfg.Log, cfg.Clock = log, clock
	if cfg.Debounce == 0 {
		cfg.Debounce = time.Millisecond // the Reconciler's quiet wait sleeps for real
	}
	asRunner(r, cfg.Debounce)
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, clock, logs, st
}

// TestDaemon_lockTakenOver removes the state's lock file under the daemon
// and lets another process (here, another Store) take the lock and change
// the state: the daemon's cycles fail on the lock with one ERROR record
// and a hint, write nothing, and retry with backoff; once the lock is
// free, the daemon takes it again and reads the other's changes.
func TestDaemon_lockTakenOver(t *testing.T) {
	d, clock, logs, st := newTestDaemon(t, Config{})
	ctx := context.Background()
	if err := os.Remove(st + ".lock"); err != nil {
		t.Fatal(err)
	}
	other, err := state.Open(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Update("imported-elsewhere", func(e *state.Entry) bool { e.OrderID = 4242; return true }); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(st)

	if d.cycle(ctx, trigger{reasons: []string{reasonStart}}) {
		t.Fatal("a cycle without the lock succeeded")
	}
	real, _ := filepath.EvalSymlinks(st)
	lockErr := fmt.Sprintf("state file %s is in use by another certform process (pid %d)", real, os.Getpid())
	hint := "another certform process holds the state file's lock; this daemon calls nothing and writes nothing until it can take the lock again, which it retries with backoff"
	want := []map[string]any{
		{"level": "INFO", "msg": "cycle start", "cycle": 1.0, "trigger": "start"},
		{"level": "WARN", "msg": "the state's lock was lost; taking it again and reading the state afresh",
			"error": fmt.Sprintf("state file %s: lock lost: its lock file %s.lock was replaced by another file while this process held it; nothing was written: this process stops acting on the state until it takes the lock again and re-reads the state", real, real)},
		{"level": "ERROR", "msg": "cycle failed", "cycle": 1.0, "error": lockErr, "hint": hint},
		{"level": "WARN", "msg": "the cycle failed; retrying later", "in": "30s"},
	}
	if diff := cmp.Diff(want, logs.records(t)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	if got := clock.pending(); !cmp.Equal(got, []time.Duration{DefaultRetryBackoff}) {
		t.Errorf("timers %v, want the retry in 30s", got)
	}
	// The retry fails too, and backs off further.
	clock.Advance(DefaultRetryBackoff)
	if tr := d.triggers.take(); tr == nil || tr.reason() != reasonRetry || d.cycle(ctx, *tr) {
		t.Fatalf("retry trigger %+v", tr)
	}
	if got := clock.pending(); !cmp.Equal(got, []time.Duration{2 * DefaultRetryBackoff}) {
		t.Errorf("timers %v, want the retry in 1m0s", got)
	}
	if got := logs.records(t, "cycle failed"); len(got) != 2 || got[1]["error"] != lockErr {
		t.Errorf("failed cycles %v", got)
	}
	if now, _ := os.ReadFile(st); string(now) != string(before) {
		t.Errorf("the state file changed while another process held the lock:\n%s", now)
	}

	other.Close()
	clock.Advance(2 * DefaultRetryBackoff)
	tr := d.triggers.take()
	if tr == nil || !d.cycle(ctx, *tr) {
		t.Fatalf("the cycle after the lock was freed failed:\n%v", logs.records(t))
	}
	if e := reconcilerOf(d).Store.Entry("imported-elsewhere"); e == nil || e.OrderID != 4242 {
		t.Errorf("the other process's change was not read: %+v", e)
	}
	if err := reconcilerOf(d).Store.Update("x", func(*state.Entry) bool { return true }); err != nil {
		t.Errorf("writing after the lock was taken again: %v", err)
	}
	if got := clock.pending(); len(got) != 0 {
		t.Errorf("timers %v after a clean cycle", got)
	}
	// The lock file is this process's again: the next cycle does not take it again.
	if !d.cycle(ctx, trigger{reasons: []string{reasonSchedule}}) {
		t.Errorf("the next cycle failed: %v", logs.records(t))
	}
	lost := logs.records(t, "the state's lock was lost; taking it again and reading the state afresh")
	if len(lost) != 3 { // the first cycle's check, then Prepare in each retry
		t.Errorf("%d records of the lock taken again, want 3: %v", len(lost), lost)
	}
}

// TestDaemon_resend schedules one "resend" cycle at the earliest time an
// order may be sent again.
func TestDaemon_resend(t *testing.T) {
	d, clock, logs, _ := newTestDaemon(t, Config{})
	now := clock.Now()
	d.scheduleResend(now.Add(5 * time.Minute))
	d.scheduleResend(now.Add(3 * time.Minute)) // earlier: replaces it
	d.scheduleResend(now.Add(4 * time.Minute)) // later: changes nothing
	if got := clock.pending(); !cmp.Equal(got, []time.Duration{3 * time.Minute}) {
		t.Errorf("timers %v, want one in 3m", got)
	}
	clock.Advance(3*time.Minute - time.Second)
	if tr := d.triggers.take(); tr != nil {
		t.Errorf("trigger %v before the time", tr.reason())
	}
	clock.Advance(time.Second)
	if tr := d.triggers.take(); tr == nil || tr.reason() != reasonResend || tr.refresh {
		t.Errorf("trigger %+v, want resend", tr)
	}
	d.scheduleResend(clock.Now().Add(-time.Minute)) // past: at least minResendWait
	if got := clock.pending(); !cmp.Equal(got, []time.Duration{minResendWait}) {
		t.Errorf("timers %v, want one in 1s", got)
	}
	want := []map[string]any{
		{"level": "INFO", "msg": "an order waits before it may be sent again; a cycle is scheduled for then", "at": "2026-03-01T12:05:00Z", "in": "5m0s"},
		{"level": "INFO", "msg": "an order waits before it may be sent again; a cycle is scheduled for then", "at": "2026-03-01T12:03:00Z", "in": "3m0s"},
		{"level": "INFO", "msg": "an order waits before it may be sent again; a cycle is scheduled for then", "at": "2026-03-01T12:02:00Z", "in": "1s"},
	}
	if diff := cmp.Diff(want, logs.records(t)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// TestDaemon_schedules arms the cron schedules on the daemon's clock.
func TestDaemon_schedules(t *testing.T) {
	every, _ := ParseSchedule("@every 15m")
	daily, _ := ParseSchedule("@daily")
	d, clock, _, _ := newTestDaemon(t, Config{Schedule: every, RefreshSchedule: daily})
	d.tick(&d.scheduleTimer, every, trigger{reasons: []string{reasonSchedule}})
	d.tick(&d.refreshTimer, daily, trigger{reasons: []string{reasonRefreshSchedule}, refresh: true})
	if got := clock.pending(); !cmp.Equal(got, []time.Duration{15 * time.Minute, 12 * time.Hour}) {
		t.Errorf("timers %v", got)
	}
	clock.Advance(12 * time.Hour)
	tr := d.triggers.take()
	if tr == nil || tr.reason() != "schedule+refresh schedule" || !tr.refresh {
		t.Errorf("trigger %+v", tr)
	}
	if got := clock.pending(); !cmp.Equal(got, []time.Duration{15 * time.Minute, 24 * time.Hour}) {
		t.Errorf("timers after the ticks %v", got)
	}
	d.stopTimers()
	if got := clock.pending(); len(got) != 0 {
		t.Errorf("timers after stop %v", got)
	}
}

// TestDaemon_signals: SIGHUP reconciles now, a first SIGTERM stops, a
// second interrupts.
func TestDaemon_signals(t *testing.T) {
	var mu sync.Mutex
	var notes []string
	d, _, logs, _ := newTestDaemon(t, Config{Notify: func(s string) { mu.Lock(); notes = append(notes, s); mu.Unlock() }})
	sigs := make(chan os.Signal)
	stopped := make(chan struct{})
	forced := make(chan struct{})
	done := make(chan struct{})
	go d.handleSignals(sigs, func() { close(stopped) }, forced, done)
	defer close(done)
	sigs <- syscall.SIGHUP
	sigs <- syscall.SIGTERM
	<-stopped
	if tr := d.triggers.take(); tr == nil || tr.reason() != reasonSignal {
		t.Errorf("trigger %+v after SIGHUP", tr)
	}
	sigs <- syscall.SIGINT
	<-forced
	want := []map[string]any{
		{"level": "INFO", "msg": "SIGHUP: reconciling now"},
		{"level": "INFO", "msg": "stopping: the cycle in progress finishes, no new one starts; a second signal exits at once", "signal": "terminated"},
		{"level": "WARN", "msg": "second signal: exiting at once", "signal": "interrupt"},
	}
	if diff := cmp.Diff(want, logs.records(t)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if !cmp.Equal(notes, []string{"STOPPING=1"}) {
		t.Errorf("notifications %v", notes)
	}
}

// TestDaemon_once runs one cycle: ErrFailed with an invalid spec, nil
// without; systemd gets the status and /healthz the result.
func TestDaemon_once(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("name: broken\ncommon_nme: x.example.com\n"), 0o600)
	var notes []string
	d, _, logs, _ := newTestDaemon(t, Config{Once: true, Runner: runner.From(&reconcile.Reconciler{Dir: dir}), Notify: func(s string) { notes = append(notes, s) }})
	if code, body := servetest.Healthz(t, d.health); code != http.StatusOK || !cmp.Equal(body, map[string]string{"status": "starting"}) {
		t.Errorf("/healthz before the cycle: %d %v", code, body)
	}
	if err := d.Run(context.Background()); !errors.Is(err, ErrFailed) {
		t.Errorf("Run: %v, want ErrFailed", err)
	}
	if want := []string{"STATUS=last cycle had failures; planned 0 to order, 0 to update, 0 to revoke (2026-03-01T12:00:00Z)"}; !cmp.Equal(want, notes) {
		t.Errorf("notifications %v", notes)
	}
	specErrors := logs.records(t, "spec error")
	if !contains([]string{"broken.yaml:2:1: common_nme: unknown key; did you mean common_name?"}, specErrors[len(specErrors)-1]["error"]) {
		t.Errorf("spec errors %v", specErrors)
	}
	want := []map[string]any{
		{"level": "WARN", "msg": "cycle done", "cycle": 1.0, "trigger": "start", "duration": "0s", "specs": 0.0, "spec_errors": float64(len(specErrors)), "errors": 0.0,
			"planned": 0.0, "done": 0.0, "failed": 0.0, "waiting": 0.0, "blocked": 0.0, "notes": 0.0, "deliveries_failed": 0.0, "hooks_failed": 0.0, "dry_run": false},
	}
	if diff := cmp.Diff(want, logs.records(t, "cycle done")); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	// A spec error is one spec's failure: the daemon works.
	wantBody := map[string]string{"status": "ok", "last_result": "failed", "trigger": "start", "last_cycle": "2026-03-01T12:00:00Z",
		"last_failure": fmt.Sprintf("%d spec errors", len(specErrors))}
	if code, body := servetest.Healthz(t, d.health); code != http.StatusOK || !cmp.Equal(body, wantBody) {
		t.Errorf("/healthz after the cycle: %d %v", code, body)
	}

	os.Remove(filepath.Join(dir, "broken.yaml"))
	d2, _, _, _ := newTestDaemon(t, Config{Once: true, Runner: runner.From(&reconcile.Reconciler{Dir: dir})})
	if err := d2.Run(context.Background()); err != nil {
		t.Errorf("Run without spec errors: %v", err)
	}
}

func TestNew_errors(t *testing.T) {
	if _, err := New(Config{}); err == nil || err.Error() != "daemon: Config.Runner is required" {
		t.Errorf("no Runner: %v", err)
	}
	st, _ := state.Open(filepath.Join(t.TempDir(), "s.json"))
	defer st.Close()
	missing := filepath.Join(t.TempDir(), "gone")
	_, err := New(Config{Runner: runner.From(&reconcile.Reconciler{Dir: missing, Store: st})})
	if want := "watching " + missing + ": lstat " + missing + ": no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("missing dir: %v, want %q", err, want)
	}
}

// TestDaemon_watchdog pings systemd's watchdog every half interval while
// idle or in a young cycle, and stops pinging during a cycle stuck for
// longer than the interval plus stuckAfter.
func TestDaemon_watchdog(t *testing.T) {
	var mu sync.Mutex
	pings := 0
	d, clock, _, _ := newTestDaemon(t, Config{Watchdog: time.Minute, Notify: func(s string) {
		if s == "WATCHDOG=1" {
			mu.Lock()
			pings++
			mu.Unlock()
		}
	}})
	count := func() int { mu.Lock(); defer mu.Unlock(); return pings }
	d.watchdog(t.Context())
	clock.Advance(2 * time.Minute)
	if n := count(); n != 4 {
		t.Errorf("%d pings in 2 minutes idle, want 4", n)
	}
	d.busy.Store(clock.Now().UnixNano()) // a cycle starts and hangs
	clock.Advance(11 * time.Minute)
	if n := count(); n != 4+22 {
		t.Errorf("%d pings after 11 minutes in a cycle, want 26", n)
	}
	clock.Advance(10 * time.Minute)
	if n := count(); n != 26 {
		t.Errorf("%d pings once the cycle was stuck, want still 26", n)
	}
	d.busy.Store(0)
	clock.Advance(30 * time.Second)
	if n := count(); n != 27 {
		t.Errorf("%d pings after the cycle ended, want 27", n)
	}
	// A long cycle that keeps ending CertCentral calls (a refresh of
	// thousands of orders paced by the rate limits) is not stuck.
	d.busy.Store(clock.Now().UnixNano())
	for range 40 { // 40 minutes, a call every minute
		d.met.ObserveCall(digicert.Call{Endpoint: "GET /order/certificate/{id}", Status: 200, Attempt: 1})
		clock.Advance(time.Minute)
	}
	if n := count(); n != 27+80 {
		t.Errorf("%d pings in a 40-minute cycle making progress, want 107", n)
	}
	// Then it hangs: no call for longer than the interval plus stuckAfter.
	clock.Advance(12 * time.Minute)
	// The last call was seen at the ping half a minute before; pings go
	// on for 11 minutes after that one: 21 more.
	if n := count(); n != 107+21 {
		t.Errorf("%d pings once the calls stopped, want 128", n)
	}
}

// TestDaemon_poll: while a plan says an order waits in CertCentral, one
// "poll" cycle is armed PollInterval later; a later request does not move
// an earlier one.
func TestDaemon_poll(t *testing.T) {
	d, clock, logs, _ := newTestDaemon(t, Config{PollInterval: 2 * time.Minute})
	if waits(&reconcile.Plan{Notes: []reconcile.Note{{Kind: reconcile.NoteOrphan}}}) {
		t.Fatal("an orphan is no wait")
	}
	if !waits(&reconcile.Plan{Notes: []reconcile.Note{{Kind: reconcile.NoteWaiting}}}) {
		t.Fatal("a waiting note is a wait")
	}
	d.schedulePoll()
	clock.Advance(time.Minute)
	d.schedulePoll() // later than the one armed: changes nothing
	if got := clock.pending(); !cmp.Equal(got, []time.Duration{time.Minute}) {
		t.Errorf("timers %v, want one in 1m", got)
	}
	clock.Advance(time.Minute)
	if tr := d.triggers.take(); tr == nil || tr.reason() != reasonPoll || tr.refresh {
		t.Errorf("trigger %+v, want poll", tr)
	}
	want := []map[string]any{{"level": "INFO", "msg": "an order waits in CertCentral; a cycle is scheduled to look again", "at": "2026-03-01T12:02:00Z", "in": "2m0s"}}
	if diff := cmp.Diff(want, logs.records(t)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// TestDaemon_logNotes: a note is logged when it first appears and when it
// changes, then once a day as a reminder; one that goes away and comes
// back is logged again.
func TestDaemon_logNotes(t *testing.T) {
	d, clock, logs, _ := newTestDaemon(t, Config{})
	waiting := reconcile.Note{Kind: reconcile.NoteWaiting, Name: "shop", OrderID: 7, Message: "order 7 is needs_approval", Hint: "approve it"}
	orphan := reconcile.Note{Kind: reconcile.NoteOrphan, Name: "old", Message: "no spec"}
	rec := func(n reconcile.Note, level string, reminder bool) map[string]any {
		m := map[string]any{"level": level, "msg": "note", "kind": n.Kind, "spec": n.Name, "message": n.Message}
		if n.OrderID != 0 {
			m["order_id"] = float64(n.OrderID)
		}
		if n.Hint != "" {
			m["hint"] = n.Hint
		}
		if reminder {
			m["reminder"] = true
		}
		return m
	}
	step := func(what string, advance time.Duration, notes []reconcile.Note, want ...map[string]any) {
		t.Helper()
		clock.Advance(advance)
		logs.reset()
		d.logNotes(context.Background(), notes)
		if diff := cmp.Diff(want, logs.records(t), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: log (-want +got):\n%s", what, diff)
		}
	}
	step("first", 0, []reconcile.Note{waiting, orphan}, rec(waiting, "INFO", false), rec(orphan, "WARN", false))
	step("same again", time.Minute, []reconcile.Note{waiting, orphan, orphan})
	changed := waiting
	changed.Message = "order 7 is pending"
	step("changed", time.Minute, []reconcile.Note{changed, orphan}, rec(changed, "INFO", false))
	step("gone", time.Minute, []reconcile.Note{changed})
	step("back", time.Minute, []reconcile.Note{changed, orphan}, rec(orphan, "WARN", false))
	step("a day after the change", 24*time.Hour-2*time.Minute, []reconcile.Note{changed, orphan}, rec(changed, "INFO", true))
	step("a day after the orphan came back", 2*time.Minute, []reconcile.Note{changed, orphan}, rec(orphan, "WARN", true))
}

// TestStaleAfter: /healthz calls a daemon stale after three schedule
// intervals without a cycle that worked, and never without a schedule.
func TestStaleAfter(t *testing.T) {
	sched, err := ParseSchedule("*/5 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if got := staleAfter(now, sched); got != 15*time.Minute {
		t.Errorf("staleAfter = %v, want three 5-minute intervals", got)
	}
	if got := staleAfter(now, nil); got != 0 {
		t.Errorf("staleAfter without a schedule = %v, want 0", got)
	}
}
