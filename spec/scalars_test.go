package spec

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLoad_strictScalars checks that integer and boolean keys take only
// plain decimal integers and plain lower-case true or false, with one
// message per way of writing them otherwise.
func TestLoad_strictScalars(t *testing.T) {
	good := "csr: |\n" + indent(makeCSR(t, "a.example.com"))
	tests := []struct {
		name  string
		key   string
		value string // as written after "key: "
		want  string // the error after "a.yaml:3:COL: key: ", "" when valid
		check func(o *Order) bool
	}{
		{name: "plain integer", key: "organization_id", value: "112233", check: func(o *Order) bool { return o.OrganizationID == 112233 }},
		{name: "plain negative", key: "server_platform_id", value: "-1", check: func(o *Order) bool { return *o.ServerPlatformID == -1 }},
		{name: "largest int32", key: "container_id", value: "2147483647", check: func(o *Order) bool { return o.ContainerID == 2147483647 }},
		{name: "zero is plain", key: "organization_id", value: "0", want: "0 is not an organization id; it must be greater than 0"},
		{name: "out of range", key: "container_id", value: "2147483648", want: "2147483648 is out of range"},
		{name: "out of int64 range", key: "container_id", value: "99999999999999999999", want: "99999999999999999999 is out of range"},
		{name: "yaml 1.1 octal", key: "organization_id", value: "0112233", want: "0112233 is not a plain decimal integer: leading zeros are not allowed (write 112233)"},
		{name: "leading zero that is not octal", key: "validity_days", value: "090", want: "090 is not a plain decimal integer: leading zeros are not allowed (write 90)"},
		{name: "zero with leading zero", key: "container_id", value: "00", want: "00 is not a plain decimal integer: leading zeros are not allowed (write 0)"},
		{name: "negative with leading zero", key: "server_platform_id", value: "-01", want: "-01 is not a plain decimal integer: leading zeros are not allowed (write -1)"},
		{name: "plus sign", key: "validity_years", value: "+2", want: "+2 is not a plain decimal integer: a + sign is not allowed (write 2)"},
		{name: "digit separators", key: "organization_id", value: "112_233", want: "112_233 is not a plain decimal integer: digit separators (_) are not allowed (write 112233)"},
		{name: "hexadecimal", key: "organization_id", value: "0x10", want: "0x10 is not a plain decimal integer: hexadecimal (0x) is not allowed (write 16)"},
		{name: "negative hexadecimal", key: "server_platform_id", value: "-0xFF", want: "-0xFF is not a plain decimal integer: hexadecimal (0x) is not allowed (write -255)"},
		{name: "octal", key: "organization_id", value: "0o17", want: "0o17 is not a plain decimal integer: octal (0o) is not allowed (write 15)"},
		{name: "binary", key: "organization_id", value: "0b101", want: "0b101 is not a plain decimal integer: binary (0b) is not allowed (write 5)"},
		{name: "tagged int", key: "organization_id", value: `!!int "5"`, want: `!!int "5" is not a plain decimal integer: explicit tags are not allowed (write 5)`},
		{name: "tagged plain int", key: "organization_id", value: "!!int 5", want: "!!int 5 is not a plain decimal integer: explicit tags are not allowed (write 5)"},
		{name: "tagged str int", key: "organization_id", value: "!!str 0x10", want: "!!str 0x10 is not a plain decimal integer: explicit tags are not allowed (write 16)"},
		{name: "tagged non-number", key: "organization_id", value: "!!int abc", want: "!!int abc is not a plain decimal integer: explicit tags are not allowed (write a plain decimal integer such as 112233)"},
		{name: "double-quoted int", key: "organization_id", value: `"112233"`, want: `"112233" is not a plain decimal integer: quotes are not allowed (write 112233)`},
		{name: "single-quoted int", key: "organization_id", value: `'7'`, want: `'7' is not a plain decimal integer: quotes are not allowed (write 7)`},
		{name: "quoted hexadecimal", key: "organization_id", value: `"0x10"`, want: `"0x10" is not a plain decimal integer: quotes are not allowed (write 16)`},
		{name: "quoted word", key: "organization_id", value: `"abc"`, want: `must be an integer, got "abc"`},
		{name: "exponent", key: "organization_id", value: "1e3", want: "must be an integer, got the number 1e3"},
		{name: "dot", key: "organization_id", value: "5.0", want: "must be an integer, got the number 5.0"},
		{name: "boolean for integer", key: "organization_id", value: "true", want: "must be an integer, got true"},
		{name: "no value", key: "organization_id", value: "~", want: "has no value; give an integer or remove the key"},

		{name: "plain true", key: "disable_ct", value: "true", check: func(o *Order) bool { return o.DisableCT }},
		{name: "plain false", key: "auto_reissue", value: "false", check: func(o *Order) bool { return !o.AutoReissue }},
		{name: "capitalised", key: "disable_ct", value: "True", want: "True is not a plain boolean: write it in lower case (write true)"},
		{name: "upper case", key: "auto_renew", value: "FALSE", want: "FALSE is not a plain boolean: write it in lower case (write false)"},
		{name: "mixed case", key: "auto_renew", value: "tRUE", want: "tRUE is not a plain boolean: write it in lower case (write true)"},
		{name: "double-quoted bool", key: "skip_approval", value: `"true"`, want: `"true" is not a plain boolean: quotes are not allowed (write true)`},
		{name: "single-quoted capital", key: "skip_approval", value: `'False'`, want: `'False' is not a plain boolean: quotes are not allowed (write false)`},
		{name: "tagged bool", key: "disable_ct", value: `!!bool "true"`, want: `!!bool "true" is not a plain boolean: explicit tags are not allowed (write true)`},
		{name: "str tag on bool key", key: "disable_ct", value: "!!str true", want: "!!str true is not a plain boolean: explicit tags are not allowed (write true)"},
		{name: "tagged yes", key: "disable_ct", value: "!!bool yes", want: "!!bool yes is not a plain boolean: explicit tags are not allowed (write true or false)"},
		{name: "yes", key: "disable_ct", value: "yes", want: `must be true or false, got "yes"`},
		{name: "on", key: "allow_existing_names", value: "on", want: `must be true or false, got "on"`},
		{name: "one", key: "disable_ct", value: "1", want: "must be true or false, got the integer 1"},
		{name: "block scalar", key: "disable_ct", value: "|\n  true", want: `must be true or false, got "true\n"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := "name: a\ncommon_name: a.example.com\n" + tt.key + ": " + tt.value + "\n"
			if tt.key != "organization_id" {
				spec += "organization_id: 1\n"
			}
			res, err := Load(writeTree(t, map[string]string{"a.yaml": spec + good}))
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if tt.want != "" {
				want = []string{fmt.Sprintf("a.yaml:3:%d: %s: %s", len(tt.key)+3, tt.key, tt.want)}
			}
			if diff := cmp.Diff(want, errorStrings(res.Errors)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if tt.check != nil && (len(res.Orders) != 1 || !tt.check(res.Orders[0])) {
				t.Errorf("value not taken: %+v", res.Orders)
			}
		})
	}
}

// TestLoad_strictScalarsInDefaults checks that defaults.yaml follows the
// same rules, and that its errors hold back the specs below it.
func TestLoad_strictScalarsInDefaults(t *testing.T) {
	good := "csr: |\n" + indent(makeCSR(t, "a.example.com"))
	dir := writeTree(t, map[string]string{
		"defaults.yaml":      "organization_id: 1\n",
		"team/defaults.yaml": "organization_id: 0112233\nvalidity_years: !!int 2\ndisable_ct: True\nauto_reissue: \"false\"\n",
		"team/a.yaml":        "name: a\ncommon_name: a.example.com\n" + good,
		"b.yaml":             "name: b\ncommon_name: a.example.com\n" + good,
	})
	res, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`team/a.yaml:1:1: spec "a" not loaded: fix the errors in team/defaults.yaml first`,
		"team/defaults.yaml:1:18: organization_id: 0112233 is not a plain decimal integer: leading zeros are not allowed (write 112233)",
		"team/defaults.yaml:2:17: validity_years: !!int 2 is not a plain decimal integer: explicit tags are not allowed (write 2)",
		"team/defaults.yaml:3:13: disable_ct: True is not a plain boolean: write it in lower case (write true)",
		`team/defaults.yaml:4:15: auto_reissue: "false" is not a plain boolean: quotes are not allowed (write false)`,
	}
	if diff := cmp.Diff(want, errorStrings(res.Errors)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b"}, orderNames(res.Orders)); diff != "" {
		t.Errorf("valid (-want +got):\n%s", diff)
	}
}

// TestLoad_allowExistingNames checks the key's default and that a spec
// sets it (a defaults file may not: see TestLoad_rules).
func TestLoad_allowExistingNames(t *testing.T) {
	good := "csr: |\n" + indent(makeCSR(t, "a.example.com"))
	dir := writeTree(t, map[string]string{
		"defaults.yaml": "organization_id: 1\n",
		"a.yaml":        "name: a\ncommon_name: a.example.com\n" + good,
		"b.yaml":        "name: b\ncommon_name: a.example.com\nallow_existing_names: true\n" + good,
		"team/d.yaml":   "name: d\ncommon_name: a.example.com\nallow_existing_names: false\n" + good,
	})
	res, err := Load(dir)
	if err != nil || len(res.Errors) > 0 {
		t.Fatal(err, errorStrings(res.Errors))
	}
	got := map[string]bool{}
	for _, o := range res.Orders {
		got[o.Name] = o.AllowExistingNames
		if _, ok := o.FixedFields()["allow_existing_names"]; ok {
			t.Errorf("%s: allow_existing_names is in FixedFields", o.Name)
		}
	}
	want := map[string]bool{"a": false, "b": true, "d": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AllowExistingNames (-want +got):\n%s", diff)
	}
}
