package deliver

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/certform/certform/spec/spectest"
)

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParse(t *testing.T) {
	f := newFixture(t)
	inter2 := f.root.intermediate(t, "Test Intermediate 2")
	keyBlock := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("secret")})
	badCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("nope")})
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name    string
		in      []byte
		want    []*x509.Certificate // leaf, intermediates..., root (nil: none)
		wantErr string
	}{
		{name: "leaf, intermediate, root", in: f.pemAll(), want: []*x509.Certificate{f.leaf, f.inter.cert, f.root.cert}},
		{name: "text around the blocks", in: cat([]byte("subject=shop\n"), f.pemAll(), []byte("\ntrailer\n")), want: []*x509.Certificate{f.leaf, f.inter.cert, f.root.cert}},
		{name: "two intermediates", in: encode(f.leaf, f.inter.cert, inter2.cert, f.root.cert), want: []*x509.Certificate{f.leaf, f.inter.cert, inter2.cert, f.root.cert}},
		{name: "no root", in: encode(f.leaf, f.inter.cert), want: []*x509.Certificate{f.leaf, f.inter.cert, nil}},
		{name: "leaf only", in: encode(f.leaf), want: []*x509.Certificate{f.leaf, nil}},
		{name: "self-signed leaf only is no root", in: encode(f.root.cert), want: []*x509.Certificate{f.root.cert, nil}},
		{name: "empty", in: nil, wantErr: "the download holds no PEM certificate"},
		{name: "junk", in: []byte("<html>Service Unavailable</html>"), wantErr: "the download holds no PEM certificate"},
		{name: "private key", in: cat(encode(f.leaf), keyBlock, encode(f.root.cert)), wantErr: "block 2: the download holds a PRIVATE KEY block; a certificate download must hold certificates only"},
		{name: "certificate that does not parse", in: cat(encode(f.leaf, f.inter.cert), badCert), wantErr: "block 3: the certificate does not parse: x509: malformed certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse(tt.in)
			if got := errText(err); got != tt.wantErr {
				t.Fatalf("error %q, want %q", got, tt.wantErr)
			}
			if err != nil {
				if b != nil {
					t.Errorf("bundle %v with an error", b)
				}
				return
			}
			got := append([]*x509.Certificate{b.Leaf}, b.Intermediates...)
			got = append(got, b.Root)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d certificates (leaf, %d intermediates, root), want %d", len(got), len(b.Intermediates), len(tt.want))
			}
			for i := range got {
				if (got[i] == nil) != (tt.want[i] == nil) || (got[i] != nil && !got[i].Equal(tt.want[i])) {
					t.Errorf("certificate %d: got %v, want %v", i, subjectOf(got[i]), subjectOf(tt.want[i]))
				}
			}
		})
	}
}

func subjectOf(c *x509.Certificate) string {
	if c == nil {
		return "none"
	}
	return c.Subject.String()
}

