package digicerttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// newP256 returns a fresh P-256 key.
func newP256(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// reissueBody is a reissue's body for the common name and DNS names, with
// a JSON-escaped CSR; skip adds "skip_approval": true.
func reissueBody(cn string, dns []string, escapedCSR, hash string, skip bool) string {
	names := ""
	if dns != nil {
		names = `,"dns_names":["` + strings.Join(dns, `","`) + `"]`
	}
	body := `{"certificate":{"common_name":"` + cn + `"` + names + `,"csr":"` + escapedCSR + `","signature_hash":"` + hash + `"}`
	if skip {
		body += `,"skip_approval":true`
	}
	return body + `}`
}

// ignoreKey leaves the keys of Reissue entries to sameKey.
var ignoreKey = cmpopts.IgnoreFields(Reissue{}, "PublicKey")

func TestServer_reissue(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		skip    bool
		request string // the request's status in the 201 answer
	}{
		{name: "skip_approval issues at once", skip: true, request: "approved"},
		{name: "without skip_approval it waits for approval", request: "pending"},
		{name: "WithReissueHold holds it despite skip_approval", opts: []Option{WithReissueHold()}, skip: true, request: "pending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock(day0)
			s := New("k", append([]Option{WithClock(clock.Now)}, tt.opts...)...)
			base := s.Start()
			defer s.Close()
			id := s.AddOrder(Order{CommonName: "a.example.com", DNSNames: []string{"www.a.example.com"}, SignatureHash: "sha256"})
			before, _ := s.Order(id)
			key := newP256(t)
			reqCSR := newCSR(t, key, "ignored.example.com")
			changes := base + "/order/certificate/status-changes?minutes=30"
			list := fmt.Sprintf("%s/order/certificate/%d/reissue", base, id)

			clock.Add(time.Hour)
			requested := clock.Now()
			status, answer := do(t, "POST", list, "k", "application/json",
				reissueBody("a.example.com", []string{"www.a.example.com", "b.example.com"}, reqCSR, "sha384", tt.skip))
			if want := `{"id":100001,"requests":[{"id":500001,"status":"` + tt.request + `"}]}`; status != 201 || answer != want {
				t.Fatalf("reissue: %d %s\nwant 201 %s", status, answer, want)
			}
			o, _ := s.Order(id)
			if o.CommonName != "a.example.com" || !cmp.Equal(o.DNSNames, []string{"www.a.example.com", "b.example.com"}) ||
				o.SignatureHash != "sha384" || !sameKey(t, o.PublicKey, key.Public()) {
				t.Errorf("the order did not take the request: %s %q %s", o.CommonName, o.DNSNames, o.SignatureHash)
			}
			if o.RevokesPrevious {
				t.Error("adding a name set RevokesPrevious")
			}
			if tt.request == "pending" {
				if o.Status != "reissue_pending" || o.CertificateID != before.CertificateID || o.SerialNumber != before.SerialNumber || !o.Changed.Equal(requested) {
					t.Errorf("waiting: status %s, certificate %d %s, changed %s", o.Status, o.CertificateID, o.SerialNumber, o.Changed)
				}
				want := `{"certificates":[{"common_name":"a.example.com","csr":"` + reqCSR + `","date_created":"2026-03-02T11:00:00+00:00",` +
					`"dns_names":["www.a.example.com","b.example.com"],"id":5000001,"status":"pending"}]}`
				if status, answer := do(t, "GET", list, "k", "", ""); status != 200 || answer != want {
					t.Errorf("list while waiting: %d %s\nwant %s", status, answer, want)
				}
				if _, answer := do(t, "GET", changes, "k", "", ""); answer != `{"orders":[{"order_id":100001,"certificate_id":1000001,"status":"reissue_pending"}],"page":{"limit":1000,"offset":0,"total":1}}` {
					t.Errorf("status changes while waiting: %s", answer)
				}
				if leaf := downloadChain(t, s, id, clock.Now()); fmt.Sprintf("%032X", leaf.SerialNumber) != before.SerialNumber {
					t.Error("pem_all does not answer the old certificate while the reissue waits")
				}
				if status, answer := do(t, "POST", list, "k", "application/json", reissueBody("a.example.com", nil, reqCSR, "sha256", true)); status != 400 ||
					answer != `{"errors":[{"code":"order_not_issued","message":"The order is reissue_pending; only an issued order can be reissued."}]}` {
					t.Errorf("second reissue while one waits: %d %s", status, answer)
				}
				s.ApproveReissue(999) // an unknown order: nothing happens
				clock.Add(time.Hour)
				s.ApproveReissue(id)
			}

			issued := clock.Now()
			o, _ = s.Order(id)
			if o.Status != "issued" || o.CertificateID != 5000001 || !o.Changed.Equal(issued) {
				t.Errorf("issued: status %s, certificate %d, changed %s", o.Status, o.CertificateID, o.Changed)
			}
			leaf := downloadChain(t, s, id, issued)
			if !sameKey(t, leaf.PublicKey, key.Public()) || leaf.Subject.CommonName != "a.example.com" ||
				!cmp.Equal(leaf.DNSNames, []string{"a.example.com", "www.a.example.com", "b.example.com"}) ||
				leaf.SignatureAlgorithm != x509.ECDSAWithSHA384 || !leaf.NotBefore.Equal(issued.Add(-time.Minute)) ||
				fmt.Sprintf("%032X", leaf.SerialNumber) != o.SerialNumber {
				t.Errorf("new certificate: CN %s, names %q, %s, from %s", leaf.Subject.CommonName, leaf.DNSNames, leaf.SignatureAlgorithm, leaf.NotBefore)
			}
			if diff := cmp.Diff(wantCert(o, issued), getOrder(t, s, id).Certificate); diff != "" {
				t.Errorf("GET order certificate (-want +got):\n%s", diff)
			}
			want := `{"certificates":[{"common_name":"a.example.com","csr":"` + reqCSR + `","date_created":"2026-03-02T11:00:00+00:00",` +
				`"date_issued":"` + issued.Format("2006-01-02T15:04:05") + `+00:00","dns_names":["www.a.example.com","b.example.com"],"id":5000001,` +
				`"serial_number":"` + o.SerialNumber + `","status":"issued","thumbprint":"` + o.Thumbprint + `","valid_till":"` + o.NotAfter.Format("2006-01-02") + `"}]}`
			if status, answer := do(t, "GET", list, "k", "", ""); status != 200 || answer != want {
				t.Errorf("list: %d %s\nwant %s", status, answer, want)
			}
			// The feed reports the reissued order with its new certificate.
			if _, answer := do(t, "GET", changes, "k", "", ""); answer != `{"orders":[{"order_id":100001,"certificate_id":5000001,"status":"issued"}],"page":{"limit":1000,"offset":0,"total":1}}` {
				t.Errorf("status changes: %s", answer)
			}
			wantEntries := []Reissue{{
				CertificateID: 5000001, RequestID: 500001, Status: "issued", CommonName: "a.example.com",
				DNSNames: []string{"www.a.example.com", "b.example.com"}, SignatureHash: "sha384",
				CSR: strings.ReplaceAll(reqCSR, `\n`, "\n"), Created: requested, Issued: issued,
				SerialNumber: o.SerialNumber, Thumbprint: o.Thumbprint, NotAfter: o.NotAfter,
			}}
			if diff := cmp.Diff(wantEntries, o.Reissues, ignoreKey); diff != "" {
				t.Errorf("Reissues (-want +got):\n%s", diff)
			}
			if !sameKey(t, o.Reissues[0].PublicKey, key.Public()) {
				t.Error("the entry's key is not the CSR's")
			}
			// Nothing waits any more: approving or rejecting does nothing.
			s.ApproveReissue(id)
			s.RejectReissue(id)
			if again, _ := s.Order(id); again.CertificateID != 5000001 || again.Status != "issued" || again.Reissues[0].Status != "issued" {
				t.Errorf("after a second approval: %d %s %s", again.CertificateID, again.Status, again.Reissues[0].Status)
			}
		})
	}
}

