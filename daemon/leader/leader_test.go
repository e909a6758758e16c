package leader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/certform/certform/state"
)

// fakeLock is a Lock whose Reacquire answers from a script.
type fakeLock struct {
	lost      error   // LockLost's answer
	reacquire []error // Reacquire's answers, in turn; nil takes the lock
	check     error   // CheckLock's answer; non-nil also loses the lock
	calls     []string
}

func (l *fakeLock) StateName() string { return "postgres://db/certform" }
func (l *fakeLock) LockLost() error   { return l.lost }
func (l *fakeLock) CheckLock() error {
	l.calls = append(l.calls, "check")
	if l.check != nil {
		l.lost = fmt.Errorf("%w: %w", state.ErrLockLost, l.check)
	}
	return l.check
}

func (l *fakeLock) Reacquire() error {
	l.calls = append(l.calls, "reacquire")
	err := l.reacquire[0]
	l.reacquire = l.reacquire[1:]
	if err == nil {
		l.lost = nil
	} else {
		l.lost = err
	}
	return err
}

// held is the error of a lock another server holds.
func held(who string) error { return fmt.Errorf("%w by %s", state.ErrLocked, who) }

// TestWait_standsByUntilFree: while another server holds the lock, Wait
// shows the holder once per change (Held once), logs "standing by" at
// INFO with the holder, WARN with an unreachable backend's error, and
// takes the lock once Reacquire works.
func TestWait_standsByUntilFree(t *testing.T) {
	down := errors.New("dial tcp 10.0.0.5:5432: connection refused")
	l := &fakeLock{reacquire: []error{held("server a"), down, nil}}
	var shown, helds []string
	var logs bytes.Buffer
	polls := 0
	s := Standby{
		Poll: func(context.Context) bool { polls++; return true },
		Show: func(cause string) { shown = append(shown, cause) },
		Held: func(cause string) { helds = append(helds, cause) },
		Log:  slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: dropTime})),
	}
	if !s.Wait(context.Background(), l, held("server a")) {
		t.Fatal("Wait did not take the lock")
	}
	want := []string{"state file is locked by server a", down.Error()}
	if diff := cmp.Diff(want, shown); diff != "" {
		t.Errorf("shown (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"state file is locked by server a"}, helds); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}
	if polls != 3 || !cmp.Equal(l.calls, []string{"reacquire", "reacquire", "reacquire"}) {
		t.Errorf("%d polls, calls %v; want 3 polls, each followed by one attempt", polls, l.calls)
	}
	wantLog := `level=INFO msg="standing by" state=postgres://db/certform holder="state file is locked by server a"
level=WARN msg="standing by" state=postgres://db/certform error="dial tcp 10.0.0.5:5432: connection refused"
`
	if diff := cmp.Diff(wantLog, logs.String()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// TestWait_lostLockTriedAtOnce: a lock found lost by a check says only
// that; one attempt at once takes it back without standing by, and Poll
// saying stop ends Wait without the lock.
func TestWait_lostLockTriedAtOnce(t *testing.T) {
	lost := fmt.Errorf("%w: session ended", state.ErrLockLost)
	l := &fakeLock{lost: lost, reacquire: []error{nil}}
	s := Standby{Poll: func(context.Context) bool { t.Error("polled"); return false }, Show: func(string) { t.Error("shown") },
		Held: func(string) {}, Log: slog.New(slog.DiscardHandler)}
	if !s.Wait(context.Background(), l, lost) {
		t.Error("Wait did not take the lock back at once")
	}

	l = &fakeLock{lost: lost, reacquire: []error{held("server b")}}
	s.Poll = func(context.Context) bool { return false }
	s.Show = func(string) {}
	if s.Wait(context.Background(), l, lost) {
		t.Error("Wait took the lock though Poll said stop")
	}
}

// TestCheck: a leader whose check fails has lost the lock; a standby is
// not checked.
func TestCheck(t *testing.T) {
	l := &fakeLock{}
	if err := Check(l); err != nil {
		t.Errorf("holding the lock: %v", err)
	}
	l.check = errors.New("session ended")
	if err := Check(l); err == nil || err.Error() != "session ended" {
		t.Errorf("lost lock: %v", err)
	}
	l.calls = nil
	if err := Check(l); err != nil || len(l.calls) != 0 {
		t.Errorf("standing by: %v, calls %v", err, l.calls)
	}
}

// TestCause: the cause is the first error in the chain that is not a lost
// lock.
func TestCause(t *testing.T) {
	h := held("server a")
	if got := Cause(lostError{h}); got.Error() != h.Error() {
		t.Errorf("Cause = %v, want %v", got, h)
	}
	if got := Cause(state.ErrLockLost); !strings.Contains(got.Error(), state.ErrLockLost.Error()) {
		t.Errorf("Cause of a bare lost lock = %v", got)
	}
}

// lostError is a lost lock that says why, as a store's is.
type lostError struct{ err error }

func (e lostError) Error() string        { return "lock lost: " + e.err.Error() }
func (e lostError) Is(target error) bool { return target == state.ErrLockLost }
func (e lostError) Unwrap() error        { return e.err }

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
