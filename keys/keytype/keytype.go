// Package keytype owns the names of the key types a spec's key_type
// accepts (ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096) and their
// parsing. It is a leaf, importing nothing of certform, so that package
// spec can validate key_type while package keys, which makes the keys,
// imports spec for the CSR fingerprint. It does not make keys (package
// keys does).
package keytype

import (
	"fmt"
	"strings"
)

// Type is a spec's key_type: the algorithm and size of a key certform makes.
type Type string

// The key types a spec's key_type accepts. DigiCert accepts RSA keys of
// 2048 bits or more and ECDSA keys on P-256 and P-384
// (shared/digicert-api.md); 3072 and 4096 are the common RSA sizes above
// the minimum.
const (
	ECDSAP256 Type = "ecdsa-p256"
	ECDSAP384 Type = "ecdsa-p384"
	RSA2048   Type = "rsa-2048"
	RSA3072   Type = "rsa-3072"
	RSA4096   Type = "rsa-4096"
)

var types = []Type{ECDSAP256, ECDSAP384, RSA2048, RSA3072, RSA4096}

// Types returns every key type, in the order the error messages list them.
// The slice is a copy.
func Types() []Type { return append([]Type(nil), types...) }

// TypeError says a key_type value is not one of Types. Its Error reads
// `key type "rsa-1024" is not allowed; use one of ecdsa-p256, ...`.
type TypeError struct {
	Value string
}

// Error names the value and lists the allowed ones.
func (e *TypeError) Error() string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	allowed := strings.Join(names, ", ")
	switch {
	case e.Value == "":
		return "key type is empty; use one of " + allowed
	case isType(strings.ToLower(strings.TrimSpace(e.Value))):
		return fmt.Sprintf("key type %q is not allowed (write it in lowercase, without spaces); use one of %s", e.Value, allowed)
	}
	return fmt.Sprintf("key type %q is not allowed; use one of %s", e.Value, allowed)
}

// Valid reports whether t is one of Types.
func (t Type) Valid() bool { return isType(string(t)) }

func isType(s string) bool {
	for _, t := range types {
		if string(t) == s {
			return true
		}
	}
	return false
}

// Parse returns the Type named s, exactly as written (lowercase, no
// spaces), or a *TypeError listing the allowed values.
func Parse(s string) (Type, error) {
	if isType(s) {
		return Type(s), nil
	}
	return "", &TypeError{Value: s}
}

// String returns the key_type value, such as "ecdsa-p256".
func (t Type) String() string { return string(t) }

// SignatureHash returns the hash the CSR of a key of this type is signed
// with: "sha384" for ecdsa-p384, "sha256" for the others (the strength of
// the hash matched to the key's, as RFC 5480 section 4 advises). It is
// also a fitting signature_hash for the order (DigiCert accepts sha256,
// sha384 and sha512), though the spec's signature_hash decides that.
func (t Type) SignatureHash() string {
	if t == ECDSAP384 {
		return "sha384"
	}
	return "sha256"
}
