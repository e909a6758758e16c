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
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/certform/certform/spec"
)

// watcher reports changes below the spec directory to a debouncer, seeing
// the directory the way spec.Load reads it (spec.Tree).
//
// Every folder Load walks is watched, folders created later included, and
// every folder is added again after each cycle (resync), so that a folder
// replaced by a rename, or deleted and created again, is watched under its
// name. Hidden paths (.git), editor leftovers and what .certformignore
// excludes are ignored, as the loader ignores them; a change of
// .certformignore itself is a change, and the watcher takes up the new
// rules at once.
//
// Symlinks: the folders that symlinks Load follows lead to (a Kubernetes
// ConfigMap's hidden `..2026_11_25_10_00_00.123`) are watched too, and a
// hidden symlink to a folder (the ConfigMap's `..data`) is not ignored: the
// kubelet's update, which renames a new `..data` over the old one, is a
// change, and the watches move to the new folder. The spec directory may
// itself be a symlink or lie below one (git-sync's `current`): the folder
// of each symlink on its way, and of the directory itself, is watched as
// well, so that a swap of `current`, or the directory being removed or
// created again, is seen; the tree is then resolved and watched anew, and
// the watches of the previous tree are dropped, so that its later removal
// triggers nothing. Each of these shows as one change of "." (the
// directory itself). A mount replaced or unmounted sends no event at all:
// rootCheck polls for that.
//
// A spec directory that is gone (removed, its symlink broken) is logged
// once at ERROR; the daemon keeps running, and the tree is watched again,
// with a change of ".", as soon as it is back. A folder that cannot be
// watched (out of watches: inotify's fs.inotify.max_user_watches reached,
// or the open-file limit under kqueue; see errOutOfWatches) is logged once,
// reported to health until it is watched, and tried again at every resync.
type watcher struct {
	dir string // the spec directory as configured, made absolute
	fsw *fsnotify.Watcher
	// add starts watching one folder: fsw.Add, or a test's stand-in.
	add func(path string) error
	log *slog.Logger
	deb *debouncer
	// unwatchedChanged gets the reasons of the folders that cannot be
	// watched (none when every folder is) each time that set changes.
	unwatchedChanged func(reasons []string)
	// rootCheck is how often run checks which folder the spec directory
	// resolves to, for what inotify does not report (a mount replaced);
	// zero checks never.
	rootCheck time.Duration

	// mu guards what follows. It is held for every change of the watches
	// and while an event is classified, so that the event goroutine and
	// the daemon's resync never interleave.
	mu   sync.Mutex
	tree *spec.Tree // nil while the spec directory is gone
	// rootID identifies tree.Root (device and inode) as watched.
	rootID fileID
	gone   bool // the spec directory is gone, and that was logged
	// rootPaths are the paths whose events mean the directory itself may
	// have moved: the directory as configured, the symlinks on its way
	// and the real folder, each as its real folder joined with its name.
	rootPaths map[string]bool
	// linkedDirs and linkedFiles are the real paths Load reads only
	// through a symlink (see spec.Reach, and linkFile): events there are
	// changes, although their paths are hidden.
	linkedDirs, linkedFiles map[string]bool
	watched                 map[string]bool  // every path added
	unwatched               map[string]error // by path relative to the root, with forward slashes
	parentFailed            map[string]bool  // folders above the tree that could not be watched (logged once)
}

// fileID identifies a file: device and inode.
type fileID struct{ dev, ino uint64 }

func idOf(p string) fileID {
	fi, err := os.Stat(p)
	if err != nil {
		return fileID{}
	}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{uint64(sys.Dev), sys.Ino}
	}
	return fileID{}
}

// defaultRootCheck is how often the watcher checks which folder the spec
// directory resolves to. A stat and a readlink per symlink on the way:
// cheap, and soon enough for a volume mounted again to be read before the
// next schedule tick.
const defaultRootCheck = 2 * time.Second

