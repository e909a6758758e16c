package deliver

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"time"
)

// The files Writer delivers in DIR/NAME, each a symlink to ..data/FILE.
const (
	// CertFile holds the leaf certificate.
	CertFile = "cert.pem"
	// ChainFile holds the intermediates in the downloaded order (the one
	// that signed the leaf first), without the root; it is empty when the
	// download had none.
	ChainFile = "chain.pem"
	// FullchainFile holds the leaf followed by the intermediates, what
	// most TLS servers want.
	FullchainFile = "fullchain.pem"
	// KeyFile holds the private key, PKCS#8 PEM, mode 0600 (0640 with
	// Writer.KeyGroup), for a spec whose key certform made; absent
	// otherwise.
	KeyFile = "privkey.pem"
)

// visibleFiles are the files in the order they are written.
var visibleFiles = []string{CertFile, ChainFile, FullchainFile}

// keepReplaced is how long a version folder stays after a newer one
// replaced it, for a reader who resolved ..data to it just before the swap
// and is still opening its files. Removing it at once, or at the next
// delivery, is not enough: run 1,500 times on a busy two-core machine,
// TestWriter_concurrentReader saw a reader's open stall for 6.5 ms, across
// a whole 3.6 ms delivery, and fail with ENOENT. A minute is far beyond
// any such stall.
const keepReplaced = time.Minute

const (
	dataLink = "..data"     // symlink to the current version folder
	tmpLink  = "..data_tmp" // the next ..data, before its rename
	// versionLayout names a version folder by its UTC creation time.
	versionLayout = "..2006_01_02_15_04_05.000000000"
)

var (
	// nameRE is the spec name rule (package spec): it admits no '/', no
	// leading '.', and so no name that leaves DIR.
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	versionRE = regexp.MustCompile(`^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d{9}$`)
)

// Writer delivers certificates below Dir, one folder per spec name, the
// way Kubernetes' AtomicWriter projects secrets: each delivery writes a new
// version folder DIR/NAME/..YYYY_MM_DD_HH_MM_SS.NNNNNNNNN (UTC), points the
// symlink DIR/NAME/..data at it with one rename, and then removes the
// version folders that were replaced a minute or more ago. A replaced
// version stays that long, and at least until the next delivery, so that
// a reader who resolved ..data to it just before the rename still finds
// its files. DIR/NAME/cert.pem, chain.pem and fullchain.pem are symlinks to
// ..data/cert.pem and so on. A reader that opens one of them gets one
// certificate's complete file, never a partly written one; opening
// cert.pem and chain.pem one after the other may straddle a delivery, so a
// reader who needs both should read fullchain.pem or resolve ..data once
// (filepath.EvalSymlinks) and read below it.
//
// Folders are 0755 and files 0644 whatever the umask: certificates are
// public. Nothing else is left in DIR/NAME: ..data, the three links, the
// current version, the one it replaced and any replaced less than a minute
// before the last delivery. A crashed delivery's leftovers go the same way.
//
// A Writer is safe for concurrent use; it must not be copied after first
// use. Deliveries of different names run at the same time (each writes and
// syncs only below its own folder, and the fsyncs, not the CPU, bound a
// delivery); deliveries of one name wait for each other. Two Writers, or
// two processes, must not deliver the same name at the same time
// (certform's state lock sees to it).
type Writer struct {
	// Dir is the folder holding one folder per name; it is created 0755
	// when missing.
	Dir string

	// KeyGroup, when not nil, is the group id given read access to
	// KeyFile (0640) and to its version folder (0750): a web server's
	// group (--cert-group).
	KeyGroup *int

	mu    sync.Mutex             // guards names
	names map[string]*sync.Mutex // serializes the writes of each name
	now   func() time.Time       // the clock; nil means time.Now
}

