package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/certform/certform/internal/fsx"
	"go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest spec, defaults or CSR file Load reads (1 MiB);
// a larger file is an error, never read.
const MaxFileSize = 1 << 20

// IsSpecFile reports whether Load reads the file at the slash-separated
// path rel: a .yaml or .yml file (the suffix in any case: SHOP.YAML is
// read, issue 25) that is not hidden, not in a hidden folder
// and not an editor leftover. It knows nothing of .certformignore; see
// Tree.Skip for that.
func IsSpecFile(rel string) bool {
	for part := range strings.SplitSeq(rel, "/") {
		if IgnoredName(part) {
			return false
		}
	}
	return hasSpecSuffix(rel)
}

// IgnoredName reports whether a file or folder name is hidden or an editor
// leftover (*~, .#*, #*#, *.swp, *.tmp).
func IgnoredName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") ||
		(strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#")) ||
		strings.HasSuffix(name, ".swp") || strings.HasSuffix(name, ".tmp")
}

func isDefaultsName(name string) bool { return name == "defaults.yaml" || name == "defaults.yml" }

// loader holds one Load call's directory and results.
type loader struct {
	root string // absolute, symlinks resolved
	// dir is the directory as given, made absolute: files are recorded
	// below it (see source.full). Empty means root.
	dir string
	// links maps the files Load reads through a symlink (by their path
	// relative to root, as Load names them) to their real paths; a file
	// not in it is read at root/rel. Written before the files are read,
	// only read after.
	links map[string]string
	// verified is LoadOptions.Verified; nil checks every request.
	verified func(fingerprint string) bool
	// dropChecked is LoadOptions.DropCheckedCSR without a Cache.
	dropChecked bool
}

// Load reads every spec below dir. It returns an error only when dir itself
// cannot be read, or its .certformignore is broken (an *IgnoreError, with
// the file and line of each broken pattern): which files are specs is then
// unknown, and nothing is read. Every problem inside it is in
// Result.Errors, next to the orders that are valid.
//
// Files and folders that are hidden, editor leftovers or excluded by
// .certformignore (see ParseIgnore) are passed over. Symlinks are followed
// only inside dir's real tree, each file read once (see Tree for the
// rule), so that a Kubernetes ConfigMap volume, whose files are symlinks
// into a hidden folder, reads like a plain folder. When no spec file at
// all is read, but entries were passed over that could have held specs
// (a folder, or a file whose name ends in .yaml or .yml), Result.Errors
// says which and why, at ".". Files are read in parallel; the result is
// the same whatever the order.
func Load(dir string) (*Result, error) { return LoadWith(dir, nil) }

// LoadWith is Load with a cache of earlier loads of the same directory
// (nil for none): files that did not change are not read again.
func LoadWith(dir string, cache *Cache) (*Result, error) {
	return LoadOpts(dir, LoadOptions{Cache: cache})
}

// LoadOptions are the settings of LoadOpts; the zero value loads as Load.
type LoadOptions struct {
	// Cache holds earlier loads of the same directory (see LoadWith); nil
	// for none.
	Cache *Cache
	// Verified reports whether fingerprint (Order.Fingerprint) is that of
	// a spec that was valid when certform last loaded it, such as the
	// fingerprint a state entry records for the order it placed or
	// adopted. A spec whose fixed fields give such a fingerprint, and
	// that has no other error, skips its certificate request's parse and
	// signature check: they depend only on the request's bytes and the
	// fixed fields, so they would pass again. Every other spec is checked
	// in full, with the same messages. Nil checks every request. It is
	// called from several goroutines at once.
	Verified func(fingerprint string) bool
	// DropCheckedCSR keeps no CSR text in the orders whose request check
	// Verified made moot: their CSR is "" and HasCSR reports true; their
	// fingerprint and fixed fields are those of the full load. It is for a
	// caller that never sends a request nor keeps the orders' values (plan
	// without --out), and saves the text's memory (issue 27: 1.6 KB per
	// RSA-2048 request, more than half of what 10,000 loaded specs hold).
	// Ignored with a Cache, whose results later loads reuse.
	DropCheckedCSR bool
}