// newWatcher watches dir, every folder below it that Load walks and the
// folders where a swap or a removal of dir shows. Only a dir that cannot
// be resolved or watched is an error; add is fsw.Add unless a test passes
// another.
func newWatcher(dir string, deb *debouncer, log *slog.Logger, add func(string) error, unwatchedChanged func([]string)) (*watcher, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	tree, err := spec.OpenTree(abs)
	if err != nil {
		if _, lerr := os.Lstat(abs); lerr != nil {
			return nil, lerr
		}
		return nil, err
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if add == nil {
		add = fsw.Add
	}
	w := &watcher{dir: abs, fsw: fsw, add: add, log: log, deb: deb, unwatchedChanged: unwatchedChanged, rootCheck: defaultRootCheck,
		watched: map[string]bool{}, unwatched: map[string]error{}, parentFailed: map[string]bool{}}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.installLocked(tree, true); err != nil {
		fsw.Close()
		return nil, err
	}
	return w, nil
}

// realJoin returns p with its folder's symlinks resolved (as far as they
// resolve), so that it names p as inotify reports it.
func realJoin(p string) string {
	if parent, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		return filepath.Join(parent, filepath.Base(p))
	}
	return p
}

// rootPathsOf returns the paths whose events may move the tree: see
// watcher.rootPaths. tree may be nil (the directory is gone).
func (w *watcher) rootPathsOf(tree *spec.Tree) map[string]bool {
	paths := map[string]bool{realJoin(w.dir): true}
	if tree != nil {
		paths[tree.Root] = true
		for _, l := range tree.Links {
			paths[l] = true
		}
	}
	return paths
}

// installLocked watches tree whole and drops the watches of what is no
// longer part of it. With strict (when the watcher starts) a root that
// cannot be read or watched is an error. The caller holds w.mu.
func (w *watcher) installLocked(tree *spec.Tree, strict bool) error {
	reach, err := tree.Reach(tree.Root)
	if err != nil && strict {
		return err
	}
	w.tree, w.rootID = tree, idOf(tree.Root)
	w.rootPaths = w.rootPathsOf(tree)
	w.linkedDirs, w.linkedFiles = map[string]bool{}, map[string]bool{}
	next := map[string]bool{}
	if err != nil {
		// An unreadable root: watch where it may be replaced, and say so
		// after each cycle, which fails on it too.
		w.log.Error("watching the spec directory", "dir", w.dir, "error", err.Error())
		w.watchParentsLocked(next)
		w.dropLocked(next)
		return nil
	}
	failed := map[string]error{}
	if err := w.add(tree.Root); err != nil {
		if strict {
			return err
		}
		failed["."] = err
	} else {
		next[tree.Root] = true
	}
	for _, d := range reach.LinkedDirs {
		w.linkedDirs[d] = true
	}
	var folders []string
	folders = append(folders, reach.Dirs[1:]...)
	for _, f := range reach.LinkedFiles {
		w.linkFile(f)
		folders = append(folders, filepath.Dir(f))
	}
	for _, d := range folders {
		if next[d] {
			continue
		}
		if err := w.add(d); err != nil {
			failed[w.relSlash(d)] = err
			continue
		}
		next[d] = true
	}
	w.watchParentsLocked(next)
	w.dropLocked(next)
	w.record(".", failed)
	return nil
}

// linkFile records a file Load reads through a symlink: events for it are
// changes, and so are those of the other files in its folder (a
// ConfigMap's payload folder, whose files appear before the symlinks to
// them), unless that folder is the root, where the usual rules apply.
// The caller holds w.mu.
func (w *watcher) linkFile(f string) {
	w.linkedFiles[f] = true
	if dir := filepath.Dir(f); dir != w.tree.Root {
		w.linkedDirs[dir] = true
	}
}

// watchParentsLocked watches the folder of each of w.rootPaths, adding
// them to next. A folder that cannot be watched is logged once at WARN: a
// swap there is then seen by the root check only. The caller holds w.mu.
func (w *watcher) watchParentsLocked(next map[string]bool) {
	var parents []string
	for p := range w.rootPaths {
		parents = append(parents, filepath.Dir(p))
	}
	sort.Strings(parents)
	for _, parent := range parents {
		if next[parent] {
			continue
		}
		if err := w.add(parent); err != nil {
			if !w.parentFailed[parent] && !errors.Is(err, fs.ErrNotExist) {
				w.parentFailed[parent] = true
				w.log.Warn("cannot watch a folder above the spec directory", "folder", parent, "error", err.Error(),
					"hint", "a swap or removal of the spec directory is seen within seconds by polling instead")
			}
			continue
		}
		delete(w.parentFailed, parent)
		next[parent] = true
	}
}

// dropLocked stops watching what is watched but not in next, and makes
// next the watched set. The caller holds w.mu.
func (w *watcher) dropLocked(next map[string]bool) {
	for p := range w.watched {
		if !next[p] {
			w.fsw.Remove(p) // the watch may be gone with its folder already
		}
	}
	w.watched = next
}