// lock takes the lock of name's folder and returns its release. The
// locks stay for the Writer's life: one per name delivered.
func (w *Writer) lock(name string) (unlock func()) {
	w.mu.Lock()
	l := w.names[name]
	if l == nil {
		if w.names == nil {
			w.names = map[string]*sync.Mutex{}
		}
		l = &sync.Mutex{}
		w.names[name] = l
	}
	w.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Write delivers b's certificate as DIR/NAME and returns that folder.
// changed is false, and nothing is written, when DIR/NAME already holds
// exactly these files: the same leaf (same serial number and fingerprint)
// and the same intermediates. It is true once the new version is in place,
// even when a later step (creating a missing link, removing old versions)
// returns an error.
//
// name must follow the spec name rule, 1 to 63 of [a-z0-9._-] starting with
// a letter or digit; anything else is refused, so no name leads out of
// Dir. Write refuses to replace a cert.pem, chain.pem or fullchain.pem in
// DIR/NAME that is not its own link into ..data. It checks nothing about
// the certificate: call Check first.
func (w *Writer) Write(name string, b *Bundle) (dir string, changed bool, err error) {
	return w.WriteWithKey(name, b, nil)
}

// WriteWithKey is Write with the certificate's private key (PKCS#8 PEM),
// written as KeyFile in the same version folder, swapped in with the
// certificates: a reader never sees a key and a certificate that do not
// match. The folder is then 0750 and KeyFile 0600 (with KeyGroup: both
// that group's, KeyFile 0640). A nil key is Write. It checks nothing
// about the key: the caller checks it is the certificate's.
func (w *Writer) WriteWithKey(name string, b *Bundle, key []byte) (dir string, changed bool, err error) {
	if err := checkName(name); err != nil {
		return "", false, err
	}
	if w.Dir == "" {
		return "", false, errors.New("certificate folder: no folder to deliver to is set")
	}
	if b == nil || b.Leaf == nil {
		return "", false, errors.New("certificate folder: no certificate to write")
	}
	dir = filepath.Join(w.Dir, name)
	files := map[string][]byte{
		CertFile:      encode(b.Leaf),
		ChainFile:     encode(b.Intermediates...),
		FullchainFile: encode(append([]*x509.Certificate{b.Leaf}, b.Intermediates...)...),
	}
	if key != nil {
		files[KeyFile] = key
	}

	defer w.lock(name)()
	if err := makeDirs(w.Dir, dir); err != nil {
		return "", false, fmt.Errorf("certificate folder %s: %w", dir, err)
	}
	if err := checkLinks(dir); err != nil {
		return "", false, fmt.Errorf("certificate folder %s: %w", dir, err)
	}
	if same(dir, files) {
		return dir, false, nil
	}
	clock := w.now
	if clock == nil {
		clock = time.Now
	}
	changed, err = swap(dir, files, clock(), w.KeyGroup)
	if err != nil {
		return dir, changed, fmt.Errorf("certificate folder %s: %w", dir, err)
	}
	return dir, true, nil
}

// Current returns the leaf certificate now delivered as name: nil, nil
// when there is none.
func (w *Writer) Current(name string) (*x509.Certificate, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if w.Dir == "" {
		return nil, errors.New("certificate folder: no folder to deliver to is set")
	}
	dir := filepath.Join(w.Dir, name)
	data, err := os.ReadFile(filepath.Join(dir, CertFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("certificate folder %s: %w", dir, err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("certificate folder %s: %s holds no PEM certificate", dir, CertFile)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate folder %s: %s: the certificate does not parse: %w", dir, CertFile, err)
	}
	return c, nil
}

// checkName refuses a name that breaks the spec name rule.
func checkName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q is not a valid name: use 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// makeDirs creates root (with its parents) and dir, root's child, each 0755,
// when missing, and syncs root when dir is new.
func makeDirs(root, dir string) error {
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(root, 0o755); err != nil {
			return err
		}
		// MkdirAll's mode is masked by the umask.
		if err := os.Chmod(root, 0o755); err != nil {
			return err
		}
	}
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return errors.New("it exists and is not a folder")
		}
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	return syncDir(root)
}

// checkLinks refuses visible files that are not Writer's links.
func checkLinks(dir string) error {
	for _, f := range visibleFiles {
		p := filepath.Join(dir, f)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if target, err := os.Readlink(p); err == nil && target == filepath.Join(dataLink, f) {
				continue
			}
		}
		return fmt.Errorf("%s is not certform's link to %s; move it away", f, filepath.Join(dataLink, f))
	}
	return nil
}

