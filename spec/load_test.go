package spec

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certform/certform/spec/spectest"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// makeCSR returns a PEM CSR for cn and sans (see spectest.CSR).
func makeCSR(t testing.TB, cn string, sans ...string) string {
	t.Helper()
	csr, err := spectest.CSR(cn, sans...)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// indent indents a block for use under "csr: |".
func indent(s string) string { return spectest.Indent(s) }

// writeTree writes files (slash paths relative to a new temp dir) and
// returns the dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return dir
}

// writeFiles writes files, slash paths relative to dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(name)), content)
	}
}

// writeFile writes content to p, making the folders on its way.
func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func errorStrings(errs []*Error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func orderNames(orders []*Order) []string {
	var out []string
	for _, o := range orders {
		out = append(out, o.Name)
	}
	return out
}

func TestLoad_rules(t *testing.T) {
	good := "csr: |\n" + indent(makeCSR(t, "a.example.com"))
	base := "name: a\ncommon_name: a.example.com\norganization_id: 1\n"
	tests := []struct {
		name  string
		files map[string]string
		want  []string // exact error messages
		valid []string // names of valid orders
	}{
		{
			name:  "valid minimal spec",
			files: map[string]string{"a.yaml": base + good},
			valid: []string{"a"},
		},
		{
			name:  "unknown key with suggestion",
			files: map[string]string{"a.yaml": base + "disable_cts: true\n" + good},
			want:  []string{"a.yaml:4:1: disable_cts: unknown key; did you mean disable_ct?"},
		},
		{
			name:  "typo in common_name",
			files: map[string]string{"a.yaml": "name: a\ncommon_nme: a.example.com\norganization_id: 1\n" + good},
			want: []string{
				"a.yaml:1:1: common_name: is required: the domain the certificate secures, such as `common_name: shop.example.com`",
				"a.yaml:2:1: common_nme: unknown key; did you mean common_name?",
			},
		},
		{
			name:  "repeated key",
			files: map[string]string{"a.yaml": base + "organization_id: 2\n" + good},
			want:  []string{"a.yaml:4:1: organization_id: repeated key (first at line 3); keep one"},
		},
		{
			name:  "bool written as yes",
			files: map[string]string{"a.yaml": base + "auto_reissue: yes\n" + good},
			want:  []string{`a.yaml:4:15: auto_reissue: must be true or false, got "yes"`},
		},
		{
			name:  "null value",
			files: map[string]string{"a.yaml": base + "dns_names:\n" + good},
			want:  []string{"a.yaml:4:11: dns_names: has no value; give a list of strings or remove the key"},
		},
		{
			name:  "list item of wrong type",
			files: map[string]string{"a.yaml": base + "dns_names: [b.example.com, 7]\n" + good},
			want:  []string{"a.yaml:4:28: dns_names[1]: must be a string, got the integer 7"},
		},
		{
			name:  "integer out of range",
			files: map[string]string{"a.yaml": base + "container_id: 99999999999\n" + good},
			want:  []string{"a.yaml:4:15: container_id: 99999999999 is out of range"},
		},
		{
			name:  "merge key",
			files: map[string]string{"a.yaml": base + "<<: {product: ev}\n" + good},
			want:  []string{"a.yaml:4:1: <<: YAML merge keys are not supported; put shared values in a defaults.yaml file"},
		},
		{
			name:  "invalid name",
			files: map[string]string{"a.yaml": strings.Replace(base, "name: a", "name: -a", 1) + good},
			want:  []string{`a.yaml:1:7: name: "-a" is not a valid name: use 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit`},
		},
		{
			name:  "name too long",
			files: map[string]string{"a.yaml": strings.Replace(base, "name: a", "name: "+strings.Repeat("a", 64), 1) + good},
			want:  []string{`a.yaml:1:7: name: "` + strings.Repeat("a", 64) + `" is not a valid name: use 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit`},
		},
		{
			name:  "dns names",
			files: map[string]string{"a.yaml": base + "dns_names: [exa mple.com, b-.example.com, ab.example.com, ab.example.com, '*.ok.example.com', 'x.*.example.com', Upper.example.com, ..example.com]\n" + good},
			want: []string{
				`a.yaml:4:13: dns_names[0]: "exa mple.com" is not a DNS name: " " is not allowed (use a-z, 0-9 and '-')`,
				`a.yaml:4:27: dns_names[1]: "b-.example.com" is not a DNS name: label "b-" starts or ends with '-'`,
				`a.yaml:4:59: dns_names[3]: "ab.example.com" is listed twice (also dns_names[2]); remove one`,
				`a.yaml:4:95: dns_names[5]: "x.*.example.com" is not a DNS name: a wildcard is allowed only as the whole first label, as in *.example.com`,
				`a.yaml:4:114: dns_names[6]: "Upper.example.com" is not a DNS name: write it in lower case, "upper.example.com"`,
				`a.yaml:4:133: dns_names[7]: "..example.com" is not a DNS name: it has an empty label`,
			},
		},
		{
			name:  "label too long",
			files: map[string]string{"a.yaml": base + "dns_names: [" + strings.Repeat("x", 64) + ".example.com]\n" + good},
			want:  []string{`a.yaml:4:13: dns_names[0]: "` + strings.Repeat("x", 64) + `.example.com" is not a DNS name: label "` + strings.Repeat("x", 64) + `" is longer than 63 characters`},
		},
		{
			name:  "validity both set in one spec",
			files: map[string]string{"a.yaml": base + "validity_years: 1\nvalidity_days: 30\n" + good},
			want:  []string{"a.yaml:5:16: validity_days: set either validity_years or validity_days, not both"},
		},
		{
			name:  "validity days out of range",
			files: map[string]string{"a.yaml": base + "validity_days: 1096\n" + good},
			want:  []string{"a.yaml:4:16: validity_days: 1096 is out of range; use 1 to 1095 days"},
		},
		{
			name:  "reissue_before_days out of range",
			files: map[string]string{"a.yaml": base + "reissue_before_days: 0\n" + good},
			want:  []string{"a.yaml:4:22: reissue_before_days: 0 is out of range; use 1 to 90 days before the certificate ends"},
		},
		{
			name:  "allow_existing_names in defaults",
			files: map[string]string{"team/defaults.yml": "product: ov\nallow_existing_names: true\n", "team/a.yaml": base + good},
			want: []string{`team/a.yaml:1:1: spec "a" not loaded: fix the errors in team/defaults.yml first`,
				"team/defaults.yml:2:1: allow_existing_names: cannot be set in defaults.yaml: it would turn off the check for live orders " +
					"with the same names for every spec below it; set it only in the spec that truly wants a second order"},
		},
		{
			name:  "allow_existing_names false in defaults",
			files: map[string]string{"defaults.yaml": "allow_existing_names: false\n", "a.yaml": base + good},
			want: []string{`a.yaml:1:1: spec "a" not loaded: fix the errors in defaults.yaml first`,
				"defaults.yaml:1:1: allow_existing_names: cannot be set in defaults.yaml: it would turn off the check for live orders " +
					"with the same names for every spec below it; set it only in the spec that truly wants a second order"},
		},
		{
			name:  "renew_before_days not shorter than validity_days",
			files: map[string]string{"a.yaml": base + "validity_days: 20\nrenew_before_days: 30\n" + good},
			want: []string{"a.yaml:5:20: renew_before_days: 30 is not shorter than the order's validity (validity_days: 20): every order would be " +
				"due for renewal as soon as it is issued, and each renewal again; use fewer days than validity_days, or a longer validity"},
		},
		{
			name:  "renew_before_days equal to validity_days",
			files: map[string]string{"a.yaml": base + "validity_days: 45\n" + good, "defaults.yaml": "renew_before_days: 45\n"},
			want: []string{"defaults.yaml:1:20: renew_before_days: 45 is not shorter than the order's validity (validity_days: 45): every order would be " +
				"due for renewal as soon as it is issued, and each renewal again; use fewer days than validity_days, or a longer validity"},
		},
		{
			name:  "validity_days not longer than the default renew_before_days",
			files: map[string]string{"a.yaml": base + "validity_days: 30\n" + good},
			want: []string{"a.yaml:4:16: validity_days: 30 days is not longer than renew_before_days (30 when not set): every order would be " +
				"due for renewal as soon as it is issued, and each renewal again; give a longer validity, or a renew_before_days below 30"},
		},
		{
			name:  "renew_before_days shorter than validity_days",
			files: map[string]string{"a.yaml": base + "validity_days: 31\nreissue_before_days: 90\n" + good},
			valid: []string{"a"},
		},
		{
			name:  "renew_before_days out of range",
			files: map[string]string{"a.yaml": base + "renew_before_days: 91\n" + good},
			want:  []string{"a.yaml:4:20: renew_before_days: 91 is out of range; use 1 to 90 days before the order ends (DigiCert renews from 90 days before)"},
		},
		{
			name:  "server platform zero",
			files: map[string]string{"a.yaml": base + "server_platform_id: 0\n" + good},
			want:  []string{"a.yaml:4:21: server_platform_id: 0 is not a server platform id; use -1 (other) or a positive id"},
		},
		{
			name:  "revoke without comments",
			files: map[string]string{"a.yaml": base + "revoke: true\n" + good},
			want:  []string{"a.yaml:4:9: revoke_comments: is required when revoke is true: say why the order is revoked; it is sent to DigiCert with the request"},
		},
		{
			name:  "missing csr",
			files: map[string]string{"a.yaml": base},
			want:  []string{"a.yaml:1:1: csr: is required: give the PEM request inline as csr, or a path to it as csr_file (a spec with order_id may leave it out); hint: or let certform make the key and the CSR with key_type, such as `key_type: ecdsa-p256` (here or in a defaults.yaml)"},
		},
		{
			name:  "order_id zero",
			files: map[string]string{"a.yaml": base + "order_id: 0\n"},
			want:  []string{"a.yaml:4:11: order_id: 0 is not an order id: use the id CertCentral shows for the order, a number above 0"},
		},
		{
			name:  "order_id in defaults",
			files: map[string]string{"defaults.yaml": "order_id: 7\n", "a.yaml": base + "order_id: 7\n"},
			want: []string{`a.yaml:1:1: spec "a" not loaded: fix the errors in defaults.yaml first`,
				"defaults.yaml:1:1: order_id: cannot be set in defaults.yaml; set it in each spec"},
		},
		{
			name:  "missing organization",
			files: map[string]string{"a.yaml": "name: a\ncommon_name: a.example.com\n" + good},
			want:  []string{"a.yaml:1:1: organization_id: is required: the CertCentral organization id, such as `organization_id: 112233` (here or in a defaults.yaml)"},
		},
		{
			name:  "csr cn differs",
			files: map[string]string{"a.yaml": base + "csr: |\n" + indent(makeCSR(t, "b.example.com"))},
			want:  []string{`a.yaml:4:6: csr: the request's subject CN is "b.example.com" but common_name is "a.example.com"; they must match: set common_name to "b.example.com", or make a new CSR with CN "a.example.com"`},
		},
		{
			name:  "csr sans consistent",
			files: map[string]string{"a.yaml": base + "dns_names: [www.a.example.com]\ncsr: |\n" + indent(makeCSR(t, "a.example.com", "a.example.com", "www.a.example.com"))},
			valid: []string{"a"},
		},
		{
			name:  "csr without san is fine",
			files: map[string]string{"a.yaml": base + "dns_names: [www.a.example.com]\n" + good},
			valid: []string{"a"},
		},
		{
			name:  "csr_file relative to spec",
			files: map[string]string{"team/a.yaml": base + "csr_file: csr/a.csr\n", "team/csr/a.csr": makeCSR(t, "a.example.com")},
			valid: []string{"a"},
		},
		{
			name:  "csr_file absolute",
			files: map[string]string{"a.yaml": base + "csr_file: /etc/passwd\n"},
			want:  []string{`a.yaml:4:11: csr_file: "/etc/passwd" is absolute; give a path relative to this spec file, inside the spec directory`},
		},
		{
			name: "defaults nearer wins and spec wins over both",
			files: map[string]string{
				"defaults.yaml":      "organization_id: 1\nproduct: ev\nvalidity_years: 2\n",
				"team/defaults.yaml": "product: grid\n",
				"team/a.yaml":        "name: a\ncommon_name: a.example.com\nvalidity_days: 90\n" + good,
				"team/b.yaml":        "name: b\ncommon_name: a.example.com\nproduct: private\n" + good,
				"c.yaml":             "name: c\ncommon_name: a.example.com\n" + good,
			},
			valid: []string{"a", "b", "c"},
		},
		{
			name: "defaults may not set identity keys",
			files: map[string]string{
				"defaults.yaml": "name: x\ncommon_name: a.example.com\n",
				"a.yaml":        base + good,
			},
			want: []string{
				"a.yaml:1:1: spec \"a\" not loaded: fix the errors in defaults.yaml first",
				"defaults.yaml:1:1: name: cannot be set in defaults.yaml; set it in each spec",
				"defaults.yaml:2:1: common_name: cannot be set in defaults.yaml; set it in each spec",
			},
		},
		{
			name: "broken defaults only affects its folder",
			files: map[string]string{
				"team/defaults.yaml": "disable_ct: maybe\n",
				"team/a.yaml":        base + good,
				"b.yaml":             strings.Replace(base, "name: a", "name: b", 1) + good,
			},
			want: []string{
				"team/a.yaml:1:1: spec \"a\" not loaded: fix the errors in team/defaults.yaml first",
				`team/defaults.yaml:1:13: disable_ct: must be true or false, got "maybe"`,
			},
			valid: []string{"b"},
		},
		{
			// The keys the broken defaults would have supplied are not
			// reported missing (api-example-com): only the defaults are
			// to fix. A spec's own errors are still reported, and so is a
			// required key that no defaults file may set (b).
			name: "broken defaults, specs relying on them",
			files: map[string]string{
				"defaults.yaml": "organization_id: 112233\nkey_type: ecdsa-p256\nproduct: [ov\n",
				"a.yaml":        "name: api-example-com\ncommon_name: api.example.com\n",
				"b.yaml":        "name: b\ndisable_cts: true\n",
			},
			want: []string{
				`a.yaml:1:1: spec "api-example-com" not loaded: fix the errors in defaults.yaml first`,
				`b.yaml:1:1: spec "b" not loaded: fix the errors in defaults.yaml first`,
				"b.yaml:1:1: common_name: is required: the domain the certificate secures, such as `common_name: shop.example.com`",
				"b.yaml:2:1: disable_cts: unknown key; did you mean disable_ct?",
				"defaults.yaml:2:1: invalid YAML: did not find expected ',' or ']'",
			},
		},
		{
			name: "duplicates name both files",
			files: map[string]string{
				"x/a.yaml": base + good,
				"y/a.yaml": "# comment\n" + base + good,
				"z.yaml":   strings.Replace(base, "name: a", "name: z", 1) + good,
			},
			want: []string{
				`x/a.yaml:1:7: name: "a" is also used by y/a.yaml:2:7; a name must be unique in the directory, rename one`,
				`y/a.yaml:2:7: name: "a" is also used by x/a.yaml:1:7; a name must be unique in the directory, rename one`,
			},
			valid: []string{"z"},
		},
		{
			// The files are read in the order 1, 2, 3: the two specs
			// named "a" are not next to each other.
			name: "duplicates name apart, three times",
			files: map[string]string{
				"1.yaml": base + good,
				"2.yaml": strings.Replace(base, "name: a", "name: m", 1) + good,
				"3.yaml": base + good,
				"4.yaml": "# comment\n" + base + good,
			},
			want: []string{
				`1.yaml:1:7: name: "a" is also used by 3.yaml:1:7, 4.yaml:2:7; a name must be unique in the directory, rename one`,
				`3.yaml:1:7: name: "a" is also used by 1.yaml:1:7, 4.yaml:2:7; a name must be unique in the directory, rename one`,
				`4.yaml:2:7: name: "a" is also used by 1.yaml:1:7, 3.yaml:1:7; a name must be unique in the directory, rename one`,
			},
			valid: []string{"m"},
		},
		{
			name: "several documents, one bad",
			files: map[string]string{
				"a.yaml": base + "csr_file: a.csr\n---\n" + strings.Replace(base, "name: a", "name: b", 1) + "product: dv\ncsr_file: a.csr\n",
				"a.csr":  makeCSR(t, "a.example.com"),
			},
			want:  []string{`a.yaml:9:10: product: "dv" is not allowed; use one of ov, ev, grid, private`},
			valid: []string{"a"},
		},
		{
			name:  "syntax error rejects the whole file",
			files: map[string]string{"a.yaml": base + "csr_file: a.csr\n---\nname: [b\n", "a.csr": makeCSR(t, "a.example.com")},
			want:  []string{"a.yaml:5:1: invalid YAML: did not find expected ',' or ']'"},
		},
		{
			name:  "tabs",
			files: map[string]string{"a.yaml": base + "dns_names:\n\t- b.example.com\n" + good},
			want:  []string{"a.yaml:5:1: invalid YAML: found character that cannot start any token (the file contains tabs: YAML indents with spaces only)"},
		},
		{
			name:  "a key indented by one space",
			files: map[string]string{"a.yaml": "name: a\ncommon_name: a.example.com\n organization_id: 1\n"},
			want: []string{"a.yaml:3:1: invalid YAML: mapping values are not allowed in this context; hint: a key is indented differently" +
				" from the keys above it, or a value holds ': ' — indent keys of one mapping alike, quote such a value"},
		},
		{
			name:  "a value holding ': '",
			files: map[string]string{"a.yaml": "name: a\ncommon_name: a: b\n"},
			want: []string{"a.yaml:2:1: invalid YAML: mapping values are not allowed in this context; hint: a key is indented differently" +
				" from the keys above it, or a value holds ': ' — indent keys of one mapping alike, quote such a value"},
		},
		{
			name:  "a list item indented less than the one above",
			files: map[string]string{"a.yaml": base + "dns_names:\n  - b.example.com\n - c.example.com\n"},
			want: []string{"a.yaml:5:1: invalid YAML: did not find expected key; hint: a line is indented differently from the lines above it," +
				" or a quoted value has text after its closing quote — indent keys of one mapping and items of one list alike, quote the whole value"},
		},
		{
			name:  "no space after the colon",
			files: map[string]string{"a.yaml": "name: a\ncommon_name:a.example.com\norganization_id: 1\n"},
			want:  []string{"a.yaml:2:1: invalid YAML: could not find expected ':'; hint: a line holds a key with no ': ' after it — write key: value, with a space after the colon"},
		},
		{
			name:  "not a mapping",
			files: map[string]string{"a.yaml": "just a string\n"},
			want:  []string{`a.yaml:1:1: a spec is a mapping of keys (name: ..., common_name: ...), got "just a string"`},
		},
		{
			name: "empty, comment-only, hidden, leftovers and other files are quiet",
			files: map[string]string{
				"empty.yaml": "", "comments.yml": "# nothing\n", ".hidden.yaml": "junk: [", ".git/a.yaml": "junk: [",
				"a.yaml~": "junk: [", ".#a.yaml": "junk: [", "#a.yaml#": "junk: [", "a.yaml.swp": "junk: [", "x.tmp": "junk: [",
				"notes.txt": "junk: [", "a.yaml": base + good,
			},
			valid: []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := loadWantErrors(t, tt.files, tt.want)
			if diff := cmp.Diff(tt.valid, orderNames(res.Orders)); diff != "" {
				t.Errorf("valid orders (-want +got):\n%s", diff)
			}
		})
	}
}

