package spec

import (
	"encoding/base64"
	"encoding/pem"
	"strings"
)

// The lines of a certificate request's PEM block, as tools write it.
const (
	pemRequestBegin    = "-----BEGIN CERTIFICATE REQUEST-----\n"
	pemRequestEnd      = "-----END CERTIFICATE REQUEST-----"
	pemNewRequestBegin = "-----BEGIN NEW CERTIFICATE REQUEST-----\n"
	pemNewRequestEnd   = "-----END NEW CERTIFICATE REQUEST-----"
)

// decodePEM returns the type and bytes of the first PEM block of text as
// pem.Decode reads them, and false when pem.Decode finds none. When text
// is exactly one certificate request block as tools write it (see
// plainRequestPEM), the bytes are decoded into *buf, grown as needed,
// instead of a new slice (issue 27: a slice per spec was 5% of what a load
// allocated); they are then valid only until the next call with buf.
// Anything else is read by pem.Decode. FuzzDecodePEM checks that the two
// ways agree.
func decodePEM(text string, buf *[]byte) (typ string, der []byte, ok bool) {
	if typ, body, ok := plainRequestPEM(text); ok {
		n := base64.StdEncoding.DecodedLen(len(body))
		if cap(*buf) < n {
			*buf = make([]byte, n)
		}
		b := (*buf)[:n]
		if m, err := base64.StdEncoding.Decode(b, stringBytes(body)); err == nil {
			return typ, b[:m], true
		}
	}
	block, _ := pem.Decode(stringBytes(text))
	if block == nil {
		return "", nil, false
	}
	return block.Type, block.Bytes, true
}

// plainRequestPEM reports whether text is one certificate request block
// and nothing else: its BEGIN line first, then one or more lines of base64
// characters (no blank line, space, tab, carriage return or header), then
// its END line, with or without a final newline. It returns the block's
// type and its base64 lines. pem.Decode reads such a text as that one
// block, without headers, its bytes the base64 lines decoded.
func plainRequestPEM(text string) (typ, body string, ok bool) {
	text = strings.TrimSuffix(text, "\n")
	switch {
	case framed(text, pemRequestBegin, pemRequestEnd):
		typ, body = "CERTIFICATE REQUEST", text[len(pemRequestBegin):len(text)-len(pemRequestEnd)]
	case framed(text, pemNewRequestBegin, pemNewRequestEnd):
		typ, body = "NEW CERTIFICATE REQUEST", text[len(pemNewRequestBegin):len(text)-len(pemNewRequestEnd)]
	default:
		return "", "", false
	}
	if body == "" || body[0] == '\n' || body[len(body)-1] != '\n' {
		return "", "", false
	}
	prev := byte(0)
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !isBase64(c) && (c != '\n' || prev == '\n') {
			return "", "", false
		}
		prev = c
	}
	return typ, body, true
}

// framed reports whether text starts with begin and ends with end, the
// two apart.
func framed(text, begin, end string) bool {
	return len(text) >= len(begin)+len(end) && strings.HasPrefix(text, begin) && strings.HasSuffix(text, end)
}

// isBase64 reports whether c is a character of standard base64, padding
// included.
func isBase64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}
