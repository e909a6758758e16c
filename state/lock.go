package state

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrLocked is matched (errors.Is) by the error AcquireLock, Open and
// Store.Reacquire return when another process holds the lock.
var ErrLocked = errors.New("state file is locked")

// LockedError says which process holds a state file's lock.
type LockedError struct {
	Path string // the state file, symlinks resolved (see RealPath)
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

// LockCreateError is a state file whose lock file does not exist and
// cannot be created: this user may not write in the state file's folder
// (the lock file of another user's state is a *PermissionError instead).
type LockCreateError struct {
	Path string // the state file, symlinks resolved
	Err  error  // why the lock file could not be created (permission denied)
}

// Error names the lock file, the folder and this process's user, with a
// hint: line saying what to do.
func (e *LockCreateError) Error() string {
	dir := filepath.Dir(e.Path)
	return fmt.Sprintf("state file %s: cannot create its lock file %s: %v; this user (uid %d) cannot write in the folder %s\n"+
		"hint: choose a --state in a folder this user can write, or give this user write access to %s", e.Path, LockPath(e.Path), e.Err, os.Geteuid(), dir, dir)
}

// Unwrap returns why the lock file could not be created.
func (e *LockCreateError) Unwrap() error { return e.Err }

// HardLinkError is a state file with more than one hard link. The lock is
// taken by name (PATH.lock), so a process that opened the state file by
// its other name would lock another lock file and act on the same state
// beside this one; certform refuses such a state file instead.
type HardLinkError struct {
	Path  string // the state file, symlinks resolved
	Links int    // its hard link count
	// Others are the other names found in Path's folder, sorted; empty
	// when the other links are elsewhere (another folder of the same file
	// system).
	Others []string
}

// Error names the state file and the other links found, or says
// "another hard link" when none is in its folder.
func (e *HardLinkError) Error() string {
	others := "another hard link outside its folder"
	if len(e.Others) > 0 {
		others = "another hard link, " + strings.Join(e.Others, ", ")
	}
	return fmt.Sprintf("state file %s has %d hard links (%s): certform locks a state file by its name (%s), "+
		"so a certform using the other name would act on the same state beside this one; certform will not use it", e.Path, e.Links, others, LockPath(e.Path))
}

// checkLinks returns a *HardLinkError when the file id was read from, at
// path, has more than one hard link, naming the other links in its folder.
func checkLinks(path string, id fileID) error {
	if id.links <= 1 {
		return nil
	}
	e := &HardLinkError{Path: path, Links: int(id.links)}
	dir := filepath.Dir(path)
	des, _ := os.ReadDir(dir) // best effort: the error is the same without names
	for _, de := range des {
		p := filepath.Join(dir, de.Name())
		if p == path || !de.Type().IsRegular() {
			continue
		}
		if fi, err := os.Lstat(p); err == nil && idOf(fi).sameFile(id) {
			e.Others = append(e.Others, p)
		}
	}
	return e
}

// The lock file holds the owner's pid on its first line and, on its second,
// whether the state file next to it has been created: markerPending until
// the state file is durable on disk, markerCreated from then on. Only the
// marker is evidence that a state file existed; see lockFile.history.
const (
	markerPending = "state pending"
	markerCreated = "state created"
)

// lockAttempts bounds how often AcquireLock locks a lock file and finds that
// another file has taken its place at the lock path in the meantime. Each
// retry means someone removed or replaced the lock file during one open and
// flock; ten in a row means something keeps doing it.
const lockAttempts = 10

// lockOpened, when set (by tests only), runs between opening the lock file
// and locking it.
var lockOpened func(lockPath string)

// Lock is an exclusive, non-blocking flock on REAL.lock, the file next to
// the state file at its real path (see RealPath). The file holds the
// owner's pid and a marker saying whether the state file has been created
// (see Open). The kernel releases the lock when the process ends, however
// it ends, so a kill -9 leaves no stale lock.
//
// A Lock is bound to the lock file it locked (device and inode): if that
// file is removed or replaced, the Lock no longer excludes anyone, and a
// Store finds out before its next write (see ErrLockLost). A Lock is not
// safe for concurrent use; a Store serialises its use of its Lock.
type Lock struct {
	f    *os.File
	path string // the lock file
	id   fileID // its device and inode when locked
	// created is true when the lock file showed, when locked, that the state
	// file had been created before (or could not show it had not).
	created bool
}

// LockPath returns the lock file used for the state file at path: path with
// ".lock" appended. It does not resolve symlinks; pass it a path from
// RealPath (as Store.Path and the Path of every error in this package are).
func LockPath(path string) string { return path + ".lock" }

// AcquireLock takes the lock for the state file at path, resolved through
// symlinks (see RealPath), or fails at once with a *LockedError. It writes
// the process's pid into the lock file and keeps the lock file's marker.
//
// A lock file created here by root in a folder owned by another user is
// given the folder's owner. If the file at the lock path is removed or
// replaced between opening and locking it, AcquireLock tries again, up to
// 10 times, then fails.
func AcquireLock(path string) (*Lock, error) {
	real, err := RealPath(path)
	if err != nil {
		return nil, err
	}
	return acquire(real)
}

// acquire takes the lock of the state file at real (a real path).
func acquire(real string) (*Lock, error) {
	lp := LockPath(real)
	for range lockAttempts {
		f, err := openLockFile(lp)
		if errors.Is(err, errLockVanished) {
			continue
		}
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				if _, serr := os.Lstat(lp); errors.Is(serr, fs.ErrNotExist) {
					return nil, &LockCreateError{Path: real, Err: unwrapPathError(err)}
				}
				return nil, fmt.Errorf("state file %s: its lock %w", real, permissionError(lp, err))
			}
			return nil, fmt.Errorf("state file %s: opening its lock %s: %w", real, lp, unwrapPathError(err))
		}
		if lockOpened != nil {
			lockOpened(lp)
		}
		if err := flockFile(f, real, lp); err != nil {
			f.Close()
			return nil, err
		}
		locked, still, err := stillAt(f, lp)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("state file %s: locking %s: %w", real, lp, unwrapPathError(err))
		}
		if !still {
			f.Close() // we locked a file no longer at the lock path
			continue
		}
		l := &Lock{f: f, path: lp, id: locked}
		if err := l.readHistory(); err != nil {
			l.Release()
			return nil, fmt.Errorf("state file %s: reading its lock %s: %w", real, lp, err)
		}
		if err := l.write(false); err != nil {
			l.Release()
			return nil, fmt.Errorf("state file %s: writing its lock %s: %w", real, lp, err)
		}
		return l, nil
	}
	return nil, fmt.Errorf("state file %s: its lock file %s was removed or replaced %d times while locking it; something keeps deleting it",
		real, lp, lockAttempts)
}