// same reports whether the visible files hold exactly files.
func same(dir string, files map[string][]byte) bool {
	if _, err := os.Lstat(filepath.Join(dir, KeyFile)); (files[KeyFile] == nil) != errors.Is(err, fs.ErrNotExist) {
		return false
	}
	for _, f := range fileNames(files) {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.Equal(data, files[f]) {
			return false
		}
	}
	return true
}

// swap writes files to a new version folder named by now, points ..data
// at it, creates missing links and removes old versions (removeOld).
// swapped reports whether ..data points at the new version.
func swap(dir string, files map[string][]byte, now time.Time, keyGroup *int) (swapped bool, err error) {
	version, err := newVersion(dir, now)
	if err != nil {
		return false, fmt.Errorf("creating a version folder: %w", err)
	}
	versionPath := filepath.Join(dir, version)
	names := fileNames(files)
	tmpPath := filepath.Join(dir, tmpLink)
	defer func() {
		if !swapped {
			os.Remove(tmpPath)
			os.RemoveAll(versionPath)
		}
	}()
	if err := writeVersion(versionPath, version, files, keyGroup); err != nil {
		return false, err
	}
	// A crashed delivery may have left its ..data_tmp behind.
	if err := os.Remove(tmpPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("removing a stale %s: %w", tmpLink, err)
	}
	if err := pointData(dir, version); err != nil {
		return false, err
	}
	swapped = true
	if err := syncDir(dir); err != nil {
		return true, fmt.Errorf("syncing after the swap: %w", err)
	}
	if err := linkFiles(dir, names, files[KeyFile] != nil); err != nil {
		return true, err
	}
	return true, removeOld(dir, version, now)
}

// pointData points dir's ..data at version. The first delivery has no
// ..data yet: the link is created at once (creating a symlink is atomic,
// and it saves creating and renaming a second one, file system work that
// bounds how fast many certificates are delivered). Later ones create
// ..data_tmp and rename it over ..data.
func pointData(dir, version string) error {
	dataPath := filepath.Join(dir, dataLink)
	err := os.Symlink(version, dataPath)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("linking %s: %w", dataLink, err)
	}
	tmpPath := filepath.Join(dir, tmpLink)
	if err := os.Symlink(version, tmpPath); err != nil {
		return fmt.Errorf("linking %s: %w", tmpLink, err)
	}
	if err := os.Rename(tmpPath, dataPath); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", tmpLink, dataLink, err)
	}
	return nil
}

// writeVersion writes files into the new version folder versionPath (the
// key private to its owner and keyGroup) and syncs it. On an error swap
// removes the folder.
func writeVersion(versionPath, version string, files map[string][]byte, keyGroup *int) error {
	if files[KeyFile] != nil {
		if err := protectKey(versionPath, keyGroup); err != nil {
			return fmt.Errorf("making %s private: %w", version, err)
		}
	}
	for _, f := range fileNames(files) {
		if f == KeyFile {
			if err := writeKeyFile(filepath.Join(versionPath, f), files[f], keyGroup); err != nil {
				return fmt.Errorf("writing %s/%s: %w", version, f, err)
			}
			continue
		}
		if err := writeFile(filepath.Join(versionPath, f), files[f]); err != nil {
			return fmt.Errorf("writing %s/%s: %w", version, f, err)
		}
	}
	if err := syncDir(versionPath); err != nil {
		return fmt.Errorf("syncing %s: %w", version, err)
	}
	return nil
}

