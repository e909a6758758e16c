package spec

import (
	"testing"

	"github.com/certform/certform/keys/keytype"
	"github.com/google/go-cmp/cmp"
)

// TestLoad_keyType is the table of key_type and key_rotation: the rules
// (csr or key_type, a default key_type giving way to the spec's own CSR)
// and every error, exactly.
func TestLoad_keyType(t *testing.T) {
	good := "csr: |\n" + indent(makeCSR(t, "a.example.com"))
	base := "name: a\ncommon_name: a.example.com\norganization_id: 1\n"
	type got struct {
		KeyType     keytype.Type
		KeyRotation string
		HasCSR      bool
	}
	tests := []struct {
		name  string
		files map[string]string
		want  []string // exact error messages
		order *got     // the order "a", when valid
	}{
		{
			name:  "key_type alone: no csr needed",
			files: map[string]string{"a.yaml": base + "key_type: ecdsa-p256\n"},
			order: &got{KeyType: "ecdsa-p256", KeyRotation: "always"},
		},
		{
			name:  "every key type",
			files: map[string]string{"a.yaml": base + "key_type: rsa-4096\nkey_rotation: never\n"},
			order: &got{KeyType: "rsa-4096", KeyRotation: "never"},
		},
		{
			name:  "key_type from defaults",
			files: map[string]string{"defaults.yaml": "key_type: ecdsa-p384\nkey_rotation: never\n", "a.yaml": base},
			order: &got{KeyType: "ecdsa-p384", KeyRotation: "never"},
		},
		{
			name:  "a default key_type gives way to the spec's own csr",
			files: map[string]string{"defaults.yaml": "key_type: ecdsa-p256\n", "a.yaml": base + good},
			order: &got{KeyRotation: "always", HasCSR: true},
		},
		{
			name:  "a default key_type gives way to the spec's own csr_file",
			files: map[string]string{"defaults.yaml": "key_type: ecdsa-p256\nkey_rotation: never\n", "a.yaml": base + "csr_file: a.csr\n", "a.csr": makeCSR(t, "a.example.com")},
			order: &got{KeyRotation: "never", HasCSR: true},
		},
		{
			name:  "key_type with order_id",
			files: map[string]string{"a.yaml": base + "order_id: 7\nkey_type: rsa-2048\n"},
			order: &got{KeyType: "rsa-2048", KeyRotation: "always"},
		},
		{
			name:  "both csr and key_type in the spec",
			files: map[string]string{"a.yaml": base + "key_type: ecdsa-p256\n" + good},
			want:  []string{"a.yaml:4:11: key_type: give either csr/csr_file or key_type, not both: with key_type certform makes the key and the CSR; remove key_type to keep your CSR, or remove csr/csr_file"},
		},
		{
			name:  "both csr_file and key_type in the spec",
			files: map[string]string{"a.yaml": base + "csr_file: a.csr\nkey_type: ecdsa-p256\n", "a.csr": makeCSR(t, "a.example.com")},
			want:  []string{"a.yaml:5:11: key_type: give either csr/csr_file or key_type, not both: with key_type certform makes the key and the CSR; remove key_type to keep your CSR, or remove csr/csr_file"},
		},
		{
			name:  "key_type in the spec with a bad csr: only the conflict",
			files: map[string]string{"a.yaml": base + "key_type: ecdsa-p256\ncsr: nonsense\n"},
			want:  []string{"a.yaml:4:11: key_type: give either csr/csr_file or key_type, not both: with key_type certform makes the key and the CSR; remove key_type to keep your CSR, or remove csr/csr_file"},
		},
		{
			name:  "neither csr nor key_type",
			files: map[string]string{"a.yaml": base},
			want: []string{"a.yaml:1:1: csr: is required: give the PEM request inline as csr, or a path to it as csr_file (a spec with order_id may leave it out)" +
				"; hint: or let certform make the key and the CSR with key_type, such as `key_type: ecdsa-p256` (here or in a defaults.yaml)"},
		},
		{
			name:  "unknown key type",
			files: map[string]string{"a.yaml": base + "key_type: rsa-1024\n"},
			want:  []string{`a.yaml:4:11: key_type: key type "rsa-1024" is not allowed; use one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096`},
		},
		{
			name:  "key type in capitals",
			files: map[string]string{"a.yaml": base + "key_type: ECDSA-P256\n"},
			want:  []string{`a.yaml:4:11: key_type: key type "ECDSA-P256" is not allowed (write it in lowercase, without spaces); use one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096`},
		},
		{
			name:  "empty key type",
			files: map[string]string{"a.yaml": base + "key_type: \"\"\n"},
			want:  []string{`a.yaml:4:11: key_type: key type is empty; use one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096`},
		},
		{
			name:  "key_type not a string",
			files: map[string]string{"a.yaml": base + "key_type: [ecdsa-p256]\n"},
			want:  []string{`a.yaml:4:11: key_type: must be a string, got a list`},
		},
		{
			name:  "bad key type in defaults names the defaults file",
			files: map[string]string{"defaults.yaml": "key_type: dsa\n", "a.yaml": base},
			want:  []string{`defaults.yaml:1:11: key_type: key type "dsa" is not allowed; use one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096`},
		},
		{
			name:  "unknown key_rotation",
			files: map[string]string{"a.yaml": base + "key_type: ecdsa-p256\nkey_rotation: sometimes\n"},
			want:  []string{`a.yaml:5:15: key_rotation: "sometimes" is not allowed; use one of always, never`},
		},
		{
			name:  "key_rotation in a spec with its own csr",
			files: map[string]string{"a.yaml": base + "key_rotation: never\n" + good},
			want:  []string{"a.yaml:4:15: key_rotation: applies only to keys certform makes: set key_type instead of csr/csr_file, or remove key_rotation"},
		},
		{
			name:  "key_rotation from defaults is quiet for a spec with a csr",
			files: map[string]string{"defaults.yaml": "key_rotation: never\n", "a.yaml": base + good},
			order: &got{KeyRotation: "never", HasCSR: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := loadWantErrors(t, tt.files, tt.want)
			if tt.order == nil {
				if len(res.Orders) != 0 {
					t.Errorf("valid orders %v, want none", orderNames(res.Orders))
				}
				return
			}
			if len(res.Orders) != 1 {
				t.Fatalf("valid orders %v, want [a]", orderNames(res.Orders))
			}
			o := res.Orders[0]
			if diff := cmp.Diff(*tt.order, got{o.KeyType, o.KeyRotation, o.CSR != ""}); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoad_keyTypeFingerprint: key_type is a fixed field of a spec that
// has one (another key type is another certificate), and a spec with a
// CSR keeps the fingerprint it had before key_type existed.
func TestLoad_keyTypeFingerprint(t *testing.T) {
	base := "name: a\ncommon_name: a.example.com\norganization_id: 1\n"
	fp := func(body string) string {
		t.Helper()
		res, err := Load(writeTree(t, map[string]string{"a.yaml": base + body}))
		if err != nil || len(res.Orders) != 1 {
			t.Fatalf("load: %v %v", err, errorStrings(res.Errors))
		}
		return res.Orders[0].Fingerprint
	}
	p256, p384 := fp("key_type: ecdsa-p256\n"), fp("key_type: ecdsa-p384\n")
	if p256 == p384 {
		t.Errorf("key types ecdsa-p256 and ecdsa-p384 share the fingerprint %s", p256)
	}
	if fp("key_type: ecdsa-p256\nkey_rotation: never\n") != p256 {
		t.Error("key_rotation changed the fingerprint; it is not a fixed field")
	}
	o := &Order{CommonName: "a.example.com", CSR: makeCSR(t, "a.example.com")}
	if _, ok := o.FixedFields()["key_type"]; ok {
		t.Error("a spec with a CSR has a key_type fixed field; its fingerprint would change")
	}
}
