package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/certform/certform/keys/keytype"
)

// Type is a spec's key_type: the algorithm and size of a key certform
// makes (see package keytype, which spec may import without a cycle).
type Type = keytype.Type

// The key types a spec's key_type accepts (see keytype).
const (
	ECDSAP256 = keytype.ECDSAP256
	ECDSAP384 = keytype.ECDSAP384
	RSA2048   = keytype.RSA2048
	RSA3072   = keytype.RSA3072
	RSA4096   = keytype.RSA4096
)

// TypeError says a key_type value is not one of Types (see keytype).
type TypeError = keytype.TypeError

// Types returns every key type, in the order error messages list them.
func Types() []Type { return keytype.Types() }

// ParseType returns the Type named s, exactly as written, or a
// *TypeError listing the allowed values (keytype.Parse).
func ParseType(s string) (Type, error) { return keytype.Parse(s) }

func x509Algorithm(t Type) x509.SignatureAlgorithm {
	switch t {
	case ECDSAP256:
		return x509.ECDSAWithSHA256
	case ECDSAP384:
		return x509.ECDSAWithSHA384
	default:
		return x509.SHA256WithRSA
	}
}

// Key is a private key certform made. The zero Key holds no key; its
// methods report ErrNoKey or return zero values.
//
// A Key is a handle: copies share the same key, which is never changed.
// It never prints, logs or marshals its private half (see the package
// comment), even inside another value printed with %v or %+v, because
// the key sits behind a pointer that fmt shows as an address.
type Key struct {
	s *secret
}

type secret struct {
	typ    Type
	signer crypto.Signer // *ecdsa.PrivateKey or *rsa.PrivateKey
}

// ErrNoKey is returned by the methods of the zero Key.
var ErrNoKey = errors.New("no key")

const redacted = "[redacted]"

// String returns "[redacted]".
func (Key) String() string { return redacted }

// GoString returns `"[redacted]"`.
func (Key) GoString() string { return `"` + redacted + `"` }

// Format writes "[redacted]" for every verb, quoted for %#v.
func (k Key) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, k.GoString())
		return
	}
	io.WriteString(f, redacted)
}

// LogValue returns "[redacted]" for log/slog.
func (Key) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "[redacted]".
func (Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON returns the JSON string "[redacted]": a Key that reaches a
// JSON document (the state, status --json) by mistake shows nothing.
func (Key) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Generate makes a new key of type t from crypto/rand. On one core of
// the 2-core test machine (BenchmarkGenerate, 10 keys a type, two runs)
// an ECDSA key took 0.01-0.2 ms, RSA-2048 30-60 ms, RSA-3072 160-270 ms
// and RSA-4096 0.4-0.55 s; RSA times vary a lot from key to key (the
// search for primes is random). A *TypeError for an unknown t.
func Generate(t Type) (Key, error) {
	var (
		signer crypto.Signer
		err    error
	)
	switch t {
	case ECDSAP256:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RSA2048:
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		signer, err = rsa.GenerateKey(rand.Reader, 3072)
	case RSA4096:
		signer, err = rsa.GenerateKey(rand.Reader, 4096)
	default:
		return Key{}, &TypeError{Value: string(t)}
	}
	if err != nil {
		return Key{}, fmt.Errorf("generate %s key: %w", t, err)
	}
	return Key{&secret{typ: t, signer: signer}}, nil
}

// ErrUnsupportedKey says a PEM holds a key of a type or size that is not
// one of Types.
var ErrUnsupportedKey = errors.New("unsupported key: use one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096")

// ErrNotPrivateKeyPEM says data is not one PKCS#8 "PRIVATE KEY" PEM block.
var ErrNotPrivateKeyPEM = errors.New("not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)")

// ParsePEM reads a key from PKCS#8 PEM, as PKCS8PEM writes it: one
// "PRIVATE KEY" block, with nothing but white space around it. Its errors
// never quote the data.
func ParsePEM(data []byte) (Key, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" || len(block.Headers) != 0 || strings.TrimSpace(string(rest)) != "" {
		return Key{}, ErrNotPrivateKeyPEM
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		// The parser's messages name ASN.1 structure, never the bytes.
		return Key{}, fmt.Errorf("%w: %v", ErrNotPrivateKeyPEM, err)
	}
	switch k := parsed.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return Key{&secret{typ: ECDSAP256, signer: k}}, nil
		case elliptic.P384():
			return Key{&secret{typ: ECDSAP384, signer: k}}, nil
		}
	case *rsa.PrivateKey:
		switch k.N.BitLen() {
		case 2048:
			return Key{&secret{typ: RSA2048, signer: k}}, nil
		case 3072:
			return Key{&secret{typ: RSA3072, signer: k}}, nil
		case 4096:
			return Key{&secret{typ: RSA4096, signer: k}}, nil
		}
	}
	return Key{}, ErrUnsupportedKey
}

// IsZero reports whether k holds no key.
func (k Key) IsZero() bool { return k.s == nil }

// Type returns the key's type, or "" for the zero Key.
func (k Key) Type() Type {
	if k.s == nil {
		return ""
	}
	return k.s.typ
}

// Public returns the public key (*ecdsa.PublicKey or *rsa.PublicKey), or
// nil for the zero Key.
func (k Key) Public() crypto.PublicKey {
	if k.s == nil {
		return nil
	}
	return k.s.signer.Public()
}

// PKCS8PEM returns the private key as one PKCS#8 "PRIVATE KEY" PEM block:
// the content of a key file and of privkey.pem. It is the one way the
// private key leaves a Key; never log or print the result.
func (k Key) PKCS8PEM() ([]byte, error) {
	if k.s == nil {
		return nil, ErrNoKey
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.s.signer)
	if err != nil {
		return nil, fmt.Errorf("encode %s key: %w", k.s.typ, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicKeySHA256 returns the hex SHA-256 of the key's public key in PKIX
// DER (SubjectPublicKeyInfo): status --json's public_key_sha256.
func (k Key) PublicKeySHA256() (string, error) {
	if k.s == nil {
		return "", ErrNoKey
	}
	return PublicKeySHA256(k.Public())
}

// PublicKeySHA256 returns the hex SHA-256 of pub in PKIX DER
// (SubjectPublicKeyInfo), the same bytes for a key, its CSR and its
// certificate: `openssl pkey -pubout -outform DER | sha256sum` gives it.
func PublicKeySHA256(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// Matches reports whether cert's public key is this key's: a delivered
// certificate and its key must match. It is false for the zero Key and a
// nil certificate.
func (k Key) Matches(cert *x509.Certificate) bool {
	if k.s == nil || cert == nil {
		return false
	}
	return k.MatchesPublic(cert.PublicKey)
}

// MatchesPublic reports whether pub (from a certificate or a CSR) is this
// key's public key.
func (k Key) MatchesPublic(pub crypto.PublicKey) bool {
	if k.s == nil || pub == nil {
		return false
	}
	own, ok := k.s.signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && own.Equal(pub)
}
