package daemon

import (
	"testing"

	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// TestDaemon_statusRows: /status's rows are built again only when the
// state, the specs or the last errors call for it; a cycle without
// errors over the same state and specs reuses them.
func TestDaemon_statusRows(t *testing.T) {
	d, _, _, _ := newTestDaemon(t, Config{})
	store := reconcilerOf(d).Store
	setOrder := func(id int) {
		t.Helper()
		if err := store.Update("a", func(e *state.Entry) bool { e.OrderID, e.Status = id, "issued"; return true }); err != nil {
			t.Fatal(err)
		}
	}
	setOrder(1)
	specs := []*spec.Order{{Name: "a"}}
	first := d.statusRows(specs, nil)
	if len(first) != 1 || first[0].OrderID != 1 {
		t.Fatalf("rows %+v", first)
	}
	if again := d.statusRows(specs, nil); &again[0] != &first[0] {
		t.Error("the rows of an unchanged state and specs were built again")
	}
	setOrder(2)
	changed := d.statusRows(specs, nil)
	if &changed[0] == &first[0] || changed[0].OrderID != 2 {
		t.Errorf("after a state change: %+v, want order 2 in new rows", changed)
	}
	other := []*spec.Order{{Name: "a"}}
	if rows := d.statusRows(other, nil); &rows[0] == &changed[0] {
		t.Error("the rows of other specs were reused")
	}
	if rows := d.statusRows(other, map[string]string{"a": "boom"}); rows[0].LastError != "boom" {
		t.Errorf("with a last error: %+v", rows)
	}
	if rows := d.statusRows(other, nil); rows[0].LastError != "" {
		t.Errorf("the last error stayed: %+v", rows)
	}
}
