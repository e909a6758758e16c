package keys

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/certform/certform/spec"
	"github.com/certform/certform/spec/spectest"
)

// oidSAN is the subjectAltName extension (RFC 5280 section 4.2.1.6).
var oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}

func TestCreateCSR(t *testing.T) {
	tests := []struct {
		name  string
		typ   Type
		cn    string
		dns   []string
		names []string
		algo  x509.SignatureAlgorithm
	}{
		{"p256 cn only", ECDSAP256, "a.example.com", nil, []string{"a.example.com"}, x509.ECDSAWithSHA256},
		{"p384 with names", ECDSAP384, "a.example.com", []string{"www.a.example.com", "*.b.example.com"}, []string{"a.example.com", "www.a.example.com", "*.b.example.com"}, x509.ECDSAWithSHA384},
		{"rsa dedup keeps order", RSA2048, "a.example.com", []string{"z.example.com", "a.example.com", "b.example.com", "Z.example.com", "b.example.com"}, []string{"a.example.com", "z.example.com", "b.example.com"}, x509.SHA256WithRSA},
		{"rsa-4096", RSA4096, "a.example.com", []string{"b.example.com"}, []string{"a.example.com", "b.example.com"}, x509.SHA256WithRSA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := testKey(t, tt.typ)
			csr, err := CreateCSR(k, tt.cn, tt.dns)
			if err != nil {
				t.Fatal(err)
			}
			block, rest := pem.Decode([]byte(csr.PEM))
			if block == nil || block.Type != "CERTIFICATE REQUEST" || len(rest) != 0 {
				t.Fatalf("PEM is not one CERTIFICATE REQUEST block:\n%s", csr.PEM)
			}
			req, err := x509.ParseCertificateRequest(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if err := req.CheckSignature(); err != nil {
				t.Fatalf("signature: %v", err)
			}
			if req.SignatureAlgorithm != tt.algo {
				t.Errorf("signature algorithm %v; want %v", req.SignatureAlgorithm, tt.algo)
			}
			if !k.MatchesPublic(req.PublicKey) {
				t.Error("the request's public key is not the key's")
			}
			// The subject is exactly CN=common_name, nothing else.
			wantSubject, err := asn1.Marshal(pkix.Name{CommonName: tt.cn}.ToRDNSequence())
			if err != nil {
				t.Fatal(err)
			}
			if string(req.RawSubject) != string(wantSubject) || len(req.Subject.Names) != 1 {
				t.Errorf("subject %v (%d attributes); want only CN=%s", req.Subject, len(req.Subject.Names), tt.cn)
			}
			if !slices.Equal(req.DNSNames, tt.names) || !slices.Equal(csr.Names, tt.names) {
				t.Errorf("SANs %q (Names %q); want %q", req.DNSNames, csr.Names, tt.names)
			}
			if len(req.Extensions) != 1 || !req.Extensions[0].Id.Equal(oidSAN) || len(req.EmailAddresses)+len(req.IPAddresses)+len(req.URIs) != 0 {
				t.Errorf("extensions %v; want only subjectAltName", req.Extensions)
			}
			sum := sha256.Sum256(block.Bytes)
			if csr.Fingerprint != hex.EncodeToString(sum[:]) {
				t.Errorf("Fingerprint %s; want the SHA-256 of the DER, %x", csr.Fingerprint, sum)
			}
			if got := (&spec.Order{CSR: csr.PEM}).FixedFields()["csr"]; csr.Fingerprint != got {
				t.Errorf("Fingerprint %s; spec's fixed field csr is %s", csr.Fingerprint, got)
			}
		})
	}
	t.Run("new signature each time, same key", func(t *testing.T) {
		k := testKey(t, ECDSAP256)
		a, _ := CreateCSR(k, "a.example.com", nil)
		b, _ := CreateCSR(k, "a.example.com", nil)
		// ECDSA signatures are randomized: the fingerprint is of the
		// bytes, so a caller must store the CSR it sent, not rebuild it.
		if a.Fingerprint == b.Fingerprint {
			t.Fatal("two ECDSA CSRs have the same fingerprint")
		}
	})
	t.Run("errors", func(t *testing.T) {
		if _, err := CreateCSR(Key{}, "a.example.com", nil); !errors.Is(err, ErrNoKey) {
			t.Errorf("zero key: %v; want ErrNoKey", err)
		}
		if _, err := CreateCSR(testKey(t, ECDSAP256), " ", []string{"b.example.com"}); !errors.Is(err, ErrNoCommonName) {
			t.Errorf("empty common name: %v; want ErrNoCommonName", err)
		}
	})
}

// TestCreateCSR_specAccepts: the spec package takes the CSR as a spec's
// csr without error (names, key type and signature checked) and gives it
// the same fingerprint.
func TestCreateCSR_specAccepts(t *testing.T) {
	for _, typ := range []Type{ECDSAP256, ECDSAP384, RSA3072} {
		t.Run(string(typ), func(t *testing.T) {
			csr, err := CreateCSR(testKey(t, typ), "a.example.com", []string{"www.a.example.com", "a.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			doc := "name: a\ncommon_name: a.example.com\ndns_names: [www.a.example.com]\norganization_id: 1\ncsr: |\n" + spectest.Indent(csr.PEM)
			if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			res, err := spec.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) != 0 || len(res.Orders) != 1 {
				t.Fatalf("spec.Load: errors %v, %d orders", res.Errors, len(res.Orders))
			}
			if got := res.Orders[0].FixedFields()["csr"]; got != csr.Fingerprint {
				t.Fatalf("spec's csr fingerprint %s; CreateCSR's %s", got, csr.Fingerprint)
			}
		})
	}
}
