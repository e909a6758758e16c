package reconcile

import (
	"testing"

	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
	"github.com/google/go-cmp/cmp"
)

// TestSpecsByName checks that specs sorted by name (walked in step) and
// specs in any order (a map) give the same specs and the same plan names.
func TestSpecsByName(t *testing.T) {
	a, b, c := mkOrder("a"), mkOrder("b"), mkOrder("c")
	f := known(map[string]*state.Entry{"b": entryFor(b, 1), "d": entryFor(mkOrder("d"), 2)})
	for _, tc := range []struct {
		name   string
		specs  []*spec.Order
		sorted bool
	}{
		{"sorted", []*spec.Order{a, b, c}, true},
		{"unsorted", []*spec.Order{c, a, b}, false},
		{"repeated name", []*spec.Order{a, a, b, c}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := specsByNameOf(tc.specs)
			if got := s.byName == nil; got != tc.sorted {
				t.Fatalf("walked in step: %v, want %v", got, tc.sorted)
			}
			names := s.withEntryNames(f, f.Names())
			if want := []string{"a", "b", "c", "d"}; !cmp.Equal(names, want) {
				t.Fatalf("names %v, want %v", names, want)
			}
			want := map[string]*spec.Order{"a": a, "b": b, "c": c, "d": nil}
			for _, n := range names {
				if got := s.get(n); got != want[n] {
					t.Errorf("get(%q) = %v, want %v", n, got, want[n])
				}
			}
		})
	}
	// Every spec has an entry: the entries' names are the plan's names.
	s := specsByNameOf([]*spec.Order{b})
	if names := s.withEntryNames(f, f.Names()); !cmp.Equal(names, []string{"b", "d"}) {
		t.Fatalf("names %v, want [b d]", names)
	}
}

// TestPlan_duplicateOfUnorderedEntry checks that a spec whose entry has
// neither an order nor an intent is still searched for duplicates when
// every spec has an entry (the idle cycle's skip of the search must not
// hide it).
func TestPlan_duplicateOfUnorderedEntry(t *testing.T) {
	shop := mkOrder("shop")
	copyOf := mkOrder("copy", func(o *spec.Order) { *o = *shop; o.Name, o.File = "copy", "copy.yaml" })
	f := known(map[string]*state.Entry{
		"shop": entryFor(shop, 7),
		"copy": entryFor(copyOf, 0),
	})
	p := plan(planInput{Desired: []*spec.Order{copyOf, shop}, Known: f, MaxRevocations: -1, MaxPurchases: -1})
	if len(p.Blocked) != 1 || p.Blocked[0].Name != "copy" || p.Blocked[0].BlockedBy != BlockedDuplicate {
		t.Fatalf("blocked %+v, want copy blocked as a duplicate", p.Blocked)
	}
}
