// Package deliver owns the last step of an issued certificate's way to the
// servers that use it: checking the certificate CertCentral handed out
// (names, key, validity, chain), writing it to disk atomically for readers
// (cert.pem, chain.pem, fullchain.pem behind one symlink swap) and running
// the operator's deploy hook.
//
// It does not talk to CertCentral (package digicert downloads the pem_all
// file), and it does not decide when to deliver or what to do when a check
// fails: package reconcile does.
package deliver

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/certform/certform/internal/nameset"
)

// ClockSkew is how far in the future a certificate's NotBefore may lie and
// still pass Check, so that a host whose clock runs a few minutes behind
// the CA's does not hold back a certificate issued a moment ago.
const ClockSkew = 5 * time.Minute

// Bundle is a certificate download taken apart: the leaf, the intermediates
// that lead from it to the root, in the order downloaded, and the root.
// Root is nil when the download does not end in a self-signed certificate.
type Bundle struct {
	Leaf          *x509.Certificate
	Intermediates []*x509.Certificate
	Root          *x509.Certificate
}

// Parse takes apart DigiCert's pem_all download: PEM CERTIFICATE blocks
// holding the leaf, the intermediates and the root, in that order. The first
// block is the leaf; the last one, when there are two or more and it is
// self-signed, is the root; every block between is an intermediate. Text
// outside the blocks is ignored, as openssl does.
//
// It refuses a download without a certificate, a block that is not a
// CERTIFICATE (such as a private key, which has no business in a file
// that is published) and a certificate that does not parse, naming the
// block by its 1-based number. Parse checks no signature: Check does.
func Parse(pemAll []byte) (*Bundle, error) {
	var certs []*x509.Certificate
	rest := pemAll
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("block %d: the download holds a %s block; a certificate download must hold certificates only", n, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("block %d: the certificate does not parse: %w", n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("the download holds no PEM certificate")
	}
	b := &Bundle{Leaf: certs[0]}
	middle := certs[1:]
	if last := certs[len(certs)-1]; len(certs) > 1 && selfSigned(last) {
		b.Root = last
		middle = certs[1 : len(certs)-1]
	}
	if len(middle) > 0 {
		b.Intermediates = middle
	}
	return b, nil
}

// selfSigned reports whether c names itself as its issuer and its own key
// verifies its signature.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

// Check runs every check a downloaded certificate must pass before it is
// delivered, and reports every failure at once (errors.Join), each as
// "certificate for CN: CHECK: problem", CN being the leaf's common name (or
// its first DNS name, or its serial number):
//
//   - names: the leaf's subject common name and DNS names, lower-cased and
//     taken as a set, are exactly names (also lower-cased); the error lists
//     the missing and the unexpected ones;
//   - public key: the leaf's public key is the key of csrPEM, the spec's CSR
//     (not checked when csrPEM is "": a spec adopting an order by order_id
//     may leave its CSR out);
//   - validity: NotBefore <= now + ClockSkew and now < NotAfter;
//   - chain: the leaf verifies through the bundle's intermediates to the
//     bundle's root, the only root trusted, for server authentication. The
//     chain is verified at now moved into the leaf's validity window, so
//     that an expired leaf, or one inside the clock skew, is reported by
//     the validity check alone; the intermediates and root must be valid at
//     that time. A bundle without a root fails this check.
//
// The chain error wraps x509's, for errors.As. Check is pure: no I/O.
func Check(b *Bundle, names []string, csrPEM string, now time.Time) error {
	if b == nil || b.Leaf == nil {
		return errors.New("no certificate to check")
	}
	leaf := b.Leaf
	prefix := "certificate for " + describe(leaf)
	var errs []error
	fail := func(check, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", prefix, check, fmt.Sprintf(format, args...)))
	}

	if msg := nameMismatch(names, leaf); msg != "" {
		fail("names", "%s", msg)
	}

	if msg := checkKey(leaf, csrPEM); csrPEM != "" && msg != "" {
		fail("public key", "%s", msg)
	}

	if now.Add(ClockSkew).Before(leaf.NotBefore) {
		fail("validity", "it is not valid until %s (now %s, allowing %v of clock skew)", stamp(leaf.NotBefore), stamp(now), ClockSkew)
	}
	if !now.Before(leaf.NotAfter) {
		fail("validity", "it expired at %s (now %s)", stamp(leaf.NotAfter), stamp(now))
	}

	if b.Root == nil {
		fail("chain", "the download holds no root to verify against")
	} else if err := verifyChain(b, now); err != nil {
		errs = append(errs, fmt.Errorf("%s: chain: it does not verify: %w", prefix, err))
	}
	return errors.Join(errs...)
}

// nameMismatch says which of names the leaf misses and which it has
// beyond them, "" when they are the same.
func nameMismatch(names []string, leaf *x509.Certificate) string {
	extra, missing := nameset.Diff(names, leafNames(leaf))
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "unexpected "+strings.Join(extra, ", "))
	}
	return strings.Join(parts, "; ")
}

// verifyChain verifies the bundle's leaf for server auth up to its root
// through its intermediates, at now held within the leaf's validity (the
// validity is checked on its own).
func verifyChain(b *Bundle, now time.Time) error {
	leaf := b.Leaf
	roots := x509.NewCertPool()
	roots.AddCert(b.Root)
	inter := x509.NewCertPool()
	for _, c := range b.Intermediates {
		inter.AddCert(c)
	}
	at := now
	if at.Before(leaf.NotBefore) {
		at = leaf.NotBefore
	}
	if at.After(leaf.NotAfter) {
		at = leaf.NotAfter
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

// describe names a certificate for messages.
func describe(c *x509.Certificate) string {
	switch {
	case c.Subject.CommonName != "":
		return c.Subject.CommonName
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	}
	return fmt.Sprintf("serial %x", c.SerialNumber)
}

// leafNames returns the certificate's common name and DNS names,
// lower-cased.
func leafNames(c *x509.Certificate) []string {
	var names []string
	if c.Subject.CommonName != "" {
		names = append(names, strings.ToLower(c.Subject.CommonName))
	}
	for _, n := range c.DNSNames {
		names = append(names, strings.ToLower(n))
	}
	return names
}

// checkKey returns why the leaf's key is not the key of the CSR, or "".
func checkKey(leaf *x509.Certificate, csrPEM string) string {
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil || (block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST") {
		return "the spec's CSR holds no PEM CERTIFICATE REQUEST block"
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return "the spec's CSR does not parse: " + err.Error()
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(csr.PublicKey) {
		return "it is not the key of the spec's CSR"
	}
	return ""
}

// stamp formats a time for messages: UTC, RFC 3339.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// encode returns the certificates as PEM CERTIFICATE blocks, in order.
func encode(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		// pem.Encode to a bytes.Buffer cannot fail: the block has no headers.
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}
