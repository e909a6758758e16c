package state

import (
	"path/filepath"
	"testing"
)

// TestStore_Frozen: Frozen hands out one copy (and Version one value)
// while the state stays the same, and a new one after a change; a copy
// handed out keeps what it showed.
func TestStore_Frozen(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update("a", func(e *Entry) bool { e.OrderID = 1; return true }); err != nil {
		t.Fatal(err)
	}
	first, v := s.Frozen(), s.Version()
	if again := s.Frozen(); again != first || s.Version() != v {
		t.Fatal("Frozen copied an unchanged state again")
	}
	if err := s.Update("a", func(e *Entry) bool { e.OrderID = 2; return true }); err != nil {
		t.Fatal(err)
	}
	after := s.Frozen()
	if s.Version() == v {
		t.Error("Version did not change with the state")
	}
	if after == first {
		t.Fatal("Frozen returned the old copy after a change")
	}
	if got := first.Entries["a"].OrderID; got != 1 {
		t.Errorf("the old copy changed: order id %d, want 1", got)
	}
	if got := after.Entries["a"].OrderID; got != 2 {
		t.Errorf("the new copy: order id %d, want 2", got)
	}
	if err := s.Mutate(func(f *File) { f.Entries["a"].OrderID = 3 }); err != nil {
		t.Fatal(err)
	}
	if got := s.Frozen().Entries["a"].OrderID; got != 3 {
		t.Errorf("after Mutate: order id %d, want 3", got)
	}
}
