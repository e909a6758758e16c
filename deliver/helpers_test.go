package deliver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/certform/certform/spec/spectest"
)

// testNow is the clock of the tests; test certificates are valid in 2026.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var (
	leafFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leafTo   = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
)

// testCA is a throwaway certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func create(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caTemplate(t testing.TB, cn string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

// newRoot makes a self-signed root CA.
func newRoot(t testing.TB, cn string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := caTemplate(t, cn)
	return &testCA{cert: create(t, tmpl, tmpl, key.Public(), key), key: key}
}

// intermediate makes a CA signed by ca.
func (ca *testCA) intermediate(t testing.TB, cn string) *testCA {
	t.Helper()
	key := newKey(t)
	return &testCA{cert: create(t, caTemplate(t, cn), ca.cert, key.Public(), ca.key), key: key}
}

// issue makes a server certificate for pub signed by ca, with subject CN
// cn and the DNS names sans.
func (ca *testCA) issue(t testing.TB, pub crypto.PublicKey, cn string, sans []string, from, to time.Time) *x509.Certificate {
	t.Helper()
	return create(t, &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     sans,
		NotBefore:    from,
		NotAfter:     to,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca.cert, pub, ca.key)
}

// fixture is one issued certificate with everything around it.
type fixture struct {
	root, inter *testCA
	key         *ecdsa.PrivateKey
	csr         string
	leaf        *x509.Certificate
}

// newFixture issues shop.example.com + www.shop.example.com, valid in 2026,
// through "Test Intermediate" under "Test Root", for the key of csr.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{root: newRoot(t, "Test Root")}
	f.inter = f.root.intermediate(t, "Test Intermediate")
	f.key = newKey(t)
	csr, err := spectest.CSRWithKey(f.key, "shop.example.com", "shop.example.com", "www.shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	f.csr = csr
	f.leaf = f.inter.issue(t, f.key.Public(), "shop.example.com", []string{"shop.example.com", "www.shop.example.com"}, leafFrom, leafTo)
	return f
}

// pemAll is the download DigiCert's pem_all format would give.
func (f *fixture) pemAll() []byte { return encode(f.leaf, f.inter.cert, f.root.cert) }

func (f *fixture) bundle() *Bundle {
	return &Bundle{Leaf: f.leaf, Intermediates: []*x509.Certificate{f.inter.cert}, Root: f.root.cert}
}
