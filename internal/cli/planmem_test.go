package cli

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"unsafe"

	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// TestCheckReplace: --replace naming a valid spec passes, one naming none
// is refused, and without --replace the check builds nothing (issue 27:
// a plan checked it at its memory peak with a set of every spec's name).
func TestCheckReplace(t *testing.T) {
	c := &reconcile.Cycle{Specs: &spec.Result{}}
	for i := range 1000 {
		c.Specs.Orders = append(c.Specs.Orders, &spec.Order{Name: fmt.Sprintf("s%d", i)})
	}
	f := &planFlags{}
	if allocs := testing.AllocsPerRun(10, func() {
		if err := f.checkReplace(c); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("without --replace: %v allocations, want 0", allocs)
	}
	f.replace = namesFlag{"s7"}
	if err := f.checkReplace(c); err != nil {
		t.Errorf("--replace s7: %v", err)
	}
	f.replace = namesFlag{"s7", "nosuch"}
	if err := f.checkReplace(c); err == nil {
		t.Error("--replace nosuch: no error")
	}
}

// TestShareHint: once the state is read, the hint's keys are the state's
// copies of the fingerprints, and its values are what they were.
func TestShareHint(t *testing.T) {
	f := &state.File{Entries: map[string]*state.Entry{}}
	hint := map[string]bool{}
	for i := range 100 {
		fp := fmt.Sprintf("sha256:%064d", i)
		f.Entries[fmt.Sprint(i)] = &state.Entry{Checked: strings.Clone(fp)}
		hint[strings.Clone(fp)] = i%2 == 0
	}
	hint["sha256:other"] = true
	f.Entries["none"] = &state.Entry{}
	want := maps.Clone(hint)
	shareHint(hint, f)
	if !maps.Equal(hint, want) {
		t.Fatalf("the hint changed: %v", hint)
	}
	own := map[string]*byte{}
	for _, e := range f.Entries {
		own[e.Checked] = unsafe.StringData(e.Checked)
	}
	for k := range hint {
		if p, ok := own[k]; ok && unsafe.StringData(k) != p {
			t.Errorf("%s: the hint keeps its own copy", k)
		}
	}
}
