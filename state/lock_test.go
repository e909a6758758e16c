package state

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const lostTail = "; nothing was written: this process stops acting on the state until it takes the lock again and re-reads the state"

func mustUpdate(t *testing.T, s *Store, name string, id int) {
	t.Helper()
	if err := s.Update(name, func(e *Entry) bool { e.OrderID = id; return true }); err != nil {
		t.Fatal(err)
	}
}

func readBytes(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStore_lockFileRemoved is the case of a lock file deleted by hand while
// certform runs: a second process locks a new lock file, and the first must
// not write over it.
func TestStore_lockFileRemoved(t *testing.T) {
	path := filepath.Join(realTempDir(t), "state.json")
	s1, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	mustUpdate(t, s1, "a", 1)
	if err := os.Remove(LockPath(path)); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path) // as a second process would
	if err != nil {
		t.Fatalf("second Open after the lock file was removed: %v", err)
	}
	defer s2.Close()
	mustUpdate(t, s2, "b", 2)
	before := readBytes(t, path)

	err = s1.Update("c", func(e *Entry) bool { e.OrderID = 3; return true })
	want := "state file " + path + ": lock lost: its lock file " + path + ".lock was replaced by another file while this process held it" + lostTail
	var lle *LockLostError
	if !errors.Is(err, ErrLockLost) || !errors.As(err, &lle) || err.Error() != want {
		t.Fatalf("Update after losing the lock: %v\nwant %s", err, want)
	}
	if got := readBytes(t, path); got != before {
		t.Errorf("the second process's state was changed:\n%s", got)
	}
	if lost := s1.Lost(); lost == nil || lost.Error() != want {
		t.Errorf("Lost() = %v", lost)
	}
	if got := s1.Snapshot().Names(); !cmp.Equal(got, []string{"a"}) {
		t.Errorf("in memory after the refused write: %v", got)
	}
	for name, call := range map[string]func() error{
		"Update": func() error { return s1.Update("d", func(*Entry) bool { return true }) },
		"Batch":  func() error { return s1.Batch(func(m map[string]*Entry) { m["d"] = &Entry{} }) },
		"Mutate": func() error { return s1.Mutate(func(f *File) { f.APIURL = "https://x" }) },
	} {
		if err := call(); !errors.Is(err, ErrLockLost) || err.Error() != want {
			t.Errorf("%s on a lost store: %v", name, err)
		}
	}
	if got := readBytes(t, path); got != before {
		t.Errorf("a lost store wrote:\n%s", got)
	}

	err = s1.Reacquire()
	wantLocked := fmt.Sprintf("state file %s is in use by another certform process (pid %d)", path, os.Getpid())
	if !errors.Is(err, ErrLocked) || err.Error() != wantLocked {
		t.Errorf("Reacquire while the second holds the lock: %v", err)
	}
	if s1.Lost() == nil {
		t.Error("not lost after a failed Reacquire")
	}
	if err := s1.Update("d", func(*Entry) bool { return true }); !errors.Is(err, ErrLockLost) {
		t.Errorf("Update after a failed Reacquire: %v", err)
	}

	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Reacquire(); err != nil {
		t.Fatalf("Reacquire after the second closed: %v", err)
	}
	if err := s1.Lost(); err != nil {
		t.Errorf("still lost: %v", err)
	}
	if got := s1.Snapshot().Names(); !cmp.Equal(got, []string{"a", "b"}) {
		t.Errorf("after Reacquire: %v, want the second's data", got)
	}
	mustUpdate(t, s1, "e", 5)
	if f, _ := Read(path); !cmp.Equal(f.Names(), []string{"a", "b", "e"}) {
		t.Errorf("on disk: %v", f.Names())
	}
	if _, err := Open(path); !errors.Is(err, ErrLocked) {
		t.Errorf("Open while the reacquired store holds the lock: %v", err)
	}
}

