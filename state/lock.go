package state

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ErrLocked is matched (errors.Is) by the error AcquireLock returns when
// another process holds the lock.
var ErrLocked = errors.New("state file is locked")

// LockedError says which process holds a state file's lock.
type LockedError struct {
	Path string // the state file
	PID  int    // 0 if unknown
}

// Error reads "state file PATH is in use by another certform process (pid N)".
func (e *LockedError) Error() string {
	pid := "unknown pid"
	if e.PID > 0 {
		pid = "pid " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("state file %s is in use by another certform process (%s)", e.Path, pid)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Lock is an exclusive, non-blocking flock on PATH.lock, the file next to
// the state file; it holds the owner's pid. The kernel releases it when the
// process ends, however it ends, so a kill -9 leaves no stale lock.
type Lock struct {
	f *os.File
}

// LockPath returns the lock file used for the state file at path.
func LockPath(path string) string { return path + ".lock" }

// AcquireLock takes the lock for the state file at path or fails at once
// with a *LockedError.
func AcquireLock(path string) (*Lock, error) {
	f, err := os.OpenFile(LockPath(path), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state file %s: opening its lock %s: %w", path, LockPath(path), unwrapPathError(err))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b := make([]byte, 32)
			n, _ := f.ReadAt(b, 0)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
			return nil, &LockedError{Path: path, PID: pid}
		}
		return nil, fmt.Errorf("state file %s: locking %s: %w", path, LockPath(path), err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release unlocks. The lock file stays (removing it would race with a
// process that just opened it).
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
