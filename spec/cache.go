package spec

import (
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// stamp identifies a version of a file: size, modification and change
// times, device and inode. A zero stamp means the file could not be
// stat'ed.
type stamp struct {
	size, mtime, ctime int64
	dev, ino           uint64
}

// statStamp stats full, following symlinks; a zero stamp when it cannot.
// It calls stat(2) itself rather than os.Stat, which allocates a FileInfo
// and a copy of the name each call (issue 27: an idle daemon cycle stats
// every spec file, 100,000 of them in a large tree).
func statStamp(full string) stamp {
	st, _ := statStampTime(full)
	return st
}

// statStampTime is statStamp with the file's change time as
// statChangeTime gives it (the later of its modification and status-change
// times), from the same stat(2); a zero time when it cannot stat.
func statStampTime(full string) (stamp, time.Time) {
	var sys syscall.Stat_t
	if statSys(full, true, &sys) != nil {
		return stamp{}, time.Time{}
	}
	mtime, ctime := statTimes(&sys)
	return stamp{size: sys.Size, mtime: mtime.Nano(), ctime: ctime.Nano(), dev: uint64(sys.Dev), ino: sys.Ino}, changeTimeOf(&sys)
}

// statSys fills sys with what stat(2) (lstat(2) unless follow) says of p,
// trying again when a signal interrupts the call, as os.Stat does.
func statSys(p string, follow bool, sys *syscall.Stat_t) error {
	for {
		var err error
		if follow {
			err = syscall.Stat(p, sys)
		} else {
			err = syscall.Lstat(p, sys)
		}
		if err != syscall.EINTR {
			return err
		}
	}
}

func stampOf(fi os.FileInfo) stamp {
	st := stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.dev, st.ino = uint64(sys.Dev), sys.Ino
		_, ctime := statTimes(sys)
		st.ctime = ctime.Nano()
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
	// sortedIn are the orders the last load sorted, as they came,
	// sortedOut the same orders sorted by name and sortedRuns their
	// duplicateRuns (see sortOrders).
	sortedIn, sortedOut []*Order
	sortedRuns          []nameRun
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

// sameChain reports whether a records the defaults files of chain, with
// the stamps they have now.
func sameChain(a []chainStamp, chain []*defaultsFile) bool {
	if len(a) != len(chain) {
		return false
	}
	for i, df := range chain {
		if a[i] != (chainStamp{df.rel, df.st}) {
			return false
		}
	}
	return true
}

// lookup returns the cache's record of a file if nothing it depends on
// changed: its stamp is self, its defaults chain is chain, and its CSR
// files have the stamps they had.
func (c *Cache) lookup(rel string, self stamp, chain []*defaultsFile) (*cachedFile, bool) {
	c.mu.Lock()
	cf := c.files[rel]
	c.mu.Unlock()
	if cf == nil || self == (stamp{}) || cf.self != self || !sameChain(cf.chain, chain) {
		return nil, false
	}
	for full, st := range cf.result.deps {
		if statStamp(full) != st {
			return nil, false
		}
	}
	return cf, true
}

// size is how many spec files the cache holds; 0 for a nil c.
func (c *Cache) size() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.files)
}

// keep makes records, those of files (in the same order), the cache's
// records, and only those. When the cache served every one of them
// (served) and holds no other file, it keeps its map as it is: a daemon's
// idle cycle allocates no new one (issue 27).
func (c *Cache) keep(files []string, records []*cachedFile, served bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if served && len(c.files) == len(files) {
		return // the same files, the same records
	}
	next := make(map[string]*cachedFile, len(files))
	for i, rel := range files {
		next[rel] = records[i]
	}
	c.files = next
}

// sortOrders sorts orders as sortByName does and returns their
// duplicateRuns. When they are, pointer for pointer and in the same order,
// the orders the last load through c sorted (every file served from the
// cache, none added or removed: a daemon's idle cycle), it reuses that
// load's sort and runs instead of sorting and comparing names again (issue
// 27: 13 ms of an idle cycle at 100,000 specs, most of it reading names
// scattered in memory). A nil c sorts.
func (c *Cache) sortOrders(orders []*Order) []nameRun {
	if c == nil {
		sortByName(orders)
		return duplicateRuns(orders)
	}
	c.mu.Lock()
	in, out, runs := c.sortedIn, c.sortedOut, c.sortedRuns
	c.mu.Unlock()
	if slices.Equal(in, orders) {
		copy(orders, out)
		return runs
	}
	in = slices.Clone(orders)
	sortByName(orders)
	out = slices.Clone(orders)
	runs = duplicateRuns(orders)
	c.mu.Lock()
	c.sortedIn, c.sortedOut, c.sortedRuns = in, out, runs
	c.mu.Unlock()
	return runs
}
