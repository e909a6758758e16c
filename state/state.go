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

// CorruptError is a state file that cannot be used: unreadable, not JSON,
// truncated, or of an unknown version. certform never overwrites it.
type CorruptError struct {
	Path string
	Why  string
}

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
// every change atomically. It is safe for concurrent use.
type Store struct {
	path string
	lock *Lock
	mu   sync.Mutex
	file *File
}

// Open locks the state file at path (see Lock) and reads it. The folder is
// created (mode 0700) if missing.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("state file %s: creating its folder: %w", path, err)
	}
	l, err := AcquireLock(path)
	if err != nil {
		return nil, err
	}
	f, err := Read(path)
	if err != nil {
		l.Release()
		return nil, err
	}
	return &Store{path: path, lock: l, file: f}, nil
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

// Entry returns a copy of one entry, or nil.
func (s *Store) Entry(name string) *Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.file.Entries[name]
	if e == nil {
		return nil
	}
	c := (&File{Entries: map[string]*Entry{name: e}}).Clone()
	return c.Entries[name]
}

// Update changes one entry (created if missing) with fn and saves the file
// before returning. If fn returns false the entry is deleted. If saving
// fails, the change is undone in memory and the error returned.
func (s *Store) Update(name string, fn func(e *Entry) (keep bool)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.file.Entries[name]
	e := &Entry{}
	if old != nil {
		c := (&File{Entries: map[string]*Entry{name: old}}).Clone()
		e = c.Entries[name]
	}
	if fn(e) {
		s.file.Entries[name] = e
	} else {
		delete(s.file.Entries, name)
	}
	if err := WriteFile(s.path, s.file); err != nil {
		if old != nil {
			s.file.Entries[name] = old
		} else {
			delete(s.file.Entries, name)
		}
		return err
	}
	return nil
}

// Batch changes any number of entries with fn and saves the file once.
// Entries fn sets to nil are deleted. If saving fails, every change is
// undone in memory and the error returned.
func (s *Store) Batch(fn func(entries map[string]*Entry)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	work := s.file.Clone()
	fn(work.Entries)
	for n, e := range work.Entries {
		if e == nil {
			delete(work.Entries, n)
		}
	}
	if err := WriteFile(s.path, work); err != nil {
		return err
	}
	s.file = work
	return nil
}

// WriteFile writes f to path atomically: a temporary file in the same
// folder, written, synced and closed, renamed over path, then the folder
// synced. The file has mode 0600. On any error the temporary file is
// removed and path is unchanged.
func WriteFile(path string, f *File) (err error) {
	f.Version = Version
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	data = append(data, '\n')
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