// LoadOpts is Load with options.
func LoadOpts(dir string, opt LoadOptions) (*Result, error) {
	t, err := OpenTree(dir)
	if err != nil {
		return nil, err
	}
	if t.IgnoreErr != nil {
		return nil, fmt.Errorf("spec directory %s: %w", dir, t.IgnoreErr)
	}
	l := &loader{root: t.Root, dir: t.Dir, links: map[string]string{}, verified: opt.Verified,
		dropChecked: opt.DropCheckedCSR && opt.Cache == nil}
	found, err := l.findFiles(t, opt.Cache.size())
	if err != nil {
		return nil, fmt.Errorf("spec directory %s: %w", dir, unwrapPathError(err))
	}
	if afterWalk != nil {
		afterWalk()
	}
	res := &Result{Errors: found.errs, Files: len(found.specs)}
	var read []source // what was read, a file more than once when shared
	// Defaults first: every spec below a folder needs its chain.
	defaults := l.loadAllDefaults(found.defaults, res, &read)
	results, seen := l.loadSpecFiles(t, found, defaults, opt.Cache)
	if opt.Cache != nil && seen.misses == 0 {
		res.settled = l.settledOf(t, found, defaults, results, seen.newest)
	}
	invalid := res.add(results, &read, res.settled == nil)
	if res.Files == 0 {
		if e := found.skipped.error(); e != nil {
			res.Errors = append(res.Errors, e)
		}
	}
	switch {
	case res.settled != nil:
		// Listed only when asked (Changed): a daemon's idle cycle, which
		// checks the load with Settled, does not ask (issue 27).
		res.readFrom = &readParts{defaults: read, specs: results, ignore: t.ignoreSrc}
		read = nil
	case t.ignoreSrc.rel != "":
		// The ignore file decided which files were read: it counts as
		// read.
		read = append(read, t.ignoreSrc)
	}
	res.Orders = rejectDuplicates(opt.Cache, res.Orders, res, invalid)
	res.finish(invalid, read)
	return res, nil
}

// afterWalk, in tests only, runs in LoadOpts between the walk and the
// reading of the files it found: a test changes a file there, during the
// load, before the load stats it.
var afterWalk func()

// foundFiles is what the walk of a spec tree found.
type foundFiles struct {
	specs    []string          // spec files (rel)
	reals    []string          // and where each is (see loader.realPath)
	defaults map[string]string // folder (rel) -> its defaults file (rel)
	errs     []*Error
	skipped  skippedList
	// later are the real paths of what LastChange stats by its own times
	// and the load does not stat: the folders walked, the symlinks met
	// (their own path) and the YAML files not loaded as spec files
	// (defaults files, files that are not regular). See Result.Settled.
	later []string
	// links are the symlinks the walk met and what each resolved to (see
	// Result.Settled).
	links []linkSeen
}

// findFiles walks the tree and sorts what it finds into spec files,
// defaults files, skipped files and errors; it records the symlinked files
// in l.links. It makes room for about hint spec files (a Cache's count
// from the last load).
func (l *loader) findFiles(t *Tree, hint int) (*foundFiles, error) {
	found := &foundFiles{defaults: map[string]string{}, specs: make([]string, 0, hint), reals: make([]string, 0, hint)}
	err := t.walk(t.Root, func(e *entry) {
		switch e.kind {
		case entryDir:
			found.later = append(found.later, e.real)
		case entryLink:
			found.later = append(found.later, e.real)
			found.links = append(found.links, linkSeen{full: e.real, target: e.target, isDir: e.isDir})
		case entryError:
			found.errs = append(found.errs, fileError(e.rel, "%s", e.why))
		case entrySkip:
			found.skipped.add(e)
		case entryFile:
			if l.foundFile(found, e) {
				return
			}
			if hasSpecSuffix(e.rel) {
				found.later = append(found.later, e.real)
			}
		}
	})
	return found, err
}

// foundFile sorts one file of the walk, and reports whether it is a spec
// file to load.
func (l *loader) foundFile(found *foundFiles, e *entry) bool {
	if !IsSpecFile(e.rel) {
		found.skipped.add(e)
		return false
	}
	if e.linked {
		l.links[e.rel] = e.real
	}
	if isDefaultsName(path.Base(e.rel)) {
		// Registered even when it is not a regular file: reading it
		// then fails, and the specs below wait for it instead of
		// loading without their defaults.
		folder := path.Dir(e.rel)
		if other, ok := found.defaults[folder]; ok {
			found.errs = append(found.errs, fileError(e.rel, "a second defaults file in this folder (%s is the first); merge them into one", other))
			return false
		}
		found.defaults[folder] = e.rel
		return false
	}
	if !e.mode.IsRegular() {
		found.errs = append(found.errs, notRegularFileError(e.rel, e.mode))
		return false
	}
	found.specs = append(found.specs, e.rel)
	found.reals = append(found.reals, e.real)
	return true
}

