package state_test

import (
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