func TestServer_RejectReissue(t *testing.T) {
	clock := NewClock(day0)
	s := New("k", WithClock(clock.Now))
	base := s.Start()
	defer s.Close()
	id := s.AddOrder(Order{CommonName: "a.example.com", DNSNames: []string{"www.a.example.com"}, SignatureHash: "sha256"})
	before, _ := s.Order(id)
	reqCSR := newCSR(t, newP256(t), "b.example.com")
	url := fmt.Sprintf("%s/order/certificate/%d/reissue", base, id)
	if status, answer := do(t, "POST", url, "k", "application/json", reissueBody("b.example.com", nil, reqCSR, "sha512", false)); status != 201 {
		t.Fatalf("reissue: %d %s", status, answer)
	}
	if o, _ := s.Order(id); o.Status != "reissue_pending" || o.CommonName != "b.example.com" || !o.RevokesPrevious {
		t.Errorf("waiting: %s %s, RevokesPrevious %v", o.Status, o.CommonName, o.RevokesPrevious)
	}
	clock.Add(time.Hour)
	s.RejectReissue(id)
	o, _ := s.Order(id)
	if o.Status != "issued" || o.CommonName != "a.example.com" || !cmp.Equal(o.DNSNames, before.DNSNames) || o.SignatureHash != "sha256" ||
		!sameKey(t, o.PublicKey, before.PublicKey) || o.CertificateID != before.CertificateID || o.SerialNumber != before.SerialNumber ||
		!o.Changed.Equal(clock.Now()) || o.RevokesPrevious {
		t.Errorf("after rejection: %s %s %q %s, certificate %d, RevokesPrevious %v", o.Status, o.CommonName, o.DNSNames, o.SignatureHash, o.CertificateID, o.RevokesPrevious)
	}
	want := `{"certificates":[{"common_name":"b.example.com","csr":"` + reqCSR + `","date_created":"2026-03-02T10:00:00+00:00","dns_names":[" "],"id":5000001,"status":"rejected"}]}`
	if status, answer := do(t, "GET", url, "k", "", ""); status != 200 || answer != want {
		t.Errorf("list: %d %s\nwant %s", status, answer, want)
	}
	s.ApproveReissue(id) // nothing waits
	if o, _ := s.Order(id); o.CertificateID != before.CertificateID {
		t.Errorf("approving a rejected reissue issued certificate %d", o.CertificateID)
	}
	// The next reissue gets the next certificate id.
	if status, answer := do(t, "POST", url, "k", "application/json", reissueBody("a.example.com", nil, reqCSR, "sha256", true)); status != 201 ||
		answer != `{"id":100001,"requests":[{"id":500002,"status":"approved"}]}` {
		t.Errorf("next reissue: %d %s", status, answer)
	}
	if o, _ := s.Order(id); o.CertificateID != 5000002 || len(o.Reissues) != 2 || !o.RevokesPrevious {
		t.Errorf("next reissue: certificate %d, %d entries, RevokesPrevious %v (www.a.example.com was dropped)", o.CertificateID, len(o.Reissues), o.RevokesPrevious)
	}
}

