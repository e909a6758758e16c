package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKeys caches one generated key per type: RSA-4096 takes seconds.
var testKeys sync.Map // Type -> Key

func testKey(t testing.TB, typ Type) Key {
	t.Helper()
	if k, ok := testKeys.Load(typ); ok {
		return k.(Key)
	}
	k, err := Generate(typ)
	if err != nil {
		t.Fatal(err)
	}
	testKeys.Store(typ, k)
	return k
}

// secretText returns text that appears in k's private half when printed
// in any usual way: the PEM body and the private scalar or exponent in
// decimal and hex.
func secretText(t *testing.T, k Key) []string {
	t.Helper()
	p, err := k.PKCS8PEM()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(p), "\n")
	out := []string{"PRIVATE KEY", lines[1]}
	var d *big.Int
	switch s := k.s.signer.(type) {
	case *ecdsa.PrivateKey:
		b, err := s.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		d = new(big.Int).SetBytes(b)
	case *rsa.PrivateKey:
		d = s.D
	}
	return append(out, d.String(), d.Text(16))
}

func TestParseType(t *testing.T) {
	if typ, err := ParseType("ecdsa-p384"); typ != ECDSAP384 || err != nil {
		t.Fatalf("ParseType(ecdsa-p384) = %q, %v", typ, err)
	}
	_, err := ParseType("rsa-1024")
	var te *TypeError
	if !errors.As(err, &te) || err.Error() != `key type "rsa-1024" is not allowed; use one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096` {
		t.Fatalf("ParseType(rsa-1024) error %v", err)
	}
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		typ  Type
		algo x509.PublicKeyAlgorithm
		size int // curve bits or modulus bits
		hash string
	}{
		{ECDSAP256, x509.ECDSA, 256, "sha256"},
		{ECDSAP384, x509.ECDSA, 384, "sha384"},
		{RSA2048, x509.RSA, 2048, "sha256"},
		{RSA3072, x509.RSA, 3072, "sha256"},
		{RSA4096, x509.RSA, 4096, "sha256"},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			k := testKey(t, tt.typ)
			if k.Type() != tt.typ || tt.typ.SignatureHash() != tt.hash {
				t.Fatalf("Type() = %q, SignatureHash() = %q; want %q, %q", k.Type(), tt.typ.SignatureHash(), tt.typ, tt.hash)
			}
			p, err := k.PKCS8PEM()
			if err != nil {
				t.Fatal(err)
			}
			block, rest := pem.Decode(p)
			if block == nil || block.Type != "PRIVATE KEY" || len(rest) != 0 {
				t.Fatalf("PKCS8PEM() is not one PRIVATE KEY block:\n%s", p)
			}
			parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				t.Fatalf("not PKCS#8: %v", err)
			}
			switch pk := parsed.(type) {
			case *ecdsa.PrivateKey:
				if tt.algo != x509.ECDSA || pk.Curve.Params().BitSize != tt.size {
					t.Fatalf("got ECDSA on %s; want %v %d", pk.Curve.Params().Name, tt.algo, tt.size)
				}
			case *rsa.PrivateKey:
				if tt.algo != x509.RSA || pk.N.BitLen() != tt.size {
					t.Fatalf("got RSA %d; want %v %d", pk.N.BitLen(), tt.algo, tt.size)
				}
			default:
				t.Fatalf("got %T", parsed)
			}
			back, err := ParsePEM(p)
			if err != nil {
				t.Fatal(err)
			}
			if back.Type() != tt.typ || !back.MatchesPublic(k.Public()) {
				t.Fatalf("ParsePEM(PKCS8PEM()) = %s key that does not match", back.Type())
			}
		})
	}
	t.Run("two keys differ", func(t *testing.T) {
		a, _ := Generate(ECDSAP256)
		b, _ := Generate(ECDSAP256)
		if a.MatchesPublic(b.Public()) {
			t.Fatal("two generated keys are equal")
		}
	})
	t.Run("unknown type", func(t *testing.T) {
		_, err := Generate("rsa-1024")
		var te *TypeError
		if !errors.As(err, &te) {
			t.Fatalf("Generate(rsa-1024) error = %v; want *TypeError", err)
		}
	})
}

