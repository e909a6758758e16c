package spec

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// source is one file a load read, with its stamp from then.
type source struct {
	rel  string // relative to the loaded directory, with forward slashes
	full string // absolute
	st   stamp
}

// changed reports whether the file changed or vanished since it was read.
// A file whose stamp could not be taken then counts as changed, since
// nothing proves it did not.
func (s source) changed() bool {
	return s.st == (stamp{}) || statStamp(s.full) != s.st
}

// Changed stats again every file the load read (spec files, defaults.yaml
// files, CSR files; also those a Cache served without reading them again)
// and returns, sorted, the paths relative to the loaded directory of those
// that changed (size, modification or change time, inode) or vanished
// since. Empty means the snapshot held: the result still describes the
// files on disk. Files added since are not seen; see LastChange. Safe for
// concurrent use.
func (r *Result) Changed() []string {
	var out []string
	for _, s := range r.read {
		if s.changed() {
			out = append(out, s.rel)
		}
	}
	return out
}

// SourceChanged reports whether a file the order was built from changed or
// vanished since the load: its spec file, any defaults.yaml it inherits
// from, or its csr_file. It stats those files again, so call it just before
// an irreversible call (a revocation) to skip the call when the spec may
// no longer ask for it. An Order not made by Load reports false. Safe for
// concurrent use.
func (o *Order) SourceChanged() bool {
	for _, s := range o.sources {
		if s.changed() {
			return true
		}
	}
	return false
}

// LastChange returns the newest modification or status-change time (the
// later of mtime and ctime) of dir and of every folder and YAML file below
// it that Load walks: hidden files and folders (.git among them), editor
// leftovers and files of other kinds (a CSR file, a log that keeps
// growing) are skipped, and a symlink counts by its own times, never
// followed. Folders count because adding, removing or renaming an entry
// changes its folder's times. When dir is itself a symlink, the symlink's
// times count too, and the tree is that of its target.
//
// Waiting until LastChange is a quiet period in the past lets a caller
// load a tree that `git pull` or `git checkout` has finished rewriting.
// Entries that vanish during the walk or cannot be read are passed over
// (their folder's times move, and Load reports what it cannot read); only
// a dir that cannot be read is an error.
func LastChange(dir string) (time.Time, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return time.Time{}, fmt.Errorf("spec directory %s: %w", dir, err)
	}
	var latest time.Time
	if fi, err := os.Lstat(abs); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		latest = changeTime(fi)
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return time.Time{}, fmt.Errorf("spec directory %s: %w", dir, unwrapPathError(err))
	}
	if fi, err := os.Stat(root); err != nil {
		return time.Time{}, fmt.Errorf("spec directory %s: %w", dir, unwrapPathError(err))
	} else if !fi.IsDir() {
		return time.Time{}, fmt.Errorf("spec directory %s: not a directory", dir)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil
		}
		if p != root && IgnoredName(d.Name()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() && !strings.HasSuffix(d.Name(), ".yaml") && !strings.HasSuffix(d.Name(), ".yml") {
			// Only folders and YAML files: another file that keeps
			// changing (a log, a build artefact) must not hold every cycle
			// back. CSR files are covered by Result.Changed after a load.
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if p == root {
				return err
			}
			return nil
		}
		if t := changeTime(fi); t.After(latest) {
			latest = t
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("spec directory %s: %w", dir, unwrapPathError(err))
	}
	return latest, nil
}

// changeTime is the later of a file's modification and status-change times.
func changeTime(fi fs.FileInfo) time.Time {
	t := fi.ModTime()
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		if c := time.Unix(sys.Ctim.Unix()); c.After(t) {
			t = c
		}
	}
	return t
}
