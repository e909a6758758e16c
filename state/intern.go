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

// intern makes the strings that repeat across a decoded state's entries
// share one copy each (issue 27: a plan holds the whole state): Checked
// when it equals Fingerprint (as it does for most entries), statuses, spec
// files, DCV methods and key types. It changes no value. The fixed fields'
// names are not shared: a map made again to hold shared keys leaves more
// garbage, while the state is decoded, than the copies it frees.
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
	if in := e.Intent; in != nil && in.Fingerprint == e.Fingerprint {
		in.Fingerprint = e.Fingerprint
	}
}
