package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
)

// decodeStream decodes a valid state of this version from r, entry by
// entry, and reads r to its end; ok is false for any other content, which
// the caller then decodes the careful way (decode), with the same result
// or error it always gave.
//
// It gives what decodeValid gives for the same bytes, holding far less: a
// decoder that reads the file as one value keeps all of its bytes while it
// builds every entry (issue 27: 6.8 MB of file and a buffer of up to twice
// that for 10,000 entries, while the plan loads the specs). Here the
// decoder's buffer holds one entry at a time. To stay exactly decodeValid,
// it takes only the top-level keys as this package writes them; any other
// spelling (encoding/json matches keys without regard to case) goes the
// careful way. Its entries share their repeated strings (File.intern).
func decodeStream(r io.Reader) (f *File, ok bool) {
	// Read in large pieces: the decoder asks for a few hundred bytes at a
	// time as it moves along.
	r = bufio.NewReaderSize(r, 64<<10)
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var v File
	if !delim(dec, '{') {
		return nil, false
	}
	for dec.More() {
		key, isKey := token[string](dec)
		if !isKey || !decodeTopField(dec, &v, key) {
			return nil, false
		}
	}
	if !delim(dec, '}') || v.Version != Version || !onlySpace(io.MultiReader(dec.Buffered(), r)) {
		return nil, false
	}
	if v.Entries == nil {
		v.Entries = map[string]*Entry{}
	}
	return &v, true
}

// onlySpace reports whether r holds nothing but JSON white space up to its
// end; false when it cannot be read.
func onlySpace(r io.Reader) bool {
	var buf [512]byte
	for {
		n, err := r.Read(buf[:])
		if len(bytes.TrimLeft(buf[:n], " \t\r\n")) > 0 {
			return false
		}
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// decodeTopField decodes the value of the top-level key into v; false
// when the key is not one this package writes or the value does not
// decode.
func decodeTopField(dec *json.Decoder, v *File, key string) bool {
	switch key {
	case "version":
		return dec.Decode(&v.Version) == nil
	case "api_url":
		return dec.Decode(&v.APIURL) == nil
	case "revocations":
		return dec.Decode(&v.Revocations) == nil
	case "purchases":
		return dec.Decode(&v.Purchases) == nil
	case "observed_at":
		return dec.Decode(&v.ObservedAt) == nil
	case "moved":
		return dec.Decode(&v.Moved) == nil
	case "entries":
		return decodeEntries(dec, v)
	}
	return false
}

// decodeEntries decodes the entries object one entry at a time into
// v.Entries, as decoding the whole value would: null makes the map nil, a
// name given twice keeps its last entry; false for an empty (null) entry
// or one that does not decode.
func decodeEntries(dec *json.Decoder, v *File) bool {
	t, err := dec.Token()
	if err != nil {
		return false
	}
	if t == nil {
		v.Entries = nil
		return true
	}
	if t != json.Delim('{') {
		return false
	}
	if v.Entries == nil {
		v.Entries = map[string]*Entry{}
	}
	in := interner{}
	for dec.More() {
		name, ok := token[string](dec)
		if !ok {
			return false
		}
		var e *Entry
		if err := dec.Decode(&e); err != nil || e == nil {
			return false
		}
		// Interned as decoded, so that a collection meanwhile frees
		// the copies (see File.intern).
		e.internFields(in)
		v.Entries[name] = e
	}
	return delim(dec, '}')
}

// delim reads the next token and reports whether it is d.
func delim(dec *json.Decoder, d json.Delim) bool {
	t, ok := token[json.Delim](dec)
	return ok && t == d
}

// token reads the next token and returns it as a T; false when it cannot
// be read or is not one.
func token[T any](dec *json.Decoder) (T, bool) {
	t, err := dec.Token()
	v, ok := t.(T)
	return v, ok && err == nil
}

// checkedKey is how Encode writes an entry's Checked field, up to its
// value.
var checkedKey = []byte(`"checked":"`)

// ReadChecked returns the fingerprints the state file at path records as
// checked (Entry.Checked), found without decoding the file: every string
// written as a "checked" key's value, as Encode writes it. It is a hint,
// for a caller that loads the specs before it reads the state (issue 27:
// a plan that holds the decoded state while it decodes the specs needs
// half again the memory): once the state is read, whatever the hint gave
// that the state does not record must be dropped and its specs checked.
// In a valid state file the hint gives nothing else, since the key cannot
// occur inside a string; it may miss what the file spells otherwise (a
// space, an escape), which only costs a check. Nil when the file cannot be
// read: the read of the state says why.
func ReadChecked(path string) map[string]bool {
	real, err := RealPath(path)
	if err != nil {
		return nil
	}
	data, err := os.ReadFile(real)
	if err != nil {
		return nil
	}
	set := map[string]bool{}
	for {
		i := bytes.Index(data, checkedKey)
		if i < 0 {
			return set
		}
		data = data[i+len(checkedKey):]
		j := bytes.IndexAny(data, `"\`)
		if j < 0 {
			return set
		}
		if data[j] == '"' && j > 0 {
			set[string(data[:j])] = true
		}
		data = data[j:]
	}
}
