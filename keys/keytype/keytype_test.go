package keytype

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const allowed = "use one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096"
	tests := []struct {
		name, in string
		want     Type
		err      string
	}{
		{name: "ecdsa-p256", in: "ecdsa-p256", want: ECDSAP256},
		{name: "ecdsa-p384", in: "ecdsa-p384", want: ECDSAP384},
		{name: "rsa-2048", in: "rsa-2048", want: RSA2048},
		{name: "rsa-3072", in: "rsa-3072", want: RSA3072},
		{name: "rsa-4096", in: "rsa-4096", want: RSA4096},
		{name: "empty", in: "", err: "key type is empty; " + allowed},
		{name: "too small", in: "rsa-1024", err: `key type "rsa-1024" is not allowed; ` + allowed},
		{name: "p521 not accepted by DigiCert", in: "ecdsa-p521", err: `key type "ecdsa-p521" is not allowed; ` + allowed},
		{name: "ed25519", in: "ed25519", err: `key type "ed25519" is not allowed; ` + allowed},
		{name: "upper case", in: "ECDSA-P256", err: `key type "ECDSA-P256" is not allowed (write it in lowercase, without spaces); ` + allowed},
		{name: "spaces", in: " rsa-2048", err: `key type " rsa-2048" is not allowed (write it in lowercase, without spaces); ` + allowed},
		{name: "openssl spelling", in: "rsa:2048", err: `key type "rsa:2048" is not allowed; ` + allowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.err == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Parse(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			var te *TypeError
			if !errors.As(err, &te) || te.Value != tt.in {
				t.Fatalf("Parse(%q) error = %v; want a *TypeError for %q", tt.in, err, tt.in)
			}
			if err.Error() != tt.err || got != "" {
				t.Fatalf("Parse(%q) = %q, %q\nwant error %q", tt.in, got, err, tt.err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"ecdsa-p256", "rsa-4096", "", "RSA-2048", "rsa-1024", "ecdsa-p256\n", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, err := Parse(s)
		if err == nil {
			if string(typ) != s || !isType(s) {
				t.Fatalf("Parse(%q) accepted %q", s, typ)
			}
			return
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "key type ") || !strings.HasSuffix(msg, "use one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096") {
			t.Fatalf("Parse(%q) error %q does not name the allowed values", s, msg)
		}
		if s != "" && !strings.Contains(msg, fmt.Sprintf("%q", s)) {
			t.Fatalf("Parse(%q) error %q does not quote the value", s, msg)
		}
	})
}
