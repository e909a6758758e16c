package reconcile

import (
	"strings"
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

// TestPlan_sameNamesNewOrders: two new specs with exactly the same names
// and different CSRs are both planned (apply orders the first to reach
// CertCentral and blocks the other: TestApply_sameNamesOneRun), and each
// that does not set allow_existing_names gets a warning saying so; one
// that sets it gets none, and a spec with other names none either.
func TestPlan_sameNamesNewOrders(t *testing.T) {
	shop := func(name string, mods ...func(*spec.Order)) *spec.Order {
		return mkOrder(name, append([]func(*spec.Order){func(o *spec.Order) {
			o.CommonName, o.DNSNames = "shop.example.com", []string{"www.shop.example.com"}
		}}, mods...)...)
	}
	a, b := shop("shop-a"), shop("shop-b")
	c := shop("shop-c", func(o *spec.Order) { o.AllowExistingNames = true })
	p := plan(planInput{Desired: []*spec.Order{c, b, a, mkOrder("other")}, Known: known(nil), MaxPurchases: -1})
	if len(p.Actions) != 4 || len(p.Blocked) != 0 {
		t.Fatalf("actions %+v, blocked %+v: want all four planned", p.Actions, p.Blocked)
	}
	const hint = "keep one of these specs, or set allow_existing_names: true in this one for a second, separate order"
	want := []Note{
		{Kind: NoteWarning, Name: "shop-a", Hint: hint, Message: "shop-b, shop-c, also ordered in this plan, have exactly these names (shop.example.com, www.shop.example.com); apply orders only the first of them to reach CertCentral, and this one may be blocked (exists)"},
		{Kind: NoteWarning, Name: "shop-b", Hint: hint, Message: "shop-a, shop-c, also ordered in this plan, have exactly these names (shop.example.com, www.shop.example.com); apply orders only the first of them to reach CertCentral, and this one may be blocked (exists)"},
	}
	if diff := cmp.Diff(want, p.Notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
	// Specs the purchase budget holds back (all of a plan's purchases
	// when they do not all fit) are not "also ordered".
	p = plan(planInput{Desired: []*spec.Order{a, b}, Known: known(nil), MaxPurchases: 1})
	if len(p.Actions) != 0 || len(p.Blocked) != 2 || p.Blocked[0].BlockedBy != BlockedMaxPurchases {
		t.Fatalf("budget 1: actions %+v, blocked %+v", p.Actions, p.Blocked)
	}
	for _, n := range p.Notes {
		if strings.Contains(n.Message, "also ordered in this plan") {
			t.Errorf("budget 1: note %+v", n)
		}
	}
	// Alone, a spec that allows existing names is no warning for anyone.
	p = plan(planInput{Desired: []*spec.Order{c, mkOrder("other")}, Known: known(nil), MaxPurchases: -1})
	if len(p.Notes) != 0 {
		t.Errorf("notes %+v, want none", p.Notes)
	}
}
