package state

import (
	"bytes"
	"maps"
	"strings"
	"testing"
	"unsafe"
)

// TestIntern_sharesMapKeys: a state read from its file holds one copy of
// each fixed field's, option's and reissue undo's key, and of each short
// value, whichever decoder read it, and every value is what it was.
func TestIntern_sharesMapKeys(t *testing.T) {
	f := &File{Version: Version, Entries: map[string]*Entry{}}
	for _, n := range []string{"a", "b", "c"} {
		f.Entries[n] = &Entry{OrderID: 1, Fixed: map[string]string{"common_name": n + ".example.com", "csr": strings.Repeat(n, 64),
			"organization_id": "1000", "product": "ov", "server_platform_id": "", "signature_hash": "sha256", "validity": "1 years", "dns_names": ""},
			Options: map[string]string{"auto_renew": "false", "comments": strings.Repeat("long ", 5) + n}, ReissuedUndo: map[string]string{"csr": "ab"}}
	}
	enc, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	stream, ok := decodeStream(bytes.NewReader(enc.Data))
	if !ok {
		t.Fatal("decodeStream refused the state")
	}
	careful, err := decode("state.json", enc.Data)
	if err != nil {
		t.Fatal(err)
	}
	careful.intern()
	for name, got := range map[string]*File{"decodeStream": stream, "decode": careful} {
		a, b := got.Entries["a"], got.Entries["b"]
		for _, m := range []func(*Entry) map[string]string{
			func(e *Entry) map[string]string { return e.Fixed },
			func(e *Entry) map[string]string { return e.Options },
			func(e *Entry) map[string]string { return e.ReissuedUndo },
		} {
			ka, kb := keyData(m(a)), keyData(m(b))
			for k, p := range ka {
				if kb[k] != p {
					t.Errorf("%s: key %q: a copy per entry", name, k)
				}
			}
		}
		if !same(a.Fixed["organization_id"], b.Fixed["organization_id"]) || !same(a.Options["auto_renew"], b.Options["auto_renew"]) {
			t.Errorf("%s: short values not shared", name)
		}
		for n, e := range got.Entries {
			want := f.Entries[n]
			if !maps.Equal(e.Fixed, want.Fixed) || !maps.Equal(e.Options, want.Options) || !maps.Equal(e.ReissuedUndo, want.ReissuedUndo) {
				t.Errorf("%s: entry %s: maps changed: %v %v %v", name, n, e.Fixed, e.Options, e.ReissuedUndo)
			}
		}
	}
}

// keyData maps each of m's keys to where its bytes are.
func keyData(m map[string]string) map[string]*byte {
	out := map[string]*byte{}
	for k := range m {
		out[k] = unsafe.StringData(k)
	}
	return out
}

// same reports whether a and b are the same copy of their bytes.
func same(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

// TestIntern_shareMapInPlace: sharing the keys of a full map of 8 (the
// fixed fields) allocates nothing: assigning to a key of a full small
// map would make it grow.
func TestIntern_shareMapInPlace(t *testing.T) {
	keys := []string{"common_name", "csr", "dns_names", "organization_id", "product", "server_platform_id", "signature_hash", "validity"}
	var ms []map[string]string
	for range 12 {
		m := map[string]string{}
		for _, k := range keys {
			m[strings.Clone(k)] = strings.Repeat("v", 40)
		}
		ms = append(ms, m)
	}
	in := interner{}
	i := 0
	allocs := testing.AllocsPerRun(10, func() {
		in.shareMap(ms[i])
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations a map, want 0", allocs)
	}
	for _, m := range ms[:i] {
		for k := range m {
			if !same(k, in[k]) {
				t.Errorf("%s: not shared", k)
			}
		}
	}
}