// loadAllDefaults loads every defaults file, by folder, adding their errors
// and file count to res and what was read to read.
func (l *loader) loadAllDefaults(files map[string]string, res *Result, read *[]source) map[string]*defaultsFile {
	defaults := map[string]*defaultsFile{}
	for folder, rel := range files {
		df := l.loadDefaults(rel)
		defaults[folder] = df
		res.Errors = append(res.Errors, df.errs...)
		if df.read {
			*read = append(*read, df.src)
		}
		if df.regular {
			res.Files++
		}
	}
	return defaults
}

// cacheSeen is what the stats that checked spec files against a Cache
// saw (see loadCached).
type cacheSeen struct {
	// misses counts the spec files not served by the Cache: read afresh,
	// or tried (all of them without a Cache).
	misses int
	// newest is the latest change time (statChangeTime's) of the files
	// the Cache served, as those stats saw it; zero for none.
	newest time.Time
}

// add counts o in s.
func (s *cacheSeen) add(o cacheSeen) {
	s.misses += o.misses
	if o.newest.After(s.newest) {
		s.newest = o.newest
	}
}

// loadSpecFiles loads the spec files on GOMAXPROCS workers, through cache
// when there is one (which then keeps exactly these files), and says what
// the cache checks saw.
func (l *loader) loadSpecFiles(t *Tree, found *foundFiles, defaults map[string]*defaultsFile, cache *Cache) ([]*fileResult, cacheSeen) {
	specFiles := found.specs
	var records []*cachedFile // with a cache: each file's record, kept or new
	if cache != nil {
		cache.mu.Lock()
		if cache.root != t.Root || cache.ignore != t.ignoreSrc.st {
			// Another tree, or other rules for which files are read.
			cache.root, cache.ignore, cache.files = t.Root, t.ignoreSrc.st, map[string]*cachedFile{}
		}
		cache.mu.Unlock()
		records = make([]*cachedFile, len(specFiles))
	}
	results := make([]*fileResult, len(specFiles))
	var wg sync.WaitGroup
	next := make(chan int)
	workers := make([]cacheSeen, runtime.GOMAXPROCS(0))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf scratch // this worker's buffers
			for i := range next {
				results[i] = l.loadCached(specFiles[i], found.reals[i], defaults, cache, records, i, &buf, &workers[w])
			}
		}()
	}
	for i := range specFiles {
		next <- i
	}
	close(next)
	wg.Wait()
	var seen cacheSeen
	for _, w := range workers {
		seen.add(w)
	}
	if cache != nil {
		cache.keep(specFiles, records, seen.misses == 0)
	}
	return results, seen
}

// add adds the spec files' results to res and, when listReads, what they
// read to read, and returns the names of the invalid specs. It sizes
// res.Orders, res.Errors and read once (issue 27: growing them took 3.8 ms
// of an idle cycle at 100,000 specs).
func (res *Result) add(results []*fileResult, read *[]source, listReads bool) map[string]bool {
	orders, errs, reads := 0, len(res.Errors), len(*read)+1 // +1: the ignore file
	for _, fr := range results {
		orders += len(fr.orders)
		errs += len(fr.errs)
		reads += len(fr.reads)
	}
	res.Orders = slices.Grow(res.Orders, orders)
	res.Errors = slices.Grow(res.Errors, errs)
	if listReads {
		*read = slices.Grow(*read, reads)
	}
	invalid := map[string]bool{}
	for _, fr := range results {
		if listReads {
			*read = append(*read, fr.reads...)
		}
		res.Specs += fr.docs
		res.Orders = append(res.Orders, fr.orders...)
		res.Errors = append(res.Errors, fr.errs...)
		for _, n := range fr.invalid {
			invalid[n] = true
		}
	}
	return invalid
}

// finish records the invalid names and the files read, and sorts the
// errors and files (rejectDuplicates sorted the orders).
func (res *Result) finish(invalid map[string]bool, read []source) {
	for n := range invalid {
		res.Invalid = append(res.Invalid, n)
	}
	sort.Strings(res.Invalid)
	res.read = uniqueSources(read)
	// res.Orders are sorted by name already (rejectDuplicates).
	sortErrors(res.Errors)
}

