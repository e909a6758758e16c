package keys

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/certform/certform/internal/fsx"
)

// Store keeps keys as files in one directory (the state's --key-dir): the
// directory is 0700, each key a PKCS#8 PEM file of mode 0600 named
// "NAME.FINGERPRINT.key.pem", NAME the spec's name and FINGERPRINT the
// CSR's (CSR.Fingerprint), so that a re-send after a kill finds the key of
// the same CSR. Writes are atomic (temporary file, fsync, rename, fsync of
// the directory). Files are opened without following symlinks, and only
// regular files of mode 0600 are read.
//
// A Store assumes it is the only writer of its directory (the state's lock
// keeps one process per state); its methods may be called from one
// goroutine at a time.
type Store struct {
	dir string
}

// ErrNotFound is returned by Store.Get when the store holds no key for the
// name and fingerprint.
var ErrNotFound = errors.New("key not found")

// ErrBadName says a name or fingerprint given to a Store cannot name a key
// file.
var ErrBadName = errors.New("invalid key name")

// PermissionError says the key directory or a key file can be read or
// entered by group or others (or a file is not 0600).
type PermissionError struct {
	Path string
	Mode fs.FileMode
	Dir  bool
}

// Error names the path and its mode, with a hint: line giving the chmod.
func (e *PermissionError) Error() string {
	if e.Dir {
		return fmt.Sprintf("key directory %s has mode %04o; it must be 0700 so that only certform's user reaches the keys\nhint: chmod 700 %s", e.Path, e.Mode.Perm(), e.Path)
	}
	return fmt.Sprintf("key file %s has mode %04o; it must be 0600\nhint: chmod 600 %s", e.Path, e.Mode.Perm(), e.Path)
}

// NotRegularError says a path in the key directory is a symlink or other
// non-regular file where a key file was expected; it is never followed.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

// Error names the path and what it is, with a hint: line.
func (e *NotRegularError) Error() string {
	what := "not a regular file"
	if e.Mode&fs.ModeSymlink != 0 {
		what = "a symlink"
	}
	return fmt.Sprintf("key file %s is %s; certform reads only regular files in the key directory\nhint: remove it", e.Path, what)
}

const keySuffix = ".key.pem"

// nameRE is what a Store accepts as a name: a spec's name (spec allows
// [a-z0-9][a-z0-9._-]{0,62}) fits; slashes, leading dots and anything a
// file name could misuse do not.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// fpRE is a CSR fingerprint: 64 lowercase hex digits.
var fpRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// OpenStore returns the store in dir, creating dir (and missing parents)
// with mode 0700 when it does not exist. A dir that is a symlink is
// resolved once, here. It refuses a dir that group or others may read,
// write or enter (*PermissionError), and a dir that is not a directory.
func OpenStore(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("key directory: empty path")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("key directory %s: %w", dir, err)
	}
	if _, err := os.Lstat(abs); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return nil, fmt.Errorf("create key directory: %w", err)
		}
		// MkdirAll's mode is cut by the umask; make it exactly 0700.
		if err := os.Chmod(abs, 0o700); err != nil {
			return nil, fmt.Errorf("create key directory: %w", err)
		}
		if err := syncDir(filepath.Dir(abs)); err != nil {
			return nil, fmt.Errorf("create key directory: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("key directory: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("key directory: %w", err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("key directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("key directory %s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, &PermissionError{Path: dir, Mode: fi.Mode(), Dir: true}
	}
	return &Store{dir: real}, nil
}

// Dir returns the store's directory, symlinks resolved.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(name, fingerprint string) (string, error) {
	if err := checkNames(name, fingerprint); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, name+"."+fingerprint+keySuffix), nil
}

// checkNames refuses a name or fingerprint that cannot name a key
// (ErrBadName).
func checkNames(name, fingerprint string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: spec name %q", ErrBadName, name)
	}
	if !fpRE.MatchString(fingerprint) {
		return fmt.Errorf("%w: CSR fingerprint %q is not 64 lowercase hex digits", ErrBadName, fingerprint)
	}
	return nil
}

// Put stores k under name and fingerprint, atomically: after a crash the
// file holds the old key or the new one, whole. A key already stored
// under the same name and fingerprint is replaced (the caller puts a key
// once, before the intent that uses it is saved).
func (s *Store) Put(name, fingerprint string, k Key) error {
	p, err := s.path(name, fingerprint)
	if err != nil {
		return err
	}
	data, err := k.PKCS8PEM()
	if err != nil {
		return fmt.Errorf("store key for %s: %w", name, err)
	}
	if err := writeAtomic(p, data); err != nil {
		return fmt.Errorf("store key for %s: %w", name, err)
	}
	return nil
}

// Get reads the key stored under name and fingerprint; ErrNotFound when
// there is none. It refuses a symlink or other non-regular file
// (*NotRegularError) and a file with a mode other than 0600
// (*PermissionError).
func (s *Store) Get(name, fingerprint string) (Key, error) {
	p, err := s.path(name, fingerprint)
	if err != nil {
		return Key{}, err
	}
	data, err := readRegular(p)
	if err != nil {
		return Key{}, fmt.Errorf("key for %s: %w", name, err)
	}
	k, err := ParsePEM(data)
	if err != nil {
		return Key{}, fmt.Errorf("key file %s: %w", p, err)
	}
	return k, nil
}

