package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// Tree is a spec directory resolved the way Load reads it.
//
// The directory itself (--dir) may be a symlink, or have symlinks on its
// path: it is read where it resolves to when a load starts, whole, so that
// swapping the symlink (git-sync's `ln -s releases/def tmp && mv -T tmp
// current`) gives the next load the new tree and no load a mix of both.
//
// Below it, Load follows a symlink only into the directory's own real
// tree, and reads each file once:
//
//   - a symlink whose target (every link on the way resolved) is outside
//     the real tree is an error when it names a folder or a spec file
//     (.yaml, .yml), and is passed over otherwise; a broken one is an
//     error when its name is a spec file's;
//   - a symlink to a file or folder that Load reads where it lives (a
//     visible .yaml or .yml file, a visible folder) is passed over: the
//     target is read under its own path;
//   - any other symlink inside the tree (its target is hidden, such as a
//     Kubernetes ConfigMap's `NAME.yaml -> ..data/NAME.yaml`, excluded by
//     .certformignore, or not named .yaml) is read as the file or folder it
//     points to, under the symlink's own path: errors, orders' File and
//     csr_file paths are relative to where the symlink is. A folder reached
//     twice (two symlinks, or a loop) is read the first time only.
//
// Hidden names (a symlink like `..data` included), editor leftovers and
// paths .certformignore excludes are never followed; the rules apply to the
// symlink's own path.
type Tree struct {
	// Dir is the spec directory as given, made absolute.
	Dir string
	// Root is the real folder Dir resolves to.
	Root string
	// Links are the symlinks met while resolving Dir to Root (Dir itself,
	// if it is one, first), each as an absolute path whose folder is real:
	// replacing one of them moves the whole tree elsewhere.
	Links []string
	// Ignore holds the patterns of Root's .certformignore; nil when there
	// is none or when it is broken.
	Ignore *Ignore
	// IgnoreErr is an *IgnoreError when .certformignore cannot be read or
	// has broken patterns; Load refuses to read the tree then.
	IgnoreErr error

	ignoreSrc source // the ignore file as read; zero rel when none
}

// OpenTree resolves dir and reads its .certformignore. Its error is for a
// dir that cannot be resolved or is not a folder; a broken ignore file is
// Tree.IgnoreErr.
func OpenTree(dir string) (*Tree, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("spec directory %s: %w", dir, err)
	}
	root, links, err := resolvePath(abs)
	if err != nil {
		return nil, fmt.Errorf("spec directory %s: %w", dir, unwrapPathError(err))
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("spec directory %s: %w", dir, unwrapPathError(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("spec directory %s: not a directory", dir)
	}
	t := &Tree{Dir: abs, Root: root, Links: links}
	t.readIgnore()
	return t, nil
}

// readIgnore reads Root's .certformignore, following a symlink that stays
// inside the tree (a ConfigMap key is one).
func (t *Tree) readIgnore() {
	full := filepath.Join(t.Root, IgnoreFile)
	fail := func(format string, args ...any) {
		t.IgnoreErr = &IgnoreError{Errors: []*Error{fileError(IgnoreFile, format, args...)}}
	}
	fi, err := os.Lstat(full)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		fail("cannot read: %v", unwrapPathError(err))
		return
	}
	l := &loader{root: t.Root}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(full)
		if err != nil {
			fail("broken symlink; remove it or point it at a file inside the spec directory")
			return
		}
		if !l.within(target) {
			fail("symlink points outside the spec directory; certform does not follow it, copy the file in instead")
			return
		}
		l.links = map[string]string{IgnoreFile: target}
	}
	data, st, err := l.readFile(IgnoreFile)
	var nr *notRegularError
	if errors.As(err, &nr) {
		fail("%s %v", IgnoreFile, nr)
		return
	}
	if err != nil {
		fail("cannot read: %v", err)
		return
	}
	t.ignoreSrc = source{rel: IgnoreFile, full: filepath.Join(t.Dir, IgnoreFile), st: st}
	t.Ignore, t.IgnoreErr = ParseIgnore(IgnoreFile, data)
}

