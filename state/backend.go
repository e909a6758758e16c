package state

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// Shared is implemented by a Backend that several servers share, so that
// a daemon that finds the lock taken waits as a standby (see
// Store.Shared).
type Shared interface {
	Shared() bool
}

// Encoded is one state as written: the whole state in the file format
// (Data), and its parts, whose bytes are Data's own. An Encoded is never
// changed once made.
type Encoded struct {
	// Data is the state in the file format (see WriteFile).
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
	// Entries maps each entry's name to its JSON object.
	Entries map[string][]byte
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
	enc := &Encoded{APIURL: f.APIURL, ObservedAt: f.ObservedAt, Entries: make(map[string][]byte, len(f.Entries))}
	type span struct{ start, end int }
	spans := make(map[string]span, len(f.Entries))
	var revs, purs span
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n  \"version\": %d,\n", Version)
	if f.APIURL != "" {
		v, err := json.Marshal(f.APIURL)
		if err != nil {
			return nil, err
		}
		b.WriteString("  \"api_url\": ")
		b.Write(v)
		b.WriteString(",\n")
	}
	if !f.ObservedAt.IsZero() {
		v, err := json.Marshal(f.ObservedAt)
		if err != nil {
			return nil, err
		}
		b.WriteString("  \"observed_at\": ")
		b.Write(v)
		b.WriteString(",\n")
	}
	if len(f.Revocations) > 0 {
		b.WriteString("  \"revocations\": ")
		revs.start = b.Len()
		b.WriteByte('[')
		for i, r := range f.Revocations {
			if i > 0 {
				b.WriteByte(',')
			}
			v, err := json.Marshal(r)
			if err != nil {
				return nil, err
			}
			b.WriteString("\n    ")
			b.Write(v)
		}
		b.WriteString("\n  ]")
		revs.end = b.Len()
		b.WriteString(",\n")
	}
	if f.Moved != nil {
		v, err := json.Marshal(f.Moved)
		if err != nil {
			return nil, err
		}
		enc.Moved = v
		b.WriteString("  \"moved\": ")
		b.Write(v)
		b.WriteString(",\n")
	}
	if len(f.Purchases) > 0 {
		b.WriteString("  \"purchases\": ")
		purs.start = b.Len()
		b.WriteByte('[')
		for i, p := range f.Purchases {
			if i > 0 {
				b.WriteByte(',')
			}
			v, err := json.Marshal(p)
			if err != nil {
				return nil, err
			}
			b.WriteString("\n    ")
			b.Write(v)
		}
		b.WriteString("\n  ]")
		purs.end = b.Len()
		b.WriteString(",\n")
	}
	b.WriteString("  \"entries\": {")
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
		start := b.Len()
		b.Write(v)
		spans[name] = span{start, b.Len()}
	}
	if len(f.Entries) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("}\n}\n")
	enc.Data = b.Bytes()
	if revs.end > 0 {
		enc.Revocations = enc.Data[revs.start:revs.end:revs.end]
	}
	if purs.end > 0 {
		enc.Purchases = enc.Data[purs.start:purs.end:purs.end]
	}
	for name, s := range spans {
		enc.Entries[name] = enc.Data[s.start:s.end:s.end]
	}
	return enc, nil
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