func TestServer_reissueRevokesPrevious(t *testing.T) {
	tests := []struct {
		name string
		cn   string
		dns  []string
		want bool
	}{
		{"same names", "a.example.com", []string{"www.a.example.com"}, false},
		{"a name added", "a.example.com", []string{"www.a.example.com", "b.example.com"}, false},
		{"the common name repeated among the DNS names", "a.example.com", []string{"a.example.com", "www.a.example.com"}, false},
		{"a name removed", "a.example.com", nil, true},
		{"the common name changed to a DNS name, the old one kept", "www.a.example.com", []string{"a.example.com"}, true},
		{"the common name changed, names added", "b.example.com", []string{"a.example.com", "www.a.example.com"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New("k", WithClock(func() time.Time { return day0 }))
			base := s.Start()
			defer s.Close()
			id := s.AddOrder(Order{CommonName: "a.example.com", DNSNames: []string{"www.a.example.com"}, SignatureHash: "sha256"})
			url := fmt.Sprintf("%s/order/certificate/%d/reissue", base, id)
			if status, answer := do(t, "POST", url, "k", "application/json", reissueBody(tt.cn, tt.dns, csr, "sha256", true)); status != 201 {
				t.Fatalf("reissue: %d %s", status, answer)
			}
			o, _ := s.Order(id)
			if o.RevokesPrevious != tt.want || o.Reissues[0].RevokesPrevious != tt.want {
				t.Errorf("RevokesPrevious: order %v, entry %v, want %v", o.RevokesPrevious, o.Reissues[0].RevokesPrevious, tt.want)
			}
			// A later reissue that adds a name leaves the order's flag as it was.
			if status, answer := do(t, "POST", url, "k", "application/json", reissueBody(tt.cn, append(tt.dns, "c.example.com"), csr, "sha256", true)); status != 201 {
				t.Fatalf("second reissue: %d %s", status, answer)
			}
			o, _ = s.Order(id)
			if o.RevokesPrevious != tt.want || o.Reissues[1].RevokesPrevious {
				t.Errorf("after adding a name: order %v (want %v), entry %v", o.RevokesPrevious, tt.want, o.Reissues[1].RevokesPrevious)
			}
		})
	}
}