type holder struct {
	Exported Key
	hidden   Key
	ptr      *Key
}

func TestKey_neverShown(t *testing.T) {
	for _, typ := range []Type{ECDSAP256, RSA2048} {
		t.Run(string(typ), func(t *testing.T) {
			k := testKey(t, typ)
			h := holder{Exported: k, hidden: k, ptr: &k}
			var out []string
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
				out = append(out, fmt.Sprintf(verb, k), fmt.Sprintf(verb, &k), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h), fmt.Sprintf(verb, []Key{k}), fmt.Sprintf(verb, map[string]Key{"a": k}))
			}
			out = append(out, fmt.Sprint(k), k.String(), k.GoString(), fmt.Errorf("wrapped %v", k).Error())
			j, err := json.Marshal(map[string]any{"k": k, "h": h, "p": &k})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(j))
			var logs bytes.Buffer
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("key", "key", k, "holder", h)
			slog.New(slog.NewTextHandler(&logs, nil)).Info("key", "key", k, "ptr", &k)
			out = append(out, logs.String())
			all := strings.Join(out, "\n")
			for _, s := range secretText(t, k) {
				if strings.Contains(all, s) {
					t.Fatalf("key material %.20q... shown in:\n%s", s, all)
				}
			}
			if !strings.Contains(string(j), `"k":"[redacted]"`) || !strings.Contains(logs.String(), `"key":"[redacted]"`) || fmt.Sprintf("%v", k) != "[redacted]" || fmt.Sprintf("%#v", k) != `"[redacted]"` {
				t.Fatalf("not redacted as [redacted]:\n%s", all)
			}
		})
	}
}

func TestParsePEM_errors(t *testing.T) {
	ec224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der224, err := x509.MarshalPKCS8PrivateKey(ec224)
	if err != nil {
		t.Fatal(err)
	}
	k := testKey(t, RSA2048)
	good, _ := k.PKCS8PEM()
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.s.signer.(*rsa.PrivateKey))})
	garbled := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("SECRETSECRETSECRET")})
	tests := []struct {
		name string
		in   []byte
		is   error
		msg  string
	}{
		{"empty", nil, ErrNotPrivateKeyPEM, "not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)"},
		{"pkcs1", pkcs1, ErrNotPrivateKeyPEM, "not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)"},
		{"two keys", append(append([]byte(nil), good...), good...), ErrNotPrivateKeyPEM, "not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)"},
		{"garbled", garbled, ErrNotPrivateKeyPEM, ""},
		{"p224", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der224}), ErrUnsupportedKey, "unsupported key: use one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePEM(tt.in)
			if !errors.Is(err, tt.is) || !got.IsZero() {
				t.Fatalf("ParsePEM() = %v, %v; want %v", got, err, tt.is)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Fatalf("error %q; want %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "MII") {
				t.Fatalf("error quotes the data: %v", err)
			}
		})
	}
}

func selfSigned(t *testing.T, k Key) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "a.example.com"},
		NotBefore:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		DNSNames:     []string{"a.example.com"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k.s.signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestKey_publicKey(t *testing.T) {
	for _, typ := range []Type{ECDSAP256, ECDSAP384, RSA2048} {
		t.Run(string(typ), func(t *testing.T) {
			k := testKey(t, typ)
			other := testKey(t, ECDSAP256)
			if typ == ECDSAP256 {
				other = testKey(t, ECDSAP384)
			}
			cert := selfSigned(t, k)
			sum, err := k.PublicKeySHA256()
			if err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
			if sum != hex.EncodeToString(want[:]) {
				t.Fatalf("PublicKeySHA256() = %s; want the SHA-256 of the certificate's SubjectPublicKeyInfo, %x", sum, want)
			}
			if !k.Matches(cert) || other.Matches(cert) || (Key{}).Matches(cert) || k.Matches(nil) {
				t.Fatal("Matches: want true for the key's certificate only")
			}
			if _, err := (Key{}).PublicKeySHA256(); !errors.Is(err, ErrNoKey) {
				t.Fatalf("zero Key: %v; want ErrNoKey", err)
			}
		})
	}
}