// Skip reports whether Load passes over the slash-separated path rel
// (relative to Dir; isDir when it is a folder) by its name alone: it or a
// folder above it is hidden, an editor leftover or excluded by
// .certformignore. It does not say whether a file is a spec (.yaml, .yml).
func (t *Tree) Skip(rel string, isDir bool) bool {
	if rel == "." || rel == "" {
		return false
	}
	for _, part := range strings.Split(rel, "/") {
		if IgnoredName(part) {
			return true
		}
	}
	return t.Ignore.Match(rel, isDir)
}

// rel returns the real path p relative to Root, with forward slashes, and
// whether p is Root or below it.
func (t *Tree) rel(p string) (string, bool) {
	if p == t.Root {
		return ".", true
	}
	if !strings.HasPrefix(p, t.Root+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(p[len(t.Root)+1:]), true
}

// readInPlace reports whether Load reads the real path target (inside
// Root) under its own path: a visible folder, or a visible .yaml or .yml
// file.
func (t *Tree) readInPlace(target string, isDir bool) bool {
	rel, ok := t.rel(target)
	if !ok {
		return false
	}
	if rel == "." {
		return true
	}
	if t.Skip(rel, isDir) {
		return false
	}
	return isDir || hasSpecSuffix(rel)
}

// hasSpecSuffix reports whether name ends in .yaml or .yml, in any case.
func hasSpecSuffix(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasSuffix(lower, ".yaml") || strings.HasSuffix(lower, ".yml")
}

// resolvePath resolves every symlink in the absolute path p, like
// filepath.EvalSymlinks, and returns the symlinks it met, each as the
// real path of its folder joined with its name.
func resolvePath(p string) (string, []string, error) {
	var links []string
	resolved := string(filepath.Separator)
	rest := strings.Split(strings.TrimPrefix(filepath.Clean(p), string(filepath.Separator)), string(filepath.Separator))
	for n := 0; len(rest) > 0; {
		part := rest[0]
		rest = rest[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			resolved = filepath.Dir(resolved)
			continue
		}
		next := filepath.Join(resolved, part)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", nil, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if len(rest) > 0 && !fi.IsDir() {
				return "", nil, &fs.PathError{Op: "lstat", Path: next, Err: syscall.ENOTDIR}
			}
			resolved = next
			continue
		}
		if n++; n > 255 {
			return "", nil, &fs.PathError{Op: "lstat", Path: next, Err: syscall.ELOOP}
		}
		links = append(links, next)
		target, err := os.Readlink(next)
		if err != nil {
			return "", nil, err
		}
		if filepath.IsAbs(target) {
			resolved = string(filepath.Separator)
		}
		rest = append(strings.Split(filepath.Clean(target), string(filepath.Separator)), rest...)
	}
	return resolved, links, nil
}

// entryKind says what a walk met.
type entryKind uint8

const (
	// entryDir is a folder walked, Root included.
	entryDir entryKind = iota
	// entryFile is a file that is not passed over by its name; Load
	// reads it if it is a spec file.
	entryFile
	// entryLink is a symlink in a folder walked, met before it is
	// followed or passed over.
	entryLink
	// entrySkip is an entry passed over by its name (see skip reasons).
	entrySkip
	// entryError is a problem Load reports at rel.
	entryError
)

// entry is what a walk reports.
type entry struct {
	kind entryKind
	// rel is the slash-separated path below Dir, as Load names it: through
	// the symlinks it followed, never through a hidden name.
	rel string
	// real is the absolute real path of the file or folder (a followed
	// symlink's target); for entryLink, the symlink's own path.
	real string
	// target is entryLink's resolution: the real path it points to (every
	// link on the way resolved), "" when it is broken, loops or cannot be
	// resolved or stat'ed; isDir says whether that is a folder.
	target string
	// mode is entryFile's file type (the target's, for a symlink).
	mode fs.FileMode
	// linked is set on an entryFile or entryDir that Load reads only
	// through a symlink.
	linked bool
	// isDir is set on an entrySkip for a folder (or a symlink to one), and
	// on an entryLink whose target is one.
	isDir bool
	// why is entrySkip's reason or entryError's message.
	why string
}