func TestServer_reissueErrors(t *testing.T) {
	s := New("k")
	base := s.Start()
	defer s.Close()
	issued := s.AddOrder(Order{CommonName: "a.example.com"})
	waiting := s.AddOrder(Order{CommonName: "b.example.com", Status: "needs_approval"})
	revoked := s.AddOrder(Order{CommonName: "c.example.com"})
	s.Revoke(revoked, "gone")
	url := func(id int) string { return fmt.Sprintf("%s/order/certificate/%d/reissue", base, id) }
	good := reissueBody("a.example.com", nil, csr, "sha256", true)
	tests := []struct {
		name, method, url, ctype, body string
		status                         int
		answer                         string
	}{
		{"unknown order", "POST", url(999), "application/json", good, 404, `{"errors":[{"code":"not_found|order","message":"Order not found."}]}`},
		{"unknown order listed", "GET", url(999), "", "", 404, `{"errors":[{"code":"not_found|order","message":"Order not found."}]}`},
		{"needs approval", "POST", url(waiting), "application/json", good, 400,
			`{"errors":[{"code":"order_not_issued","message":"The order is needs_approval; only an issued order can be reissued."}]}`},
		{"revoked", "POST", url(revoked), "application/json", good, 400,
			`{"errors":[{"code":"order_not_issued","message":"The order is revoked; only an issued order can be reissued."}]}`},
		{"wrong content type", "POST", url(issued), "text/plain", good, 415, `{"errors":[{"code":"unsupported_media_type","message":"Content-Type must be application/json."}]}`},
		{"unknown field", "POST", url(issued), "application/json", `{"certificate":{},"order_validity":{"years":1}}`, 400,
			`{"errors":[{"code":"bad_request_format","message":"Unknown field: order_validity."}]}`},
		{"no certificate", "POST", url(issued), "application/json", `{"skip_approval":true}`, 400, `{"errors":[{"code":"missing_field","message":"Missing required field: certificate."}]}`},
		{"unparseable csr", "POST", url(issued), "application/json", reissueBody("a.example.com", nil, "x", "sha256", true), 400,
			`{"errors":[{"code":"csr_invalid_cannot_parse","message":"Unable to parse the CSR."}]}`},
		{"bad name", "POST", url(issued), "application/json", reissueBody("a.example.com", []string{"exa mple.com"}, csr, "sha256", true), 400,
			`{"errors":[{"code":"invalid_dns_name","message":"Invalid domain name: exa mple.com."}]}`},
		{"bad hash", "POST", url(issued), "application/json", reissueBody("a.example.com", nil, csr, "md5", true), 400,
			`{"errors":[{"code":"invalid_signature_hash","message":"Invalid signature hash."}]}`},
		{"skip_approval as an integer", "POST", url(issued), "application/json", `{"certificate":{"common_name":"a.example.com","csr":"` + csr + `","signature_hash":"sha256"},"skip_approval":1}`, 400,
			`{"errors":[{"code":"invalid_type","message":"Field skip_approval must be a boolean."}]}`},
		{"PUT", "PUT", url(issued), "application/json", good, 405, `{"errors":[{"code":"method_not_allowed","message":"Method not allowed."}]}`},
		{"an order without reissues lists none", "GET", url(issued), "", "", 200, `{"certificates":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, answer := do(t, tt.method, tt.url, "k", tt.ctype, tt.body)
			if status != tt.status || answer != tt.answer {
				t.Errorf("got %d %s\nwant %d %s", status, answer, tt.status, tt.answer)
			}
		})
	}
	for _, o := range s.Orders() {
		if len(o.Reissues) != 0 || o.CertificateID > 5000000 || o.Status == "reissue_pending" {
			t.Errorf("a refused reissue changed order %d: %d entries, certificate %d, %s", o.ID, len(o.Reissues), o.CertificateID, o.Status)
		}
	}
}

// TestServer_Reissue_listed: a reissue made out of band (auto-reissue) is
// listed like one asked for through the API; the other out-of-band
// replacements are not reissues.
func TestServer_Reissue_listed(t *testing.T) {
	clock := NewClock(day0)
	s := New("k", WithClock(clock.Now))
	base := s.Start()
	defer s.Close()
	id := s.AddOrder(Order{CommonName: "a.example.com"})
	clock.Add(time.Hour)
	s.Reissue(id)
	s.IssueWrongKey(id)
	s.ExpireSoon(id, time.Hour)
	s.Reissue(999) // an unknown order: nothing happens
	o, _ := s.Order(id)
	if len(o.Reissues) != 1 {
		t.Fatalf("%d entries, want 1", len(o.Reissues))
	}
	rr := o.Reissues[0]
	if rr.CertificateID != 5000001 || rr.RequestID != 0 || rr.Status != "issued" || rr.CSR != "" || !rr.Created.Equal(clock.Now()) || !sameKey(t, rr.PublicKey, o.PublicKey) {
		t.Errorf("entry %+v", rr)
	}
	want := `{"certificates":[{"common_name":"a.example.com","date_created":"2026-03-02T11:00:00+00:00","date_issued":"2026-03-02T11:00:00+00:00",` +
		`"dns_names":[" "],"id":5000001,"serial_number":"` + rr.SerialNumber + `","status":"issued","thumbprint":"` + rr.Thumbprint + `","valid_till":"2026-09-17"}]}`
	if _, answer := do(t, "GET", fmt.Sprintf("%s/order/certificate/%d/reissue", base, id), "k", "", ""); answer != want {
		t.Errorf("list\n got %s\nwant %s", answer, want)
	}
}

// TestServer_reissueNewestFirst lists several reissues newest first.
func TestServer_reissueNewestFirst(t *testing.T) {
	clock := NewClock(day0)
	s := New("k", WithClock(clock.Now))
	base := s.Start()
	defer s.Close()
	id := s.AddOrder(Order{CommonName: "a.example.com"})
	url := fmt.Sprintf("%s/order/certificate/%d/reissue", base, id)
	for _, skip := range []bool{true, false} {
		clock.Add(time.Hour)
		if status, answer := do(t, "POST", url, "k", "application/json", reissueBody("a.example.com", nil, csr, "sha256", skip)); status != 201 {
			t.Fatalf("reissue: %d %s", status, answer)
		}
	}
	_, answer := do(t, "GET", url, "k", "", "")
	first, second := strings.Index(answer, `"id":5000002`), strings.Index(answer, `"id":5000001`)
	if first < 0 || second < 0 || first > second || strings.Count(answer, `"status":"pending"`) != 1 {
		t.Errorf("not newest first, or not one pending and one issued: %s", answer)
	}
}

func TestServer_renewal(t *testing.T) {
	clock := NewClock(day0)
	s := New("k", WithClock(clock.Now))
	base := s.Start()
	defer s.Close()
	old := s.AddOrder(Order{CommonName: "a.example.com", AlternativeOrderID: "cf-old"})
	order := func(renewal string) string {
		return `{"certificate":{"common_name":"a.example.com","csr":"` + csr + `","signature_hash":"sha256"},"order_validity":{"years":1},` +
			`"organization":{"id":1},"alternative_order_id":"cf-new","renewal_of_order_id":` + renewal + `}`
	}
	clock.Add(time.Hour)
	status, answer := do(t, "POST", base+"/order/certificate/ssl", "k", "application/json", order(strconv.Itoa(old)))
	if status != 201 || answer != `{"id":100002,"requests":[{"id":500001,"status":"pending"}]}` {
		t.Fatalf("renewal: %d %s", status, answer)
	}
	o, _ := s.Order(old)
	if !o.IsRenewed || o.RenewedOrderID != 100002 || !o.Changed.Equal(clock.Now()) || o.Status != "issued" {
		t.Errorf("renewed order: IsRenewed %v, RenewedOrderID %d, Changed %s, %s", o.IsRenewed, o.RenewedOrderID, o.Changed, o.Status)
	}
	if n, _ := s.Order(100002); n.RenewalOfOrderID != old || n.AlternativeOrderID != "cf-new" || n.Status != "needs_approval" {
		t.Errorf("renewal: RenewalOfOrderID %d, alternative id %q, %s", n.RenewalOfOrderID, n.AlternativeOrderID, n.Status)
	}
	if got := getOrder(t, s, old); !bool(got.IsRenewed) || got.RenewedOrderID != 100002 || got.RenewalOfOrderID != 0 {
		t.Errorf("GET renewed order: is_renewed %v, renewed_order_id %d, renewal_of_order_id %d", got.IsRenewed, got.RenewedOrderID, got.RenewalOfOrderID)
	}
	if got := getOrder(t, s, 100002); bool(got.IsRenewed) || got.RenewedOrderID != 0 || got.RenewalOfOrderID != old {
		t.Errorf("GET renewal: is_renewed %v, renewed_order_id %d, renewal_of_order_id %d", got.IsRenewed, got.RenewedOrderID, got.RenewalOfOrderID)
	}
	if _, answer := do(t, "GET", base+"/order/alternate/cf-new", "k", "", ""); answer != `{"orders":[{"order_id":100002,"certificate_id":0,"status":"needs_approval"}],"page":{"limit":1000,"offset":0,"total":1}}` {
		t.Errorf("look-up by alternative id: %s", answer)
	}
	if _, answer := do(t, "GET", base+"/order/certificate/status-changes?minutes=30", "k", "", ""); answer !=
		`{"orders":[{"order_id":100001,"certificate_id":1000001,"status":"issued"},{"order_id":100002,"certificate_id":0,"status":"needs_approval"}],"page":{"limit":1000,"offset":0,"total":2}}` {
		t.Errorf("status changes: %s", answer)
	}
	refused := []struct {
		name, renewal string
		answer        string
	}{
		{"renewing twice", strconv.Itoa(old),
			`{"errors":[{"code":"order_already_renewed","message":"Order 100001 has already been renewed by order 100002; it cannot be renewed again."}]}`},
		{"unknown order", "999",
			`{"errors":[{"code":"invalid_renewal_of_order_id","message":"Order 999 does not exist; renewal_of_order_id must name an order of this account."}]}`},
		{"zero", "0",
			`{"errors":[{"code":"invalid_renewal_of_order_id","message":"Order 0 does not exist; renewal_of_order_id must name an order of this account."}]}`},
		{"a string", `"100001"`, `{"errors":[{"code":"invalid_type","message":"Field renewal_of_order_id must be an integer."}]}`},
	}
	for _, tt := range refused {
		if status, answer := do(t, "POST", base+"/order/certificate/ssl", "k", "application/json", order(tt.renewal)); status != 400 || answer != tt.answer {
			t.Errorf("%s: %d %s\nwant 400 %s", tt.name, status, answer, tt.answer)
		}
	}
	if n := len(s.Orders()); n != 2 {
		t.Errorf("%d orders after refused renewals, want 2", n)
	}
	// The renewal can itself be renewed.
	if status, answer := do(t, "POST", base+"/order/certificate/ssl", "k", "application/json", order("100002")); status != 201 || answer != `{"id":100003,"requests":[{"id":500002,"status":"pending"}]}` {
		t.Errorf("renewing the renewal: %d %s", status, answer)
	}
}

func TestServer_RenewOutside(t *testing.T) {
	clock := NewClock(day0)
	s := New("k", WithClock(clock.Now))
	base := s.Start()
	defer s.Close()
	key := newP256(t)
	id := s.AddOrder(Order{CommonName: "a.example.com", DNSNames: []string{"www.a.example.com"}, SignatureHash: "sha384", ProductType: "ov",
		OrganizationID: 7, DisableCT: true, AutoReissue: true, AlternativeOrderID: "cf-1", DCVMethod: "dns-txt-token", PublicKey: &key.PublicKey})
	before, _ := s.Order(id)
	clock.Add(time.Hour)
	now := clock.Now()
	renewed := s.RenewOutside(id)
	if renewed != 100002 {
		t.Fatalf("RenewOutside = %d, want 100002", renewed)
	}
	n, _ := s.Order(renewed)
	if n.Status != "issued" || n.CommonName != "a.example.com" || !cmp.Equal(n.DNSNames, []string{"www.a.example.com"}) || n.SignatureHash != "sha384" ||
		n.ProductType != "ov" || n.OrganizationID != 7 || !n.DisableCT || !n.AutoReissue || n.AlternativeOrderID != "" || n.DCVMethod != "dns-txt-token" ||
		n.RenewalOfOrderID != id || !n.Created.Equal(now) || !n.OrderValidTill.Equal(now.AddDate(1, 0, 0)) || n.CertificateID != 1000002 {
		t.Errorf("new order %+v", n)
	}
	if leaf := downloadChain(t, s, renewed, now); !sameKey(t, leaf.PublicKey, &key.PublicKey) || leaf.SignatureAlgorithm != x509.ECDSAWithSHA384 {
		t.Error("the renewal's certificate is not for the old order's key")
	}
	o, _ := s.Order(id)
	if !o.IsRenewed || o.RenewedOrderID != renewed || !o.Changed.Equal(now) || o.Status != "issued" || o.SerialNumber != before.SerialNumber {
		t.Errorf("old order: IsRenewed %v, RenewedOrderID %d, Changed %s, %s, serial changed %v", o.IsRenewed, o.RenewedOrderID, o.Changed, o.Status, o.SerialNumber != before.SerialNumber)
	}
	if got := s.RenewOutside(id); got != 0 {
		t.Errorf("renewing twice = %d, want 0", got)
	}
	if got := s.RenewOutside(999); got != 0 {
		t.Errorf("renewing an unknown order = %d, want 0", got)
	}
	body := `{"certificate":{"common_name":"a.example.com","csr":"` + csr + `","signature_hash":"sha256"},"order_validity":{"years":1},"organization":{"id":1},"renewal_of_order_id":100001}`
	if status, answer := do(t, "POST", base+"/order/certificate/ssl", "k", "application/json", body); status != 400 ||
		answer != `{"errors":[{"code":"order_already_renewed","message":"Order 100001 has already been renewed by order 100002; it cannot be renewed again."}]}` {
		t.Errorf("renewing through the API after RenewOutside: %d %s", status, answer)
	}
	if n := len(s.Orders()); n != 2 {
		t.Errorf("%d orders, want 2", n)
	}
}

func TestServer_OrderEndsIn(t *testing.T) {
	clock := NewClock(day0)
	s := New("k", WithClock(clock.Now))
	base := s.Start()
	defer s.Close()
	id := s.AddOrder(Order{CommonName: "a.example.com"})
	before, _ := s.Order(id)
	clock.Add(time.Hour)
	s.OrderEndsIn(id, 10*24*time.Hour)
	s.OrderEndsIn(999, time.Hour) // an unknown order: nothing happens
	o, _ := s.Order(id)
	if want := clock.Now().Add(10 * 24 * time.Hour); !o.OrderValidTill.Equal(want) || !o.Changed.Equal(clock.Now()) {
		t.Errorf("OrderValidTill %s, Changed %s", o.OrderValidTill, o.Changed)
	}
	if o.SerialNumber != before.SerialNumber || !o.NotAfter.Equal(before.NotAfter) {
		t.Error("OrderEndsIn replaced the certificate")
	}
	if got := getOrder(t, s, id); got.OrderValidTill != "2026-03-12" {
		t.Errorf("order_valid_till %q", got.OrderValidTill)
	}
	if _, answer := do(t, "GET", base+"/order/certificate/status-changes?minutes=30", "k", "", ""); answer != `{"orders":[{"order_id":100001,"certificate_id":1000001,"status":"issued"}],"page":{"limit":1000,"offset":0,"total":1}}` {
		t.Errorf("status changes: %s", answer)
	}
	// A certificate issued now ends with the order.
	s.Reissue(id)
	if o, _ := s.Order(id); !o.NotAfter.Equal(o.OrderValidTill) {
		t.Errorf("the reissued certificate ends %s, the order %s", o.NotAfter, o.OrderValidTill)
	}
}

// try sends a request and returns the answer or the transport error,
// never following a redirect.
func try(t *testing.T, method, url, body string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-DC-DEVKEY", "k")
	req.Header.Set("Content-Type", "application/json")
	resp, err := noFollow.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestServer_reissueFaults: faults target the reissue POST and the renewal
// POST as they do the order POST, by method and path.
func TestServer_reissueFaults(t *testing.T) {
	const reissuePath = "/order/certificate/100001/reissue"
	tests := []struct {
		name      string
		fault     Fault
		renewal   bool // POST a renewal of order 100001 instead of a reissue
		status    int  // 0: the connection is closed
		answer    string
		reissued  bool // the reissue (or renewal) was carried out
		unrelated bool // the fault is left for other calls: an order POST is answered normally
	}{
		{name: "answer lost after the reissue", fault: Fault{Method: "POST", Path: reissuePath, DropAfter: true}, reissued: true},
		{name: "connection dropped before", fault: Fault{Method: "POST", Path: reissuePath, DropBefore: true}},
		{name: "garbled 2xx after the reissue", fault: Fault{Path: reissuePath, Body: `{"id":`, Process: true}, status: 201, answer: `{"id":`, reissued: true},
		{name: "garbled 2xx, nothing done", fault: Fault{Path: reissuePath, Body: `{"id":`}, status: 201, answer: `{"id":`},
		{name: "redirect", fault: Fault{Method: "POST", Path: reissuePath, Redirect: "/elsewhere", Status: 308}, status: 308},
		{name: "503", fault: Fault{Path: reissuePath, Status: 503}, status: 503,
			answer: `{"errors":[{"code":"service_unavailable","message":"Injected fault: Service Unavailable."}]}` + "\n"},
		{name: "a prefix path", fault: Fault{Method: "POST", Path: "/order/certificate/*", Body: "ok", Process: true}, status: 201, answer: "ok", reissued: true},
		{name: "a fault for the reissue leaves the order POST alone", fault: Fault{Path: reissuePath, Status: 503}, status: 503,
			answer: `{"errors":[{"code":"service_unavailable","message":"Injected fault: Service Unavailable."}]}` + "\n", unrelated: true},
		{name: "renewal answer lost", fault: Fault{Method: "POST", Path: "/order/certificate/ssl", DropAfter: true}, renewal: true, reissued: true},
		{name: "renewal garbled after processing", fault: Fault{Method: "POST", Path: "/order/certificate/ssl", Body: "<html>", ContentType: "text/html", Process: true},
			renewal: true, status: 201, answer: "<html>", reissued: true},
		{name: "renewal redirected", fault: Fault{Method: "POST", Path: "/order/certificate/ssl", Redirect: "/x"}, renewal: true, status: 307},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New("k")
			base := s.Start()
			defer s.Close()
			id := s.AddOrder(Order{CommonName: "a.example.com"})
			tt.fault.Times = 1
			s.Inject(tt.fault)
			if tt.unrelated {
				order := `{"certificate":{"common_name":"a.example.com","csr":"` + csr + `","signature_hash":"sha256"},"order_validity":{"years":1},"organization":{"id":1}}`
				if status, answer, err := try(t, "POST", base+"/order/certificate/ssl", order); err != nil || status != 201 {
					t.Fatalf("order POST: %d %s %v", status, answer, err)
				}
			}
			url, body := base+reissuePath, reissueBody("a.example.com", nil, csr, "sha256", true)
			if tt.renewal {
				url = base + "/order/certificate/ssl"
				body = `{"certificate":{"common_name":"a.example.com","csr":"` + csr + `","signature_hash":"sha256"},"order_validity":{"years":1},"organization":{"id":1},"renewal_of_order_id":100001}`
			}
			status, answer, err := try(t, "POST", url, body)
			if tt.status == 0 {
				if err == nil {
					t.Errorf("got %d %s, want the connection closed", status, answer)
				}
			} else if err != nil || status != tt.status || answer != tt.answer {
				t.Errorf("got %d %q (%v), want %d %q", status, answer, err, tt.status, tt.answer)
			}
			if !s.WaitIdle(5 * time.Second) {
				t.Fatal("fake still busy")
			}
			o, _ := s.Order(id)
			done := len(o.Reissues) == 1 && o.CertificateID == 5000001
			if tt.renewal {
				done = o.IsRenewed && o.RenewedOrderID == 100002
			}
			if done != tt.reissued {
				t.Errorf("carried out %v, want %v (entries %d, certificate %d, renewed %v)", done, tt.reissued, len(o.Reissues), o.CertificateID, o.IsRenewed)
			}
			// The fault is used up: the call is answered for real.
			if status, answer, err := try(t, "POST", url, body); tt.renewal && !tt.reissued {
				if err != nil || status != 201 {
					t.Errorf("renewal after the fault: %d %s %v", status, answer, err)
				}
			} else if !tt.renewal && (err != nil || status != 201) {
				t.Errorf("reissue after the fault: %d %s %v", status, answer, err)
			}
		})
	}
}