func TestStore_fence(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, path string)
		what   string
	}{
		{"lock file removed", func(t *testing.T, path string) { os.Remove(LockPath(path)) },
			"its lock file PATH.lock was removed while this process held it"},
		{"lock file replaced", func(t *testing.T, path string) {
			os.Remove(LockPath(path))
			os.WriteFile(LockPath(path), []byte("1\nstate created\n"), 0o600)
		}, "its lock file PATH.lock was replaced by another file while this process held it"},
		{"state file removed", func(t *testing.T, path string) { os.Remove(path) },
			"it was removed since this process last read or wrote it"},
		{"state file replaced", func(t *testing.T, path string) {
			if err := WriteFile(path, &File{Entries: map[string]*Entry{"x": {OrderID: 9}}}); err != nil {
				t.Fatal(err)
			}
		}, "it was replaced by another file since this process last read or wrote it"},
		{"state file changed in place", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(" ")
			f.Close()
		}, "it was changed by another writer since this process last read or wrote it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(realTempDir(t), "state.json")
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			mustUpdate(t, s, "a", 1)
			tt.change(t, path)
			before, _ := os.ReadFile(path)
			err = s.Mutate(func(f *File) { f.Entries["b"] = &Entry{OrderID: 2} })
			want := "state file " + path + ": lock lost: " + strings.ReplaceAll(tt.what, "PATH", path) + lostTail
			if !errors.Is(err, ErrLockLost) || err.Error() != want {
				t.Errorf("got %v\nwant %s", err, want)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Errorf("the state file was written:\n%s", after)
			}
		})
	}
}

