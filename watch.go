package main

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/certform/certform/spec"
)

// watcher reports changes below a spec directory, debounced: after the
// first change it waits for a quiet period without changes, but never
// longer than maxDelay from that first change, so that a steady stream of
// writes cannot starve the reconcile. Every folder is watched, folders
// created later included; hidden paths (.git) and editor leftovers are
// ignored.
type watcher struct {
	root     string
	quiet    time.Duration
	maxDelay time.Duration
	fsw      *fsnotify.Watcher
	log      *slog.Logger
	// fire is called with the first few changed paths (relative to root)
	// and how many more there were.
	fire func(paths []string, more int)
}

// maxPathsLogged is how many changed paths a trigger carries for the log.
const maxPathsLogged = 5

func newWatcher(root string, quiet time.Duration, log *slog.Logger, fire func([]string, int)) (*watcher, error) {
	// Watch the real folder when --dir is a symlink (as the loader reads it).
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watcher{root: root, quiet: quiet, maxDelay: 10 * quiet, fsw: fsw, log: log, fire: fire}
	if err := w.addTree(root); err != nil {
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

// addTree watches dir and every folder below it that is not ignored.
// Symlinked folders are not followed, as the loader does not follow them.
func (w *watcher) addTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // vanished meanwhile
		}
		if !d.IsDir() {
			return nil
		}
		if rel, _ := filepath.Rel(w.root, p); ignoredRel(rel) {
			return fs.SkipDir
		}
		if err := w.fsw.Add(p); err != nil && p == dir {
			return err
		}
		return nil
	})
}

// resync re-adds every folder; a folder replaced by a rename is watched
// again. The daemon calls it after every cycle.
func (w *watcher) resync() {
	if err := w.addTree(w.root); err != nil {
		w.log.Warn("watching the spec directory", "dir", w.root, "error", err.Error())
	}
}

func (w *watcher) close() { w.fsw.Close() }

// run delivers debounced changes until ctx ends.
func (w *watcher) run(ctx context.Context) {
	var (
		timer    *time.Timer
		timerC   <-chan time.Time
		deadline time.Time
		paths    []string
		more     int
		seen     = map[string]bool{}
	)
	reset := func() {
		paths, more, seen, timerC = nil, 0, map[string]bool{}, nil
	}
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
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
					w.addTree(ev.Name) // a new folder, and whatever is already in it
				}
			}
			rel = filepath.ToSlash(rel)
			if !seen[rel] {
				seen[rel] = true
				if len(paths) < maxPathsLogged {
					paths = append(paths, rel)
				} else {
					more++
				}
			}
			now := time.Now()
			if timerC == nil {
				deadline = now.Add(w.maxDelay)
			}
			at := now.Add(w.quiet)
			if at.After(deadline) {
				at = deadline
			}
			if timer == nil {
				timer = time.NewTimer(at.Sub(now))
			} else {
				timer.Stop()
				timer.Reset(at.Sub(now))
			}
			timerC = timer.C
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("too many file events at once; reconciling everything", "dir", w.root)
				w.fire([]string{"(event overflow)"}, 0)
				continue
			}
			w.log.Warn("watching the spec directory", "dir", w.root, "error", err.Error())
		case <-timerC:
			w.fire(paths, more)
			reset()
		}
	}
}
