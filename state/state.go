// Package state owns certform's record of what it has done: for each spec
// name, the CertCentral order it placed or adopted, the values it last
// applied, revoke requests, and intents written before a call whose outcome
// must survive a crash. The file is JSON, written atomically with mode 0600,
// and guarded by a lock so that one process at a time changes it.
//
// It does not decide anything; package reconcile reads and updates it.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Version is the state file format this certform reads and writes.
const Version = 1

// Entry is what certform knows about one spec's order.
type Entry struct {
	// OrderID is the CertCentral order; 0 while none is known.
	OrderID int `json:"order_id,omitempty"`
	// AlternativeOrderID is the id sent with the order, for look-ups.
	AlternativeOrderID string `json:"alternative_order_id,omitempty"`
	// Fingerprint and Fixed are the spec's fixed fields when the order was
	// placed or adopted (spec.Order.Fingerprint and FixedFields).
	Fingerprint string            `json:"fingerprint,omitempty"`
	Fixed       map[string]string `json:"fixed,omitempty"`
	// Options are the ordering-only options the order was placed with.
	Options map[string]string `json:"options,omitempty"`
	// DisableCT and AutoReissue are the values last applied (or, for an
	// imported order, last seen in CertCentral).
	DisableCT   bool `json:"disable_ct"`
	AutoReissue bool `json:"auto_reissue"`
	// Revoke is the revoke request made for the order, if any.
	Revoke *RevokeRecord `json:"revoke,omitempty"`
	// Intent is a call started and not yet known to have landed.
	Intent *Intent `json:"intent,omitempty"`
	// Imported is true for an order adopted with certform import.
	Imported bool `json:"imported,omitempty"`
	// File is the spec file the entry was last applied from.
	File string `json:"file,omitempty"`
	// OrderedAt is when the order was placed or adopted.
	OrderedAt time.Time `json:"ordered_at,omitzero"`
	// Status is the order status last seen in CertCentral, and RefreshedAt
	// when it was seen.
	Status      string    `json:"status,omitempty"`
	RefreshedAt time.Time `json:"refreshed_at,omitzero"`
}

// RevokeRecord is a revoke request certform made.
type RevokeRecord struct {
	RequestID int       `json:"request_id,omitempty"`
	Status    string    `json:"status"` // submitted, pending, approved, rejected
	Comments  string    `json:"comments"`
	Time      time.Time `json:"time"`
}

// Intent kinds.
const (
	IntentOrder  = "order"
	IntentRevoke = "revoke"
)

// Intent is written, and saved, before a call that must never be repeated
// blindly. An intent still present later means the call's outcome is
// unknown: an order intent is resolved by looking AlternativeOrderID up.
type Intent struct {
	Action             string    `json:"action"`
	AlternativeOrderID string    `json:"alternative_order_id,omitempty"`
	Fingerprint        string    `json:"fingerprint,omitempty"`
	Started            time.Time `json:"started"`
	Attempts           int       `json:"attempts"`
	// DisableCT and AutoReissue are the values the order was sent with.
	DisableCT   bool `json:"disable_ct,omitempty"`
	AutoReissue bool `json:"auto_reissue,omitempty"`
}

// File is the whole state.
type File struct {
	Version int               `json:"version"`
	Entries map[string]*Entry `json:"entries"`
}

// Names returns the entry names, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Entries))
	for n := range f.Entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Clone returns a deep copy.
func (f *File) Clone() *File {
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	var c File
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	if c.Entries == nil {
		c.Entries = map[string]*Entry{}
	}
	return &c
}

// MissingError is a state file that is gone although its lock file shows
// that certform has used it before.
type MissingError struct {
	Path string
}

// Error names the file and says how to start over deliberately.
func (e *MissingError) Error() string {
	return fmt.Sprintf("state file %s is missing, but its lock file %s shows certform has used it before; "+
		"starting from an empty state would order every spec again", e.Path, LockPath(e.Path))
}

// CheckMissing returns a *MissingError when the state file at path does not
// exist but its lock file does; otherwise nil.
func CheckMissing(path string) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(LockPath(path)); err == nil {
		return &MissingError{Path: path}
	}
	return nil
}

// CorruptError is a state file that cannot be used: unreadable, not JSON,
// truncated, or of an unknown version. certform never overwrites it.
type CorruptError struct {
	Path string
	Why  string
}

// Error names the file and what is wrong with it.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s %s; certform will not use or overwrite it", e.Path, e.Why)
}

// Read loads the state file at path. A missing file is an empty state; any
// other problem is an error naming the file (a *CorruptError when the
// content is unusable).
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &File{Version: Version, Entries: map[string]*Entry{}}, nil
	}
	if err != nil {
		return nil, &CorruptError{Path: path, Why: fmt.Sprintf("cannot be read (%v)", unwrapPathError(err))}
	}
	var probe struct {
		Version *int `json:"version"`
	}
	if len(data) == 0 {
		return nil, &CorruptError{Path: path, Why: "is empty (truncated?)"}
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, &CorruptError{Path: path, Why: fmt.Sprintf("is not valid JSON, truncated or corrupt (%v)", err)}
	}
	if probe.Version == nil {
		return nil, &CorruptError{Path: path, Why: "has no version field; it is not a certform state file"}
	}
	if *probe.Version != Version {
		return nil, &CorruptError{Path: path, Why: fmt.Sprintf("has version %d; this certform reads version %d", *probe.Version, Version)}
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, &CorruptError{Path: path, Why: fmt.Sprintf("does not match the version %d format (%v)", Version, err)}
	}
	if f.Entries == nil {
		f.Entries = map[string]*Entry{}
	}
	for name, e := range f.Entries {
		if e == nil {
			return nil, &CorruptError{Path: path, Why: fmt.Sprintf("has an empty entry %q", name)}
		}
	}
	return &f, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Store is a state file opened for changes: it holds the lock and saves
