package digicerttest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/google/go-cmp/cmp"
)

// newCSR returns a CSR for key, PEM, JSON-escaped for an order's body.
func newCSR(t *testing.T, key crypto.Signer, cn string) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), "\n", `\n`)
}

// csrKey returns the public key of a JSON-escaped CSR.
func csrKey(t *testing.T, escaped string) crypto.PublicKey {
	t.Helper()
	block, _ := pem.Decode([]byte(strings.ReplaceAll(escaped, `\n`, "\n")))
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return req.PublicKey
}

func sameKey(t *testing.T, a, b crypto.PublicKey) bool {
	t.Helper()
	da, err := x509.MarshalPKIXPublicKey(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := x509.MarshalPKIXPublicKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(da, db)
}

// downloadChain fetches an order's pem_all and parses it: the leaf, the
// intermediate and the root, checking that it is exactly those three and
// that the leaf chains to the server's root through the intermediate at
// the time given, for server authentication and every name of the leaf.
func downloadChain(t *testing.T, s *Server, id int, at time.Time) *x509.Certificate {
	t.Helper()
	status, h, body := doFull(t, "GET", fmt.Sprintf("%s/certificate/download/order/%d/format/pem_all", s.URL(), id), "k", "", "")
	if status != 200 || h.Get("Content-Type") != "application/x-pem-file" {
		t.Fatalf("pem_all: %d %s %s", status, h.Get("Content-Type"), body)
	}
	var certs []*x509.Certificate
	for rest := []byte(body); ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(bytes.TrimSpace(rest)) != 0 {
				t.Errorf("pem_all has text after its blocks: %q", rest)
			}
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if block.Type != "CERTIFICATE" || err != nil {
			t.Fatalf("pem_all block %s: %v", block.Type, err)
		}
		certs = append(certs, c)
	}
	if len(certs) != 3 {
		t.Fatalf("pem_all has %d certificates, want leaf, intermediate, root", len(certs))
	}
	leaf, inter, root := certs[0], certs[1], certs[2]
	if !bytes.HasSuffix([]byte(body), s.RootPEM()) {
		t.Error("pem_all does not end with RootPEM")
	}
	if !root.IsCA || !inter.IsCA || leaf.IsCA || !bytes.Equal(root.RawSubject, root.RawIssuer) {
		t.Errorf("CA flags: root %v (self-signed %v), intermediate %v, leaf %v", root.IsCA, bytes.Equal(root.RawSubject, root.RawIssuer), inter.IsCA, leaf.IsCA)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inters.AddCert(inter)
	for _, name := range leaf.DNSNames {
		opts := x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inters, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		chains, err := leaf.Verify(opts)
		if err != nil {
			t.Errorf("verify for %s at %s: %v", name, at, err)
		} else if len(chains[0]) != 3 {
			t.Errorf("chain of %d certificates, want leaf, intermediate, root", len(chains[0]))
		}
	}
	if diff := cmp.Diff([]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, leaf.ExtKeyUsage); diff != "" {
		t.Errorf("extended key usage (-want +got):\n%s", diff)
	}
	return leaf
}

// getOrder reads an order through the API as package digicert decodes it.
func getOrder(t *testing.T, s *Server, id int) digicert.Order {
	t.Helper()
	status, answer := do(t, "GET", fmt.Sprintf("%s/order/certificate/%d", s.URL(), id), "k", "", "")
	var o digicert.Order
	if err := json.Unmarshal([]byte(answer), &o); status != 200 || err != nil {
		t.Fatalf("GET order %d: %d %s (%v)", id, status, answer, err)
	}
	return o
}

// wantCert is what GET /order/certificate/{id} must say of the fake's
// current certificate.
func wantCert(o Order, now time.Time) digicert.OrderCert {
	names := o.DNSNames
	if len(names) == 0 {
		names = []string{" "}
	}
	return digicert.OrderCert{ID: o.CertificateID, CommonName: o.CommonName, DNSNames: names, SignatureHash: o.SignatureHash,
		SerialNumber: o.SerialNumber, Thumbprint: o.Thumbprint, ValidFrom: o.NotBefore.Format("2006-01-02"),
		ValidTill: o.NotAfter.Format("2006-01-02"), DaysRemaining: max(0, int(o.NotAfter.Sub(now)/(24*time.Hour)))}
}

func TestServer_issuedCertificate(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024) // small: the test needs an RSA key, not a strong one
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		opts     []Option
		csr      string
		hash     string
		validity string
		dcv      string // dcv_method, "" for none
		token    bool   // a dcv_random_value is due
		alg      x509.SignatureAlgorithm
		notAfter time.Time
		till     string // order_valid_till
	}{
		{name: "P-256, dns-txt-token", csr: csr, hash: "sha256", validity: `{"years":1}`, dcv: "dns-txt-token", token: true,
			alg: x509.ECDSAWithSHA256, notAfter: day0.Add(199 * 24 * time.Hour), till: "2027-03-02"},
		{name: "RSA, sha384, email", csr: newCSR(t, rsaKey, "x"), hash: "sha384", validity: `{"years":2}`, dcv: "email",
			alg: x509.ECDSAWithSHA384, notAfter: day0.Add(199 * 24 * time.Hour), till: "2028-03-02"},
		{name: "Ed25519, sha512, no dcv_method", csr: newCSR(t, edKey, "x"), hash: "sha512", validity: `{"years":3}`,
			alg: x509.ECDSAWithSHA512, notAfter: day0.Add(199 * 24 * time.Hour), till: "2029-03-02"},
		{name: "dns-cname-token, lifetime option", opts: []Option{WithCertificateLifetime(47 * 24 * time.Hour)}, csr: csr, hash: "sha256",
			validity: `{"years":1}`, dcv: "dns-cname-token", token: true, alg: x509.ECDSAWithSHA256, notAfter: day0.Add(47 * 24 * time.Hour), till: "2027-03-02"},
		{name: "http-token, the order's end caps the certificate", csr: csr, hash: "sha256", validity: `{"days":30}`, dcv: "http-token", token: true,
			alg: x509.ECDSAWithSHA256, notAfter: day0.AddDate(0, 0, 30), till: "2026-04-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New("k", append([]Option{WithClock(func() time.Time { return day0 })}, tt.opts...)...)
			base := s.Start()
			defer s.Close()
			dcv := ""
			if tt.dcv != "" {
				dcv = `,"dcv_method":"` + tt.dcv + `"`
			}
			body := `{"certificate":{"common_name":"a.example.com","dns_names":["www.a.example.com","a.example.com"],"csr":"` + tt.csr +
				`","signature_hash":"` + tt.hash + `"},"order_validity":` + tt.validity + `,"organization":{"id":1},"skip_approval":true` + dcv + `}`
			status, answer := do(t, "POST", base+"/order/certificate/ssl", "k", "application/json", body)
			if status != 201 {
				t.Fatalf("order: %d %s", status, answer)
			}
			o, _ := s.Order(100001)
			if tt.token != (len(o.DCVRandomValue) == 32) {
				t.Errorf("dcv_random_value %q", o.DCVRandomValue)
			}
			var placed digicert.OrderResponse
			if err := json.Unmarshal([]byte(answer), &placed); err != nil || placed.CertificateID != 1000001 || placed.DCVRandomValue != o.DCVRandomValue {
				t.Errorf("order answer %s (%v)", answer, err)
			}

			leaf := downloadChain(t, s, 100001, day0)
			if !sameKey(t, csrKey(t, tt.csr), leaf.PublicKey) || !sameKey(t, o.PublicKey, leaf.PublicKey) {
				t.Error("the certificate is not for the CSR's key")
			}
			if leaf.Subject.CommonName != "a.example.com" || !cmp.Equal([]string{"a.example.com", "www.a.example.com"}, leaf.DNSNames) {
				t.Errorf("names: CN %q, DNS %q", leaf.Subject.CommonName, leaf.DNSNames)
			}
			if !leaf.NotBefore.Equal(day0.Add(-time.Minute)) || !leaf.NotAfter.Equal(tt.notAfter) || leaf.SignatureAlgorithm != tt.alg {
				t.Errorf("validity %s to %s, %s; want %s to %s, %s", leaf.NotBefore, leaf.NotAfter, leaf.SignatureAlgorithm, day0.Add(-time.Minute), tt.notAfter, tt.alg)
			}
			sum := sha1.Sum(leaf.Raw)
			if o.SerialNumber != fmt.Sprintf("%032X", leaf.SerialNumber) || o.Thumbprint != strings.ToUpper(hex.EncodeToString(sum[:])) ||
				!o.NotBefore.Equal(leaf.NotBefore) || !o.NotAfter.Equal(leaf.NotAfter) || !bytes.Equal(o.CertificatePEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})) {
				t.Errorf("the fake's order does not describe its certificate: %+v", o)
			}

			got := getOrder(t, s, 100001)
			if diff := cmp.Diff(wantCert(o, day0), got.Certificate); diff != "" {
				t.Errorf("certificate (-want +got):\n%s", diff)
			}
			if got.OrderValidTill != tt.till || got.IsRenewed || got.DCVMethod != tt.dcv || got.DCVRandomValue != o.DCVRandomValue {
				t.Errorf("order_valid_till %q, is_renewed %v, dcv_method %q, dcv_random_value %q", got.OrderValidTill, got.IsRenewed, got.DCVMethod, got.DCVRandomValue)
			}
		})
	}
}