// linkFiles, after a swap, links each of names that is not there yet to
// its file under ..data, and removes the key's link when the new version
// holds no key (hasKey false).
func linkFiles(dir string, names []string, hasKey bool) error {
	if !hasKey {
		// The spec no longer has certform make its key: no link to a key
		// the new version does not hold.
		if err := os.Remove(filepath.Join(dir, KeyFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the %s link: %w", KeyFile, err)
		}
	}
	created := false
	for _, f := range names {
		p := filepath.Join(dir, f)
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := os.Symlink(filepath.Join(dataLink, f), p); err != nil {
			return fmt.Errorf("linking %s: %w", f, err)
		}
		created = true
	}
	if created {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("syncing the links: %w", err)
		}
	}
	return nil
}

// removeOld removes the version folders in dir, but current, that were
// replaced keepReplaced or longer before now. A version counts as replaced
// when the next one by name (by time) was made; the last one by name,
// when not current, is kept (the clock went back, or a delivery crashed).
func removeOld(dir, current string, now time.Time) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing old versions: %w", err)
	}
	var versions []string // sorted: ReadDir sorts by name
	for _, e := range entries {
		if versionRE.MatchString(e.Name()) {
			versions = append(versions, e.Name())
		}
	}
	var errs []error
	for i := 0; i+1 < len(versions); i++ {
		v := versions[i]
		if v == current {
			continue
		}
		replaced, err := time.Parse(versionLayout, versions[i+1])
		if err != nil || now.Sub(replaced) < keepReplaced {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, v)); err != nil {
			errs = append(errs, fmt.Errorf("removing old version %s: %w", v, err))
		}
	}
	return errors.Join(errs...)
}

// newVersion creates a new, empty version folder in dir, 0755, named by the
// time, and returns its name. Names are unique: on a clash (a coarse clock)
// the time moves on by a nanosecond.
func newVersion(dir string, now time.Time) (string, error) {
	t := now.UTC()
	for {
		name := t.Format(versionLayout)
		err := os.Mkdir(filepath.Join(dir, name), 0o755)
		if errors.Is(err, fs.ErrExist) {
			t = t.Add(time.Nanosecond)
			continue
		}
		if err != nil {
			return "", err
		}
		return name, os.Chmod(filepath.Join(dir, name), 0o755)
	}
}

// writeFile creates path, 0644 whatever the umask, with data, synced.
func writeFile(path string, data []byte) error {
	return createSynced(path, data, 0o644, nil)
}

// createSynced creates path, which must not exist, with mode perm
// whatever the umask; then adjust, when given, changes the open file
// before data is written and synced.
func createSynced(path string, data []byte, perm os.FileMode, adjust func(*os.File) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	err = f.Chmod(perm)
	if err == nil && adjust != nil {
		err = adjust(f)
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir fsyncs a folder, so that entries created or renamed in it last.
func syncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// fileNames returns the visible files of a delivery: visibleFiles, then
// KeyFile when files holds a key.
func fileNames(files map[string][]byte) []string {
	if files[KeyFile] == nil {
		return visibleFiles
	}
	return append(slices.Clone(visibleFiles), KeyFile)
}

// protectKey makes a version folder that will hold a key 0750, in group
// gid when given.
func protectKey(dir string, gid *int) error {
	if gid != nil {
		if err := os.Lchown(dir, -1, *gid); err != nil {
			return err
		}
	}
	return os.Chmod(dir, 0o750)
}

// writeKeyFile creates path with the key, 0600 (0640 in group gid when
// given) whatever the umask, synced; the mode is set before the key is
// written.
func writeKeyFile(path string, data []byte, gid *int) error {
	return createSynced(path, data, 0o600, func(f *os.File) error {
		if gid == nil {
			return nil
		}
		if err := f.Chown(-1, *gid); err != nil {
			return err
		}
		return f.Chmod(0o640)
	})
}