// loadWantErrors loads a spec directory made of files and reports where
// its errors differ from want; it returns what Load returned.
func loadWantErrors(t *testing.T, files map[string]string, want []string) *Result {
	t.Helper()
	res, err := Load(writeTree(t, files))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, errorStrings(res.Errors)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	return res
}

func TestLoad_defaultsApplied(t *testing.T) {
	good := "csr: |\n" + indent(makeCSR(t, "a.example.com"))
	dir := writeTree(t, map[string]string{
		"defaults.yaml":      "organization_id: 7\nproduct: ev\nvalidity_years: 2\ndisable_ct: true\nreissue_before_days: 60\nreissue_on_ct_change: false\nrenew_before_days: 45\n",
		"team/defaults.yaml": "product: grid\nadditional_emails: [pki@example.com]\n",
		"team/a.yaml":        "name: a\ncommon_name: a.example.com\nvalidity_days: 90\n" + good,
		"team/b.yaml":        "name: b\ncommon_name: a.example.com\nproduct: private\ndisable_ct: false\n" + good,
		"c.yaml":             "name: c\ncommon_name: a.example.com\n" + good,
		"d.yaml":             "name: d\ncommon_name: a.example.com\norganization_id: 9\n" + good,
	})
	res, err := Load(dir)
	if err != nil || len(res.Errors) > 0 {
		t.Fatal(err, errorStrings(res.Errors))
	}
	type view struct {
		Name, Product string
		Years, Days   int
		Org           int
		CT            bool
		Emails        []string
	}
	var got []view
	for _, o := range res.Orders {
		got = append(got, view{o.Name, o.Product, o.ValidityYears, o.ValidityDays, o.OrganizationID, o.DisableCT, o.AdditionalEmails})
	}
	want := []view{
		{"a", "grid", 0, 90, 7, true, []string{"pki@example.com"}},
		{"b", "private", 2, 0, 7, false, []string{"pki@example.com"}},
		{"c", "ev", 2, 0, 7, true, nil},
		{"d", "ev", 2, 0, 9, true, nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("effective values (-want +got):\n%s", diff)
	}
	for _, o := range res.Orders {
		if o.ReissueBeforeDays != 60 || o.ReissueOnCTChange || o.RenewBeforeDays != 45 {
			t.Errorf("%s: reissue_before_days %d, reissue_on_ct_change %v, renew_before_days %d", o.Name, o.ReissueBeforeDays, o.ReissueOnCTChange, o.RenewBeforeDays)
		}
	}
}

// TestLoad_orderIDWithoutCSR: a spec that names an existing order with
// order_id may leave out the CSR; its fingerprint then holds no CSR.
func TestLoad_orderIDWithoutCSR(t *testing.T) {
	dir := writeTree(t, map[string]string{"a.yaml": "name: a\ncommon_name: a.example.com\norganization_id: 1\norder_id: 100001\n"})
	res, err := Load(dir)
	if err != nil || len(res.Errors) > 0 || len(res.Orders) != 1 {
		t.Fatal(err, errorStrings(res.Errors))
	}
	o := res.Orders[0]
	if o.OrderID != 100001 || o.CSR != "" || o.FixedFields()["csr"] != "" || o.Fingerprint == "" {
		t.Errorf("order: id %d, csr %q, fixed csr %q", o.OrderID, o.CSR, o.FixedFields()["csr"])
	}
}

func TestLoad_builtinDefaults(t *testing.T) {
	dir := writeTree(t, map[string]string{"a.yaml": "name: a\ncommon_name: a.example.com\norganization_id: 1\ncsr: |\n" + indent(makeCSR(t, "a.example.com"))})
	res, err := Load(dir)
	if err != nil || len(res.Orders) != 1 {
		t.Fatal(err, errorStrings(res.Errors))
	}
	o := res.Orders[0]
	if o.SignatureHash != "sha256" || o.Product != "ov" || o.ValidityYears != 1 || o.ValidityDays != 0 || o.DisableCT || o.AutoReissue || o.Revoke {
		t.Errorf("defaults: got %+v", o)
	}
	if o.ReissueBeforeDays != 30 || !o.ReissueOnCTChange || o.RenewBeforeDays != 30 {
		t.Errorf("keep-alive defaults: got %+v", o)
	}
	if o.File != "a.yaml" || o.Line != 1 || o.Column != 1 {
		t.Errorf("position: got %s", o.Pos())
	}
}

func TestLoad_fingerprint(t *testing.T) {
	csr := makeCSR(t, "a.example.com")
	load := func(extra string) string {
		t.Helper()
		dir := writeTree(t, map[string]string{"a.yaml": "name: a\ncommon_name: a.example.com\norganization_id: 1\n" + extra + "csr: |\n" + indent(csr)})
		res, err := Load(dir)
		if err != nil || len(res.Orders) != 1 {
			t.Fatal(err, errorStrings(res.Errors))
		}
		return res.Orders[0].Fingerprint
	}
	base := load("")
	if !strings.HasPrefix(base, "sha256:") || len(base) != 7+64 {
		t.Fatalf("fingerprint %q", base)
	}
	// Ordering-only and changeable fields leave the fingerprint alone.
	for _, extra := range []string{
		"disable_ct: true\n", "auto_reissue: true\n", "revoke: true\nrevoke_comments: gone\n", "comments: hi\n",
		"skip_approval: true\n", "dcv_method: email\n", "additional_emails: [a@example.com]\n", "auto_renew: true\n",
		"container_id: 3\n", "disable_renewal_notifications: true\n", "validity_years: 1\n", "signature_hash: sha256\n",
		"allow_existing_names: true\n",
	} {
		if got := load(extra); got != base {
			t.Errorf("%q changed the fingerprint", extra)
		}
	}
	// Fixed fields change it.
	for _, extra := range []string{
		"dns_names: [b.example.com]\n", "product: ev\n", "validity_years: 2\n", "validity_days: 365\n",
		"signature_hash: sha384\n", "server_platform_id: 2\n",
	} {
		if got := load(extra); got == base {
			t.Errorf("%q left the fingerprint unchanged", extra)
		}
	}
	if load("dns_names: [b.example.com, c.example.com]\n") != load("dns_names: [c.example.com, b.example.com]\n") {
		t.Error("reordering dns_names changed the fingerprint")
	}
}

func TestLoad_oversizedFile(t *testing.T) {
	good := "name: a\ncommon_name: a.example.com\norganization_id: 1\ncsr: |\n" + indent(makeCSR(t, "a.example.com"))
	big := "name: big\ncomments: \"" + strings.Repeat("x", MaxFileSize) + "\"\n"
	res, err := Load(writeTree(t, map[string]string{"big.yaml": big, "a.yaml": good}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"big.yaml:1:1: file is larger than 1 MiB; certform refuses files that large, split it"}
	if diff := cmp.Diff(want, errorStrings(res.Errors)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a"}, orderNames(res.Orders)); diff != "" {
		t.Errorf("valid (-want +got):\n%s", diff)
	}
}

func TestLoad_symlinks(t *testing.T) {
	csr := makeCSR(t, "a.example.com")
	outside := writeTree(t, map[string]string{
		"evil.yaml":  "name: evil\ncommon_name: a.example.com\norganization_id: 1\ncsr: |\n" + indent(csr),
		"a.csr":      csr,
		"sub/x.yaml": "name: x\n",
	})
	dir := writeTree(t, map[string]string{
		"a.yaml":     "name: a\ncommon_name: a.example.com\norganization_id: 1\ncsr_file: link.csr\n",
		"real.yaml":  "name: real\ncommon_name: a.example.com\norganization_id: 1\ncsr_file: inside.csr\n",
		"inside.csr": csr,
	})
	for _, l := range []struct{ target, name string }{
		{filepath.Join(outside, "evil.yaml"), "evil.yaml"},
		{filepath.Join(outside, "sub"), "subdir"},
		{filepath.Join(outside, "a.csr"), "link.csr"},
		{filepath.Join(dir, "real.yaml"), "alias.yaml"},
		{filepath.Join(dir, "nowhere.yaml"), "dangling.yaml"},
	} {
		if err := os.Symlink(l.target, filepath.Join(dir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`a.yaml:4:11: csr_file: "link.csr" is a symlink that leads outside the spec directory; keep CSR files inside it`,
		"dangling.yaml:1:1: broken symlink; remove it or point it at a file inside the spec directory",
		"evil.yaml:1:1: symlink points outside the spec directory; certform does not follow it, copy the file in instead",
		"subdir:1:1: symlink points outside the spec directory; certform does not follow it, copy the file in instead",
	}
	if diff := cmp.Diff(want, errorStrings(res.Errors)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"real"}, orderNames(res.Orders)); diff != "" {
		t.Errorf("valid (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a"}, res.Invalid); diff != "" {
		t.Errorf("invalid (-want +got):\n%s", diff)
	}
}

func TestLoad_missingDir(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope"))
	if err == nil || !strings.HasSuffix(err.Error(), "nope: no such file or directory") {
		t.Fatalf("got %v", err)
	}
}

// TestLoad_badCorpus runs the bad-input corpus in testdata/specs/bad and
// compares every message with the golden file; -update rewrites it.
func TestLoad_badCorpus(t *testing.T) {
	res, err := Load("../testdata/specs/bad")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range res.Errors {
		b.WriteString(e.Error() + "\n")
	}
	b.WriteString(res.Summary() + "\n")
	b.WriteString("valid: " + strings.Join(orderNames(res.Orders), " ") + "\n")
	b.WriteString("invalid: " + strings.Join(res.Invalid, " ") + "\n")
	b.WriteString("unreadable: " + strings.Join(res.Unreadable(), " ") + "\n")
	golden := "../testdata/specs/bad.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("corpus output (-want +got):\n%s", diff)
	}
}

func TestLoad_examples(t *testing.T) {
	res, err := Load("../examples")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("examples have errors:\n%s", strings.Join(errorStrings(res.Errors), "\n"))
	}
	want := []string{"api-example-com", "blog-example-com", "checkout-example-com", "internal-wildcard", "portal-example-net", "www-example-com"}
	if diff := cmp.Diff(want, orderNames(res.Orders)); diff != "" {
		t.Errorf("examples (-want +got):\n%s", diff)
	}
	revokes := 0
	for _, o := range res.Orders {
		if o.Revoke {
			revokes++
		}
		if o.Name == "checkout-example-com" && (o.Product != "ev" || o.ContainerID != 11 || o.ValidityYears != 2 || o.OrganizationID != 112233 || !o.AutoReissue) {
			t.Errorf("checkout defaults not applied: %+v", o)
		}
	}
	if revokes != 1 {
		t.Errorf("examples should hold exactly one spec with revoke: true, got %d", revokes)
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name string
		res  Result
		want string
	}{
		{"clean", Result{Specs: 12, Files: 9}, "12 specs in 9 files: no errors"},
		{"singular", Result{Specs: 1, Files: 1, Errors: []*Error{{File: "a"}}}, "1 spec in 1 file: 1 error in 1 file"},
		{"errors", Result{Specs: 12, Files: 9, Errors: []*Error{{File: "a"}, {File: "b"}}}, "12 specs in 9 files: 2 errors in 2 files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.res.Summary(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
