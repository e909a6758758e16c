// Package fsx owns certform's file-system primitives that more than one
// package needs: the one atomic file write (temporary file in the same
// folder, fsync, rename or link, folder fsync), the real path of a path
// that may not exist yet, and the "is this path inside that folder" check.
// It does not know what the files mean: callers word their own errors
// from the *Error it returns.
package fsx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Step names the step of WriteFile that failed, so that a caller can word
// its own message (state files say "syncing its folder").
type Step string

// The steps of WriteFile, in order.
const (
	StepCreate     Step = "creating a temporary file"
	StepPrepare    Step = "preparing the temporary file"
	StepWrite      Step = "writing"
	StepSync       Step = "syncing"
	StepClose      Step = "closing"
	StepPlace      Step = "placing"
	StepOpenFolder Step = "opening its folder to sync it"
	StepSyncFolder Step = "syncing its folder"
)

// Error is a failed WriteFile: the step that failed and why. Placed says
// whether the new file was already at its path when the error happened
// (only a failure to sync the folder comes after that).
type Error struct {
	Step   Step
	Placed bool
	Err    error
}

// Error returns "STEP: ERR".
func (e *Error) Error() string { return fmt.Sprintf("%s: %v", e.Step, e.Err) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Options tunes WriteFile; the zero value writes mode 0600 and replaces
// an existing file.
type Options struct {
	// Mode is the file's permission bits, set whatever the umask; 0 means 0600.
	Mode fs.FileMode
	// NoReplace places the file with a hard link instead of a rename, so
	// that an existing path (even one created a moment before) is an error
	// matching fs.ErrExist and is left as it was.
	NoReplace bool
	// Prepare, when set, runs on the temporary file before anything is
	// written to it (the state store keeps the owner this way).
	Prepare func(tmp *os.File) error
	// TempPattern is the os.CreateTemp pattern of the temporary file;
	// "" means TempPattern(path). Keep it hidden (a leading dot).
	TempPattern string
	// RemoveStaleAfter, when positive, first removes the files in the
	// folder matching TempPattern older than it: the leftovers of a killed
	// write (see RemoveStale).
	RemoveStaleAfter time.Duration
	// OpenFolder opens the folder to sync it; nil means os.Open. Tests
	// replace it to inject a failure.
	OpenFolder func(name string) (*os.File, error)
}

// WriteFile writes data to path atomically: a hidden temporary file in the
// same folder ("."+base+".tmp-*", which certform's loader and watcher
// ignore) is given its mode, written, synced and closed, then renamed (or,
// with NoReplace, hard-linked) to path, and the folder is synced so the
// new entry lasts. On any error before the file is placed the temporary
// file is removed and path is untouched. It returns the written file's
// FileInfo (taken before the rename; nil when the file was not placed)
// and an *Error naming the failed step.
func WriteFile(path string, data []byte, o Options) (fs.FileInfo, error) {
	dir, pattern := filepath.Dir(path), o.TempPattern
	if pattern == "" {
		pattern = TempPattern(path)
	}
	if o.RemoveStaleAfter > 0 {
		RemoveStale(dir, pattern, o.RemoveStaleAfter)
	}
	fi, err := writeTemp(dir, pattern, data, o, func(tmp string) error {
		if o.NoReplace {
			return os.Link(tmp, path)
		}
		return os.Rename(tmp, path)
	})
	if err != nil {
		return nil, err
	}
	if err := SyncFolder(dir, o.OpenFolder); err != nil {
		return fi, err
	}
	return fi, nil
}

// writeTemp writes the temporary file and places it; it removes the
// temporary name unless a rename moved it.
func writeTemp(dir, pattern string, data []byte, o Options, place func(tmp string) error) (fs.FileInfo, error) {
	mode := o.Mode
	if mode == 0 {
		mode = 0o600
	}
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, &Error{Step: StepCreate, Err: err}
	}
	placed := false
	defer func() {
		if !placed || o.NoReplace {
			os.Remove(tmp.Name())
		}
	}()
	fail := func(step Step, err error) (fs.FileInfo, error) {
		tmp.Close()
		return nil, &Error{Step: step, Err: err}
	}
	if o.Prepare != nil {
		if err := o.Prepare(tmp); err != nil {
			return fail(StepPrepare, err)
		}
	}
	if err := tmp.Chmod(mode); err != nil {
		return fail(StepPrepare, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(StepWrite, err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(StepSync, err)
	}
	fi, err := tmp.Stat()
	if err != nil {
		return fail(StepClose, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, &Error{Step: StepClose, Err: err}
	}
	if err := place(tmp.Name()); err != nil {
		return nil, &Error{Step: StepPlace, Err: err}
	}
	placed = true
	return fi, nil
}

// SyncFolder fsyncs a folder, so that the entries created or renamed in
// it last; open is os.Open when nil. A failure is an *Error (Placed set)
// whose cause is the bare error, without the path.
func SyncFolder(dir string, open func(string) (*os.File, error)) error {
	if open == nil {
		open = os.Open
	}
	d, err := open(dir)
	if err != nil {
		return &Error{Step: StepOpenFolder, Placed: true, Err: unwrapPath(err)}
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &Error{Step: StepSyncFolder, Placed: true, Err: unwrapPath(err)}
	}
	return nil
}

// TempPattern returns the default os.CreateTemp pattern of WriteFile's
// temporary file for path: ".BASE.tmp-*".
func TempPattern(path string) string { return "." + filepath.Base(path) + ".tmp-*" }

// RemoveStale removes the regular files in dir whose names match the
// os.CreateTemp pattern (its one "*" the only wildcard; other characters
// match themselves) and that are older than age: the temporary files a
// killed writer left. Errors are ignored: a leftover is harmless, only
// untidy.
func RemoveStale(dir, pattern string, age time.Duration) {
	matches, _ := filepath.Glob(filepath.Join(dir, globEscape(pattern)))
	for _, m := range matches {
		if fi, err := os.Lstat(m); err == nil && fi.Mode().IsRegular() && (age <= 0 || time.Since(fi.ModTime()) > age) {
			os.Remove(m)
		}
	}
}

// globEscape escapes the characters filepath.Glob treats specially, but
// for the last "*", the one os.CreateTemp replaces.
func globEscape(pattern string) string {
	star := strings.LastIndex(pattern, "*")
	var b strings.Builder
	for i, r := range pattern {
		if i != star && strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Rel returns path relative to dir, both made absolute and resolved with
// RealPrefix, and whether path is dir or below it.
func Rel(dir, path string) (rel string, inside bool) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	p, err := filepath.Abs(path)
	if err != nil {
		return "", false
	}
	rel, err = filepath.Rel(RealPrefix(d), RealPrefix(p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return rel, false
	}
	return rel, true
}

// Inside reports whether path is dir or below it, symbolic links resolved
// where they exist.
func Inside(path, dir string) bool {
	_, ok := Rel(dir, path)
	return ok
}