func TestServer_approve(t *testing.T) {
	clock := NewClock(day0)
	s := New("k", WithClock(clock.Now))
	base := s.Start()
	defer s.Close()
	body := `{"certificate":{"common_name":"a.example.com","csr":"` + csr + `","signature_hash":"sha256"},"order_validity":{"years":1},"organization":{"id":1}}`
	if status, answer := do(t, "POST", base+"/order/certificate/ssl", "k", "application/json", body); status != 201 ||
		answer != `{"id":100001,"requests":[{"id":500001,"status":"pending"}]}` {
		t.Fatalf("order: %d %s", status, answer)
	}
	pemAll := base + "/certificate/download/order/100001/format/pem_all"
	changes := base + "/order/certificate/status-changes?minutes=30"
	steps := []struct {
		name    string
		act     func()
		status  string // the order's
		changes string // status-changes?minutes=30 after the clock moved an hour and act ran
		pemAll  string // the 400 answer, "" for a certificate
	}{
		{name: "needs approval", status: "needs_approval", changes: `{"orders":[],"page":{"limit":1000,"offset":0,"total":0}}`,
			pemAll: `{"errors":[{"code":"certificate_not_issued","message":"The order has no issued certificate."}]}`},
		{name: "pending validation", act: func() { s.SetPending(100001) }, status: "pending",
			changes: `{"orders":[{"order_id":100001,"certificate_id":0,"status":"pending"}],"page":{"limit":1000,"offset":0,"total":1}}`,
			pemAll:  `{"errors":[{"code":"certificate_not_issued","message":"The order has no issued certificate."}]}`},
		{name: "approved", act: func() { s.Approve(100001) }, status: "issued",
			changes: `{"orders":[{"order_id":100001,"certificate_id":1000001,"status":"issued"}],"page":{"limit":1000,"offset":0,"total":1}}`},
		{name: "approving an issued order does nothing", act: func() { s.Approve(100001) }, status: "issued", changes: `{"orders":[],"page":{"limit":1000,"offset":0,"total":0}}`},
		{name: "approving an unknown order does nothing", act: func() { s.Approve(42) }, status: "issued", changes: `{"orders":[],"page":{"limit":1000,"offset":0,"total":0}}`},
	}
	for _, st := range steps {
		clock.Add(time.Hour)
		if st.act != nil {
			st.act()
		}
		o, _ := s.Order(100001)
		if o.Status != st.status {
			t.Errorf("%s: status %s, want %s", st.name, o.Status, st.status)
		}
		if _, answer := do(t, "GET", changes, "k", "", ""); answer != st.changes {
			t.Errorf("%s: status changes %s\nwant %s", st.name, answer, st.changes)
		}
		got := getOrder(t, s, 100001)
		if st.pemAll != "" {
			if status, answer := do(t, "GET", pemAll, "k", "", ""); status != 400 || answer != st.pemAll {
				t.Errorf("%s: pem_all %d %s", st.name, status, answer)
			}
			if got.Certificate.ID != 0 || got.Certificate.SerialNumber != "" || got.Certificate.ValidTill != "" {
				t.Errorf("%s: an order without a certificate reports %+v", st.name, got.Certificate)
			}
			continue
		}
		leaf := downloadChain(t, s, 100001, clock.Now())
		if !sameKey(t, csrKey(t, csr), leaf.PublicKey) || o.SerialNumber != fmt.Sprintf("%032X", leaf.SerialNumber) {
			t.Errorf("%s: the certificate is not the order's", st.name)
		}
		if want := day0.Add(3*time.Hour - time.Minute); !leaf.NotBefore.Equal(want) {
			t.Errorf("%s: issued %s, want %s", st.name, leaf.NotBefore, want)
		}
		if diff := cmp.Diff(wantCert(o, clock.Now()), got.Certificate); diff != "" {
			t.Errorf("%s: certificate (-want +got):\n%s", st.name, diff)
		}
	}
}