// relSlash returns p relative to the root with forward slashes.
func (w *watcher) relSlash(p string) string {
	root := w.dir
	if w.tree != nil {
		root = w.tree.Root
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(rel)
}

// rootFolder is the path the log names a folder below the root by.
func (w *watcher) rootFolder(rel string) string {
	root := w.dir
	if w.tree != nil {
		root = w.tree.Root
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

// within reports whether rel is dir or below it (both relative to root).
func within(rel, dir string) bool {
	return dir == "." || rel == dir || strings.HasPrefix(rel, dir+"/")
}

// addTreeLocked watches the real folder dir (a folder created below the
// root) and every folder below it that Load walks, and records which of
// them cannot be watched. The caller holds w.mu.
func (w *watcher) addTreeLocked(dir string) error {
	reach, err := w.tree.Reach(dir)
	if err != nil {
		return err
	}
	failed := map[string]error{}
	folders := append([]string(nil), reach.Dirs...)
	for _, f := range reach.LinkedFiles {
		w.linkFile(f)
		folders = append(folders, filepath.Dir(f))
	}
	for _, d := range reach.LinkedDirs {
		w.linkedDirs[d] = true
	}
	for _, d := range folders {
		if err := w.add(d); err != nil {
			failed[w.relSlash(d)] = err
			continue
		}
		w.watched[d] = true
	}
	w.record(w.relSlash(dir), failed)
	return nil
}

// record replaces what is known of the folders below dir with failed:
// a folder newly failing is logged once at ERROR, one watched again at
// INFO, and health is told when the set changed. The caller holds w.mu.
func (w *watcher) record(dir string, failed map[string]error) {
	changed := false
	for rel := range w.unwatched {
		if within(rel, dir) && failed[rel] == nil {
			delete(w.unwatched, rel)
			changed = true
			if _, err := os.Lstat(w.rootFolder(rel)); err == nil {
				w.log.Info("watching a folder again", "folder", w.rootFolder(rel))
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
	sort.Strings(newly)
	for _, rel := range newly {
		err := failed[rel]
		hint := unwatchedHint
		if !errors.Is(err, errOutOfWatches) {
			hint = "check that certform may read the folder; changes below it are seen at the next schedule tick"
		}
		w.log.Error("cannot watch a folder", "folder", w.rootFolder(rel), "error", err.Error(), "hint", hint)
	}
	if changed && w.unwatchedChanged != nil {
		w.unwatchedChanged(w.reasonsLocked())
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
			w.rootFolder(rel), w.unwatched[rel]))
	}
	return out
}

// refreshLocked resolves the spec directory again, reads its
// .certformignore and watches the tree whole (see installLocked). It
// reports whether the directory moved since it was last watched: gone,
// back, or resolving to another folder (a swap, a mount replaced). A
// directory that is gone is logged once. The caller holds w.mu.
func (w *watcher) refreshLocked() (moved bool) {
	tree, err := spec.OpenTree(w.dir)
	if err != nil {
		if w.gone {
			w.rootPaths = w.rootPathsOf(nil)
			w.watchParentsLocked(w.watched)
			return false
		}
		w.gone = true
		w.log.Error("the spec directory is gone; certform keeps running and reads it again once it is back", "dir", w.dir, "error", err.Error(),
			"hint", "restore the folder, or the mount or symlink it is reached by")
		w.tree, w.rootID = nil, fileID{}
		w.rootPaths = w.rootPathsOf(nil)
		next := map[string]bool{}
		w.watchParentsLocked(next)
		w.dropLocked(next)
		w.record(".", nil)
		return true
	}
	switch {
	case w.gone:
		w.gone = false
		moved = true
		w.log.Info("the spec directory is back; watching it again", "dir", w.dir, "folder", tree.Root)
	case w.tree == nil || tree.Root != w.tree.Root || idOf(tree.Root) != w.rootID:
		moved = true
		w.log.Info("the spec directory now resolves to another folder; watching it", "dir", w.dir, "folder", tree.Root)
	}
	if moved {
		// The old tree's folders are not this tree's: forget them.
		w.record(".", nil)
	}
	if err := w.installLocked(tree, false); err != nil {
		w.log.Error("watching the spec directory", "dir", w.dir, "error", err.Error())
	}
	return moved
}

// resync resolves the spec directory again and adds every folder again: a
// folder replaced by a rename or created again, one that could not be
// watched before, or a tree the directory now resolves to, is watched
// now. The daemon calls it after every cycle.
func (w *watcher) resync() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.refreshLocked() {
		w.deb.add(".")
	}
}

// checkRoot looks at which folder the spec directory resolves to, and
// refreshes the watches when that moved: a mount replaced or gone, which
// inotify does not report, or a swap whose event was missed.
func (w *watcher) checkRoot() {
	real, err := filepath.EvalSymlinks(w.dir)
	w.mu.Lock()
	defer w.mu.Unlock()
	same := false
	if w.tree != nil {
		same = err == nil && real == w.tree.Root && idOf(real) == w.rootID
	} else {
		same = err != nil
	}
	if !same && w.refreshLocked() {
		w.deb.add(".")
	}
}

func (w *watcher) close() { w.fsw.Close() }

// run hands the changes to the debouncer until ctx ends or the watcher is
// closed. Errors fsnotify reports are logged; an event overflow (changes
// were lost) counts as a change of everything.
func (w *watcher) run(ctx context.Context) {
	// Errors are taken in a goroutine of their own, which never waits for
	// w.mu: fsnotify may send one while holding its own lock, which a
	// resync holding w.mu may be waiting for.
	go func() {
		for err := range w.fsw.Errors {
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("too many file events at once; reconciling everything", "dir", w.dir)
				w.deb.add("(event overflow)")
				continue
			}
			w.log.Error("watching the spec directory", "dir", w.dir, "error", err.Error())
		}
	}()
	var tick <-chan time.Time
	if w.rootCheck > 0 {
		t := time.NewTicker(w.rootCheck)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			w.deb.stop()
			return
		case <-tick:
			w.checkRoot()
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			w.handle(ev)
		}
	}
}

// handle classifies one event and hands a change to the debouncer.
func (w *watcher) handle(ev fsnotify.Event) {
	if ev.Op == fsnotify.Chmod {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rootPaths[ev.Name] {
		// The directory itself, or a symlink on its way, was replaced,
		// removed or created.
		if w.refreshLocked() {
			w.deb.add(".")
		}
		return
	}
	if w.tree == nil {
		return
	}
	rel, ok := relWithin(w.tree.Root, ev.Name)
	if !ok {
		return // above the tree, or a tree watched before
	}
	if rel == spec.IgnoreFile {
		// New rules: watch what they now include, drop what they exclude.
		w.refreshLocked()
		w.deb.add(rel)
		return
	}
	if w.linkedFiles[ev.Name] || w.linkedDirs[filepath.Dir(ev.Name)] {
		w.deb.add(rel)
		return
	}
	w.handleEntry(ev, rel)
}

// handleEntry handles an event of a file or folder of the tree, at rel:
// one the tree skips matters only as a hidden symlink to a folder of the
// tree; a new folder is watched, with what is already in it. w.mu is held.
func (w *watcher) handleEntry(ev fsnotify.Event, rel string) {
	fi, statErr := os.Lstat(ev.Name)
	isDir := statErr == nil && fi.IsDir()
	if w.tree.Skip(rel, isDir) {
		if statErr == nil && fi.Mode()&fs.ModeSymlink != 0 && w.linksToFolderInside(ev.Name) {
			// A hidden symlink to a folder of the tree (a ConfigMap's
			// `..data` swapped): the symlinks Load follows lead elsewhere
			// now.
			w.refreshLocked()
			w.deb.add(rel)
		}
		return
	}
	if ev.Has(fsnotify.Create) && isDir {
		// A new folder, and whatever is already in it.
		if err := w.addTreeLocked(ev.Name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			w.log.Error("watching a new folder", "folder", ev.Name, "error", err.Error())
		}
	}
	w.deb.add(rel)
}

// linksToFolderInside reports whether the symlink p leads to a folder of
// the tree.
func (w *watcher) linksToFolderInside(p string) bool {
	target, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false
	}
	if _, ok := relWithin(w.tree.Root, target); !ok {
		return false
	}
	fi, err := os.Stat(target)
	return err == nil && fi.IsDir()
}

// relWithin returns p relative to root with forward slashes, and whether
// p is root or below it.
func relWithin(root, p string) (string, bool) {
	if p == root {
		return ".", true
	}
	if !strings.HasPrefix(p, root+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(p[len(root)+1:]), true
}
