package state

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// memBackend is a Backend in memory that records every write, and fails
// the writes while fail is set.
type memBackend struct {
	writes [][2]*Encoded // prev, next
	fail   error
}

func (b *memBackend) Name() string { return "memory state" }
func (b *memBackend) Load() (*File, error) {
	return &File{Version: Version, Entries: map[string]*Entry{}}, nil
}
func (b *memBackend) Write(prev, next *Encoded) error {
	if b.fail != nil {
		return b.fail
	}
	b.writes = append(b.writes, [2]*Encoded{prev, next})
	return nil
}
func (b *memBackend) Check() error   { return nil }
func (b *memBackend) Release() error { return nil }

// partsBackend is a memBackend that is a PartsWriter.
type partsBackend struct{ memBackend }

func (b *partsBackend) WritesParts() bool { return true }

func (b *memBackend) last(t *testing.T) (prev, next *Encoded) {
	t.Helper()
	if len(b.writes) == 0 {
		t.Fatal("no write")
	}
	w := b.writes[len(b.writes)-1]
	return w[0], w[1]
}

// sameBytes reports whether a and b are the very same bytes (one backing
// array), not merely equal.
func sameBytes(a, b []byte) bool {
	return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0]
}

// An Update encodes the entry it changed, and only that one: every other
// entry keeps the bytes of the write before (issue 27: a write at 100,000
// entries costs what it changes, on PostgreSQL in particular), and the
// file's bytes are the same as a whole encoding's.
func TestStore_updateEncodesTheChangedEntryOnly(t *testing.T) {
	b := &memBackend{}
	s, err := OpenBackend(b)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Batch(func(entries map[string]*Entry) {
		for i := range 50 {
			entries[fmt.Sprintf("spec%02d", i)] = &Entry{OrderID: 1000 + i, Status: "issued"}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update("spec07", func(e *Entry) bool { e.Status = "pending"; return true }); err != nil {
		t.Fatal(err)
	}
	prev, next := b.last(t)
	for name, data := range next.Entries {
		if name == "spec07" {
			if sameBytes(data, prev.Entries[name]) || string(data) == string(prev.Entries[name]) {
				t.Errorf("spec07 was not encoded again: %s", data)
			}
			continue
		}
		if !sameBytes(data, prev.Entries[name]) {
			t.Errorf("%s was encoded again although unchanged", name)
		}
	}
	want, err := Encode(s.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if string(next.Data) != string(want.Data) {
		t.Errorf("Data differs from a whole encoding:\n%s", cmp.Diff(string(want.Data), string(next.Data)))
	}
}

// Whatever the sequence of changes (created, changed, deleted entries,
// file-level fields, failed writes undone), each write's Data and parts
// are those a whole encoding of the state gives.
func TestStore_encodeChangedMatchesEncode(t *testing.T) {
	m := &memBackend{}
	t.Run("file", func(t *testing.T) { testEncodeChanged(t, m, m) })
	p := &partsBackend{}
	t.Run("parts", func(t *testing.T) { testEncodeChanged(t, p, &p.memBackend) })
}

func testEncodeChanged(t *testing.T, backend Backend, b *memBackend) {
	_, parts := backend.(PartsWriter)
	s, err := OpenBackend(backend)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	steps := []struct {
		name string
		do   func() error
	}{
		{"create b", func() error { return s.Update("b", func(e *Entry) bool { e.OrderID = 2; return true }) }},
		{"create a", func() error { return s.Update("a", func(e *Entry) bool { e.OrderID = 1; return true }) }},
		{"create c", func() error { return s.Update("c", func(e *Entry) bool { e.OrderID = 3; return true }) }},
		{"change b", func() error { return s.Update("b", func(e *Entry) bool { e.Status = "issued"; return true }) }},
		{"delete a", func() error { return s.Update("a", func(e *Entry) bool { return false }) }},
		{"delete a missing", func() error { return s.Update("zz", func(e *Entry) bool { return false }) }},
		{"mutate head", func() error {
			return s.Mutate(func(f *File) {
				f.APIURL, f.ObservedAt = "https://example.test", at
				f.Revocations = append(f.Revocations, Revocation{Name: "c", OrderID: 3, Time: at})
				f.Purchases = append(f.Purchases, Purchase{Name: "c", AlternativeOrderID: "cf-c", Time: at})
			})
		}},
		{"change c after head", func() error { return s.Update("c", func(e *Entry) bool { e.Status = "pending"; return true }) }},
		{"batch", func() error {
			return s.Batch(func(entries map[string]*Entry) { entries["d"] = &Entry{OrderID: 4}; entries["b"].OrderID = 20 })
		}},
		{"failed write", func() error {
			b.fail = errors.New("disk full")
			err := s.Update("e", func(e *Entry) bool { e.OrderID = 5; return true })
			b.fail = nil
			if err == nil {
				return errors.New("the failed write did not fail")
			}
			return nil
		}},
		{"after the failure", func() error { return s.Update("d", func(e *Entry) bool { e.Status = "issued"; return true }) }},
		{"delete all but one", func() error {
			for _, n := range []string{"b", "c"} {
				if err := s.Update(n, func(e *Entry) bool { return false }); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		_, next := b.last(t)
		want, err := Encode(s.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		if parts && strings.HasPrefix(step.name, "change") && next.Data != nil {
			t.Errorf("%s: Data encoded for a PartsWriter", step.name)
		}
		if !parts && next.Data == nil {
			t.Errorf("%s: no Data for a Backend that writes it", step.name)
		}
		if string(next.fileData()) != string(want.Data) {
			t.Fatalf("%s: Data differs from a whole encoding:\n%s", step.name, cmp.Diff(string(want.Data), string(next.Data)))
		}
		got := map[string]string{}
		for n, d := range next.Entries {
			got[n] = string(d)
		}
		wantEntries := map[string]string{}
		for n, d := range want.Entries {
			wantEntries[n] = string(d)
		}
		if d := cmp.Diff(wantEntries, got); d != "" {
			t.Fatalf("%s: Entries differ (-want +got):\n%s", step.name, d)
		}
		if string(next.Revocations) != string(want.Revocations) || string(next.Purchases) != string(want.Purchases) || string(next.Moved) != string(want.Moved) {
			t.Fatalf("%s: the file-level parts differ", step.name)
		}
	}
	if _, ok := s.Snapshot().Entries["e"]; ok {
		t.Error("the failed write's entry was kept")
	}
}
