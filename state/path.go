package state

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"github.com/certform/certform/internal/fsx"
)

// RealPath returns the absolute path of the state file at path with every
// symlink resolved, in every component including the last (fsx.RealPath):
// a last component that is a symlink to a file that does not exist yet
// resolves to that target, so a state file reached through a symlink is
// always locked, read and written at the same real path, and the symlink
// stays a symlink.
//
// It fails, naming path, when path is empty, when resolving it follows
// more than 40 symlinks (a loop), or when a component cannot be examined.
func RealPath(path string) (string, error) {
	if path == "" {
		return "", errors.New("state file path is empty")
	}
	real, err := fsx.RealPath(path)
	if err != nil {
		return "", fmt.Errorf("state file %s: %w", path, err)
	}
	return real, nil
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
