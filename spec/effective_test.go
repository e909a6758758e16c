package spec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultsFor(t *testing.T) {
	tree := map[string]string{
		"defaults.yaml":           "organization_id: 112233\nproduct: ev\nvalidity_years: 2\nadditional_emails: [pki@example.com]\n",
		"team/defaults.yml":       "validity_days: 100\ndisable_ct: true\n",
		"team/sub/defaults.yaml":  "product: ov\n",
		"other/defaults.yaml":     "auto_reissue: true\n",
		"broken/defaults.yaml":    "product: [ov\n",
		"twice/defaults.yaml":     "product: grid\n",
		"twice/defaults.yml":      "product: private\n",
		"bad-key/defaults.yaml":   "name: x\ndisable_ct: true\n",
		".hidden/defaults.yaml":   "product: grid\n",
		"team/sub/deep/.keep.txt": "",
	}
	tests := []struct {
		name   string
		folder string
		want   map[string]any
		errs   []string
	}{
		{name: "top", folder: ".", want: map[string]any{"organization_id": 112233, "product": "ev", "validity_years": 2, "additional_emails": []string{"pki@example.com"}}},
		{name: "nearer wins, validity is one setting", folder: "team", want: map[string]any{"organization_id": 112233, "product": "ev", "validity_days": 100, "disable_ct": true, "additional_emails": []string{"pki@example.com"}}},
		{name: "three levels", folder: "team/sub/deep", want: map[string]any{"organization_id": 112233, "product": "ov", "validity_days": 100, "disable_ct": true, "additional_emails": []string{"pki@example.com"}}},
		{name: "folder that does not exist yet", folder: "other/new/folder", want: map[string]any{"organization_id": 112233, "product": "ev", "validity_years": 2, "auto_reissue": true, "additional_emails": []string{"pki@example.com"}}},
		{name: "broken defaults", folder: "broken", want: map[string]any{"organization_id": 112233, "product": "ev", "validity_years": 2, "additional_emails": []string{"pki@example.com"}},
			errs: []string{"broken/defaults.yaml:1:1: invalid YAML: did not find expected ',' or ']'"}},
		{name: "two defaults files", folder: "twice", want: map[string]any{"organization_id": 112233, "product": "grid", "validity_years": 2, "additional_emails": []string{"pki@example.com"}},
			errs: []string{"twice/defaults.yml:1:1: a second defaults file in this folder (twice/defaults.yaml is the first); merge them into one"}},
		{name: "key not allowed", folder: "bad-key", want: map[string]any{"organization_id": 112233, "product": "ev", "validity_years": 2, "disable_ct": true, "additional_emails": []string{"pki@example.com"}},
			errs: []string{"bad-key/defaults.yaml:1:1: name: cannot be set in defaults.yaml; set it in each spec"}},
	}
	dir := writeTree(t, tree)
	res, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	loadErrs := map[string]bool{}
	for _, e := range res.Errors {
		loadErrs[e.Error()] = true
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, folder := range []string{tt.folder, filepath.Join(dir, tt.folder)} {
				got, errs, err := DefaultsFor(dir, folder)
				if err != nil {
					t.Fatalf("%s: %v", folder, err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s: values (-want +got):\n%s", folder, diff)
				}
				if diff := cmp.Diff(tt.errs, errorStrings(errs)); diff != "" {
					t.Errorf("%s: errors (-want +got):\n%s", folder, diff)
				}
				for _, e := range errs {
					if !loadErrs[e.Error()] {
						t.Errorf("%s: Load does not report %q", folder, e)
					}
				}
			}
		})
	}
}

func TestDefaultsFor_refused(t *testing.T) {
	dir := writeTree(t, map[string]string{"defaults.yaml": "product: ev\n"})
	outside := t.TempDir()
	tests := []struct {
		name   string
		dir    string
		folder string
		want   string
	}{
		{name: "outside, relative", dir: dir, folder: "../elsewhere", want: "folder ../elsewhere is outside the spec directory " + dir},
		{name: "outside, absolute", dir: dir, folder: outside, want: "folder " + outside + " is outside the spec directory " + dir},
		{name: "hidden", dir: dir, folder: "a/.adopted", want: `folder a/.adopted: ".adopted" is hidden or an editor leftover, so certform does not read specs there`},
		{name: "no dir", dir: filepath.Join(dir, "nope"), folder: ".", want: "spec directory " + filepath.Join(dir, "nope") + ": no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DefaultsFor(tt.dir, tt.folder)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestDefaultsFor_symlinkedFolder: a folder reached through a symlink gets
// the defaults of the folder it points at, as Load reads it there.
func TestDefaultsFor_symlinkedFolder(t *testing.T) {
	dir := writeTree(t, map[string]string{"real/defaults.yaml": "product: grid\n"})
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	got, errs, err := DefaultsFor(dir, "link/new")
	if err != nil || len(errs) != 0 {
		t.Fatalf("%v %v", err, errs)
	}
	if diff := cmp.Diff(map[string]any{"product": "grid"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestDefaultsFor_matchesLoad: a spec that writes none of the keys the
// defaults give loads with exactly the values DefaultsFor returns.
func TestDefaultsFor_matchesLoad(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"defaults.yaml":      "organization_id: 7\nvalidity_days: 300\nauto_reissue: true\n",
		"a/b/defaults.yaml":  "product: private\nvalidity_years: 3\ndisable_ct: true\n",
		"a/b/c/adopted.yaml": "name: adopted\ncommon_name: adopted.example.com\norder_id: 100001\n",
	})
	res, err := Load(dir)
	if err != nil || len(res.Errors) != 0 || len(res.Orders) != 1 {
		t.Fatalf("%v %v", err, errorStrings(res.Errors))
	}
	o := res.Orders[0]
	got, errs, err := DefaultsFor(dir, "a/b/c")
	if err != nil || len(errs) != 0 {
		t.Fatalf("%v %v", err, errs)
	}
	want := map[string]any{"organization_id": o.OrganizationID, "product": o.Product, "validity_years": o.ValidityYears,
		"auto_reissue": o.AutoReissue, "disable_ct": o.DisableCT}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-load +DefaultsFor):\n%s", diff)
	}
	if o.ValidityDays != 0 {
		t.Errorf("validity_days %d: the nearer validity_years replaces it", o.ValidityDays)
	}
}

func TestCheckDNSName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"www.example.com", ""},
		{"*.example.com", ""},
		{"Www.example.com", `"Www.example.com" is not a DNS name: write it in lower case, "www.example.com"`},
		{"localhost", `"localhost" is not a DNS name: it needs at least two labels, such as example.com`},
		{"a_b.example.com", `"a_b.example.com" is not a DNS name: "_" is not allowed (use a-z, 0-9 and '-')`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDNSName(tt.name)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
