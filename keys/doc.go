// Package keys owns the private keys certform makes for specs with a
// key_type: generating them (crypto/rand, crypto/ecdsa, crypto/rsa),
// encoding them as PKCS#8 PEM, building the CSR of a spec's names signed
// with them, comparing a certificate's public key with theirs, keeping them
// in a directory of 0600 files (Store), and sealing them with age (X25519)
// for the shared PostgreSQL state (Seal, Open).
//
// A Key never shows its private half: String, GoString, Format, LogValue,
// MarshalText and MarshalJSON all give "[redacted]", and no error of this
// package carries key material or an age identity. The one way out is
// Key.PKCS8PEM, for the store, Seal and delivery.
//
// The key_type names and their parsing live in the leaf package keytype
// (re-exported here as Type, ParseType and TypeError), so that package
// spec can validate key_type without importing keys.
//
// It does not own where keys are used or when they rotate: which spec gets
// a key, when a key is made, kept or removed, the intents that record a
// CSR's fingerprint, the state's records (key_created_at), delivery of
// privkey.pem and the flags (--key-dir, --key-recipient,
// --key-identity-file) belong to the reconciler, the state, the deliverer
// and the CLI. It does not read specs; it imports package spec only to
// compute a CSR's fingerprint exactly as spec does.
//
// The package is safe for concurrent use except Store, whose methods
// assume one process per key directory (the state's lock gives that).
package keys
