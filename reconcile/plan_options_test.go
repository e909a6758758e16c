package reconcile

import (
	"maps"
	"slices"
	"testing"

	"github.com/certform/certform/spec"
)

// TestOptionsChanged_agreesWithChangedKeys: the ordering-only options a
// plan notes as changed, looked up key by key (optionsChanged, and
// planCtx.optionsChanged with and without a daemon's kept options), are
// changedKeys(old, OrderingOptions()) over recorded options that are
// empty, miss keys, changed, unchanged or hold keys that are not
// ordering-only options.
func TestOptionsChanged_agreesWithChangedKeys(t *testing.T) {
	was := mkOrder("shop", func(o *spec.Order) {
		o.Comments, o.AdditionalEmails, o.ContainerID, o.SkipApproval = "first", []string{"a@example.com", "b@example.com"}, 7, true
	})
	now := mkOrder("shop", func(o *spec.Order) {
		o.Comments, o.AdditionalEmails, o.ContainerID, o.DCVMethod = "second", []string{"a@example.com"}, 7, "dns-txt-token"
	})
	recorded := was.OrderingOptions()
	some := map[string]string{"comments": recorded["comments"], "container_id": recorded["container_id"]}
	unknown := maps.Clone(recorded)
	unknown["product"], unknown["csr"], unknown["no_such_key"], unknown[""] = "ev", "x", "y", "z"
	for _, tc := range []struct {
		name string
		old  map[string]string
		d    *spec.Order
		want []string
	}{
		{"nil", nil, now, nil},
		{"empty", map[string]string{}, now, nil},
		{"missing keys", some, now, []string{"comments"}},
		{"changed", recorded, now, []string{"additional_emails", "comments", "dcv_method", "skip_approval"}},
		{"unchanged", recorded, was, nil},
		{"unknown keys", unknown, now, []string{"additional_emails", "comments", "dcv_method", "skip_approval"}},
		{"unknown keys unchanged", unknown, was, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := changedKeys(tc.old, tc.d.OrderingOptions())
			if !slices.Equal(ref, tc.want) {
				t.Fatalf("changedKeys: %q, want %q", ref, tc.want)
			}
			plain := &planCtx{in: &planInput{}}
			kept := &planCtx{in: &planInput{OrderingOptions: func(o *spec.Order) map[string]string { return o.OrderingOptions() }}}
			for what, got := range map[string][]string{
				"optionsChanged": optionsChanged(tc.old, tc.d), "a plan's": plain.optionsChanged(tc.old, tc.d),
				"a daemon's plan's": kept.optionsChanged(tc.old, tc.d),
			} {
				if !slices.Equal(got, ref) {
					t.Errorf("%s: %q, want %q (changedKeys)", what, got, ref)
				}
			}
		})
	}
}

// TestOrderingOption_everyKey: Order.OrderingOption(k) is
// OrderingOptions()[k] for every key of the spec format, and not found
// for the keys OrderingOptions leaves out.
func TestOrderingOption_everyKey(t *testing.T) {
	o := mkOrder("shop", func(o *spec.Order) {
		o.Comments, o.AdditionalEmails, o.ContainerID, o.SkipApproval, o.AutoRenew = "c", []string{"a@example.com"}, 3, true, true
	})
	all := o.OrderingOptions()
	for _, k := range append(spec.Keys(), "no_such_key", "") {
		v, ok := o.OrderingOption(k)
		if want, wantOK := all[k]; v != want || ok != wantOK {
			t.Errorf("OrderingOption(%q) = %q, %v; want %q, %v", k, v, ok, want, wantOK)
		}
	}
}