// Delete removes the key stored under name and fingerprint, and syncs the
// directory. A key that is not there is not an error. A symlink in its
// place is removed, never followed.
func (s *Store) Delete(name, fingerprint string) error {
	p, err := s.path(name, fingerprint)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove key for %s: %w", name, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("remove key for %s: %w", name, err)
	}
	return nil
}

// Entry is one key file of a Store.
type Entry struct {
	// Name is the spec's name, Fingerprint the CSR's.
	Name        string
	Fingerprint string
	// Modified is the file's modification time: when the key was stored.
	Modified time.Time
}

// List returns the store's keys, sorted by name then fingerprint. It
// skips files whose names are not key file names (temporary files
// included) and reports a key file name that is a symlink or not a
// regular file (*NotRegularError, joined with the others) after listing
// the rest.
func (s *Store) List() ([]Entry, error) {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	var (
		out  []Entry
		errs []error
	)
	for _, de := range des {
		name, fp, ok := parseFileName(de.Name())
		if !ok {
			continue
		}
		p := filepath.Join(s.dir, de.Name())
		if !de.Type().IsRegular() {
			errs = append(errs, &NotRegularError{Path: p, Mode: de.Type()})
			continue
		}
		fi, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, Entry{Name: name, Fingerprint: fp, Modified: fi.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Fingerprint < out[j].Fingerprint
	})
	return out, errors.Join(errs...)
}

// KeyPath returns the path of the key file of name and fingerprint,
// whether or not it exists; ErrBadName for a name or fingerprint that
// cannot name a key.
func (s *Store) KeyPath(name, fingerprint string) (string, error) {
	return s.path(name, fingerprint)
}

// DeleteKeys removes the keys stored under name with the given
// fingerprints (certform forget: those its state entry records), syncs the
// directory once, and returns how many it removed; a fingerprint with no
// key is skipped. It tries every fingerprint and returns the failures
// joined. Keys of name under other fingerprints stay: another state file
// sharing the directory may hold them. A symlink in a key's place is
// removed, never followed.
func (s *Store) DeleteKeys(name string, fingerprints []string) (int, error) {
	n := 0
	var errs []error
	for _, fp := range fingerprints {
		p, err := s.path(name, fp)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = os.Remove(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove key for %s: %w", name, err))
			continue
		}
		n++
	}
	if n > 0 {
		if err := syncDir(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove key for %s: %w", name, err))
		}
	}
	return n, errors.Join(errs...)
}

// RemoveTemporary removes the temporary files a Put interrupted by a
// crash left behind (".tmp-*": each may hold a key that was never stored,
// so no intent uses it). Call it while holding the state's lock, before
// the first Put. It removes symlinks by those names, never their targets.
func (s *Store) RemoveTemporary() error {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("remove temporary key files: %w", err)
	}
	var errs []error
	removed := false
	for _, de := range des {
		if !strings.HasPrefix(de.Name(), ".tmp-") {
			continue
		}
		if err := os.Remove(filepath.Join(s.dir, de.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed = true
	}
	if removed {
		if err := syncDir(s.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove temporary key files: %w", err)
	}
	return nil
}

func parseFileName(base string) (name, fp string, ok bool) {
	rest, found := strings.CutSuffix(base, keySuffix)
	if !found || len(rest) < 66 || rest[len(rest)-65] != '.' {
		return "", "", false
	}
	name, fp = rest[:len(rest)-65], rest[len(rest)-64:]
	if !nameRE.MatchString(name) || !fpRE.MatchString(fp) {
		return "", "", false
	}
	return name, fp, true
}

// readRegular reads p without following a symlink, refusing anything but a
// regular file of mode 0600.
func readRegular(p string) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if errors.Is(err, fsx.NoFollowErrno) {
		return nil, &NotRegularError{Path: p, Mode: fs.ModeSymlink}
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &NotRegularError{Path: p, Mode: fi.Mode()}
	}
	if fi.Mode().Perm() != 0o600 {
		return nil, &PermissionError{Path: p, Mode: fi.Mode()}
	}
	// A key file is a few KiB (an RSA-4096 PKCS#8 PEM is about 3.3 KiB).
	const maxKeyFile = 64 << 10
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("key file %s is larger than %d bytes", p, maxKeyFile)
	}
	return data, nil
}

// writeAtomic writes data to p with mode 0600, atomically, with the
// shared helper (internal/fsx): a temporary file ".tmp-BASE-*" in the same
// directory (the names RemoveTemporary removes), written, synced and
// closed, renamed over p, then the directory synced; the temporary file is
// removed on any error.
func writeAtomic(p string, data []byte) error {
	_, err := fsx.WriteFile(p, data, fsx.Options{Mode: 0o600, TempPattern: ".tmp-" + filepath.Base(p) + "-*"})
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