func TestServer_replaceCertificate(t *testing.T) {
	clock := NewClock(day0)
	s := New("k", WithClock(clock.Now))
	s.Start()
	defer s.Close()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := s.AddOrder(Order{CommonName: "a.example.com", DNSNames: []string{"www.a.example.com"}, SignatureHash: "sha256", PublicKey: &key.PublicKey})
	other := s.AddOrder(Order{CommonName: "b.example.com"})
	waiting := s.AddOrder(Order{CommonName: "c.example.com", Status: "needs_approval"})
	steps := []struct {
		name     string
		act      func()
		certID   int
		rightKey bool
		left     time.Duration // the certificate's time left after the step
		days     int           // days_remaining
	}{
		{name: "added", certID: id + 900000, rightKey: true, left: 199 * 24 * time.Hour, days: 199},
		{name: "reissued", act: func() { s.Reissue(id) }, certID: 5000001, rightKey: true, left: 199 * 24 * time.Hour, days: 199},
		{name: "wrong key", act: func() { s.IssueWrongKey(id) }, certID: 5000002, left: 199 * 24 * time.Hour, days: 199},
		{name: "reissued after the wrong key", act: func() { s.Reissue(id) }, certID: 5000003, rightKey: true, left: 199 * 24 * time.Hour, days: 199},
		{name: "expires in 10 days", act: func() { s.ExpireSoon(id, 10*24*time.Hour) }, certID: 5000004, rightKey: true, left: 10 * 24 * time.Hour, days: 10},
		{name: "expires in 10 hours", act: func() { s.ExpireSoon(id, 10*time.Hour) }, certID: 5000005, rightKey: true, left: 10 * time.Hour, days: 0},
	}
	serials := map[string]bool{}
	for i, st := range steps {
		if i > 0 {
			clock.Add(time.Hour)
		}
		if st.act != nil {
			st.act()
		}
		now := clock.Now()
		o, _ := s.Order(id)
		if o.Status != "issued" || o.CertificateID != st.certID || serials[o.SerialNumber] || !o.Changed.Equal(now) {
			t.Errorf("%s: status %s, certificate %d (want %d), serial %s (seen before: %v), changed %s", st.name, o.Status, o.CertificateID, st.certID, o.SerialNumber, serials[o.SerialNumber], o.Changed)
		}
		serials[o.SerialNumber] = true
		leaf := downloadChain(t, s, id, now)
		if sameKey(t, &key.PublicKey, leaf.PublicKey) != st.rightKey || !sameKey(t, &key.PublicKey, o.PublicKey) {
			t.Errorf("%s: the certificate's key is the order's: %v, want %v", st.name, !st.rightKey, st.rightKey)
		}
		if o.SerialNumber != fmt.Sprintf("%032X", leaf.SerialNumber) || !leaf.NotBefore.Equal(now.Add(-time.Minute)) || !leaf.NotAfter.Equal(now.Add(st.left)) ||
			leaf.Subject.CommonName != "a.example.com" || !cmp.Equal([]string{"a.example.com", "www.a.example.com"}, leaf.DNSNames) {
			t.Errorf("%s: serial %X, %s to %s (want %s left), names %s %q", st.name, leaf.SerialNumber, leaf.NotBefore, leaf.NotAfter, st.left, leaf.Subject.CommonName, leaf.DNSNames)
		}
		got := getOrder(t, s, id)
		if diff := cmp.Diff(wantCert(o, now), got.Certificate); diff != "" || got.Certificate.DaysRemaining != st.days {
			t.Errorf("%s: days_remaining %d, want %d; certificate (-want +got):\n%s", st.name, got.Certificate.DaysRemaining, st.days, diff)
		}
		want := fmt.Sprintf(`{"orders":[{"order_id":%d,"certificate_id":%d,"status":"issued"}],"page":{"limit":1000,"offset":0,"total":1}}`, id, st.certID)
		if i == 0 {
			want = fmt.Sprintf(`{"orders":[{"order_id":%d,"certificate_id":%d,"status":"issued"},{"order_id":%d,"certificate_id":%d,"status":"issued"},`+
				`{"order_id":%d,"certificate_id":0,"status":"needs_approval"}],"page":{"limit":1000,"offset":0,"total":3}}`, id, st.certID, other, other+900000, waiting)
		}
		if _, answer := do(t, "GET", s.URL()+"/order/certificate/status-changes?minutes=30", "k", "", ""); answer != want {
			t.Errorf("%s: status changes %s\nwant %s", st.name, answer, want)
		}
	}

	// An order that has ended: the certificate ended an hour ago.
	clock.Add(time.Hour)
	s.ExpireSoon(id, -time.Hour)
	o, _ := s.Order(id)
	if !o.NotAfter.Equal(clock.Now().Add(-time.Hour)) || !o.NotBefore.Before(o.NotAfter) {
		t.Errorf("expired certificate: %s to %s", o.NotBefore, o.NotAfter)
	}
	if got := getOrder(t, s, id); got.Certificate.DaysRemaining != 0 || got.Certificate.ID != 5000006 {
		t.Errorf("expired certificate: %+v", got.Certificate)
	}

	// Orders without a certificate are left alone.
	type summary struct {
		ID, CertificateID int
		Status, Serial    string
		Changed           time.Time
	}
	summarize := func() []summary {
		var out []summary
		for _, o := range s.Orders() {
			out = append(out, summary{o.ID, o.CertificateID, o.Status, o.SerialNumber, o.Changed})
		}
		return out
	}
	before := summarize()
	clock.Add(time.Hour)
	for _, f := range []func(int){s.Reissue, s.IssueWrongKey, func(id int) { s.ExpireSoon(id, time.Hour) }} {
		f(waiting)
		f(999)
	}
	if diff := cmp.Diff(before, summarize()); diff != "" {
		t.Errorf("orders without a certificate changed (-before +after):\n%s", diff)
	}
}