func TestCheck(t *testing.T) {
	f := newFixture(t)
	names := []string{"shop.example.com", "www.shop.example.com"}
	otherRoot := newRoot(t, "Other Root")
	otherInter := otherRoot.intermediate(t, "Other Intermediate")
	// A root of the same name as the leaf's real root, with another key.
	impostorRoot := newRoot(t, "Test Root")
	otherCSR, err := spectest.CSRWithKey(newKey(t), "shop.example.com", "shop.example.com", "www.shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	with := func(change func(b *Bundle)) *Bundle {
		b := f.bundle()
		change(b)
		return b
	}
	skewed := f.inter.issue(t, f.key.Public(), "shop.example.com", names, testNow.Add(ClockSkew), leafTo)
	tooEarly := f.inter.issue(t, f.key.Public(), "shop.example.com", names, testNow.Add(ClockSkew+time.Second), leafTo)
	const prefix = "certificate for shop.example.com: "

	tests := []struct {
		name   string
		bundle *Bundle
		names  []string
		csr    string
		now    time.Time
		want   string
	}{
		{name: "good", bundle: f.bundle(), names: names, csr: f.csr, now: testNow},
		{name: "names compared lower-cased as a set", bundle: f.bundle(), names: []string{"WWW.shop.example.com", "shop.example.com", "www.shop.example.com"}, csr: f.csr, now: testNow},
		{name: "wrong names", bundle: f.bundle(), names: []string{"shop.example.com", "api.shop.example.com", "other.example.com"}, csr: f.csr, now: testNow,
			want: prefix + "names: missing api.shop.example.com, other.example.com; unexpected www.shop.example.com"},
		{name: "a name missing", bundle: f.bundle(), names: append(names, "api.shop.example.com"), csr: f.csr, now: testNow,
			want: prefix + "names: missing api.shop.example.com"},
		{name: "wrong key", bundle: f.bundle(), names: names, csr: otherCSR, now: testNow,
			want: prefix + "public key: it is not the key of the spec's CSR"},
		{name: "no CSR: the key is not checked", bundle: f.bundle(), names: names, csr: "", now: testNow},
		{name: "no CSR, other checks still made", bundle: f.bundle(), names: []string{"shop.example.com"}, csr: "", now: testNow,
			want: prefix + "names: unexpected www.shop.example.com"},
		{name: "CSR not PEM", bundle: f.bundle(), names: names, csr: "junk", now: testNow,
			want: prefix + "public key: the spec's CSR holds no PEM CERTIFICATE REQUEST block"},
		{name: "CSR does not parse", bundle: f.bundle(), names: names, csr: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte("nope")})), now: testNow,
			want: prefix + "public key: the spec's CSR does not parse: asn1: structure error: tags don't match (16 vs {class:1 tag:14 length:111 isCompound:true}) {optional:false explicit:false application:false private:false defaultValue:<nil> tag:<nil> stringType:0 timeType:0 set:false omitEmpty:false} certificateRequest @2"},
		{name: "expired", bundle: f.bundle(), names: names, csr: f.csr, now: leafTo,
			want: prefix + "validity: it expired at 2027-01-01T00:00:00Z (now 2027-01-01T00:00:00Z)"},
		{name: "last second", bundle: f.bundle(), names: names, csr: f.csr, now: leafTo.Add(-time.Second)},
		{name: "not yet valid", bundle: with(func(b *Bundle) { b.Leaf = tooEarly }), names: names, csr: f.csr, now: testNow,
			want: prefix + "validity: it is not valid until 2026-03-01T12:05:01Z (now 2026-03-01T12:00:00Z, allowing 5m0s of clock skew)"},
		{name: "within the clock skew", bundle: with(func(b *Bundle) { b.Leaf = skewed }), names: names, csr: f.csr, now: testNow},
		{name: "chain signed by another CA", bundle: with(func(b *Bundle) { b.Intermediates = []*x509.Certificate{otherInter.cert}; b.Root = otherRoot.cert }), names: names, csr: f.csr, now: testNow,
			want: prefix + "chain: it does not verify: x509: certificate signed by unknown authority"},
		{name: "root of the same name with another key", bundle: with(func(b *Bundle) { b.Root = impostorRoot.cert }), names: names, csr: f.csr, now: testNow,
			want: prefix + `chain: it does not verify: x509: certificate signed by unknown authority (possibly because of "x509: ECDSA verification failure" while trying to verify candidate authority certificate "Test Root")`},
		{name: "intermediate missing", bundle: with(func(b *Bundle) { b.Intermediates = nil }), names: names, csr: f.csr, now: testNow,
			want: prefix + "chain: it does not verify: x509: certificate signed by unknown authority"},
		{name: "no root", bundle: with(func(b *Bundle) { b.Root = nil }), names: names, csr: f.csr, now: testNow,
			want: prefix + "chain: the download holds no root to verify against"},
		{name: "every check fails", bundle: with(func(b *Bundle) { b.Root = nil }), names: []string{"other.example.com"}, csr: otherCSR, now: leafTo.Add(time.Hour),
			want: prefix + "names: missing other.example.com; unexpected shop.example.com, www.shop.example.com\n" +
				prefix + "public key: it is not the key of the spec's CSR\n" +
				prefix + "validity: it expired at 2027-01-01T00:00:00Z (now 2027-01-01T01:00:00Z)\n" +
				prefix + "chain: the download holds no root to verify against"},
		{name: "no bundle", bundle: nil, names: names, csr: f.csr, now: testNow, want: "no certificate to check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errText(Check(tt.bundle, tt.names, tt.csr, tt.now)); got != tt.want {
				t.Errorf("Check:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestCheck_chainErrorWrapsX509(t *testing.T) {
	f := newFixture(t)
	b := f.bundle()
	b.Intermediates = nil
	err := Check(b, []string{"shop.example.com", "www.shop.example.com"}, f.csr, testNow)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("Check: %v; want an x509.UnknownAuthorityError inside", err)
	}
}

func FuzzParse(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.pemAll())
	f.Add(encode(fx.leaf))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data)
		if err != nil {
			if b != nil {
				t.Fatalf("a bundle with the error %v", err)
			}
			return
		}
		if b.Leaf == nil {
			t.Fatal("no leaf without an error")
		}
		if b.Root != nil && !selfSigned(b.Root) {
			t.Fatal("a root that is not self-signed")
		}
		// Parse takes apart what encode puts together.
		all := append([]*x509.Certificate{b.Leaf}, b.Intermediates...)
		if b.Root != nil {
			all = append(all, b.Root)
		}
		again, err := Parse(encode(all...))
		if err != nil {
			t.Fatalf("re-encoded: %v", err)
		}
		if !again.Leaf.Equal(b.Leaf) || len(again.Intermediates) != len(b.Intermediates) || (again.Root == nil) != (b.Root == nil) {
			t.Fatal("re-encoded bundle differs")
		}
	})
}
