package state

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// streamCases are state files for decodeStream: valid ones it must decode
// as decodeValid does, and others it must leave to the careful decode.
var streamCases = []struct {
	name, data string
	stream     bool // decodeStream decodes it (else: ok is false)
}{
	{"empty state", `{"version": 1, "entries": {}}`, true},
	{"entries first", `{"entries": {"a": {"order_id": 1}}, "version": 1}`, true},
	{"every top-level key", `{"version": 1, "api_url": "https://x", "revocations": [{"order_id": 3, "name": "a", "time": "2026-01-02T03:04:05Z"}],` +
		` "purchases": [{"name": "a", "alternative_order_id": "cfa1", "time": "2026-01-02T03:04:05Z"}], "observed_at": "2026-01-02T03:04:05Z",` +
		` "moved": {"to": "state file /x", "flags": "--state /x", "at": "2026-01-02T03:04:05Z"}, "entries": {"a": {"order_id": 1, "fixed": {"csr": "ab"}, "status": "issued"}}}`, true},
	{"no entries", `{"version": 1}`, true},
	{"null entries", `{"version": 1, "entries": null}`, true},
	{"entries twice", `{"version": 1, "entries": {"a": {"order_id": 1}}, "entries": {"b": {"order_id": 2}, "a": {"status": "x"}}}`, true},
	{"entries then null", `{"version": 1, "entries": {"a": {"order_id": 1}}, "entries": null}`, true},
	{"name twice", `{"version": 1, "entries": {"a": {"order_id": 1}, "a": {"status": "pending"}}}`, true},
	{"version twice", `{"version": 2, "version": 1, "entries": {}}`, true},
	{"white space after", "{\"version\": 1, \"entries\": {}}\n\t \r\n", true},
	{"entry field in another case", `{"version": 1, "entries": {"a": {"Order_ID": 1}}}`, true},
	{"top-level key in another case", `{"Version": 1, "entries": {}}`, false},
	{"unknown top-level key", `{"version": 1, "entries": {}, "x": 1}`, false},
	{"unknown entry field", `{"version": 1, "entries": {"a": {"order_idd": 1}}}`, false},
	{"null entry", `{"version": 1, "entries": {"a": null}}`, false},
	{"other version", `{"version": 2, "entries": {}}`, false},
	{"no version", `{"entries": {}}`, false},
	{"data after", `{"version": 1, "entries": {}} {}`, false},
	{"truncated", `{"version": 1, "entries": {"a": {"order_id": 1`, false},
	{"entries not an object", `{"version": 1, "entries": []}`, false},
	{"not an object", `[1]`, false},
	{"empty", ``, false},
}

// TestDecodeStream: what decodeStream decodes, decodeValid decodes the
// same; what it leaves, the careful decode handles as before.
func TestDecodeStream(t *testing.T) {
	for _, tc := range streamCases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := decodeStream(strings.NewReader(tc.data))
			if ok != tc.stream {
				t.Fatalf("ok = %v, want %v", ok, tc.stream)
			}
			if !ok {
				return
			}
			want, ok := decodeValid([]byte(tc.data))
			if !ok {
				t.Fatal("decodeValid refuses what decodeStream decodes")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("-decodeValid +decodeStream:\n%s", diff)
			}
		})
	}
}

// TestDecodeStream_written: a state as this package writes it, with many
// entries, decodes as decodeValid decodes it.
func TestDecodeStream_written(t *testing.T) {
	f := &File{Version: Version, APIURL: "https://api", Entries: map[string]*Entry{}}
	for i := range 300 {
		name := strings.Repeat("n", i%7+1) + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		f.Entries[name] = &Entry{OrderID: i, Fingerprint: "sha256:ab", Fixed: map[string]string{"product": "ov", "csr": name},
			Status: "issued", OrderedAt: time.Date(2026, 1, 2, 3, 4, 5, i, time.UTC), Names: []string{name + ".example.com"}}
	}
	enc, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := decodeStream(bytes.NewReader(enc.Data))
	want, okValid := decodeValid(enc.Data)
	if !ok || !okValid {
		t.Fatalf("ok %v, decodeValid %v", ok, okValid)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("-decodeValid +decodeStream:\n%s", diff)
	}
}

// FuzzDecodeStream: decodeStream never decodes what decodeValid refuses,
// nor anything other than what it gives.
func FuzzDecodeStream(f *testing.F) {
	for _, tc := range streamCases {
		f.Add([]byte(tc.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := decodeStream(bytes.NewReader(data))
		if !ok {
			return
		}
		want, okValid := decodeValid(data)
		if !okValid {
			t.Fatalf("decodeStream decodes %q, decodeValid refuses it", data)
		}
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(got)
		if !bytes.Equal(a, b) {
			t.Fatalf("%q: decodeValid %s, decodeStream %s", data, a, b)
		}
	})
}

// TestReadChecked: the hint gives the fingerprints the entries record as
// checked, nothing from other keys or from inside strings, and nil for a
// file that cannot be read.
func TestReadChecked(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	f := &File{Version: Version, Entries: map[string]*Entry{
		"a": {Checked: "sha256:aa", Fingerprint: "sha256:aa"},
		"b": {Checked: "sha256:bb", Status: `x","checked":"sha256:fake`, File: `\"checked\":\"sha256:fake2`},
		"c": {Fingerprint: "sha256:cc", Options: map[string]string{"check": "sha256:opt"}},
		"d": {Checked: `sha256:"quoted"`},
	}}
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	got := ReadChecked(path)
	// d's value holds an escape: missed, which only costs a check.
	want := map[string]bool{"sha256:aa": true, "sha256:bb": true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
	if got := ReadChecked(filepath.Join(dir, "none.json")); got != nil {
		t.Errorf("missing file: %v, want nil", got)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if got := ReadChecked(link); !cmp.Equal(want, got) {
		t.Errorf("through a symlink: %v", got)
	}
}