func TestServer_downloadErrors(t *testing.T) {
	s := New("k")
	base := s.Start()
	defer s.Close()
	id := s.AddOrder(Order{CommonName: "a.example.com"})
	waiting := s.AddOrder(Order{CommonName: "b.example.com", Status: "needs_approval"})
	revoked := s.AddOrder(Order{CommonName: "c.example.com"})
	s.Revoke(revoked, "test")
	pemAll := func(id int) string { return fmt.Sprintf("%s/certificate/download/order/%d/format/pem_all", base, id) }
	tests := []struct {
		name, method, url string
		status            int
		ctype, answer     string
	}{
		{"unknown order", "GET", pemAll(999), 404, "application/json", `{"errors":[{"code":"not_found|order","message":"Order not found."}]}`},
		{"not issued", "GET", pemAll(waiting), 400, "application/json", `{"errors":[{"code":"certificate_not_issued","message":"The order has no issued certificate."}]}`},
		{"revoked", "GET", pemAll(revoked), 400, "application/json", `{"errors":[{"code":"certificate_not_issued","message":"The order's certificate is revoked."}]}`},
		{"another format", "GET", fmt.Sprintf("%s/certificate/download/order/%d/format/p7b", base, id), 404, "application/json",
			`{"errors":[{"code":"not_found","message":"The requested resource was not found."}]}`},
		{"POST", "POST", pemAll(id), 404, "application/json", `{"errors":[{"code":"not_found","message":"The requested resource was not found."}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, answer := doFull(t, tt.method, tt.url, "k", "", "")
			if status != tt.status || h.Get("Content-Type") != tt.ctype || strings.TrimSpace(answer) != tt.answer {
				t.Errorf("got %d %s %s\nwant %d %s %s", status, h.Get("Content-Type"), answer, tt.status, tt.ctype, tt.answer)
			}
		})
	}
	if status, _, _ := doFull(t, "GET", pemAll(id), "wrong", "", ""); status != http.StatusUnauthorized {
		t.Errorf("wrong key: %d", status)
	}
}

func TestServer_RootPEM(t *testing.T) {
	s := New("k")
	root := s.RootPEM()
	block, _ := pem.Decode(root)
	if block == nil {
		t.Fatalf("RootPEM is not PEM: %q", root)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !c.IsCA {
		t.Fatalf("root: %v, CA %v", err, c != nil && c.IsCA)
	}
	if _, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || c.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Errorf("root key %T, want ECDSA P-256", c.PublicKey)
	}
	root[len(root)/2] ^= 1
	if bytes.Equal(root, s.RootPEM()) {
		t.Error("RootPEM returned the server's own bytes")
	}
	if bytes.Equal(s.RootPEM(), New("k").RootPEM()) {
		t.Error("two servers share a root")
	}
}
