package pgstate

import (
	"testing"

	"github.com/certform/certform/internal/pgtest"
	"github.com/certform/certform/internal/statebench"
	"github.com/certform/certform/state"
)

// benchStore opens a new workspace on a throwaway server of the
// benchmark's own.
func benchStore(b *testing.B) *state.Store {
	b.Helper()
	srv := pgtest.Start(b)
	b.Setenv("PGPASSWORD", srv.Password)
	cfg, err := Parse(srv.CreateDatabase(b), "")
	if err != nil {
		b.Fatal(err)
	}
	s, err := state.OpenBackend(New(cfg))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkStore_update1000 is one state write per op, as each call's
// intent or result is: one entry changed in a state of 1,000, on
// PostgreSQL (compare state's BenchmarkStore_update1000, the file).
func BenchmarkStore_update1000(b *testing.B) {
	statebench.Update1000(b, benchStore(b))
}

// BenchmarkStore_update100000 is BenchmarkStore_update1000 at 100,000
// entries on PostgreSQL: the backend sends the changed row only (compare
// state's BenchmarkStore_update100000, the file).
func BenchmarkStore_update100000(b *testing.B) {
	statebench.Update100000(b, benchStore(b))
}

// BenchmarkStore_check is the proof of the lock a client makes before
// each CertCentral call on PostgreSQL (one query).
func BenchmarkStore_check(b *testing.B) {
	s := benchStore(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Check(); err != nil {
			b.Fatal(err)
		}
	}
}
