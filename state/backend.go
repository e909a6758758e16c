package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Backend is where a Store keeps the state and how it keeps other
// processes from changing it meanwhile: the local file (the default, see
// Open) or a shared database (package state/pgstate). The Store holds the
// state in memory, groups changes into writes and undoes a failed write;
// the Backend takes the lock, reads, and writes atomically and fenced.
type Backend interface {
	// Name names the state in messages, such as "state file
	// /var/lib/certform/state.json".
	Name() string
	// Load takes the lock, without waiting, and reads the state. When
	// another process holds the lock it fails at once with an error
	// matching ErrLocked that names the holder. A state never created is
	// created empty, durably, before Load returns it. On error the
	// Backend holds no lock.
	Load() (*File, error)
	// Write saves next as one atomic change, but only while the Backend
	// still holds its lock; otherwise it writes nothing and returns an
	// error matching ErrLockLost. prev (never nil) is the last state loaded or
	// written (a backend may write only the difference). The Store calls
	// Write, Load and Release from one goroutine at a time.
	Write(prev, next *Encoded) error
	// Check proves, without writing, that the lock is still held: nil,
	// or an error matching ErrLockLost. It may be called at any time,
	// also while a Write is under way, and should be cheap: certform
	// checks before every call it makes to CertCentral.
	Check() error
	// Release gives up the lock. Releasing twice does nothing.
	Release() error
}

// PartsWriter is implemented by a Backend whose Write reads the parts of
// an Encoded only (APIURL, ObservedAt, Revocations, Moved, Purchases,
// Entries), never Data: for it, a write in which only entries changed
// (Store.Update) leaves Data nil, so that its cost is that of the entries
// it changed rather than of the whole state (package state/pgstate).
type PartsWriter interface {
	WritesParts() bool
}

// Shared is implemented by a Backend that several servers share, so that
// a daemon that finds the lock taken waits as a standby (see
// Store.Shared).
type Shared interface {
	Shared() bool
}

// Encoded is one state as written: the whole state in the file format
// (Data), and its parts. An Encoded is never changed once made.
type Encoded struct {
	// Data is the state in the file format (see WriteFile); nil in a
	// write to a PartsWriter that changed entries only.
	Data       []byte
	APIURL     string
	ObservedAt time.Time
	// Revocations is the revocation log as a JSON array, oldest first;
	// nil when there is none.
	Revocations []byte
	// Moved is File.Moved as a JSON object; nil when not moved.
	Moved []byte
	// Purchases is the purchase log as a JSON array, oldest first; nil
	// when there is none.
	Purchases []byte
	// Entries maps each entry's name to its JSON object. An entry a
	// write did not change holds the very bytes (same backing array) it
	// held in the Encoded of the write before, so a Backend that writes
	// the difference can tell it apart cheaply.
	Entries map[string][]byte

	// lines maps each entry's name to its line in Data without the comma
	// before it ("\n    NAME: OBJECT"); Entries[name] is its tail.
	lines map[string][]byte
	// names are the entry names, sorted.
	names []string
	// head is the start of Data, up to the entries, when Data is nil.
	head []byte
}

// Encode encodes f as Write receives it, in the file format: the
// file-level fields on their own lines, then one entry per line sorted by
// name, the revocation and purchase records one per line sorted by time
// (see revocationLess). It is easy to read and to diff, and much cheaper to
// write than indenting every field (the state is rewritten after every
// call). It puts f in the shape it is written in first: Version set, nil
// entries dropped, the revocation log sorted.
func Encode(f *File) (*Encoded, error) {
	f.normalize()
	enc, err := encodeHead(f)
	if err != nil {
		return nil, err
	}
	enc.Entries = make(map[string][]byte, len(f.Entries))
	enc.lines = make(map[string][]byte, len(f.Entries))
	enc.names = f.Names()
	for _, name := range enc.names {
		if err := enc.setLine(name, f.Entries[name]); err != nil {
			return nil, err
		}
	}
	enc.assemble()
	return enc, nil
}

// encodeChanged encodes f, which differs from the state prev encodes in
// the entries named in changed only (created, changed or deleted): it
// encodes those entries and the file-level fields, and reuses prev's
// bytes for every other entry. Its Data is the same, byte for byte, as
// Encode(f)'s; with noData it is left nil (see PartsWriter). f must be
// normalized.
func encodeChanged(prev *Encoded, f *File, changed map[string]bool, noData bool) (*Encoded, error) {
	enc, err := encodeHead(f)
	if err != nil {
		return nil, err
	}
	enc.Entries = maps.Clone(prev.Entries)
	enc.lines = maps.Clone(prev.lines)
	enc.names = prev.names
	reshaped := false
	for name := range changed {
		_, had := enc.lines[name]
		e := f.Entries[name]
		if e == nil {
			if had {
				delete(enc.Entries, name)
				delete(enc.lines, name)
				reshaped = true
			}
			continue
		}
		if err := enc.setLine(name, e); err != nil {
			return nil, err
		}
		reshaped = reshaped || !had
	}
	if reshaped {
		enc.names = slices.Sorted(maps.Keys(enc.lines))
	}
	if noData {
		enc.head, enc.Data = enc.Data, nil
		return enc, nil
	}
	enc.assemble()
	return enc, nil
}