// uniqueSources sorts read by path and keeps one entry a file (by full
// path): the last one recorded, as a map from full path to source filled
// in read's order would. It reuses read's memory.
func uniqueSources(read []source) []source {
	cmp := func(a, b source) int {
		if c := strings.Compare(a.rel, b.rel); c != 0 {
			return c
		}
		return strings.Compare(a.full, b.full)
	}
	if !slices.IsSortedFunc(read, cmp) {
		slices.SortStableFunc(read, cmp)
	}
	out := read[:0]
	for i, src := range read {
		if i+1 < len(read) && read[i+1].full == src.full {
			continue // a later record of the same file wins
		}
		out = append(out, src)
	}
	return out
}

func sortErrors(errs []*Error) {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Field < b.Field
	})
}

// rejectDuplicates removes every order whose name another order also uses,
// with an error on each naming the other. It sorts orders by name, orders
// of one name in the order they came (as a stable sort would), so that
// orders of one name are next to each other: no map over every name is
// built, which at 100,000 specs cost every idle cycle about 14 MB. The
// sort, and the search for orders of one name, go through cache (nil for
// none): see Cache.sortOrders.
func rejectDuplicates(cache *Cache, orders []*Order, res *Result, invalid map[string]bool) []*Order {
	groups := cache.sortOrders(orders)
	kept := orders[:0]
	next := 0 // the first order not yet kept or rejected
	for _, g := range groups {
		kept = append(kept, orders[next:g.start]...) // kept stays below g.start
		rejectGroup(orders[g.start:g.end], res, invalid)
		next = g.end
	}
	return append(kept, orders[next:]...)
}

// nameRun is a run of sorted orders that share a name: orders[start:end].
type nameRun struct{ start, end int }

// duplicateRuns returns the runs of two or more orders that share a name
// in orders, sorted by name.
func duplicateRuns(orders []*Order) []nameRun {
	var runs []nameRun
	for i := 0; i < len(orders); {
		j := i + 1
		for j < len(orders) && orders[j].Name == orders[i].Name {
			j++
		}
		if j > i+1 {
			runs = append(runs, nameRun{i, j})
		}
		i = j
	}
	return runs
}

// byName is an order's name and its place before sorting.
type byName struct {
	name string
	i    int
}

// sortByName sorts orders by name, orders of one name in the order they
// came: slices.SortStableFunc's result. It sorts compact (name, place)
// pairs rather than the orders, whose names a comparison would otherwise
// read through a pointer to each order, scattered in memory (issue 27: at
// 100,000 specs the stable sort of the orders took 13 ms an idle cycle,
// 36 times its figure at 10,000).
func sortByName(orders []*Order) {
	keys := make([]byName, len(orders))
	sorted := true
	for i, o := range orders {
		keys[i] = byName{o.Name, i}
		if i > 0 && o.Name < orders[i-1].Name {
			sorted = false
		}
	}
	if sorted {
		return
	}
	slices.SortFunc(keys, func(a, b byName) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return a.i - b.i
	})
	was := slices.Clone(orders)
	for i, k := range keys {
		orders[i] = was[k.i]
	}
}

// rejectGroup records an error on each order of group, orders that share
// one name, naming the others.
func rejectGroup(group []*Order, res *Result, invalid map[string]bool) {
	for _, o := range group {
		var others []string
		for _, g := range group {
			if g != o {
				others = append(others, fmt.Sprintf("%s:%d:%d", g.File, g.nameLine, g.nameCol))
			}
		}
		sort.Strings(others)
		res.Errors = append(res.Errors, &Error{File: o.File, Line: o.nameLine, Column: o.nameCol, Field: "name", Spec: o.Name,
			Msg: fmt.Sprintf("%q is also used by %s; a name must be unique in the directory, rename one", o.Name, strings.Join(others, ", "))})
		invalid[o.Name] = true
	}
}

