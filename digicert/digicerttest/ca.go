package digicerttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// testCA is the fake's certificate authority: an ECDSA P-256 root and an
// intermediate it signed, which signs every leaf. It is made once by New
// and never changes, so reading it needs no lock.
type testCA struct {
	rootPEM   []byte
	interCert *x509.Certificate
	interKey  *ecdsa.PrivateKey
	interPEM  []byte
}

// newTestCA makes a root and an intermediate with fresh keys, valid from a
// year before now to 30 (root) and 20 (intermediate) years after it, so
// that a test clock moved forward or back by months still sees them valid.
func newTestCA(now time.Time) (*testCA, error) {
	org := []string{"certform digicerttest (not trusted)"}
	rootKey, root, rootDER, err := newCACert(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "digicerttest Root CA", Organization: org},
		NotBefore:             now.AddDate(-1, 0, 0),
		NotAfter:              now.AddDate(30, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, nil)
	if err != nil {
		return nil, err
	}
	interKey, interCert, interDER, err := newCACert(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "digicerttest TLS Issuing CA", Organization: org},
		NotBefore:             now.AddDate(-1, 0, 0),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}, root, rootKey)
	if err != nil {
		return nil, err
	}
	return &testCA{
		rootPEM:   pemCert(rootDER),
		interCert: interCert,
		interKey:  interKey,
		interPEM:  pemCert(interDER),
	}, nil
}

// newCACert makes a P-256 key and a certificate for it from tmpl, with a
// random serial, signed by parentKey as parent, or self-signed when parent
// is nil. It returns the key, the certificate and its DER.
func newCACert(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, *x509.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		return nil, nil, nil, err
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return key, cert, der, nil
}

// leaf is a certificate the test CA issued.
type leaf struct {
	cert       *x509.Certificate
	pem        []byte
	serial     string // upper-case hexadecimal, 32 digits
	thumbprint string // SHA-1 of the DER, upper-case hexadecimal
}

// issue signs a TLS server certificate for pub with subject CN cn and the
// DNS names, valid from notBefore to notAfter (to the second), with the
// intermediate. hash is the order's signature_hash: sha384 and sha512 pick
// ECDSA with that hash, anything else SHA-256.
func (ca *testCA) issue(pub crypto.PublicKey, cn string, names []string, hash string, notBefore, notAfter time.Time) (*leaf, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	alg := x509.ECDSAWithSHA256
	switch hash {
	case "sha384":
		alg = x509.ECDSAWithSHA384
	case "sha512":
		alg = x509.ECDSAWithSHA512
	}
	usage := x509.KeyUsageDigitalSignature
	if _, ok := pub.(*rsa.PublicKey); ok {
		usage |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		DNSNames:              names,
		NotBefore:             notBefore.UTC().Truncate(time.Second),
		NotAfter:              notAfter.UTC().Truncate(time.Second),
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		SignatureAlgorithm:    alg,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.interCert, pub, ca.interKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(der)
	return &leaf{
		cert:       cert,
		pem:        pemCert(der),
		serial:     fmt.Sprintf("%032X", serial),
		thumbprint: strings.ToUpper(hex.EncodeToString(sum[:])),
	}, nil
}

// randomSerial returns a random positive 127-bit serial number: 16 bytes,
// as DigiCert's are, with the top bit clear so that DER needs no sign byte.
func randomSerial() (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b), nil
}

// newKey returns a fresh P-256 public key whose private key is thrown away:
// the key of an order placed in the console, or a wrong key.
func newKey() crypto.PublicKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("digicerttest: generating a key: " + err.Error())
	}
	return &k.PublicKey
}

// randomToken returns a DCV random value: 32 lower-case hexadecimal digits.
func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