// Why an entry was passed over.
const (
	skipHidden   = "hidden"
	skipLeftover = "editor leftover"
)

// walk visits the tree as Load reads it, starting at the real folder start
// (Root, or a folder below it that Load walks), in lexical order. The
// entry visit is given is valid only during the call: visit must not keep
// it. Its error is that of a start folder that cannot be read.
func (t *Tree) walk(start string, visit func(*entry)) error {
	return t.walkFrom(start, visit, false)
}

// walkReach is walk for what Reach needs: the folders walked and the
// files read through a symlink. It visits no entry passed over by its name
// and no file met in place (not through a symlink): they lead to no folder
// nor linked file (issue 27: at 100,000 specs the watcher's resync named
// and matched every spec file only to drop it).
func (t *Tree) walkReach(start string, visit func(*entry)) error {
	return t.walkFrom(start, visit, true)
}

// walkFrom is walk, or walkReach when reachOnly.
func (t *Tree) walkFrom(start string, visit func(*entry), reachOnly bool) error {
	rel, ok := t.rel(start)
	if !ok {
		return fmt.Errorf("%s is outside the spec directory %s", start, t.Root)
	}
	w := &treeWalk{t: t, visit: visit, visited: map[string]bool{}, reachOnly: reachOnly}
	return w.dir(rel, start, false)
}

type treeWalk struct {
	t       *Tree
	visit   func(*entry)
	visited map[string]bool // real folders walked
	cur     entry           // the entry visit is given
	// reachOnly passes over, unvisited, what walkReach does not visit.
	reachOnly bool
}

// emit calls visit with e. The entry visit is given is the walk's own,
// overwritten by the next: visit keeps none (issue 27: one entry allocated
// for each file and folder of a 100,000-spec tree, each idle cycle, twice).
func (w *treeWalk) emit(e entry) {
	w.cur = e
	w.visit(&w.cur)
}

func (w *treeWalk) dir(rel, real string, linked bool) error {
	w.visited[real] = true
	w.emit(entry{kind: entryDir, rel: rel, real: real, linked: linked})
	ents, err := os.ReadDir(real)
	if err != nil {
		if len(w.visited) == 1 {
			return err
		}
		w.emit(entry{kind: entryError, rel: rel, why: fmt.Sprintf("cannot read: %v", unwrapPathError(err))})
		if len(ents) == 0 {
			return nil
		}
	}
	for _, de := range ents {
		name := de.Name()
		if w.reachOnly && (IgnoredName(name) || (!linked && de.Type()&(fs.ModeDir|fs.ModeSymlink) == 0)) {
			continue
		}
		crel, creal := path.Join(rel, name), filepath.Join(real, name)
		isLink := de.Type()&fs.ModeSymlink != 0
		if IgnoredName(name) {
			w.emit(ignoredEntry(de, crel, creal))
			continue
		}
		if isLink {
			w.link(crel, creal)
			continue
		}
		isDir := de.IsDir()
		if ex, line := w.t.Ignore.match(crel, isDir); ex {
			w.emit(entry{kind: entrySkip, rel: crel, real: creal, isDir: isDir, why: excludedWhy(line)})
			continue
		}
		if isDir {
			if !w.visited[creal] {
				if err := w.dir(crel, creal, linked); err != nil {
					return err
				}
			}
			continue
		}
		w.emit(entry{kind: entryFile, rel: crel, real: creal, mode: de.Type(), linked: linked})
	}
	return nil
}