func TestStore_Reacquire(t *testing.T) {
	path := filepath.Join(realTempDir(t), "state.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, "a", 1)
	// Someone else edits the file while the store is lost; Reacquire reads it.
	os.Remove(LockPath(path))
	if err := WriteFile(path, &File{Entries: map[string]*Entry{"x": {OrderID: 9}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update("b", func(*Entry) bool { return true }); !errors.Is(err, ErrLockLost) {
		t.Fatalf("got %v", err)
	}
	if err := s.Reacquire(); err != nil {
		t.Fatal(err)
	}
	if got := s.Snapshot().Names(); !cmp.Equal(got, []string{"x"}) {
		t.Errorf("after Reacquire: %v", got)
	}
	// Reacquire on a store that holds its lock keeps it.
	if err := s.Reacquire(); err != nil {
		t.Fatalf("Reacquire while holding the lock: %v", err)
	}
	if _, err := Open(path); !errors.Is(err, ErrLocked) {
		t.Errorf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := "state file " + path + ": the store is closed; nothing was written"
	if err := s.Reacquire(); err == nil || err.Error() != want {
		t.Errorf("Reacquire after Close: %v", err)
	}
	// A Reacquire that finds the state file missing leaves the store lost.
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	os.Remove(path)
	err = s.Reacquire()
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("Reacquire without a state file: %v", err)
	}
	wantLost := "state file " + path + ": lock lost: taking its lock again failed (" + err.Error() + ")" + lostTail
	if lost := s.Lost(); lost == nil || lost.Error() != wantLost {
		t.Errorf("Lost() = %v\nwant %s", lost, wantLost)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file recreated: %v", err)
	}
	if _, err := Open(path); errors.Is(err, ErrLocked) {
		t.Error("a failed Reacquire kept the lock")
	}
}

func TestStore_closed(t *testing.T) {
	path := filepath.Join(realTempDir(t), "state.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, "a", 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	before := readBytes(t, path)
	want := "state file " + path + ": the store is closed; nothing was written"
	if err := s.Update("b", func(*Entry) bool { return true }); err == nil || err.Error() != want {
		t.Errorf("Update after Close: %v", err)
	}
	if got := readBytes(t, path); got != before {
		t.Error("a closed store wrote")
	}
	if s.Entry("a") == nil {
		t.Error("reading after Close")
	}
}

func TestAcquireLock_lockFileReplacedWhileLocking(t *testing.T) {
	path := filepath.Join(realTempDir(t), "state.json")
	lp := LockPath(path)
	if err := os.WriteFile(lp, []byte("1\nstate created\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Between our open and our flock, another process removes the lock
	// file, creates a new one and locks it.
	var other *os.File
	t.Cleanup(func() {
		lockOpened = nil
		if other != nil {
			other.Close()
		}
	})
	lockOpened = func(lp string) {
		if other != nil {
			return
		}
		os.Remove(lp)
		f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Error(err)
			return
		}
		f.WriteString("4242\nstate created\n")
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Error(err)
		}
		other = f
	}
	_, err := AcquireLock(path)
	want := "state file " + path + " is in use by another certform process (pid 4242)"
	if !errors.Is(err, ErrLocked) || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}

	// A lock file replaced on every attempt: a bounded number of tries.
	other.Close()
	other = nil
	calls := 0
	lockOpened = func(lp string) {
		calls++
		os.Remove(lp)
		os.WriteFile(lp, nil, 0o600)
	}
	_, err = AcquireLock(path)
	want = "state file " + path + ": its lock file " + lp + " was removed or replaced 10 times while locking it; something keeps deleting it"
	if err == nil || err.Error() != want || calls != 10 {
		t.Errorf("got %v after %d attempts\nwant %s", err, calls, want)
	}
}

// TestOpen_lockFileMarker covers a first run killed between creating the
// lock file and making the state file durable, and lock files from before
// the marker existed.
func TestOpen_lockFileMarker(t *testing.T) {
	pid := os.Getpid()
	tests := []struct {
		name    string
		lock    string
		missing bool
	}{
		{"empty lock file: died before writing it", "", false},
		{"pending: died before the state file was durable", "12345\nstate pending\n", false},
		{"created", "12345\nstate created\n", true},
		{"pid only, from an earlier certform", "12345\n", true},
		{"pid only without a newline", "12345", true},
		{"unrecognised", "12345\nsomething else\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(realTempDir(t), "state.json")
			if err := os.WriteFile(LockPath(path), []byte(tt.lock), 0o600); err != nil {
				t.Fatal(err)
			}
			err := CheckMissing(path)
			var me *MissingError
			if got := errors.As(err, &me); got != tt.missing {
				t.Errorf("CheckMissing: %v", err)
			}
			s, err := Open(path)
			if tt.missing {
				if !errors.As(err, &me) {
					t.Fatalf("Open: %v, want a *MissingError", err)
				}
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Error("Open created the state file")
				}
				// The evidence stays.
				if err := CheckMissing(path); !errors.As(err, &me) {
					t.Errorf("CheckMissing after Open: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			if got := readBytes(t, path); got != "{\n  \"version\": 1,\n  \"entries\": {}\n}\n" {
				t.Errorf("state file: %q", got)
			}
			if got, want := readBytes(t, LockPath(path)), fmt.Sprintf("%d\nstate created\n", pid); got != want {
				t.Errorf("lock file %q, want %q", got, want)
			}
		})
	}
}

func TestOpen_lockFileFormat(t *testing.T) {
	path := filepath.Join(realTempDir(t), "state.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d\nstate created\n", os.Getpid())
	if got := readBytes(t, LockPath(path)); got != want {
		t.Errorf("lock file %q, want %q", got, want)
	}
	s.Close()
	// A longer earlier content is cut off.
	if err := os.WriteFile(LockPath(path), []byte("123456789012\nstate created\nmore\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := readBytes(t, LockPath(path)); got != want {
		t.Errorf("lock file %q, want %q", got, want)
	}
	// A state file present next to a pending marker: Open records it.
	s.Close()
	os.WriteFile(LockPath(path), []byte("1\nstate pending\n"), 0o600)
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := readBytes(t, LockPath(path)); got != want {
		t.Errorf("lock file %q, want %q", got, want)
	}
}

func TestStore_keepsOwnerAndMode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	const nobody = 65534
	owner := func(t *testing.T, p string) (int, int, os.FileMode) {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		return int(st.Uid), int(st.Gid), fi.Mode()
	}
	t.Run("existing file keeps its owner", func(t *testing.T) {
		path := filepath.Join(realTempDir(t), "state.json")
		if err := WriteFile(path, &File{Entries: map[string]*Entry{}}); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, nobody, nobody-1); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		mustUpdate(t, s, "a", 1)
		if uid, gid, mode := owner(t, path); uid != nobody || gid != nobody-1 || mode != 0o600 {
			t.Errorf("state file %d:%d %v, want %d:%d -rw-------", uid, gid, mode, nobody, nobody-1)
		}
		// The lock file root created in its own folder stays root's.
		if uid, gid, _ := owner(t, LockPath(path)); uid != 0 || gid != 0 {
			t.Errorf("lock file %d:%d", uid, gid)
		}
	})
	t.Run("new files in another user's folder get its owner", func(t *testing.T) {
		dir := filepath.Join(realTempDir(t), "d")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "state.json")
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		mustUpdate(t, s, "a", 1)
		for _, p := range []string{path, LockPath(path)} {
			if uid, gid, mode := owner(t, p); uid != nobody || gid != nobody || mode != 0o600 {
				t.Errorf("%s: %d:%d %v, want %d:%d -rw-------", p, uid, gid, mode, nobody, nobody)
			}
		}
	})
}

func TestAcquireLock_missingFolder(t *testing.T) {
	path := filepath.Join(realTempDir(t), "none", "state.json")
	_, err := AcquireLock(path)
	want := "state file " + path + ": opening its lock " + path + ".lock: no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// TestStore_Check: Check proves the lock without writing, and a store
// whose lock file was replaced becomes lost.
func TestStore_Check(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatalf("fresh store: %v", err)
	}
	if err := os.Remove(LockPath(path)); err != nil {
		t.Fatal(err)
	}
	err = s.Check()
	want := fmt.Sprintf("state file %s: lock lost: its lock file %s was removed while this process held it; nothing was written: this process stops acting on the state until it takes the lock again and re-reads the state", path, LockPath(path))
	if !errors.Is(err, ErrLockLost) || err.Error() != want {
		t.Fatalf("Check: %v\nwant %s", err, want)
	}
	if !errors.Is(s.Lost(), ErrLockLost) {
		t.Fatalf("Lost: %v", s.Lost())
	}
	if err := s.Reacquire(); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("after Reacquire: %v", err)
	}
}

// TestOpen_permission: a state file of another user is not "corrupt": the
// error names its owner.
func TestOpen_permission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may open any file")
	}
	path := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(path, []byte(`{"version": 1, "entries": {}}`), 0o000); err != nil {
		t.Fatal(err)
	}
	_, err := Read(path)
	var pe *PermissionError
	if !errors.As(err, &pe) || pe.UID != os.Getuid() {
		t.Fatalf("Read: %v", err)
	}
}

// TestOpen_hardLink: a state file with a second hard link is refused by
// Open under either name (each name would have a lock file of its own),
// naming the other link when it is in the same folder and saying "another
// hard link" when it is not; with the link gone it opens again.
func TestOpen_hardLink(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "state.json")
	s, err := Open(st)
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, "a", 7)
	// The first process holds its lock while the link is made.
	link := filepath.Join(dir, "copy.json")
	if err := os.Link(st, link); err != nil {
		t.Fatal(err)
	}
	msg := func(path, others string) string {
		return fmt.Sprintf("state file %s has 2 hard links (%s): certform locks a state file by its name (%s.lock), "+
			"so a certform using the other name would act on the same state beside this one; certform will not use it", path, others, path)
	}
	for _, tt := range []struct{ path, want string }{
		{link, msg(link, "another hard link, "+st)},
		{st, msg(st, "another hard link, "+link)},
	} {
		if tt.path == st {
			s.Close() // the original's own lock would refuse first
		}
		_, err := Open(tt.path)
		var hl *HardLinkError
		if !errors.As(err, &hl) || err.Error() != tt.want {
			t.Errorf("Open(%s): %v\nwant: %s", tt.path, err, tt.want)
		}
	}
	elsewhere := filepath.Join(t.TempDir(), "elsewhere.json")
	if err := os.Rename(link, elsewhere); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(st); err == nil || err.Error() != msg(st, "another hard link outside its folder") {
		t.Errorf("link in another folder: %v", err)
	}
	if err := os.Remove(elsewhere); err != nil {
		t.Fatal(err)
	}
	s, err = Open(st)
	if err != nil {
		t.Fatalf("after removing the link: %v", err)
	}
	defer s.Close()
	if e := s.Entry("a"); e == nil || e.OrderID != 7 {
		t.Errorf("entry a: %+v", e)
	}
}

