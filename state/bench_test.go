package state_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/certform/certform/internal/statebench"
	"github.com/certform/certform/state"
)

// BenchmarkStore_update1000 is one state write per op, as each call's
// intent or result is: one entry changed in a state file of 1,000
// (compare pgstate's BenchmarkStore_update1000, PostgreSQL).
func BenchmarkStore_update1000(b *testing.B) {
	s, err := state.Open(filepath.Join(b.TempDir(), "state.json"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	statebench.Update1000(b, s)
}

// BenchmarkStore_update100000 is BenchmarkStore_update1000 at 100,000
// entries: one entry changed, the whole file rewritten (issue 27; compare
// pgstate's BenchmarkStore_update100000).
func BenchmarkStore_update100000(b *testing.B) {
	s, err := state.Open(filepath.Join(b.TempDir(), "state.json"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	statebench.Update100000(b, s)
}

// BenchmarkRead10000 is state.Read of a 10,000-entry state file, as plan,
// status and state pull read it.
func BenchmarkRead10000(b *testing.B) {
	path := filepath.Join(b.TempDir(), "state.json")
	f := &state.File{Version: state.Version, Entries: map[string]*state.Entry{}}
	for i := range 10000 {
		f.Entries[fmt.Sprintf("spec%05d", i)] = &state.Entry{OrderID: 100000 + i, AlternativeOrderID: fmt.Sprintf("cf-spec%05d-0123456789ab", i),
			Fingerprint: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Status: "issued"}
	}
	if err := state.WriteFile(path, f); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := state.Read(path); err != nil {
			b.Fatal(err)
		}
	}
}
