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

// fixed returns m with its keys, and the values of the fields many orders
// share (product, validity, organization, signature hash, server platform,
// key type), the interner's copies. A new map: storing into the decoded
// one makes it grow.
func (in interner) fixed(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		k = in.of(k)
		switch k {
		case "product", "validity", "organization_id", "signature_hash", "server_platform_id", "key_type":
			v = in.of(v)
		}
		c[k] = v
	}
	return c
}

// intern makes the strings that repeat across a decoded state's entries
// share one copy each (issue 27: a plan holds the whole state while it
// loads the specs): the fixed fields' names and shared values, Checked
// when it equals Fingerprint (as it does for most entries), statuses, spec
// files, DCV methods and key types. It changes no value.
func (f *File) intern() {
	in := interner{}
	for _, e := range f.Entries {
		e.internFields(in)
	}
}

// internFields interns one entry's repeated strings (see File.intern).
func (e *Entry) internFields(in interner) {
	e.Fixed = in.fixed(e.Fixed)
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