// ignoredEntry is the skip entry of a hidden file or folder or an editor
// leftover (IgnoredName), at crel (creal on disk).
func ignoredEntry(de fs.DirEntry, crel, creal string) entry {
	why := skipLeftover
	if name := de.Name(); strings.HasPrefix(name, ".") && !strings.HasPrefix(name, ".#") {
		why = skipHidden
	}
	isDir := de.IsDir()
	if de.Type()&fs.ModeSymlink != 0 {
		fi, err := os.Stat(creal)
		isDir = err == nil && fi.IsDir()
	}
	return entry{kind: entrySkip, rel: crel, real: creal, isDir: isDir, why: why}
}

func excludedWhy(line int) string {
	return fmt.Sprintf("excluded by %s:%d", IgnoreFile, line)
}

// link handles the symlink full, named rel: see Tree.
func (w *treeWalk) link(rel, full string) {
	target, fi, err := resolveLink(full)
	isDir := err == nil && fi.IsDir()
	w.emit(entry{kind: entryLink, rel: rel, real: full, target: target, isDir: isDir})
	if ex, line := w.t.Ignore.match(rel, isDir); ex {
		w.emit(entry{kind: entrySkip, rel: rel, real: full, isDir: isDir, why: excludedWhy(line)})
		return
	}
	switch {
	case err != nil:
		if IsSpecFile(rel) {
			w.emit(entry{kind: entryError, rel: rel, why: "broken symlink; remove it or point it at a file inside the spec directory"})
		}
	case !w.t.within(target):
		if isDir || IsSpecFile(rel) {
			w.emit(entry{kind: entryError, rel: rel, why: "symlink points outside the spec directory; certform does not follow it, copy the file in instead"})
		}
	case w.t.readInPlace(target, isDir):
		// Read where it lives.
	case isDir:
		if !w.visited[target] {
			// A folder below that cannot be read is reported there; the
			// start folder, which could fail the walk, is never a target
			// (it is read in place).
			_ = w.dir(rel, target, true)
		}
	default:
		w.emit(entry{kind: entryFile, rel: rel, real: target, mode: fi.Mode().Type(), linked: true})
	}
}

// resolveLink resolves the symlink full as a walk does: the real path it
// points to, every link on the way resolved, and what is there; "" and
// the error when it cannot be resolved or stat'ed.
func resolveLink(full string) (string, fs.FileInfo, error) {
	target, err := filepath.EvalSymlinks(full)
	if err != nil {
		return "", nil, err
	}
	fi, err := os.Stat(target)
	if err != nil {
		return "", nil, err
	}
	return target, fi, nil
}

// within reports whether the real path p is Root or below it.
func (t *Tree) within(p string) bool {
	_, ok := t.rel(p)
	return ok
}

// Reach is the part of a spec directory Load reads, as a watcher needs it:
// every path is real (symlinks resolved).
type Reach struct {
	// Dirs are the folders Load walks, the start folder first: the
	// folders to watch for files added, removed or changed. They include
	// LinkedDirs.
	Dirs []string
	// LinkedDirs are the folders Load walks only through a symlink (their
	// own path is hidden or excluded): a change in one is a change of the
	// tree, although its path is hidden.
	LinkedDirs []string
	// LinkedFiles are the files Load reads only through a symlink (a
	// ConfigMap's `..2026_11_25_10_00_00.123/NAME.yaml`); their folders
	// are worth watching too.
	LinkedFiles []string
}

// Reach walks the tree from start (Root, or a real folder below it that
// Load walks) as Load does. Its error is for a start folder that cannot be
// read.
func (t *Tree) Reach(start string) (*Reach, error) {
	r := &Reach{}
	if err := t.walkReach(start, r.see); err != nil {
		return nil, err
	}
	return r, nil
}

// see records what r needs of an entry of the walk.
func (r *Reach) see(e *entry) {
	switch {
	case e.kind == entryDir:
		r.Dirs = append(r.Dirs, e.real)
		if e.linked {
			r.LinkedDirs = append(r.LinkedDirs, e.real)
		}
	case e.kind == entryFile && e.linked:
		r.LinkedFiles = append(r.LinkedFiles, e.real)
	}
}
