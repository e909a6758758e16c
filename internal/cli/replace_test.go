package cli

import (
	"fmt"
	"testing"

	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec"
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