// fileData returns enc in the file format: Data, or, when it was left nil
// (see PartsWriter), a new copy assembled from the parts.
func (enc *Encoded) fileData() []byte {
	if enc.Data != nil {
		return enc.Data
	}
	c := *enc
	c.Data = c.head
	c.assemble()
	return c.Data
}

// setLine encodes e, the entry named name, into enc.lines and enc.Entries.
func (enc *Encoded) setLine(name string, e *Entry) error {
	k, err := json.Marshal(name)
	if err != nil {
		return err
	}
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	line := make([]byte, 0, len("\n    ")+len(k)+len(": ")+len(v))
	line = append(line, "\n    "...)
	line = append(line, k...)
	line = append(line, ": "...)
	line = append(line, v...)
	enc.lines[name] = line
	enc.Entries[name] = line[len(line)-len(v) : len(line) : len(line)]
	return nil
}

// encodeHead encodes f's file-level fields: the start of Data, up to the
// entries, in enc.Data, and their parts.
func encodeHead(f *File) (*Encoded, error) {
	enc := &Encoded{APIURL: f.APIURL, ObservedAt: f.ObservedAt}
	var b bytes.Buffer
	var err error
	fmt.Fprintf(&b, "{\n  \"version\": %d,\n", Version)
	if f.APIURL != "" {
		if _, err = writeHeadField(&b, "api_url", f.APIURL); err != nil {
			return nil, err
		}
	}
	if !f.ObservedAt.IsZero() {
		if _, err = writeHeadField(&b, "observed_at", f.ObservedAt); err != nil {
			return nil, err
		}
	}
	if enc.Revocations, err = writeHeadList(&b, "revocations", f.Revocations); err != nil {
		return nil, err
	}
	if f.Moved != nil {
		if enc.Moved, err = writeHeadField(&b, "moved", f.Moved); err != nil {
			return nil, err
		}
	}
	if enc.Purchases, err = writeHeadList(&b, "purchases", f.Purchases); err != nil {
		return nil, err
	}
	b.WriteString("  \"entries\": {")
	enc.Data = b.Bytes()
	return enc, nil
}

// writeHeadField writes the file-level field key with value v as a line
// of the head, and returns v's JSON.
func writeHeadField(b *bytes.Buffer, key string, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(b, "  %q: ", key)
	b.Write(data)
	b.WriteString(",\n")
	return data, nil
}

// writeHeadList writes the file-level list key, one item a line, and
// returns the list's JSON (a copy); nothing for an empty list.
func writeHeadList[T any](b *bytes.Buffer, key string, items []T) ([]byte, error) {
	if len(items) == 0 {
		return nil, nil
	}
	fmt.Fprintf(b, "  %q: ", key)
	start := b.Len()
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		v, err := json.Marshal(it)
		if err != nil {
			return nil, err
		}
		b.WriteString("\n    ")
		b.Write(v)
	}
	b.WriteString("\n  ]")
	list := bytes.Clone(b.Bytes()[start:])
	b.WriteString(",\n")
	return list, nil
}

// assemble completes enc.Data (the head encodeHead wrote) with the entry
// lines in name order and the end.
func (enc *Encoded) assemble() {
	n := len(enc.Data) + len(enc.names) + len("\n  }\n}\n")
	for _, line := range enc.lines {
		n += len(line)
	}
	data := make([]byte, 0, n)
	data = append(data, enc.Data...)
	for i, name := range enc.names {
		if i > 0 {
			data = append(data, ',')
		}
		data = append(data, enc.lines[name]...)
	}
	if len(enc.names) > 0 {
		data = append(data, "\n  "...)
	}
	enc.Data = append(data, "}\n}\n"...)
}

// DecodeEntry decodes one entry's JSON as Encoded.Entries holds it,
// refusing unknown fields; what names the entry's origin in the error.
func DecodeEntry(what string, data []byte) (*Entry, error) {
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("%s does not match the version %d format (%v)", what, Version, err)
	}
	return &e, nil
}

// DecodeRevocations decodes a revocation log as Encoded.Revocations holds
// it; nil or empty data is no log.
func DecodeRevocations(what string, data []byte) ([]Revocation, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var revs []Revocation
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&revs); err != nil {
		return nil, fmt.Errorf("%s does not match the version %d format (%v)", what, Version, err)
	}
	return revs, nil
}

// DecodeMoved decodes File.Moved as Encoded.Moved holds it; nil or empty
// data is not moved.
func DecodeMoved(what string, data []byte) (*Moved, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var m Moved
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s does not match the version %d format (%v)", what, Version, err)
	}
	return &m, nil
}

// DecodePurchases decodes a purchase log as Encoded.Purchases holds it;
// nil or empty data is no log.
func DecodePurchases(what string, data []byte) ([]Purchase, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var purs []Purchase
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&purs); err != nil {
		return nil, fmt.Errorf("%s does not match the version %d format (%v)", what, Version, err)
	}
	return purs, nil
}

// Decode reads a state in the file format; name names it in errors (a
// *CorruptError).
func Decode(name string, data []byte) (*File, error) {
	f, err := decode(name, data)
	if err != nil {
		return nil, err
	}
	f.normalize()
	return f, nil
}
