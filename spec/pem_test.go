package spec

import (
	"bytes"
	"encoding/pem"
	"strings"
	"testing"
)

// checkDecodePEM fails when decodePEM reads text other than pem.Decode.
func checkDecodePEM(t *testing.T, text string, buf *[]byte) {
	t.Helper()
	typ, der, ok := decodePEM(text, buf)
	block, _ := pem.Decode([]byte(text))
	switch {
	case block == nil && ok:
		t.Fatalf("decodePEM(%q) read a %q block; pem.Decode none", text, typ)
	case block == nil:
	case !ok || typ != block.Type || !bytes.Equal(der, block.Bytes):
		t.Fatalf("decodePEM(%q) = %q, %x, %v; pem.Decode %q, %x", text, typ, der, ok, block.Type, block.Bytes)
	}
	if _, _, plain := plainRequestPEM(text); plain && block != nil && len(block.Headers) > 0 {
		t.Fatalf("plainRequestPEM(%q) took a text pem.Decode reads with headers", text)
	}
}

// TestDecodePEM checks decodePEM against pem.Decode on requests written
// in the plain form, which it decodes into the buffer given, and in other
// forms, which pem.Decode reads.
func TestDecodePEM(t *testing.T) {
	csr := makeCSR(t, "a.example.com")
	body := strings.TrimSuffix(strings.TrimPrefix(csr, pemRequestBegin), pemRequestEnd+"\n")
	plain := []string{
		csr,
		strings.TrimSuffix(csr, "\n"),
		pemNewRequestBegin + body + pemNewRequestEnd + "\n",
	}
	other := []string{
		"", "x", "\n" + csr, csr + "\n", csr + csr, "junk\n" + csr,
		strings.ReplaceAll(csr, "\n", "\r\n"),
		strings.Replace(csr, "\n", "\n\n", 2),
		strings.Replace(csr, "\n", "\n ", 2),
		pemRequestBegin + "Proc-Type: 4,ENCRYPTED\n\n" + body + pemRequestEnd,
		pemRequestBegin + body + pemNewRequestEnd,
		pemRequestBegin + pemRequestEnd,
		pemRequestBegin + "\n" + pemRequestEnd,
		strings.ReplaceAll(csr, "REQUEST", "REQUESTS"),
	}
	// Framed as plain, but not base64: pem.Decode says why.
	var buf []byte
	checkDecodePEM(t, pemRequestBegin+"====\n"+pemRequestEnd, &buf)
	for _, text := range plain {
		var buf []byte
		checkDecodePEM(t, text, &buf)
		_, der, _ := decodePEM(text, &buf)
		if len(der) == 0 || &der[0] != &buf[0] {
			t.Errorf("a plain request was not decoded into the buffer: %q", text)
		}
	}
	for _, text := range other {
		if _, _, ok := plainRequestPEM(text); ok {
			t.Errorf("plainRequestPEM took %q", text)
		}
		var buf []byte
		checkDecodePEM(t, text, &buf)
	}
}

// FuzzDecodePEM checks that decodePEM reads every text as pem.Decode does,
// with a buffer kept from one input to the next as a loading worker keeps
// it.
func FuzzDecodePEM(f *testing.F) {
	csr := makeCSR(f, "a.example.com")
	f.Add(csr)
	f.Add(strings.Replace(csr, "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", 2))
	f.Add(pemRequestBegin + "AAAA\n" + pemRequestEnd)
	f.Add(pemRequestBegin + "AA==\nAA==\n" + pemRequestEnd + "\n")
	f.Add(pemRequestBegin + "Proc-Type: 4\n\nAAAA\n" + pemRequestEnd)
	var buf []byte
	f.Fuzz(func(t *testing.T, text string) { checkDecodePEM(t, text, &buf) })
}
