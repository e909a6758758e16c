package spec

import (
	"maps"
	"slices"
	"testing"
)

// TestFieldTable_fixedFields: FixedFields records exactly the fixed and
// reissuable keys of the table (under their fixedAs names), and only they
// have a fixedAs; OrderingOptions exactly the ordering-only keys.
func TestFieldTable_fixedFields(t *testing.T) {
	sp := -1
	o := &Order{CommonName: "a.example.com", KeyType: "ecdsa-p256", ServerPlatformID: &sp}
	want := map[string]bool{}
	for _, f := range fieldTable {
		fixed := f.class == Fixed || f.class == Reissuable
		if fixed != (f.fixedAs != "") {
			t.Errorf("%s: class %s with fixedAs %q", f.key, f.class, f.fixedAs)
		}
		if (f.class == OrderingOnly) != (f.option != nil) {
			t.Errorf("%s: class %s, option set: %t", f.key, f.class, f.option != nil)
		}
		if fixed {
			want[f.fixedAs] = true
		}
	}
	if got := slices.Sorted(maps.Keys(o.FixedFields())); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Errorf("FixedFields keys %v, table's fixed keys %v", got, slices.Sorted(maps.Keys(want)))
	}
	opts := slices.Sorted(maps.Keys(o.OrderingOptions()))
	wantOpts := []string{"additional_emails", "auto_renew", "comments", "container_id", "dcv_method", "disable_renewal_notifications", "skip_approval"}
	if !slices.Equal(opts, wantOpts) {
		t.Errorf("OrderingOptions keys %v, want %v", opts, wantOpts)
	}
}

// TestReissueChanges: a reissue changes the names, CSR, signature hash,
// server platform and key type; product, validity and organization need a
// new order.
func TestReissueChanges(t *testing.T) {
	for _, k := range []string{"common_name", "dns_names", "csr", "signature_hash", "server_platform_id", "key_type"} {
		if !ReissueChanges(k) {
			t.Errorf("ReissueChanges(%q) = false", k)
		}
	}
	for _, k := range []string{"product", "validity", "organization_id", "comments", "disable_ct", "name", "nope"} {
		if ReissueChanges(k) {
			t.Errorf("ReissueChanges(%q) = true", k)
		}
	}
	if c, ok := ClassOf("disable_ct"); !ok || c != Toggle {
		t.Errorf("ClassOf(disable_ct) = %s, %t", c, ok)
	}
}

// TestFingerprint_golden: the fingerprint's bytes do not change (the state
// records them; a change would make every spec look changed).
func TestFingerprint_golden(t *testing.T) {
	for _, tc := range []struct {
		fixed map[string]string
		want  string
	}{
		{map[string]string{"common_name": "a.example.com", "dns_names": "b.example.com,c\"d", "csr": "", "product": "ov", "validity": "1 years"},
			"sha256:2143a5c604ecef54ea284d231812c09d36c9dacc0a817cf58705e081383ac219"},
		{nil, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	} {
		if got := Fingerprint(tc.fixed); got != tc.want {
			t.Errorf("Fingerprint(%v) = %s, want %s", tc.fixed, got, tc.want)
		}
	}
}
