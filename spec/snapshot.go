package spec

import (
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// source is one file a load read, with its stamp from then.
type source struct {
	rel string // relative to the loaded directory, with forward slashes
	// full is the absolute path Load names the file by: below the
	// directory as given and through the symlinks Load followed, so that
	// stat'ing it again follows them as they are now.
	full string
	st   stamp
}

// changed reports whether the file changed or vanished since it was read.
// A file whose stamp could not be taken then counts as changed, since
// nothing proves it did not.
func (s source) changed() bool {
	return s.st == (stamp{}) || statStamp(s.full) != s.st
}

// readParts are the files a load read, as it recorded them: the defaults
// files, then those of each spec file's result, then the ignore file
// (zero rel for none).
type readParts struct {
	defaults []source
	specs    []*fileResult
	ignore   source
}

// sources are the files the load read, as Changed stats them: sorted by
// path, one entry a file, the last record of one kept. Safe for
// concurrent use.
func (r *Result) sources() []source {
	p := r.readFrom
	if p == nil {
		return r.read
	}
	all := slices.Clone(p.defaults)
	for _, fr := range p.specs {
		all = append(all, fr.reads...)
	}
	if p.ignore.rel != "" {
		all = append(all, p.ignore)
	}
	return uniqueSources(all)
}

// Changed stats again every file the load read (spec files, defaults.yaml
// files, CSR files, .certformignore; also those a Cache served without
// reading them again) and returns, sorted, the paths relative to the
// loaded directory of those that changed (size, modification or change
// time, device, inode) or vanished since. Each is stat'ed again by the
// path Load names it by, below the directory as given and through the
// symlinks Load followed: when one of them points elsewhere now (git-sync
// swapped `current`, Kubernetes swapped a ConfigMap's `..data`), the files
// read through it are listed. Empty means the snapshot held: the result
// still describes the files on disk. Files added since are not seen; see
// LastChange. Safe for concurrent use.
func (r *Result) Changed() []string {
	var out []string
	for _, s := range r.sources() {
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

// settled is what a load that a Cache served whole saw of the tree's
// times, for Result.Settled.
type settled struct {
	// newest is the latest change time of the spec files, from the stats
	// that checked them against the Cache.
	newest time.Time
	// later are the paths Settled lstats: the folders walked, the
	// symlinks met (by their own path), the YAML files not loaded as spec
	// files, and the symlinks on the directory's own path (Tree.Links).
	later []string
	// ignore is the real path of the .certformignore read, or "".
	ignore string
	// verify are the files Settled stats again as Changed does: those the
	// load read afresh (defaults files, .certformignore) and those it
	// reads through a symlink (with their CSR files).
	verify []source
	// links are the symlinks the walk met in the tree, with what each
	// resolved to then; Settled resolves them again.
	links []linkSeen
	// dir is the directory as given (Tree.Dir), root the real folder and
	// dirLinks the symlinks it resolved to and through then (Tree.Root,
	// Tree.Links); Settled resolves dir again.
	dir, root string
	dirLinks  []string
}

// linkSeen is a symlink a load's walk met, and what it resolved to then.
type linkSeen struct {
	full string // the symlink's own path
	// target is the real path it resolved to, "" when it was broken,
	// looped or could not be resolved or stat'ed; isDir says whether that
	// was a folder.
	target string
	isDir  bool
}

// moved reports whether the symlink resolves now otherwise than when the
// walk met it: to another path, to a folder instead of a file or the other
// way round, or broken now and not then, or the other way round.
func (ls linkSeen) moved() bool {
	target, fi, err := resolveLink(ls.full)
	if err != nil {
		return ls.target != ""
	}
	return target != ls.target || fi.IsDir() != ls.isDir
}

// dirMoved reports whether the directory resolves now otherwise than when
// the load opened it: to another real folder, or through other symlinks.
func (s *settled) dirMoved() bool {
	root, links, err := resolvePath(s.dir)
	return err != nil || root != s.root || !slices.Equal(links, s.dirLinks)
}

// settledOf is the settled of a load that found found and read defaults,
// whose spec files (results) a Cache served whole, the newest of them
// changed at newest.
func (l *loader) settledOf(t *Tree, found *foundFiles, defaults map[string]*defaultsFile, results []*fileResult, newest time.Time) *settled {
	s := &settled{newest: newest, later: append(found.later, t.Links...), links: found.links,
		dir: t.Dir, root: t.Root, dirLinks: t.Links}
	if t.ignoreSrc.rel != "" {
		s.ignore = filepath.Join(t.Root, IgnoreFile)
		s.verify = append(s.verify, t.ignoreSrc)
	}
	for _, df := range defaults {
		if df.read {
			s.verify = append(s.verify, df.src)
		}
	}
	for i, rel := range found.specs {
		if _, linked := l.links[rel]; linked {
			s.verify = append(s.verify, results[i].reads...)
		}
	}
	return s
}

// Settled returns, without walking the tree again, the newest change
// time of what LastChange counts for the tree the load walked, when the
// load can vouch for it, and ok false otherwise (use Changed and
// LastChange then). It vouches only when the load had a Cache that served
// every spec file unchanged, and, checked now: every file it read afresh
// (defaults files, .certformignore) or through a symlink is unchanged
// since (as Changed would say); the directory resolves to the same real
// folder through the same symlinks; every symlink the walk met below it
// resolves to the same real path, and of the same kind (file or folder),
// or is still broken; and nothing else it stats vanished.
//
// The spec files count by the times the stat that checked each against
// the Cache saw: that stat is the load's only one of them, and it shows
// the file is the one the Cache read, so the result describes each file
// as of that stat; an edit after it is not counted (the next load sees
// it). The folders walked, the symlinks met (the directory's own
// included, by their own times), .certformignore and the YAML files that
// are not spec files are stat'ed now, after the load, as LastChange stats
// them: a file added, removed or renamed in a folder walked, a symlink
// replaced, moves the figure. A change LastChange would see only by
// resolving a symlink anew (one on the way is hidden, or not one the
// walk stats) makes ok false. So, when the figure is a time long past
// (the tree quiet since), nothing the result depends on changed from that
// time until the load checked it, and the result is the tree as it was
// then, not a mix of before and after a change. Issue 27: an idle daemon
// cycle stats each spec file once instead of three times, and reads each
// folder once; a tree with symlinks below it resolves each of them once
// more. Safe for concurrent use.
func (r *Result) Settled() (last time.Time, ok bool) {
	s := r.settled
	if s == nil {
		return time.Time{}, false
	}
	for _, src := range s.verify {
		if src.changed() {
			return time.Time{}, false
		}
	}
	if s.dirMoved() {
		return time.Time{}, false
	}
	for _, ls := range s.links {
		if ls.moved() {
			return time.Time{}, false
		}
	}
	last, ok = s.newest, true
	see := func(p string, follow bool) {
		c, found := statChangeTime(p, follow)
		ok = ok && found // it was there during the load: it changed since
		if c.After(last) {
			last = c
		}
	}
	for _, p := range s.later {
		see(p, false)
	}
	if s.ignore != "" {
		see(s.ignore, false)
		see(s.ignore, true)
	}
	if !ok {
		return time.Time{}, false
	}
	return last, true
}

// LastChange returns the newest modification or status-change time (the
// later of mtime and ctime) of dir and of every folder and YAML file below
// it that Load walks, and of its .certformignore. Passed over: what Load
// passes over (hidden files and folders, .git among them, editor leftovers,
// what .certformignore excludes) and files of other kinds (a CSR file, a
// log that keeps growing). A symlink counts by its own times, and, when
// Load follows it (see Tree), by those of what it points to. Folders
// count because adding, removing or renaming an entry changes its folder's
// times. The symlinks on dir's own path (dir itself, git-sync's `current`)
// count by their own times, and the tree is that of their target, so that
// a swap of one moves LastChange.
//
// Waiting until LastChange is a quiet period in the past lets a caller
// load a tree that `git pull` or `git checkout` has finished rewriting.
// Entries that vanish during the walk or cannot be read are passed over
// (their folder's times move, and Load reports what it cannot read); only
// a dir that cannot be read is an error. A broken .certformignore is not
// one here (Load reports it): every visible folder and YAML file counts
// then.
func LastChange(dir string) (time.Time, error) {
	t, err := OpenTree(dir)
	if err != nil {
		return time.Time{}, err
	}
	var latest time.Time
	see := func(p string, follow bool) {
		if c, ok := statChangeTime(p, follow); ok && c.After(latest) {
			latest = c
		}
	}
	for _, l := range t.Links {
		see(l, false)
	}
	if t.ignoreSrc.rel != "" || t.IgnoreErr != nil {
		see(filepath.Join(t.Root, IgnoreFile), false)
		see(filepath.Join(t.Root, IgnoreFile), true)
	}
	err = t.walk(t.Root, func(e *entry) {
		switch e.kind {
		case entryDir:
			see(e.real, false)
		case entryLink:
			see(e.real, false)
		case entryFile:
			// Only folders and YAML files: another file that keeps
			// changing (a log, a build artefact) must not hold every cycle
			// back. CSR files are covered by Result.Changed after a load.
			if hasSpecSuffix(e.rel) {
				see(e.real, false)
			}
		}
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("spec directory %s: %w", dir, unwrapPathError(err))
	}
	return latest, nil
}

// statChangeTime is the later of the modification and status-change times
// lstat(2) (stat(2) when follow) gives for p, and false when it fails. It
// calls them itself rather than os.Lstat, which allocates a FileInfo and a
// copy of the name each call (issue 27: LastChange stats every folder and
// spec file of the tree, and Settled, an idle daemon cycle's check, every
// folder).
func statChangeTime(p string, follow bool) (time.Time, bool) {
	var sys syscall.Stat_t
	if statSys(p, follow, &sys) != nil {
		return time.Time{}, false
	}
	return changeTimeOf(&sys), true
}

// changeTimeOf is the later of the modification and status-change times
// in sys.
func changeTimeOf(sys *syscall.Stat_t) time.Time {
	mtime, ctime := statTimes(sys)
	t, c := time.Unix(mtime.Unix()), time.Unix(ctime.Unix())
	if c.After(t) {
		t = c
	}
	return t
}