func (l *loader) rel(p string) string {
	r, err := filepath.Rel(l.root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(r)
}

// within reports whether the absolute, symlink-free path p is root or below it.
func (l *loader) within(p string) bool {
	return p == l.root || strings.HasPrefix(p, l.root+string(filepath.Separator))
}

func fileError(rel, format string, args ...any) *Error {
	return &Error{File: rel, Line: 1, Column: 1, Msg: fmt.Sprintf(format, args...)}
}

// unwrapPathError drops the *fs.PathError wrapper, whose path would repeat
// what the caller's message already names.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// named is the path Load names the file rel by: below the directory as
// given, through the symlinks on its way. Stat'ing it again later sees a
// swap of any of them.
func (l *loader) named(rel string) string {
	dir := l.dir
	if dir == "" {
		dir = l.root
	}
	return filepath.Join(dir, filepath.FromSlash(rel))
}

// realPath is where the file Load names rel lives: its symlink's target
// when Load reads it through one, else root/rel.
func (l *loader) realPath(rel string) string {
	if real, ok := l.links[rel]; ok {
		return real
	}
	return filepath.Join(l.root, filepath.FromSlash(rel))
}

// readFile reads the regular file rel (relative to root) of at most
// MaxFileSize bytes. It returns the file's stamp as fstat saw it on the
// open descriptor, before reading. Anything but a regular file is refused
// (a *notRegularError) and not read: the file is checked with lstat before
// it is opened, so that a device or socket is never opened at all, then
// opened without following a symlink and without blocking (a FIFO swapped
// in meanwhile would otherwise block the open until a writer came), and
// checked again on the descriptor.
func (l *loader) readFile(rel string) ([]byte, stamp, error) { return l.readFileInto(rel, nil) }

// readFileInto is readFile reading into buf when the file fits in its
// capacity; the data returned may then share buf's memory.
func (l *loader) readFileInto(rel string, buf []byte) ([]byte, stamp, error) {
	f, fi, err := openRegular(l.realPath(rel))
	if err != nil {
		return nil, stamp{}, err
	}
	defer f.Close()
	st := stampOf(fi)
	tooBig := fmt.Errorf("file is larger than 1 MiB; certform refuses files that large, split it")
	if fi.Size() > MaxFileSize {
		return nil, stamp{}, tooBig
	}
	// One allocation of the known size (none when buf is large enough); a
	// byte more so that a file that grew meanwhile is noticed and read the
	// slow way.
	if int64(cap(buf)) >= fi.Size()+1 {
		buf = buf[:fi.Size()+1]
	} else {
		buf = make([]byte, fi.Size()+1)
	}
	n, err := io.ReadFull(f, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return buf[:n], st, nil
	}
	if err != nil {
		return nil, stamp{}, unwrapPathError(err)
	}
	rest, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1-int64(n)))
	if err != nil {
		return nil, stamp{}, unwrapPathError(err)
	}
	if n+len(rest) > MaxFileSize {
		return nil, stamp{}, tooBig
	}
	return append(buf, rest...), st, nil
}

// readScratch is readFileInto reading into *buf, a worker's buffer
// (scratch), which keeps the larger buffer a file that did not fit was
// read into, for the worker's next file.
func (l *loader) readScratch(rel string, buf *[]byte) ([]byte, stamp, error) {
	data, st, err := l.readFileInto(rel, *buf)
	if cap(data) > cap(*buf) {
		*buf = data[:0]
	}
	return data, st, err
}

// openRegular opens the regular file full for readFile, and returns it
// with what fstat says of it; see readFile for the checks.
func openRegular(full string) (*os.File, fs.FileInfo, error) {
	fi, err := os.Lstat(full)
	if err != nil {
		return nil, nil, unwrapPathError(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, &notRegularError{fi.Mode()}
	}
	f, err := os.OpenFile(full, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fsx.NoFollowErrno) {
		return nil, nil, &notRegularError{fs.ModeSymlink}
	}
	if err != nil {
		return nil, nil, unwrapPathError(err)
	}
	fi, err = f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &notRegularError{fi.Mode()}
	}
	if err != nil {
		f.Close()
		return nil, nil, unwrapPathError(err)
	}
	return f, fi, nil
}

// notRegularError is readFile's answer for anything but a regular file.
type notRegularError struct{ mode fs.FileMode }

func (e *notRegularError) Error() string {
	return fmt.Sprintf("is not a regular file (%s); certform reads only regular files", fileKind(e.mode))
}

// notRegularFileError is the error for a spec or defaults file that is not
// a regular file.
func notRegularFileError(rel string, mode fs.FileMode) *Error {
	return fileError(rel, "%s %v", path.Base(rel), &notRegularError{mode})
}

