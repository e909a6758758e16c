package keys

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/certform/certform/spec"
)

// CSR is a certificate request CreateCSR built.
type CSR struct {
	// PEM is the request as one "CERTIFICATE REQUEST" PEM block: what
	// goes to CertCentral as csr.
	PEM string
	// Fingerprint is the hex SHA-256 of the request's DER bytes, as
	// spec.Order.FixedFields gives it under "csr" (computed by spec
	// itself): the value an intent records, and the key's name in a
	// Store.
	Fingerprint string
	// Names are the subject alternative names, in order: the common name
	// first, then the dns_names not already given.
	Names []string
}

// ErrNoCommonName says CreateCSR was given an empty common name.
var ErrNoCommonName = errors.New("csr: common_name is empty")

// CreateCSR builds and signs with k the request for a spec's names: the
// subject holds only CN = commonName; the subject alternative names are
// commonName then dnsNames, each once (compared without regard to case,
// the first spelling kept), in the order given. Nothing else is added: no
// other subject field, no extension but the SANs. The signature uses
// k.Type().SignatureHash(). The names are not checked here: the spec
// package validated them.
func CreateCSR(k Key, commonName string, dnsNames []string) (CSR, error) {
	if k.s == nil {
		return CSR{}, ErrNoKey
	}
	if strings.TrimSpace(commonName) == "" {
		return CSR{}, ErrNoCommonName
	}
	names := sanList(commonName, dnsNames)
	tmpl := &x509.CertificateRequest{
		Subject:            pkix.Name{CommonName: commonName},
		DNSNames:           names,
		SignatureAlgorithm: x509Algorithm(k.s.typ),
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, k.s.signer)
	if err != nil {
		return CSR{}, fmt.Errorf("csr for %s: %w", commonName, err)
	}
	text := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	return CSR{PEM: text, Fingerprint: CSRFingerprint(text), Names: names}, nil
}

// CSRFingerprint returns the fingerprint spec gives a CSR's PEM text (the
// hex SHA-256 of its DER bytes, see spec.Order.FixedFields), by asking
// spec: one definition, so that a key found by fingerprint and the
// intent's fixed fields never disagree.
func CSRFingerprint(pemText string) string {
	return (&spec.Order{CSR: pemText}).FixedFields()["csr"]
}

func sanList(commonName string, dnsNames []string) []string {
	seen := make(map[string]bool, len(dnsNames)+1)
	names := make([]string, 0, len(dnsNames)+1)
	for _, n := range append([]string{commonName}, dnsNames...) {
		l := strings.ToLower(n)
		if n == "" || seen[l] {
			continue
		}
		seen[l] = true
		names = append(names, n)
	}
	return names
}
