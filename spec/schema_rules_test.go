package spec

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSchema_singleKeyRules: each value validate refuses for a reason of
// its key alone (name, common_name, dns_names, additional_emails) the
// schema refuses too, and each value validate takes the schema takes: the
// schema is neither looser nor stricter than validate on them.
func TestSchema_singleKeyRules(t *testing.T) {
	s := compileSchema(t)
	const base = "name: shop\ncommon_name: shop.example.com\norganization_id: 1\nkey_type: ecdsa-p256\n"
	long := strings.Repeat("a", 63)
	for _, tt := range []struct {
		key, yaml string // the key's line, replacing base's or added
		bad       bool
	}{
		{"name", "name: -bad", true},
		{"name", "name: Shop", true},
		{"name", "name: shop example", true},
		{"name", "name: " + strings.Repeat("a", 64), true},
		{"name", `name: ""`, true},
		{"name", "name: shop.example_com-2", false},
		{"name", "name: " + strings.Repeat("a", 63), false},
		{"common_name", "common_name: Shop.example.com", true},
		{"common_name", "common_name: localhost", true},
		{"common_name", "common_name: -shop.example.com", true},
		{"common_name", "common_name: shop-.example.com", true},
		{"common_name", "common_name: shop..example.com", true},
		{"common_name", "common_name: shop_1.example.com", true},
		{"common_name", `common_name: "*.*.example.com"`, true},
		{"common_name", `common_name: "w*.example.com"`, true},
		{"common_name", "common_name: " + long + "a.example.com", true},
		{"common_name", "common_name: " + strings.Repeat(long+".", 4) + "com", true}, // 259 characters
		{"common_name", "common_name: " + long + ".example.com", false},
		{"common_name", `common_name: "*.example.com"`, false},
		{"common_name", "common_name: xn--bcher-kva.example", false},
		{"dns_names", "dns_names: [a.example.com, a.example.com]", true},
		{"dns_names", "dns_names: [a.example.com, B.example.com]", true},
		{"dns_names", "dns_names: [a.example.com, b.example.com]", false},
		{"additional_emails", "additional_emails: [pki team@example.com]", true},
		{"additional_emails", "additional_emails: [\"PKI <pki@example.com>\"]", true},
		{"additional_emails", "additional_emails: [pki-team]", true},
		{"additional_emails", "additional_emails: [\"@example.com\"]", true},
		{"additional_emails", "additional_emails: [pki@]", true},
		{"additional_emails", "additional_emails: [pki-team@example.com, a.b+c@mail.example.org]", false},
	} {
		t.Run(tt.yaml, func(t *testing.T) {
			var lines []string
			for _, l := range strings.Split(strings.TrimSuffix(base, "\n"), "\n") {
				if !strings.HasPrefix(l, tt.key+":") {
					lines = append(lines, l)
				}
			}
			doc := strings.Join(append(lines, tt.yaml), "\n") + "\n"
			dir := writeTree(t, map[string]string{"s.yaml": doc})
			res, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			var loader []string
			for _, e := range res.Errors {
				if strings.Contains(e.Error(), ": "+tt.key) {
					loader = append(loader, e.Error())
				}
			}
			if got := len(res.Errors) > 0; got != tt.bad || len(loader) != len(res.Errors) {
				t.Fatalf("validate: errors %v, want bad=%v and only %s's", errorStrings(res.Errors), tt.bad, tt.key)
			}
			docs := yamlDocs(t, filepath.Join(dir, "s.yaml"))
			if len(docs) != 1 {
				t.Fatalf("%d documents", len(docs))
			}
			if err := s.Validate(docs[0]); (err != nil) != tt.bad {
				t.Errorf("schema: %v, but validate says %v", err, loader)
			}
		})
	}
}

// TestSchema_dnsNamePattern: the schema's DNS name pattern and length are
// checkDNSName's rule.
func TestSchema_dnsNamePattern(t *testing.T) {
	re := regexp.MustCompile(dnsNameRule.pattern)
	for _, n := range []string{"example.com", "a.b", "*.example.com", "*.com", "*", "*.", "example", ".example.com", "example.com.",
		"a-b.example.com", "-a.example.com", "a-.example.com", "A.example.com", "a_b.example.com", "a*.example.com",
		"*.*.example.com", "xn--bcher-kva.example", "1.2.3.4", "bücher.example", strings.Repeat("a", 63) + ".com",
		strings.Repeat("a", 64) + ".com", strings.Repeat("a.", 126) + "com", strings.Repeat("a.", 127) + "com"} {
		schema := re.MatchString(n) && len(n) <= dnsNameRule.maxLength
		if validate := checkDNSName(n) == ""; schema != validate {
			t.Errorf("%q: schema takes it %v, checkDNSName %v (%s)", n, schema, validate, checkDNSName(n))
		}
	}
}
