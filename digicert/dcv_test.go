package digicert_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certform/certform/dcv/dcvtest"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// txtServer is an in-process DNS server on 127.0.0.1 answering the TXT
// and CNAME records it holds; enough for the client's tests (the e2e tests
// use a real Knot DNS, internal/dnstest).
type txtServer struct {
	mu      sync.Mutex
	records map[string][]dns.RR // by lower-case FQDN
	addr    string
}

func newTXTServer(t *testing.T) *txtServer {
	t.Helper()
	ts := &txtServer{records: map[string][]dns.RR{}}
	addr, stop, err := dcvtest.ServeDNS(ts.answer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	ts.addr = addr
	return ts
}

// answer returns the records held for q's name and type.
func (ts *txtServer) answer(q dns.Question) []dns.RR {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []dns.RR
	for _, rr := range ts.records[strings.ToLower(q.Name)] {
		if rr.Header().Rrtype == q.Qtype {
			out = append(out, rr)
		}
	}
	return out
}

func (ts *txtServer) add(t *testing.T, rr string) {
	t.Helper()
	r, err := dns.NewRR(rr)
	if err != nil {
		t.Fatal(err)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	n := strings.ToLower(r.Header().Name)
	ts.records[n] = append(ts.records[n], r)
}

// placePending places an order with method through the client and returns
// its id; the fake holds it pending.
func placePending(t *testing.T, c *digicert.Client, method string) int {
	t.Helper()
	req := sampleOrder()
	req.DCVMethod = method
	resp, err := c.PlaceOrder(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.ID
}

func TestClient_DCV_dnsTXT(t *testing.T) {
	ctx := context.Background()
	dnsSrv := newTXTServer(t)
	srv, c := newPair(t, digicerttest.WithDNSResolver(dnsSrv.addr))
	id := placePending(t, c, digicert.DCVDNSTXT)
	if o, _ := srv.Order(id); o.Status != "pending" {
		t.Fatalf("status %q, want pending", o.Status)
	}
	v, err := c.OrderValidation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := &digicert.OrderValidation{DCVMethod: "dns-txt-token", Names: []digicert.NameValidation{
		{DNSName: "a.example.com", Status: "pending", DCVMethod: "dns-txt-token"},
		{DNSName: "www.a.example.com", Status: "pending", DCVMethod: "dns-txt-token"}}}
	if diff := cmp.Diff(want, v); diff != "" {
		t.Fatalf("validation (-want +got):\n%s", diff)
	}
	rv, err := c.RandomValue(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.RandomValue(ctx, id)
	if err != nil || again.Value != rv.Value || len(rv.Value) != 32 {
		t.Fatalf("random value %q then %q (%v): want the same 32 digits", rv.Value, again.Value, err)
	}
	// Nothing published: check-dcv finds nothing, the order stays pending.
	res, err := c.CheckDCV(ctx, id)
	if err != nil || res.OrderStatus != "pending" || res.DCVStatus != "pending" {
		t.Fatalf("check-dcv before publishing: %+v, %v", res, err)
	}
	// One name at the name itself, one at _dnsauth.NAME, beside an SPF record.
	dnsSrv.add(t, `a.example.com. 60 IN TXT "v=spf1 -all"`)
	dnsSrv.add(t, `a.example.com. 60 IN TXT "`+rv.Value+`"`)
	res, err = c.CheckDCV(ctx, id)
	if err != nil || res.OrderStatus != "pending" {
		t.Fatalf("check-dcv with one name: %+v, %v", res, err)
	}
	if got := srv.Validated(id); !cmp.Equal(got, []string{"a.example.com"}) {
		t.Fatalf("validated %v", got)
	}
	dnsSrv.add(t, `_dnsauth.www.a.example.com. 60 IN TXT "`+rv.Value+`"`)
	res, err = c.CheckDCV(ctx, id)
	if err != nil || res.OrderStatus != "issued" || res.CertificateID == 0 || res.DCVStatus != "complete" {
		t.Fatalf("check-dcv with both names: %+v, %v", res, err)
	}
	if o, _ := srv.Order(id); o.Status != "issued" || o.CertificatePEM == nil {
		t.Fatalf("order after validation: %s, certificate %v", o.Status, o.CertificatePEM != nil)
	}
	wantCalls := []string{"POST /order/certificate/ssl", "GET /order/certificate/100001/validation",
		"PUT /order/certificate/100001/dcv-random-value", "PUT /order/certificate/100001/dcv-random-value",
		"PUT /order/certificate/100001/check-dcv", "PUT /order/certificate/100001/check-dcv", "PUT /order/certificate/100001/check-dcv"}
	if diff := cmp.Diff(wantCalls, srv.Calls()); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
}

func TestClient_DCV_cname(t *testing.T) {
	ctx := context.Background()
	dnsSrv := newTXTServer(t)
	_, c := newPair(t, digicerttest.WithDNSResolver(dnsSrv.addr))
	id := placePending(t, c, digicert.DCVDNSCNAME)
	rv, err := c.RandomValue(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	dnsSrv.add(t, `_dnsauth.a.example.com. 60 IN CNAME `+rv.Value+`.dcv.digicert.com.`)
	dnsSrv.add(t, `_dnsauth.www.a.example.com. 60 IN CNAME `+rv.Value+`.dcv.digicert.com.`)
	res, err := c.CheckDCV(ctx, id)
	if err != nil || res.OrderStatus != "issued" {
		t.Fatalf("check-dcv: %+v, %v", res, err)
	}
}

func TestClient_DCV_http(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	files := map[string]string{} // host -> fileauth.txt
	var hosts []string
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		hosts = append(hosts, r.Host+" "+r.URL.Path)
		body, ok := files[r.Host]
		if !ok || r.URL.Path != "/.well-known/pki-validation/fileauth.txt" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body + "\n"))
	}))
	defer web.Close()
	_, c := newPair(t, digicerttest.WithHTTPValidation(func(string) string { return web.URL }))
	id := placePending(t, c, digicert.DCVHTTP)
	rv, err := c.RandomValue(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CheckDCV(ctx, id)
	var apiErr *digicert.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Code() != "file_random_value_not_found" {
		t.Fatalf("check-dcv without the file: %v, want 400 file_random_value_not_found", err)
	}
	mu.Lock()
	files["a.example.com"], files["www.a.example.com"] = rv.Value, rv.Value
	mu.Unlock()
	res, err := c.CheckDCV(ctx, id)
	if err != nil || res.OrderStatus != "issued" {
		t.Fatalf("check-dcv: %+v, %v", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"a.example.com /.well-known/pki-validation/fileauth.txt", "www.a.example.com /.well-known/pki-validation/fileauth.txt", "a.example.com /.well-known/pki-validation/fileauth.txt", "www.a.example.com /.well-known/pki-validation/fileauth.txt"}
	if diff := cmp.Diff(want, hosts); diff != "" {
		t.Fatalf("fetches (-want +got):\n%s", diff)
	}
}

func TestClient_DCV_domains(t *testing.T) {
	ctx := context.Background()
	dnsSrv := newTXTServer(t)
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	srv, c := newPair(t, digicerttest.WithDNSResolver(dnsSrv.addr), digicerttest.WithClock(func() time.Time { return now }))
	id := srv.AddDomain("example.com", now.Add(10*24*time.Hour))
	srv.AddDomain("example.net", time.Time{})
	list, err := c.ListDomains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "example.com" || list[1].Name != "example.net" {
		t.Fatalf("domains %+v", list)
	}
	if end, ok := list[0].ValidationEnds(); !ok || !end.Equal(now.Add(10*24*time.Hour)) {
		t.Fatalf("example.com ends %v %v", end, ok)
	}
	if _, ok := list[1].ValidationEnds(); ok {
		t.Fatal("example.net has no validation, yet ValidationEnds reports one")
	}
	d, err := c.GetDomain(ctx, id)
	if err != nil || d.DCVToken != nil {
		t.Fatalf("domain %+v, %v: want no token yet", d, err)
	}
	tok, err := c.NewDomainToken(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ValidateDomainToken(ctx, id)
	var apiErr *digicert.APIError
	if !errors.As(err, &apiErr) || apiErr.Code() != "invalid_dns_txt" {
		t.Fatalf("validate-token before publishing: %v, want invalid_dns_txt", err)
	}
	dnsSrv.add(t, `example.com. 60 IN TXT "`+tok.Token+`"`)
	if _, err := c.ValidateDomainToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	got, _ := srv.DomainByID(id)
	if got.Validations != 1 || !got.ValidatedUntil.Equal(now.Add(digicerttest.DomainValidationPeriod)) {
		t.Fatalf("domain after validation: %+v", got)
	}
	d, err = c.GetDomain(ctx, id)
	if err != nil || d.DCVToken == nil || d.DCVToken.Token != tok.Token {
		t.Fatalf("domain %+v, %v: want the token", d, err)
	}
	wantCalls := []string{"GET /domain?include_validation=true&limit=1000&offset=0", "GET /domain/7001?include_dcv=true&include_validation=true",
		"POST /domain/7001/dcv/token", "PUT /domain/7001/dcv/validate-token", "PUT /domain/7001/dcv/validate-token", "GET /domain/7001?include_dcv=true&include_validation=true"}
	if diff := cmp.Diff(wantCalls, srv.Calls()); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
}