// fileKind names the type of a file that is not a regular file.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "an irregular file"
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a YAML syntax error into an Error at its line.
func yamlError(rel string, data []byte, err error) *Error {
	msg := err.Error()
	line := 1
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	msg = "invalid YAML: " + msg
	if v := aliasValue(data, line); v != "" {
		msg += fmt.Sprintf(" (a value that starts with * is read as a YAML alias: quote it, as in %s)", v)
	}
	if bytes.Contains(data, []byte("\t")) {
		msg += " (the file contains tabs: YAML indents with spaces only)"
	}
	for _, h := range yamlHints {
		if strings.HasPrefix(msg, "invalid YAML: "+h.msg) {
			msg += "; hint: " + h.hint
			break
		}
	}
	return &Error{File: rel, Line: line, Column: 1, Msg: msg}
}

// yamlHints say what to do about the YAML syntax errors a newcomer meets
// most, by the start of the YAML library's message. Tabs and values
// starting with * have their own notes (see yamlError).
var yamlHints = []struct{ msg, hint string }{
	{"mapping values are not allowed in this context",
		"a key is indented differently from the keys above it, or a value holds ': ' — indent keys of one mapping alike, quote such a value"},
	{"did not find expected key",
		"a line is indented differently from the lines above it, or a quoted value has text after its closing quote — indent keys of one mapping and items of one list alike, quote the whole value"},
	{"could not find expected ':'",
		"a line holds a key with no ': ' after it — write key: value, with a space after the colon"},
}

// unquotedStar matches a line whose value (of a key or a list item)
// starts with an unquoted *, such as common_name: *.example.com.
var unquotedStar = regexp.MustCompile(`^\s*(?:- +)?(?:[^\s:#"'][^:#]*: +|- +)?(\*[^\s#]*)\s*(?:#.*)?$`)

// aliasValue returns the unquoted value starting with * on line (1-based)
// of data, as a reader should write it, or "" when the line has none.
func aliasValue(data []byte, line int) string {
	lines := bytes.Split(data, []byte("\n"))
	if line < 1 || line > len(lines) {
		return ""
	}
	m := unquotedStar.FindSubmatch(bytes.TrimRight(lines[line-1], "\r"))
	if m == nil {
		return ""
	}
	text := string(bytes.TrimRight(lines[line-1], "\r"))
	i := strings.LastIndex(text, string(m[1]))
	return strings.TrimSpace(text[:i]) + ` "` + string(m[1]) + `"`
}

// parseDocs splits a file into its YAML documents. A syntax error ends the
// file: the documents before it are returned with the error.
func parseDocs(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		docs = append(docs, &n)
	}
}

// body returns a document's top node, or nil for an empty document.
func body(doc *yaml.Node) *yaml.Node {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	n := resolve(doc.Content[0])
	if n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null") {
		return nil
	}
	return n
}

// defaultsFile is one decoded defaults.yaml.
type defaultsFile struct {
	rel    string
	st     stamp
	src    source // the file as read (src.st is st)
	fields fields
	errs   []*Error
	// read is set when the file was read; regular when it is a regular
	// file, read or not.
	read, regular bool
}

func (l *loader) loadDefaults(rel string) *defaultsFile {
	// Recorded under the path Load names it by (so that a swap of a
	// symlink on the way counts as a change), with the stamp of the file
	// read.
	full := l.named(rel)
	df := &defaultsFile{rel: rel, fields: fields{}, st: statStamp(l.realPath(rel))}
	df.src = source{rel: rel, full: full, st: df.st}
	d := &docErrors{file: rel}
	data, _, err := l.readFile(rel)
	var nr *notRegularError
	df.regular = !errors.As(err, &nr)
	if nr != nil {
		df.errs = []*Error{notRegularFileError(rel, nr.mode)}
		return df
	}
	if err != nil {
		df.errs = []*Error{fileError(rel, "%v", err)}
		return df
	}
	df.read = true
	docs, err := parseDocs(data)
	if err != nil {
		df.errs = []*Error{yamlError(rel, data, err)}
		return df
	}
	var bodies []*yaml.Node
	for _, doc := range docs {
		if b := body(doc); b != nil {
			bodies = append(bodies, b)
		}
	}
	switch {
	case len(bodies) == 0:
	case len(bodies) > 1:
		d.add(bodies[1], "", "a defaults file holds one mapping; merge its documents into one")
	case bodies[0].Kind != yaml.MappingNode:
		d.add(bodies[0], "", "a defaults file holds one mapping of spec keys, got %s", describe(bodies[0]))
	default:
		decodeMapping(bodies[0], d, true, df.fields)
	}
	df.errs = d.errs
	return df
}

