package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// maxSymlinks is how many symlinks RealPath follows before it calls the
// path a loop: Linux's MAXSYMLINKS (include/linux/namei.h).
const maxSymlinks = 40

// RealPath returns the absolute path of the state file at path with every
// symlink resolved, in every component including the last. A last
// component that is a symlink to a file that does not exist yet resolves to
// that target (relative link text is read from the link's folder), so a
// state file reached through a symlink is always locked, read and written
// at the same real path, and the symlink stays a symlink. Components from
// the first missing one on are kept as given, cleaned.
//
// It fails, naming path, when path is empty, when resolving it follows
// more than 40 symlinks (a loop), or when a component cannot be examined.
// It reads the file system and does not cache; the result can change when
// links change.
func RealPath(path string) (string, error) {
	if path == "" {
		return "", errors.New("state file path is empty")
	}
	rest := path
	if !filepath.IsAbs(rest) {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("state file %s: resolving it: %w", path, err)
		}
		rest = wd + string(filepath.Separator) + rest
	}
	todo := strings.Split(rest, string(filepath.Separator))
	resolved := string(filepath.Separator)
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			resolved = filepath.Dir(resolved)
			continue
		}
		next := filepath.Join(resolved, c)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			// Nothing under a missing name exists, so nothing there is a link.
			return filepath.Join(append([]string{next}, todo...)...), nil
		}
		if err != nil {
			return "", fmt.Errorf("state file %s: resolving symlinks: %w", path, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		links++
		if links > maxSymlinks {
			return "", fmt.Errorf("state file %s: its path has a symlink loop (gave up after following %d symlinks)", path, maxSymlinks)
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", fmt.Errorf("state file %s: resolving symlinks: %w", path, err)
		}
		if filepath.IsAbs(target) {
			resolved = string(filepath.Separator)
		}
		todo = append(strings.Split(target, string(filepath.Separator)), todo...)
	}
	return resolved, nil
}

// fileID tells whether the file at a path is still the one seen before: the
// same file (device and inode) with the same size and modification time.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
	// links is the file's hard link count (0 when the platform does not
	// say); not part of its identity.
	links uint64
}

func idOf(fi fs.FileInfo) fileID {
	id := fileID{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino, id.links = uint64(st.Dev), uint64(st.Ino), uint64(st.Nlink)
	}
	return id
}

// known is false for the zero fileID: no file seen yet.
func (id fileID) known() bool { return id != (fileID{}) }

func (id fileID) sameFile(o fileID) bool { return id.dev == o.dev && id.ino == o.ino }

func (id fileID) same(o fileID) bool {
	return id.sameFile(o) && id.size == o.size && id.mtime.Equal(o.mtime)
}

// ownerOf returns the file's owner, if the platform says.
func ownerOf(fi fs.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}
