package reconcile

import (
	"slices"

	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// specsByName finds a plan's specs by name. Specs sorted by name, each name
// once (as spec.Load returns them), are found by walking them in step with
// the plan's sorted names: an idle cycle over 100,000 specs builds no map
// of them and makes no look-up in one (look-ups in maps that large miss
// the processor's caches). Other specs go through a map.
type specsByName struct {
	sorted []*spec.Order // the specs, when sorted by name, each name once
	next   int           // where get looks first in sorted
	byName map[string]*spec.Order
}

// specsByNameOf indexes desired.
func specsByNameOf(desired []*spec.Order) *specsByName {
	sorted := true
	for i := 1; sorted && i < len(desired); i++ {
		sorted = desired[i-1].Name < desired[i].Name
	}
	if sorted {
		return &specsByName{sorted: desired}
	}
	return &specsByName{byName: specsMap(desired)}
}

// get returns the spec named name, or nil. With sorted specs, the names
// asked must not decrease from one call to the next.
func (s *specsByName) get(name string) *spec.Order {
	if s.byName != nil {
		return s.byName[name]
	}
	for s.next < len(s.sorted) && s.sorted[s.next].Name < name {
		s.next++
	}
	if s.next < len(s.sorted) && s.sorted[s.next].Name == name {
		return s.sorted[s.next]
	}
	return nil
}

// withEntryNames returns the names of the specs and of the state's
// entries (entryNames, known's names sorted), sorted, each once:
// entryNames itself when every spec has an entry.
func (s *specsByName) withEntryNames(known *state.File, entryNames []string) []string {
	var extra []string
	if s.byName != nil {
		for n := range s.byName {
			if _, ok := known.Entries[n]; !ok {
				extra = append(extra, n)
			}
		}
	} else {
		i := 0
		for _, o := range s.sorted {
			for i < len(entryNames) && entryNames[i] < o.Name {
				i++
			}
			if i == len(entryNames) || entryNames[i] != o.Name {
				extra = append(extra, o.Name)
			}
		}
	}
	if len(extra) == 0 {
		return entryNames
	}
	names := append(slices.Clone(entryNames), extra...)
	slices.Sort(names)
	return names
}
