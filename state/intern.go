package state

// interner hands out one copy of each string it is given, so that a state
// read from its file does not hold the same text once per entry.
type interner map[string]string

// of returns the interner's copy of s, keeping s when it is the first.
func (in interner) of(s string) string {
	if s == "" {
		return ""
	}
	if c, ok := in[s]; ok {
		return c
	}
	in[s] = s
	return s
}

// shortValue is the longest value of Fixed, Options or ReissuedUndo that
// intern shares: the values that repeat across entries (organization,
// product, signature hash, validity) are short, while the long ones
// (common name, CSR digest, names) are each entry's own and would only
// grow the interner.
const shortValue = 16

// intern makes the strings that repeat across a decoded state's entries
// share one copy each (issue 27: a plan holds the whole state): Checked
// when it equals Fingerprint (as it does for most entries), statuses, spec
// files, DCV methods and key types, and the keys and short values of the
// fixed fields, options and reissue undo maps. It changes no value.
func (f *File) intern() {
	in := interner{}
	for _, e := range f.Entries {
		e.internFields(in)
	}
}

// internFields interns one entry's repeated strings (see File.intern).
func (e *Entry) internFields(in interner) {
	if e.Checked == e.Fingerprint {
		e.Checked = e.Fingerprint
	}
	e.Status, e.File, e.DCVMethod = in.of(e.Status), in.of(e.File), in.of(e.DCVMethod)
	if e.Key != nil {
		e.Key.Type = in.of(e.Key.Type)
	}
	if it := e.Intent; it != nil && it.Fingerprint == e.Fingerprint {
		it.Fingerprint = e.Fingerprint
	}
	in.shareMap(e.Fixed)
	in.shareMap(e.Options)
	in.shareMap(e.ReissuedUndo)
}

// shareMap makes m's keys, and its values of up to shortValue bytes, the
// interner's copies, in place (10,000 maps of 8 fixed fields hold 0.9 MB
// of keys). Each key is deleted and stored again: assigning to a key a
// full map of 8 holds makes the map grow, and a map made again would
// leave more garbage than the copies free.
func (in interner) shareMap(m map[string]string) {
	var buf [12][2]string
	pairs := buf[:0]
	for k, v := range m {
		pairs = append(pairs, [2]string{k, v})
	}
	for _, kv := range pairs {
		k, v := kv[0], kv[1]
		if len(v) <= shortValue {
			v = in.of(v)
		}
		delete(m, k)
		m[in.of(k)] = v
	}
}