// every change atomically before reporting it done. It is safe for
// concurrent use. Changes made at the same time share one write (group
// commit): each caller still returns only once a write that includes its
// change is on disk.
type Store struct {
	path string
	lock *Lock

	mu      sync.Mutex
	cond    *sync.Cond
	file    *File  // in memory: the last write plus changes not yet written
	durable []byte // the content of the last successful write
	gen     uint64 // counts changes
	written uint64 // the last change that is on disk
	failed  uint64 // changes up to this one were lost to failErr
	failErr error
	writing bool
}

// Open locks the state file at path (see Lock) and reads it. The folder is
// created (mode 0700) if missing.
//
// A state file that does not exist yet is created at once (empty), so that
// the file exists whenever its lock file does. A missing state file next to
// an existing lock file therefore means the state was lost: Open refuses
// with a *MissingError rather than start over, which would order every spec
// again.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("state file %s: creating its folder: %w", path, err)
	}
	_, lockErr := os.Stat(LockPath(path))
	l, err := AcquireLock(path)
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(path)
	if errors.Is(statErr, fs.ErrNotExist) && lockErr == nil {
		l.Release()
		return nil, &MissingError{Path: path}
	}
	f, err := Read(path)
	if err != nil {
		l.Release()
		return nil, err
	}
	durable, err := marshal(f)
	if err != nil {
		l.Release()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		if err := writeBytes(path, durable); err != nil {
			l.Release()
			return nil, err
		}
	}
	s := &Store{path: path, lock: l, file: f, durable: durable}
	s.cond = sync.NewCond(&s.mu)
	return s, nil
}

// Path returns the state file's path.
func (s *Store) Path() string { return s.path }

// Close releases the lock.
func (s *Store) Close() error { return s.lock.Release() }

// Snapshot returns a deep copy of the state.
func (s *Store) Snapshot() *File {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.file.Clone()
}

// View calls fn with the state as it is, under the store's lock, without a
// copy; fn must neither keep nor change it, and must not call the store.
func (s *Store) View(fn func(f *File)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.file)
}

// Entry returns a copy of one entry, or nil.
func (s *Store) Entry(name string) *Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.file.Entries[name]
	if e == nil {
		return nil
	}
	return cloneEntry(e)
}

func cloneEntry(e *Entry) *Entry {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	var c Entry
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return &c
}

// Update changes one entry (created if missing) with fn and returns once
// the change is saved. If fn returns false the entry is deleted. If saving
// fails, the change is undone and the error returned.
func (s *Store) Update(name string, fn func(e *Entry) (keep bool)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &Entry{}
	if old := s.file.Entries[name]; old != nil {
		e = cloneEntry(old)
	}
	if fn(e) {
		s.file.Entries[name] = e
	} else {
		delete(s.file.Entries, name)
	}
	s.gen++
	return s.commit(s.gen)
}

// Batch changes any number of entries with fn and returns once they are
// saved, in one write. Entries fn sets to nil are deleted. If saving fails,
// every change is undone and the error returned.
func (s *Store) Batch(fn func(entries map[string]*Entry)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.file.Entries)
	for n, e := range s.file.Entries {
		if e == nil {
			delete(s.file.Entries, n)
		}
	}
	s.gen++
	return s.commit(s.gen)
}

// commit waits until change gen is on disk, writing it if no write is under
// way. The caller holds s.mu. A failed write puts the state back to the
// last good write and fails every change not in it.
func (s *Store) commit(gen uint64) error {
	for {
		switch {
		case s.written >= gen:
			return nil
		case s.failed >= gen:
			return s.failErr
		case s.writing:
			s.cond.Wait()
			continue
		}
		s.writing = true
		upTo := s.gen
		data, err := marshal(s.file)
		if err == nil {
			s.mu.Unlock()
			err = writeBytes(s.path, data)
			s.mu.Lock()
		}
		s.writing = false
		if err == nil {
			s.written, s.durable = upTo, data
		} else {
			var f File
			if uerr := json.Unmarshal(s.durable, &f); uerr == nil {
				s.file = &f
				if s.file.Entries == nil {
					s.file.Entries = map[string]*Entry{}
				}
			}
			// Changes made while writing were undone too.
			s.failed, s.failErr = s.gen, err
		}
		s.cond.Broadcast()
	}
}

// marshal encodes the file with one entry per line, sorted by name: easy
// to read and to diff, and much cheaper to write than indenting every field
// (the state is rewritten after every call).
func marshal(f *File) ([]byte, error) {
	f.Version = Version
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n  \"version\": %d,\n  \"entries\": {", Version)
	for i, name := range f.Names() {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.Entries[name])
		if err != nil {
			return nil, err
		}
		b.WriteString("\n    ")
		b.Write(k)
		b.WriteString(": ")
		b.Write(v)
	}
	if len(f.Entries) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("}\n}\n")
	return b.Bytes(), nil
}

// WriteFile writes f to path atomically: a temporary file in the same
// folder, written, synced and closed, renamed over path, then the folder
// synced. The file has mode 0600. On any error the temporary file is
// removed and path is unchanged.
func WriteFile(path string, f *File) error {
	data, err := marshal(f)
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	return writeBytes(path, data)
}

func writeBytes(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("state file %s: writing: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("state file %s: syncing: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		serr := d.Sync()
		d.Close()
		if serr != nil {
			return fmt.Errorf("state file %s: syncing its folder: %w", path, serr)
		}
	}
	return nil
}