// flockFile takes the lock on the open lock file f, or fails at once: a
// *LockedError with the holder's pid when another process holds it.
func flockFile(f *os.File, real, lp string) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		b := make([]byte, 64)
		n, _ := f.ReadAt(b, 0)
		pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b[:n]), "\n", 2)[0]))
		return &LockedError{Path: real, PID: pid}
	}
	return fmt.Errorf("state file %s: locking %s: %w", real, lp, err)
}

// stillAt returns the identity of the locked file f and whether it is
// still the file at the lock path lp (it may have been removed or
// replaced between opening and locking it).
func stillAt(f *os.File, lp string) (fileID, bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileID{}, false, err
	}
	locked := idOf(fi)
	now, err := os.Stat(lp)
	if errors.Is(err, fs.ErrNotExist) {
		return locked, false, nil
	}
	if err != nil {
		return fileID{}, false, err
	}
	return locked, idOf(now).sameFile(locked), nil
}

// errLockVanished is a lock file removed between the attempt to create it
// and the open of the one found in its place.
var errLockVanished = errors.New("lock file vanished")

// openLockFile opens the lock file, creating it (mode 0600) if missing.
// A lock file root creates in a folder owned by another user gets the
// folder's owner, so that user's certform can lock it later.
func openLockFile(lp string) (*os.File, error) {
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(lp, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errLockVanished
		}
		return f, err
	}
	if err != nil {
		return nil, err
	}
	if err := chownLikeFolder(f, filepath.Dir(lp)); err != nil {
		f.Close()
		os.Remove(lp)
		return nil, err
	}
	return f, nil
}

// chownLikeFolder gives f the owner of the folder dir when this process
// runs as root and the two differ; otherwise it does nothing.
func chownLikeFolder(f *os.File, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	di, err := os.Stat(dir)
	if err != nil {
		return err
	}
	uid, gid, ok := ownerOf(di)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fuid, fgid, ok := ownerOf(fi); ok && fuid == uid && fgid == gid {
		return nil
	}
	if err := f.Chown(uid, gid); err != nil {
		return fmt.Errorf("giving it the owner %d:%d of its folder: %w", uid, gid, unwrapPathError(err))
	}
	return nil
}

// readHistory sets l.created from the lock file's content:
//
//   - "state created" on the second line: the state file was created;
//   - "state pending" on the second line, or an empty file: a first run
//     died before the state file was durable, so none ever existed;
//   - anything else, including a lock file written by a certform from
//     before the marker (the pid alone): the state file may have existed,
//     so it counts as created.
func (l *Lock) readHistory() error {
	b := make([]byte, 256)
	n, err := l.f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return unwrapPathError(err)
	}
	l.created = history(b[:n])
	return nil
}

// history reports whether lock file content shows that the state file was
// created (see Lock.readHistory).
func history(b []byte) (created bool) {
	if len(b) == 0 {
		return false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) >= 2 {
		switch strings.TrimSpace(lines[1]) {
		case markerPending:
			return false
		case markerCreated:
			return true
		}
	}
	return true
}

// write puts the pid and the marker into the lock file, in place. The
// second line is written whole by one write, so a crash leaves either the
// old marker or the new one there; a longer old content is cut off after.
// With sync set it is synced too.
func (l *Lock) write(sync bool) error {
	marker := markerPending
	if l.created {
		marker = markerCreated
	}
	content := []byte(strconv.Itoa(os.Getpid()) + "\n" + marker + "\n")
	if _, err := l.f.WriteAt(content, 0); err != nil {
		return unwrapPathError(err)
	}
	if err := l.f.Truncate(int64(len(content))); err != nil {
		return unwrapPathError(err)
	}
	if sync {
		if err := l.f.Sync(); err != nil {
			return unwrapPathError(err)
		}
	}
	return nil
}

// markCreated records, durably, that the state file exists. It is called
// only once the state file is durable on disk.
func (l *Lock) markCreated() error {
	if l.created {
		return nil
	}
	l.created = true
	if err := l.write(true); err != nil {
		l.created = false
		return err
	}
	return nil
}

// changed says how the file at the lock path differs from the one this
// Lock holds, or "" if it is still the same file.
func (l *Lock) changed() string {
	fi, err := os.Stat(l.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("its lock file %s was removed", l.path)
	case err != nil:
		return fmt.Sprintf("its lock file %s cannot be checked (%v)", l.path, unwrapPathError(err))
	case !idOf(fi).sameFile(l.id):
		return fmt.Sprintf("its lock file %s was replaced by another file", l.path)
	}
	return ""
}

// Release unlocks. The lock file stays (removing it would race with a
// process that just opened it). Releasing twice, or a nil Lock, does
// nothing.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