// lockUserEnv, set in the environment of this test binary run again as
// another user, names the folder TestAcquireLock_folderNotWritable's
// child locks in.
const lockUserEnv = "CERTFORM_TEST_LOCK_FOLDER"

// TestAcquireLock_folderNotWritable: a user that may not write in the
// state file's folder, where no lock file exists yet, is told the lock file
// cannot be created and what to do, not that it belongs to another user;
// a lock file that exists and is another user's still says whose it is.
// As root (CI) the test runs this test binary again as uid 65534 (nobody),
// since root may write anywhere.
func TestAcquireLock_folderNotWritable(t *testing.T) {
	if dir := os.Getenv(lockUserEnv); dir != "" {
		for _, name := range []string{"absent.json", "other.json"} {
			_, err := AcquireLock(filepath.Join(dir, name))
			var ce *LockCreateError
			var pe *PermissionError
			fmt.Printf("RESULT %s create=%v permission=%v denied=%v %q\n", name, errors.As(err, &ce), errors.As(err, &pe), errors.Is(err, fs.ErrPermission), fmt.Sprint(err))
		}
		return
	}
	top, err := os.MkdirTemp("", "certform-lock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	top, err = filepath.EvalSymlinks(top)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(top, "ro")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// other.json's lock is this (the folder's) user's, 0600.
	if err := os.WriteFile(LockPath(filepath.Join(dir, "other.json")), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	uid, owner := os.Geteuid(), os.Geteuid()
	var out []byte
	if uid == 0 {
		uid = 65534
		bin := filepath.Join(top, "state.test")
		data, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-test.run", "^TestAcquireLock_folderNotWritable$", "-test.count=1")
		cmd.Env = append(os.Environ(), lockUserEnv+"="+dir)
		cmd.Dir = top
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		if out, err = cmd.CombinedOutput(); err != nil {
			t.Fatalf("as uid 65534: %v\n%s", err, out)
		}
	} else {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		if err := os.Chmod(LockPath(filepath.Join(dir, "other.json")), 0o000); err != nil {
			t.Fatal(err)
		}
		t.Setenv(lockUserEnv, dir)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout := os.Stdout
		os.Stdout = w
		TestAcquireLock_folderNotWritable(t)
		os.Stdout = stdout
		w.Close()
		out, _ = io.ReadAll(r)
	}
	absent := filepath.Join(dir, "absent.json")
	other := filepath.Join(dir, "other.json")
	want := []string{
		fmt.Sprintf("RESULT absent.json create=true permission=false denied=true %q", fmt.Sprintf(
			"state file %s: cannot create its lock file %s.lock: permission denied; this user (uid %d) cannot write in the folder %s\n"+
				"hint: choose a --state in a folder this user can write, or give this user write access to %s", absent, absent, uid, dir, dir)),
		fmt.Sprintf("RESULT other.json create=false permission=true denied=false %q", fmt.Sprintf(
			"state file %s: its lock %s.lock cannot be opened by this user (uid %d): permission denied; it belongs to uid %d (gid %d)", other, other, uid, owner, os.Getegid())),
	}
	var got []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "RESULT ") {
			got = append(got, l)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s\noutput:\n%s", diff, out)
	}
	if _, err := os.Lstat(LockPath(absent)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock file of absent.json: %v", err)
	}
}
