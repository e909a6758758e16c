// Package leader is a daemon's side of a state that several servers share
// (state.Shared): one of them holds the state's lock and leads; the others
// stand by until the lock comes free, and the leader proves now and then
// that it still holds it. Package daemon decides when; this package does
// the lock's part through a Lock (package internal/runner implements it).
package leader

import (
	"context"
	"errors"
	"log/slog"

	"github.com/certform/certform/state"
)

// Lock is a shared state's lock as the daemon reaches it.
type Lock interface {
	// StateName names the state in logs.
	StateName() string
	// LockLost returns why this process does not hold the lock; nil
	// while it does.
	LockLost() error
	// CheckLock proves that this process still holds the lock.
	CheckLock() error
	// Reacquire tries to take the lock again.
	Reacquire() error
}

// Cause returns why a store is lost as a standby reports it: the first
// error in lost's chain that is not itself a lost lock (the error matching
// state.ErrLocked that names the holder, or why the backend could not be
// reached), or lost itself when there is none.
func Cause(lost error) error {
	for e := lost; e != nil; e = errors.Unwrap(e) {
		if !errors.Is(e, state.ErrLockLost) {
			return e
		}
	}
	return lost
}

// Check proves that a leader still holds the lock: it returns why not
// when the check found it lost, nil while it holds it (and when it did
// not hold it before the check: it stands by already).
func Check(l Lock) error {
	if l.LockLost() != nil {
		return nil
	}
	if err := l.CheckLock(); err != nil && l.LockLost() != nil {
		return err
	}
	return nil
}

// Standby is what standing by tells the daemon.
type Standby struct {
	// Poll waits until the next attempt to take the lock; false when
	// the daemon stops first.
	Poll func(ctx context.Context) bool
	// Show is called with the cause each time it changes (the daemon's
	// /healthz and systemd status).
	Show func(cause string)
	// Held is called once, the first time the cause is another process
	// that holds the lock (the daemon's takeover event when it led).
	Held func(cause string)
	// Log gets "standing by" at INFO with the holder while another
	// process holds the lock, at WARN with the error otherwise (the
	// backend cannot be reached), each time the cause changes.
	Log *slog.Logger
}

// Wait stands by while this process does not hold l (lost says why) and
// reports whether it took the lock; false when Poll said stop. A lock
// found lost by a check or a write says only that: one attempt at once
// either takes it back (the session broke, nobody took it) or names the
// holder. Then, until it takes the lock, it tries after each Poll.
func (s Standby) Wait(ctx context.Context, l Lock, lost error) bool {
	if !errors.Is(lost, state.ErrLocked) {
		err := l.Reacquire()
		if err == nil {
			return true
		}
		if lost = l.LockLost(); lost == nil {
			lost = err
		}
	}
	shown, held := "", false
	for {
		if cause := Cause(lost).Error(); cause != shown {
			shown = cause
			held = s.show(l, lost, cause, held)
		}
		if !s.Poll(ctx) {
			return false
		}
		err := l.Reacquire()
		if err == nil {
			return true
		}
		if lost = l.LockLost(); lost == nil {
			lost = err
		}
	}
}

// show reports a new cause of standing by; held says whether Held was
// called before, and show returns whether it has been now.
func (s Standby) show(l Lock, lost error, cause string, held bool) bool {
	s.Show(cause)
	locked := errors.Is(lost, state.ErrLocked)
	if locked && !held {
		held = true
		s.Held(cause)
	}
	if locked {
		s.Log.Info("standing by", "state", l.StateName(), "holder", cause)
	} else {
		s.Log.Warn("standing by", "state", l.StateName(), "error", cause)
	}
	return held
}
