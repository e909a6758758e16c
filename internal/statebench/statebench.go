// Package statebench holds the state benchmarks' shared body, so that the
// state file and PostgreSQL are measured by the same work.
package statebench

import (
	"fmt"
	"testing"

	"github.com/certform/certform/state"
)

// Update1000 fills s with 1,000 entries, then times one Update per op,
// each changing one entry's status: the write every CertCentral call's
// intent or result makes. It reports writes/s.
func Update1000(b *testing.B, s *state.Store) { Update(b, s, 1000) }

// Update100000 is Update1000 at 100,000 entries: the cost of a write
// that changes one entry in a large state (issue 27).
func Update100000(b *testing.B, s *state.Store) { Update(b, s, 100000) }

// Update fills s with n entries, then times one Update per op, each
// changing one entry's status. It reports writes/s.
func Update(b *testing.B, s *state.Store, n int) {
	b.Helper()
	err := s.Batch(func(entries map[string]*state.Entry) {
		for i := range n {
			entries[fmt.Sprintf("spec%06d", i)] = &state.Entry{OrderID: 100000 + i, AlternativeOrderID: fmt.Sprintf("cf-spec%06d-0123456789ab", i),
				Fingerprint: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Status: "issued"}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("spec%06d", i%n)
		status := []string{"issued", "pending"}[i%2]
		if err := s.Update(name, func(e *state.Entry) bool { e.Status = status; return true }); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}
