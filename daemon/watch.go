package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/fsnotify/fsnotify"

	"github.com/certform/certform/spec"
)

// watcher reports changes below the spec directory to a debouncer. Every
// folder is watched, folders created later included, and every folder is
// added again after each cycle (resync), so that a folder replaced by a
// rename is watched under its new name; hidden paths (.git) and editor
// leftovers are ignored, as the loader ignores them. A folder that cannot
// be watched (inotify's fs.inotify.max_user_watches reached) is logged
// once, reported to health until it is watched, and tried again at every
// resync.
type watcher struct {
	root string // the real folder (symlinks resolved)
	fsw  *fsnotify.Watcher
	// add starts watching one folder: fsw.Add, or a test's stand-in.
	add func(path string) error
	log *slog.Logger
	deb *debouncer
	// unwatchedChanged gets the reasons of the folders that cannot be
	// watched (none when every folder is) each time that set changes.
	unwatchedChanged func(reasons []string)

	mu        sync.Mutex
	unwatched map[string]error // by path relative to root, with forward slashes
}

// unwatchedHint is the hint logged with a folder that cannot be watched
// because inotify ran out of watches (ENOSPC).
const unwatchedHint = "raise fs.inotify.max_user_watches; changes below it are seen at the next schedule tick"

// newWatcher watches root and every folder below it. Only a root that
// cannot be watched is an error; add is fsw.Add unless a test passes
// another.
func newWatcher(root string, deb *debouncer, log *slog.Logger, add func(string) error, unwatchedChanged func([]string)) (*watcher, error) {
	// Watch the real folder when the spec directory is a symlink (as the loader reads it).
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if add == nil {
		add = fsw.Add
	}
	w := &watcher{root: root, fsw: fsw, add: add, log: log, deb: deb, unwatchedChanged: unwatchedChanged, unwatched: map[string]error{}}
	if err := w.addTree(root, true); err != nil {
		fsw.Close()
		return nil, err
	}
	return w, nil
}

// ignoredRel reports whether a path relative to root is hidden, below a
// hidden folder, or an editor leftover.
func ignoredRel(rel string) bool {
	if rel == "." {
		return false
	}
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if spec.IgnoredName(part) {
			return true
		}
	}
	return false
}

// relSlash returns p relative to root with forward slashes.
func (w *watcher) relSlash(p string) string {
	rel, err := filepath.Rel(w.root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(rel)
}

// within reports whether rel is dir or below it (both relative to root).
func within(rel, dir string) bool {
	return dir == "." || rel == dir || strings.HasPrefix(rel, dir+"/")
}

// addTree watches dir and every folder below it that is not ignored, and
// records which of them cannot be watched. Symlinked folders are not
// followed, as the loader does not follow them. The error is that of a dir
// that cannot be read; with strict (when the watcher starts), also that of
// a root that cannot be watched.
func (w *watcher) addTree(dir string, strict bool) error {
	failed := map[string]error{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // vanished meanwhile
		}
		if !d.IsDir() {
			return nil
		}
		rel := w.relSlash(p)
		if ignoredRel(rel) {
			return fs.SkipDir
		}
		if err := w.add(p); err != nil {
			if strict && p == w.root {
				return err
			}
			failed[rel] = err
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.record(w.relSlash(dir), failed)
	return nil
}

// record replaces what is known of the folders below dir with failed:
// a folder newly failing is logged once at ERROR, one watched again at
// INFO, and health is told when the set changed.
func (w *watcher) record(dir string, failed map[string]error) {
	w.mu.Lock()
	changed := false
	for rel := range w.unwatched {
		if within(rel, dir) && failed[rel] == nil {
			delete(w.unwatched, rel)
			changed = true
			if _, err := os.Lstat(filepath.Join(w.root, filepath.FromSlash(rel))); err == nil {
				w.log.Info("watching a folder again", "folder", filepath.Join(w.root, filepath.FromSlash(rel)))
			}
		}
	}
	var newly []string
	for rel, err := range failed {
		if w.unwatched[rel] == nil {
			newly = append(newly, rel)
			changed = true
		}
		w.unwatched[rel] = err
	}
	var reasons []string
	if changed {
		reasons = w.reasonsLocked()
	}
	w.mu.Unlock()
	sort.Strings(newly)
	for _, rel := range newly {
		err := failed[rel]
		hint := unwatchedHint
		if !errors.Is(err, syscall.ENOSPC) {
			hint = "check that certform may read the folder; changes below it are seen at the next schedule tick"
		}
		w.log.Error("cannot watch a folder", "folder", filepath.Join(w.root, filepath.FromSlash(rel)), "error", err.Error(), "hint", hint)
	}
	if changed && w.unwatchedChanged != nil {
		w.unwatchedChanged(reasons)
	}
}

// reasonsLocked describes the folders that cannot be watched, sorted. The
// caller holds w.mu.
func (w *watcher) reasonsLocked() []string {
	var rels []string
	for rel := range w.unwatched {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	var out []string
	for _, rel := range rels {
		out = append(out, fmt.Sprintf("folder %s cannot be watched (%v); changes below it are seen at the next schedule tick",
			filepath.Join(w.root, filepath.FromSlash(rel)), w.unwatched[rel]))
	}
	return out
}

// resync adds every folder again: a folder replaced by a rename, or one
// that could not be watched before, is watched now. The daemon calls it
// after every cycle.
func (w *watcher) resync() {
	if err := w.addTree(w.root, false); err != nil {
		w.log.Error("watching the spec directory", "dir", w.root, "error", err.Error())
	}
}

func (w *watcher) close() { w.fsw.Close() }

// run hands the changes to the debouncer until ctx ends or the watcher is
// closed. Errors fsnotify reports are logged; an event overflow (changes
// were lost) counts as a change of everything.
func (w *watcher) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			w.deb.stop()
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			rel, err := filepath.Rel(w.root, ev.Name)
			if err != nil || ignoredRel(rel) || ev.Op == fsnotify.Chmod {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
					// A new folder, and whatever is already in it.
					if err := w.addTree(ev.Name, false); err != nil && !errors.Is(err, fs.ErrNotExist) {
						w.log.Error("watching a new folder", "folder", ev.Name, "error", err.Error())
					}
				}
			}
			w.deb.add(filepath.ToSlash(rel))
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("too many file events at once; reconciling everything", "dir", w.root)
				w.deb.add("(event overflow)")
				continue
			}
			w.log.Error("watching the spec directory", "dir", w.root, "error", err.Error())
		}
	}
}
