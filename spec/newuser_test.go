package spec

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLoad_newUserMistakes: the mistakes a new user made in issue 25, each
// with its exact message, reported once.
func TestLoad_newUserMistakes(t *testing.T) {
	base := "name: a\ncommon_name: a.acme.test\norganization_id: 1\n"
	csrFor := func(cn string, sans ...string) string { return "csr: |\n" + indent(makeCSR(t, cn, sans...)) }
	tests := []struct {
		name  string
		files map[string]string
		want  []string
		valid []string
	}{
		{
			name:  "unquoted wildcard common_name",
			files: map[string]string{"a.yaml": "name: a\ncommon_name: *.acme.test\norganization_id: 1\n"},
			want: []string{`a.yaml:2:1: invalid YAML: did not find expected alphabetic or numeric character` +
				` (a value that starts with * is read as a YAML alias: quote it, as in common_name: "*.acme.test")`},
		},
		{
			name:  "unquoted wildcard in a list",
			files: map[string]string{"a.yaml": base + "dns_names:\n  - *.acme.test # all\n"},
			want: []string{`a.yaml:5:1: invalid YAML: did not find expected alphabetic or numeric character` +
				` (a value that starts with * is read as a YAML alias: quote it, as in - "*.acme.test")`},
		},
		{
			name:  "non-ASCII name: the character and its punycode, no CSR errors after it",
			files: map[string]string{"a.yaml": "name: a\ncommon_name: café.example\norganization_id: 1\n" + csrFor("cafe.example")},
			want: []string{`a.yaml:2:14: common_name: "café.example" is not a DNS name: "é" is not allowed (use a-z, 0-9 and '-');` +
				` an internationalized name is written in punycode: "xn--caf-dma.example"`},
		},
		{
			name:  "upper-case names: one error, no CN comparison",
			files: map[string]string{"a.yaml": "name: a\ncommon_name: WWW.Acme.Test\norganization_id: 1\n" + csrFor("WWW.Acme.Test", "WWW.Acme.Test")},
			want:  []string{`a.yaml:2:14: common_name: "WWW.Acme.Test" is not a DNS name: write it in lower case, "www.acme.test"`},
		},
		{
			name:  "an upper-case CN in the request matches the lower-case common_name",
			files: map[string]string{"a.yaml": base + csrFor("A.Acme.Test", "a.acme.test")},
			valid: []string{"a"},
		},
		{
			name:  "one bad dns name: its error only",
			files: map[string]string{"a.yaml": base + "dns_names: [b.acme.test, \"exa mple.test\"]\n" + csrFor("a.acme.test", "a.acme.test", "b.acme.test")},
			want:  []string{`a.yaml:4:26: dns_names[1]: "exa mple.test" is not a DNS name: " " is not allowed (use a-z, 0-9 and '-')`},
		},
		{
			name:  "a CN that differs says how to fix it",
			files: map[string]string{"a.yaml": base + csrFor("b.acme.test")},
			want: []string{`a.yaml:4:6: csr: the request's subject CN is "b.acme.test" but common_name is "a.acme.test"; they must match:` +
				` set common_name to "b.acme.test", or make a new CSR with CN "a.acme.test"`},
		},
		{
			name:  "upper-case suffix is read",
			files: map[string]string{"SHOP.YAML": base + csrFor("a.acme.test"), "b.Yml": "name: b\ncommon_name: b.acme.test\norganization_id: 1\n" + csrFor("b.acme.test")},
			valid: []string{"a", "b"},
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
