package spec

import (
	"os"
	"sync"
	"syscall"
)

// stamp identifies a version of a file: size, modification and change
// times, device and inode. A zero stamp means the file could not be
// stat'ed.
type stamp struct {
	size, mtime, ctime int64
	dev, ino           uint64
}

// statStamp stats full, following symlinks; a zero stamp when it cannot.
func statStamp(full string) stamp {
	fi, err := os.Stat(full)
	if err != nil {
		return stamp{}
	}
	return stampOf(fi)
}

func stampOf(fi os.FileInfo) stamp {
	st := stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.dev, st.ino = uint64(sys.Dev), sys.Ino
		st.ctime = sys.Ctim.Nano()
	}
	return st
}

// Cache lets repeated loads of one directory skip the files that did not
// change: a spec file is read again only when it (through its symlink, if
// Load reads it through one), a defaults.yaml above it, or a CSR file it
// names changed (size, times, device or inode). It starts over when the
// directory resolves to another folder or its .certformignore changed.
// The daemon keeps one for its life. It is safe for concurrent use; pass
// it to LoadWith.
type Cache struct {
	mu     sync.Mutex
	root   string
	ignore stamp // the .certformignore of the loads cached; zero for none
	files  map[string]*cachedFile
}

type cachedFile struct {
	self   stamp
	chain  []chainStamp
	result fileResult
}

type chainStamp struct {
	rel string
	st  stamp
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{files: map[string]*cachedFile{}} }

func sameChain(a, b []chainStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lookup returns the cached result for a file if nothing it depends on
// changed.
func (c *Cache) lookup(rel string, self stamp, chain []chainStamp) (fileResult, bool) {
	c.mu.Lock()
	cf := c.files[rel]
	c.mu.Unlock()
	if cf == nil || self == (stamp{}) || cf.self != self || !sameChain(cf.chain, chain) {
		return fileResult{}, false
	}
	for full, st := range cf.result.deps {
		if statStamp(full) != st {
			return fileResult{}, false
		}
	}
	return cf.result, true
}

func (c *Cache) store(next map[string]*cachedFile, rel string, cf *cachedFile) {
	c.mu.Lock()
	next[rel] = cf
	c.mu.Unlock()
}