// fileResult is what one spec file yields.
type fileResult struct {
	orders  []*Order
	errs    []*Error
	invalid []string
	docs    int
	// deps are the other files the result depends on (CSR files), with
	// their stamps when read; a Cache checks them before reusing it.
	deps map[string]stamp
	// reads are the files read: the spec file, then its CSR files.
	reads []source
}

// fileCtx loads one spec file and records what else it reads.
type fileCtx struct {
	*loader
	deps  map[string]stamp
	reads []source
	buf   *scratch // the loading worker's buffers
}

// scratch holds one loading worker's buffers, reused from file to file and
// from spec to spec (issue 27: a file's bytes were a tenth of what a load
// of 10,000 specs allocated, the requests' DER bytes a twentieth).
type scratch struct {
	// file is what the spec file is read into. Nothing keeps those bytes
	// past the file's load: yaml copies every value it returns into
	// strings of its own (go.yaml.in/yaml/v3 reads the input through its
	// own buffers, and a Node's values are strings), and so does every
	// error message.
	file []byte
	// csr is what a csr_file is read into; the order keeps a copy as its
	// CSR text.
	csr []byte
	// der is what a request's PEM text is decoded into (see decodePEM),
	// used only while its spec is validated: hashed, then parsed and
	// checked, the parsed request dropped.
	der []byte
}

// depend records a file the current spec file's result depends on.
func (l *fileCtx) depend(full string) {
	l.deps[full] = statStamp(full)
}

// loadCached loads a spec file, or reuses the cache's result when neither
// the file, its defaults chain nor its CSR files changed. Stamps are taken
// before reading, so a file changed while being read is read again next
// time. real is where the file is (realPath, as the walk found it). It
// sets records[i] to the file's record for the cache, and counts in seen
// what its stat saw. The result returned is the record's, which nothing
// changes.
func (l *loader) loadCached(rel, real string, defaults map[string]*defaultsFile, cache *Cache, records []*cachedFile, i int, buf *scratch, seen *cacheSeen) *fileResult {
	if cache == nil {
		seen.misses++
		fr := l.loadSpecFile(rel, defaults, stamp{}, buf)
		return &fr
	}
	self, at := statStampTime(real)
	chain, _ := defaultsChain(path.Dir(rel), defaults)
	cf, ok := cache.lookup(rel, self, chain)
	if ok && at.After(seen.newest) {
		seen.newest = at
	}
	if !ok {
		seen.misses++
		// A record of its own: the previous one may still be in use by
		// a concurrent load's lookup.
		cs := make([]chainStamp, len(chain))
		for i, df := range chain {
			cs[i] = chainStamp{df.rel, df.st}
		}
		cf = &cachedFile{self: self, chain: cs, result: l.loadSpecFile(rel, defaults, self, buf)}
	}
	// A record that held is kept as it is (records are never changed),
	// so that an idle cycle allocates none.
	records[i] = cf
	return &cf.result
}

// loadSpecFile reads and loads one spec file. pre is the file's stamp taken
// before it was read, if the caller took one; it is recorded for the file
// instead of the stamp seen while reading, since an older stamp can only
// make a later change look bigger, never hide one. buf holds the calling
// worker's buffers.
func (l *loader) loadSpecFile(rel string, defaults map[string]*defaultsFile, pre stamp, buf *scratch) fileResult {
	fc := &fileCtx{loader: l, deps: map[string]stamp{}, buf: buf}
	fr := fc.load(rel, defaults, pre)
	fr.deps = fc.deps
	fr.reads = fc.reads
	return fr
}

func (l *fileCtx) load(rel string, defaults map[string]*defaultsFile, pre stamp) fileResult {
	var fr fileResult
	data, st, err := l.readScratch(rel, &l.buf.file)
	if err != nil {
		fr.errs = []*Error{readFileError(rel, err)}
		return fr
	}
	if pre != (stamp{}) {
		st = pre
	}
	self := source{rel: rel, full: l.named(rel), st: st}
	l.reads = append(l.reads, self)
	docs, perr := parseDocs(data)
	chain, broken := defaultsChain(path.Dir(rel), defaults)
	// The files every order of this file is built from: the file and its
	// defaults chain. Orders without a CSR file share the slice.
	sources := make([]source, 0, 1+len(chain))
	sources = append(sources, self)
	for _, df := range chain {
		sources = append(sources, df.src)
	}
	for _, doc := range docs {
		if b := body(doc); b != nil {
			fr.docs++
			l.loadDoc(&fr, rel, b, chain, broken, perr != nil, sources)
		}
	}
	if perr != nil {
		fr.errs = append(fr.errs, yamlError(rel, data, perr))
	}
	return fr
}

