package fsx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MaxSymlinks is how many symlinks RealPath follows before it calls the
// path a loop: Linux's MAXSYMLINKS (include/linux/namei.h).
const MaxSymlinks = 40

// RealPath returns the absolute path of path with every symlink resolved,
// in every component including the last. A last component that is a
// symlink to a file that does not exist yet resolves to that target
// (relative link text is read from the link's folder), so a file reached
// through a symlink is always locked, read and written at the same real
// path, and the symlink stays a symlink. Components from the first missing
// one on are kept as given, cleaned.
//
// It fails when path is empty, when resolving it follows more than
// MaxSymlinks symlinks (a loop), or when a component cannot be examined;
// the error does not name path (the caller does). It reads the file system
// and does not cache; the result can change when links change.
func RealPath(path string) (string, error) {
	if path == "" {
		return "", errors.New("path is empty")
	}
	return realPath(path, false)
}

// RealPrefix returns p (made clean and absolute) with the symbolic links
// of its longest existing prefix resolved: the real path of p when it
// exists, and where it would be created when it does not. Unlike RealPath
// it stops at a symlink whose target does not exist (or loops) and keeps
// it and the rest as given: a file written there replaces the link. It
// returns p unchanged when the working folder cannot be read.
func RealPrefix(p string) string {
	r, err := realPath(filepath.Clean(p), true)
	if err != nil {
		return p
	}
	return r
}

// pathWalk resolves a path one component at a time.
type pathWalk struct {
	resolved string   // the real path of the components done
	todo     []string // the components left, link text spliced in
	links    int      // symlinks followed
	// prefix: stop at the first component that is missing, cannot be
	// examined or is a symlink to nothing (RealPrefix).
	prefix bool
}

func realPath(path string, prefix bool) (string, error) {
	if !filepath.IsAbs(path) {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("resolving it: %w", err)
		}
		path = wd + string(filepath.Separator) + path
	}
	w := &pathWalk{resolved: string(filepath.Separator), todo: strings.Split(path, string(filepath.Separator)), prefix: prefix}
	for len(w.todo) > 0 {
		if done, err := w.step(); done || err != nil {
			return w.resolved, err
		}
	}
	return w.resolved, nil
}

// step resolves the next component; done says the walk ended there.
func (w *pathWalk) step() (done bool, err error) {
	c := w.todo[0]
	w.todo = w.todo[1:]
	switch c {
	case "", ".":
		return false, nil
	case "..":
		w.resolved = filepath.Dir(w.resolved)
		return false, nil
	}
	next := filepath.Join(w.resolved, c)
	fi, err := os.Lstat(next)
	switch {
	case errors.Is(err, fs.ErrNotExist) || err != nil && w.prefix:
		// Nothing under a missing name exists, so nothing there is a link.
		return w.stop(next), nil
	case err != nil:
		return true, fmt.Errorf("resolving symlinks: %w", err)
	case fi.Mode()&fs.ModeSymlink == 0:
		w.resolved = next
		return false, nil
	}
	return w.follow(next)
}

// stop ends the walk at next, the components left kept as given.
func (w *pathWalk) stop(next string) bool {
	w.resolved = filepath.Join(append([]string{next}, w.todo...)...)
	return true
}

// follow splices the text of the symlink link into the components left.
func (w *pathWalk) follow(link string) (done bool, err error) {
	if w.prefix {
		if _, err := os.Stat(link); err != nil {
			return w.stop(link), nil
		}
	}
	w.links++
	if w.links > MaxSymlinks {
		return true, fmt.Errorf("its path has a symlink loop (gave up after following %d symlinks)", MaxSymlinks)
	}
	target, err := os.Readlink(link)
	if err != nil {
		return true, fmt.Errorf("resolving symlinks: %w", err)
	}
	if filepath.IsAbs(target) {
		w.resolved = string(filepath.Separator)
	}
	w.todo = append(strings.Split(target, string(filepath.Separator)), w.todo...)
	return false, nil
}
