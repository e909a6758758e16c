package spec

import (
	"testing"

	"github.com/certform/certform/keys/keytype"
)

// TestOrder_fingerprint: the fingerprint a load computes without the map
// is Fingerprint of FixedFields, for every shape of fixed fields.
func TestOrder_fingerprint(t *testing.T) {
	platform, zero := 45, 0
	orders := []*Order{
		{},
		{CommonName: "a.example.com", DNSNames: []string{"b.example.com", "a.example.com"}, CSR: "not pem", Product: "ov",
			ValidityYears: 1, OrganizationID: 7, SignatureHash: "sha256"},
		{CommonName: `q"uote\\.example.com`, ValidityDays: 90, OrganizationID: 12345, ServerPlatformID: &platform, SignatureHash: "sha384", Product: "ev"},
		{CommonName: "k.example.com", KeyType: keytype.Type("ecdsa-p256"), ServerPlatformID: &zero, ValidityYears: 3},
		{CommonName: "d.example.com", csrSum: "abcd", csrDropped: true, ValidityYears: -1, OrganizationID: -2},
	}
	for i, o := range orders {
		if got, want := o.fingerprint(), Fingerprint(o.FixedFields()); got != want {
			t.Errorf("order %d: fingerprint %s, Fingerprint(FixedFields) %s", i, got, want)
		}
	}
	// And the values are those documented: one was computed by hand with
	// the map this package always built.
	o := orders[1]
	want := Fingerprint(map[string]string{"common_name": "a.example.com", "dns_names": "a.example.com,b.example.com", "csr": o.csrDigest(),
		"product": "ov", "validity": "1 years", "organization_id": "7", "signature_hash": "sha256", "server_platform_id": ""})
	if got := o.fingerprint(); got != want {
		t.Errorf("fingerprint %s, want %s", got, want)
	}
}