// readFileError is the error of a spec file that cannot be read.
func readFileError(rel string, err error) *Error {
	var nr *notRegularError
	if errors.As(err, &nr) {
		return notRegularFileError(rel, nr.mode)
	}
	return fileError(rel, "%v", err)
}

// loadDoc builds the order of one document b of file rel and adds it, or
// its errors and name as invalid, to fr. A document of a file that is
// broken further down (halfRead) or below a broken defaults file is not
// taken, so that a half-read file changes nothing.
func (l *fileCtx) loadDoc(fr *fileResult, rel string, b *yaml.Node, chain []*defaultsFile, broken *defaultsFile, halfRead bool, sources []source) {
	d := &docErrors{file: rel}
	o := l.buildDoc(rel, b, chain, d)
	name := ""
	if o != nil {
		name = o.Name
	} else if n := docName(b); n != "" {
		name = n
	}
	switch {
	case halfRead:
	case broken != nil && name != "":
		d.errs = withoutRequired(d.errs)
		d.add(b, "", "spec %q not loaded: fix the errors in %s first", name, broken.rel)
	case broken != nil:
		d.errs = withoutRequired(d.errs)
		d.add(b, "", "spec not loaded: fix the errors in %s first", broken.rel)
	case len(d.errs) == 0 && o != nil:
		if o.sources == nil {
			o.sources = sources
		} else {
			o.sources = append(append(make([]source, 0, len(sources)+len(o.sources)), sources...), o.sources...)
		}
		fr.orders = append(fr.orders, o)
		return
	}
	for _, e := range d.errs {
		e.Spec = name
	}
	fr.errs = append(fr.errs, d.errs...)
	if name != "" {
		fr.invalid = append(fr.invalid, name)
	}
}

// withoutRequired drops the "is required" errors of a spec below a broken
// defaults file for the keys the defaults could supply (a key defaults may
// set, and csr, which key_type in the defaults replaces): the error to fix
// is theirs. The spec's other errors stay.
func withoutRequired(errs []*Error) []*Error {
	return slices.DeleteFunc(errs, func(e *Error) bool {
		f := keys[e.Field]
		return strings.HasPrefix(e.Msg, "is required:") && (e.Field == "csr" || f != nil && !f.noDefaults)
	})
}

// docName reads a document's name key, if it is a string.
func docName(m *yaml.Node) string {
	if m.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolve(m.Content[i]), resolve(m.Content[i+1])
		if k != nil && v != nil && k.Value == "name" && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}

// defaultsChain returns the defaults files that apply to a folder, farthest
// first, and the first of them that has errors, if any.
func defaultsChain(folder string, defaults map[string]*defaultsFile) (chain []*defaultsFile, broken *defaultsFile) {
	for {
		if df, ok := defaults[folder]; ok {
			chain = append(chain, df)
		}
		if folder == "." || folder == "/" || folder == "" {
			break
		}
		folder = path.Dir(folder)
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	for _, df := range chain {
		if len(df.errs) > 0 {
			return chain, df
		}
	}
	return chain, nil
}

// buildDoc decodes one spec document, applies the defaults chain and
// validates the result. It returns nil when the document is not a mapping.
func (l *fileCtx) buildDoc(rel string, m *yaml.Node, chain []*defaultsFile, d *docErrors) *Order {
	if m.Kind != yaml.MappingNode {
		d.add(m, "", "a spec is a mapping of keys (name: ..., common_name: ...), got %s", describe(m))
		return nil
	}
	eff := fields{}
	for _, df := range chain {
		merge(eff, df.fields)
	}
	written := decodeMapping(m, d, false, eff) // merged over the chain's
	return l.validate(rel, m, eff, written, d)
}

// merge lays the values of src over dst. validity_years and validity_days
// are one setting: a level that sets either replaces both.
func merge(dst, src fields) {
	if src["validity_years"] != nil || src["validity_days"] != nil {
		delete(dst, "validity_years")
		delete(dst, "validity_days")
	}
	for k, v := range src {
		dst[k] = v
	}
}
