package digicert_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/google/go-cmp/cmp"
)

const testKey = "TESTKEY-5c1d0e9b7a"

// testCSR is a valid P-256 request for a.example.com.
const testCSR = `-----BEGIN CERTIFICATE REQUEST-----
MIIBEjCBuAIBADAYMRYwFAYDVQQDDA1hLmV4YW1wbGUuY29tMFkwEwYHKoZIzj0C
AQYIKoZIzj0DAQcDQgAEBZGG+vt5t4wh2vghDzisXVaqrwxN0sQZuNO1hOERf7aA
JD/X2RB0f2TLqL1hsC4COsobguvyBosKldIxyChcqKA+MDwGCSqGSIb3DQEJDjEv
MC0wKwYDVR0RBCQwIoINYS5leGFtcGxlLmNvbYIRd3d3LmEuZXhhbXBsZS5jb20w
CgYIKoZIzj0EAwIDSQAwRgIhAKwNtzxnBLXaEWP682N7KbtcXyLAibU7wR1Nw06Y
4xaNAiEAhvmUlSXLs3QsEaf3I47zHpQDsC2qej8BNvEq37HMt7c=
-----END CERTIFICATE REQUEST-----
`

// fastRetry keeps retry tests quick.
var fastRetry = digicert.Retry{Base: 5 * time.Millisecond, Max: 20 * time.Millisecond, MaxElapsed: 5 * time.Second}

func newPair(t *testing.T, opts ...digicerttest.Option) (*digicerttest.Server, *digicert.Client) {
	t.Helper()
	srv := digicerttest.New(testKey, opts...)
	url := srv.Start()
	t.Cleanup(srv.Close)
	c, err := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithVersion("1.2.3"), digicert.WithRetry(fastRetry), digicert.WithLimits())
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func sampleOrder() *digicert.OrderRequest {
	return &digicert.OrderRequest{
		Certificate: digicert.CertificateRequest{
			CommonName: "a.example.com", DNSNames: []string{"www.a.example.com"}, CSR: testCSR,
			SignatureHash: "sha256", ServerPlatform: &digicert.IDRef{ID: 2},
		},
		OrderValidity:      digicert.Validity{Years: 1},
		Container:          &digicert.IDRef{ID: 11},
		Product:            digicert.Product{TypeHint: "ov"},
		AutoRenew:          1,
		AutoReissue:        0,
		AdditionalEmails:   []string{"pki@example.com"},
		DisableCT:          true,
		SkipApproval:       true,
		Organization:       digicert.IDRef{ID: 112233},
		DCVMethod:          "dns-txt-token",
		Comments:           "ticket 1",
		AlternativeOrderID: "certform-a-0001",
	}
}

func TestClient_PlaceOrder_body(t *testing.T) {
	srv, c := newPair(t)
	resp, err := c.PlaceOrder(context.Background(), sampleOrder())
	if err != nil {
		t.Fatal(err)
	}
	placed, _ := srv.Order(100001)
	if len(placed.DCVRandomValue) != 32 {
		t.Errorf("dcv_random_value %q for dcv_method dns-txt-token", placed.DCVRandomValue)
	}
	want := &digicert.OrderResponse{
		ID: 100001, Requests: []digicert.RequestStatus{{ID: 500001, Status: "approved"}}, CertificateID: 1000001,
		Domains:        []digicert.Domain{{ID: 1000, Name: "a.example.com", DNSName: "a.example.com"}, {ID: 1001, Name: "www.a.example.com", DNSName: "www.a.example.com"}},
		DCVRandomValue: placed.DCVRandomValue,
	}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	wantBody := `{"certificate":{"common_name":"a.example.com","dns_names":["www.a.example.com"],"csr":` + jsonString(testCSR) +
		`,"signature_hash":"sha256","server_platform":{"id":2}},"order_validity":{"years":1},"container":{"id":11},` +
		`"product":{"type_hint":"ov"},"auto_renew":1,"auto_reissue":0,"disable_renewal_notifications":false,` +
		`"additional_emails":["pki@example.com"],"disable_ct":true,"skip_approval":true,"organization":{"id":112233},` +
		`"dcv_method":"dns-txt-token","comments":"ticket 1","alternative_order_id":"certform-a-0001"}`
	if diff := cmp.Diff(wantBody, string(r.Body)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	for h, v := range map[string]string{"X-DC-DEVKEY": testKey, "Content-Type": "application/json", "User-Agent": "certform/1.2.3", "Accept": "application/json"} {
		if got := r.Header.Get(h); got != v {
			t.Errorf("header %s = %q, want %q", h, got, v)
		}
	}
	if r.Method != "POST" || r.Path != "/order/certificate/ssl" {
		t.Errorf("call %s %s", r.Method, r.Path)
	}
}

func jsonString(s string) string {
	return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"`
}

func TestClient_PlaceOrder_minimalBody(t *testing.T) {
	srv, c := newPair(t)
	req := &digicert.OrderRequest{
		Certificate:   digicert.CertificateRequest{CommonName: "a.example.com", CSR: testCSR, SignatureHash: "sha384"},
		OrderValidity: digicert.Validity{Days: 200},
		Product:       digicert.Product{TypeHint: "private"},
		Organization:  digicert.IDRef{ID: 7},
	}
	resp, err := c.PlaceOrder(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]digicert.RequestStatus{{ID: 500001, Status: "pending"}}, resp.Requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	want := `{"certificate":{"common_name":"a.example.com","csr":` + jsonString(testCSR) + `,"signature_hash":"sha384"},` +
		`"order_validity":{"days":200},"product":{"type_hint":"private"},"auto_renew":0,"auto_reissue":0,` +
		`"disable_renewal_notifications":false,"disable_ct":false,"skip_approval":false,"organization":{"id":7}}`
	if got := string(srv.Requests()[0].Body); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

func TestClient_toggles(t *testing.T) {
	srv, c := newPair(t)
	ctx := context.Background()
	id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com", SignatureHash: "sha256", ProductType: "ov"})
	if err := c.SetCT(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if err := c.SetAutoReissue(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if err := c.SetAutoReissue(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range srv.Requests() {
		got = append(got, r.Method+" "+r.Path+" "+string(r.Body)+" "+r.Header.Get("Content-Type"))
	}
	want := []string{
		fmt.Sprintf(`PUT /order/certificate/%d/ct-status {"disable_ct":true} application/json`, id),
		fmt.Sprintf(`PUT /order/certificate/%d/auto-reissue {"auto_reissue":1} application/json`, id),
		fmt.Sprintf(`PUT /order/certificate/%d/auto-reissue {"auto_reissue":0} application/json`, id),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	o, _ := srv.Order(id)
	if !o.DisableCT || o.AutoReissue {
		t.Errorf("order after toggles: CT disabled %v, auto-reissue %v", o.DisableCT, o.AutoReissue)
	}
}

func TestClient_Revoke(t *testing.T) {
	t.Run("pending approval answers 201", func(t *testing.T) {
		srv, c := newPair(t)
		id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
		req, err := c.Revoke(context.Background(), id, "key compromised")
		if err != nil {
			t.Fatal(err)
		}
		if req == nil || req.ID != 500001 || req.Status != "pending" || req.Type != "revoke" || req.Comments != "key compromised" {
			t.Errorf("request %+v", req)
		}
		if got := string(srv.Requests()[0].Body); got != `{"comments":"key compromised"}` {
			t.Errorf("body %s", got)
		}
		_, err = c.Revoke(context.Background(), id, "again")
		if err == nil || err.Error() != "digicert: 400 revoke_request_exists: A revoke request already exists for this order." {
			t.Errorf("second revoke: %v", err)
		}
		srv.ApproveRevoke(id)
		if o, _ := c.GetOrder(context.Background(), id); o.Status != "revoked" {
			t.Errorf("status after approval %q", o.Status)
		}
	})
	t.Run("skipped approval answers 204", func(t *testing.T) {
		srv, c := newPair(t, digicerttest.WithInstantRevoke())
		id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
		req, err := c.Revoke(context.Background(), id, "retired")
		if err != nil || req != nil {
			t.Fatalf("got %+v, %v", req, err)
		}
		if o, _ := srv.Order(id); o.Status != "revoked" {
			t.Errorf("status %q", o.Status)
		}
		err = c.SetCT(context.Background(), id, true)
		if err == nil || err.Error() != "digicert: 400 invalid_order_status: The order is revoked; its settings cannot change." {
			t.Errorf("toggle on revoked order: %v", err)
		}
	})
}

func TestClient_GetOrder(t *testing.T) {
	srv, c := newPair(t, digicerttest.WithDisableCTField())
	resp, err := c.PlaceOrder(context.Background(), sampleOrder())
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.GetOrder(context.Background(), resp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o.ID != resp.ID || o.Status != "issued" || o.DisableCT == nil || !bool(*o.DisableCT) || o.AutoReissue == nil || bool(*o.AutoReissue) || o.AlternativeOrderID != "certform-a-0001" ||
		o.Organization.ID != 112233 || o.Certificate.SignatureHash != "sha256" {
		t.Errorf("order %+v", o)
	}
	if diff := cmp.Diff([]string{"a.example.com", "www.a.example.com"}, o.Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	// An order without SANs is reported with dns_names [" "].
	id := srv.AddOrder(digicerttest.Order{CommonName: "b.example.com"})
	o, err = c.GetOrder(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"b.example.com"}, o.Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	_, err = c.GetOrder(context.Background(), 999)
	if !digicert.IsNotFound(err) || err.Error() != "digicert: 404 not_found|order: Order not found." {
		t.Errorf("missing order: %v", err)
	}
	var apiErr *digicert.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Code() != "not_found|order" {
		t.Errorf("errors.As: %#v", apiErr)
	}
}

func TestClient_FindByAlternativeID(t *testing.T) {
	srv, c := newPair(t)
	ctx := context.Background()
	refs, err := c.FindByAlternativeID(ctx, "certform-a-0001")
	if err != nil || refs != nil {
		t.Fatalf("before ordering: %v, %v", refs, err)
	}
	resp, err := c.PlaceOrder(ctx, sampleOrder())
	if err != nil {
		t.Fatal(err)
	}
	refs, err = c.FindByAlternativeID(ctx, "certform-a-0001")
	if err != nil {
		t.Fatal(err)
	}
	want := []digicert.OrderRef{{OrderID: resp.ID, CertificateID: resp.CertificateID, Status: "issued"}}
	if diff := cmp.Diff(want, refs); diff != "" {
		t.Errorf("refs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"GET /order/alternate/certform-a-0001", "POST /order/certificate/ssl", "GET /order/alternate/certform-a-0001"}, srv.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestClient_StatusChanges(t *testing.T) {
	srv, c := newPair(t)
	id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
	refs, err := c.StatusChanges(context.Background(), 60)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]digicert.OrderRef{{OrderID: id, CertificateID: id + 900000, Status: "issued"}}, refs); diff != "" {
		t.Errorf("refs (-want +got):\n%s", diff)
	}
	if got := srv.Calls(); got[0] != "GET /order/certificate/status-changes?minutes=60" {
		t.Errorf("call %q", got[0])
	}
	if _, err := c.StatusChanges(context.Background(), 20000); err == nil || err.Error() != "digicert: status changes: 20000 minutes is out of range 1-10080" {
		t.Errorf("out of range: %v", err)
	}
}

func TestClient_errors(t *testing.T) {
	srv, c := newPair(t)
	ctx := context.Background()
	bad := sampleOrder()
	bad.Certificate.DNSNames = []string{"exa mple.com"}
	_, err := c.PlaceOrder(ctx, bad)
	if err == nil || err.Error() != "digicert: 400 invalid_dns_name: Invalid domain name: exa mple.com." {
		t.Errorf("bad name: %v", err)
	}
	wrong, _ := digicert.New("WRONG-KEY", digicert.WithBaseURL(srv.URL()), digicert.WithLimits())
	err = wrong.SetCT(ctx, 1, true)
	if !digicert.IsUnauthorized(err) || err.Error() != "digicert: 401 access_denied|invalid_api_key: Missing or invalid API key." {
		t.Errorf("wrong key: %v", err)
	}
	srv.Inject(digicerttest.Fault{Path: "/order/certificate/1/ct-status", Status: 400, Code: "cert_transparency_turned_off_for_account"})
	err = c.SetCT(ctx, 1, true)
	var apiErr *digicert.APIError
	if !errors.As(err, &apiErr) || !apiErr.HasCode("cert_transparency_turned_off_for_account") || apiErr.Transient() {
		t.Errorf("injected 400: %v", err)
	}
}

func TestNew_urls(t *testing.T) {
	tests := []struct {
		url  string
		want string // error, "" for none
	}{
		{"https://www.digicert.com/services/v2", ""},
		{"http://127.0.0.1:8080/services/v2", ""},
		{"http://[::1]:8080/services/v2", ""},
		{"http://localhost:8080/services/v2", ""},
		{"http://www.digicert.com/services/v2", `digicert: API URL "http://www.digicert.com/services/v2": plain http is allowed only for loopback addresses; use https`},
		{"http://10.0.0.1/services/v2", `digicert: API URL "http://10.0.0.1/services/v2": plain http is allowed only for loopback addresses; use https`},
		{"ftp://example.com", `digicert: API URL "ftp://example.com": scheme must be https`},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := digicert.New("k", digicert.WithBaseURL(tt.url))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := digicert.New("  "); err == nil || err.Error() != "digicert: the API key is empty" {
		t.Errorf("empty key: %v", err)
	}
}

func TestClient_retries(t *testing.T) {
	ctx := context.Background()
	t.Run("503 then success", func(t *testing.T) {
		srv, c := newPair(t)
		id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
		srv.Inject(digicerttest.Fault{Method: "PUT", Times: 1, Status: 503})
		if err := c.SetCT(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		if n := len(srv.Requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
	t.Run("429 without Retry-After backs off", func(t *testing.T) {
		srv, _ := newPair(t)
		c, _ := digicert.New(testKey, digicert.WithBaseURL(srv.URL()), digicert.WithLimits(), digicert.WithRetry(digicert.Retry{Base: time.Millisecond, Max: time.Millisecond, MaxElapsed: time.Minute}))
		ft := useFakeTime(c)
		id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
		srv.Inject(digicerttest.Fault{Times: 2, Status: 429, Code: "request_limit_exceeded"})
		if err := c.SetAutoReissue(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		if n := len(srv.Requests()); n != 3 {
			t.Errorf("%d requests, want 3", n)
		}
		if d := ft.Total(); d < 2*digicert.RateLimitPause {
			t.Errorf("waited %s in all (%v), want at least 2 x %s", d, ft.Slept(), digicert.RateLimitPause)
		}
	})
	t.Run("429 with Retry-After waits that long", func(t *testing.T) {
		srv, _ := newPair(t)
		c, _ := digicert.New(testKey, digicert.WithBaseURL(srv.URL()), digicert.WithLimits(), digicert.WithRetry(digicert.Retry{Base: time.Millisecond, Max: time.Millisecond, MaxElapsed: time.Minute}))
		ft := useFakeTime(c)
		id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
		srv.Inject(digicerttest.Fault{Times: 1, Status: 429, Code: "request_limit_exceeded", RetryAfter: "7"})
		if err := c.SetCT(ctx, id, false); err != nil {
			t.Fatal(err)
		}
		if d := ft.Total(); d != 7*time.Second {
			t.Errorf("waited %s (%v), want Retry-After's 7s", d, ft.Slept())
		}
	})
	t.Run("429 on ordering is retried: the order was not taken", func(t *testing.T) {
		srv, c := newPair(t)
		useFakeTime(c)
		srv.Inject(digicerttest.Fault{Times: 1, Status: 429, Code: "request_limit_exceeded"})
		if _, err := c.PlaceOrder(ctx, sampleOrder()); err != nil {
			t.Fatal(err)
		}
		if n := len(srv.Orders()); n != 1 {
			t.Errorf("%d orders", n)
		}
	})
	t.Run("final 400 is not retried", func(t *testing.T) {
		srv, c := newPair(t)
		srv.Inject(digicerttest.Fault{Status: 400, Code: "bad_request_format"})
		err := c.SetCT(ctx, 1, true)
		if err == nil || err.Error() != "digicert: 400 bad_request_format: Injected fault: Bad Request." {
			t.Errorf("got %v", err)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
	t.Run("budget runs out", func(t *testing.T) {
		srv := digicerttest.New(testKey)
		url := srv.Start()
		defer srv.Close()
		c, _ := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLimits(),
			digicert.WithRetry(digicert.Retry{Base: 20 * time.Millisecond, Max: 40 * time.Millisecond, MaxElapsed: 300 * time.Millisecond}))
		srv.Inject(digicerttest.Fault{Status: 502})
		err := c.SetCT(ctx, 1, true)
		if err == nil || !strings.HasPrefix(err.Error(), "digicert: 502 bad_gateway: Injected fault: Bad Gateway. (gave up after ") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("cancel during backoff returns promptly", func(t *testing.T) {
		srv := digicerttest.New(testKey)
		url := srv.Start()
		defer srv.Close()
		c, _ := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLimits(),
			digicert.WithRetry(digicert.Retry{Base: time.Minute, Max: time.Minute, MaxElapsed: time.Hour}))
		srv.Inject(digicerttest.Fault{Status: 503, RetryAfter: "60"})
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		err := c.SetCT(cctx, 1, true)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("returned after %s", d)
		}
	})
}

func TestClient_outcomeUnknown(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		fault digicerttest.Fault
		want  int // orders that exist afterwards
	}{
		{"response lost after processing", digicerttest.Fault{Method: "POST", Times: 1, DropAfter: true}, 1},
		{"connection dropped before processing", digicerttest.Fault{Method: "POST", Times: 1, DropBefore: true}, 0},
		{"503", digicerttest.Fault{Method: "POST", Times: 1, Status: 503}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t)
			srv.Inject(tt.fault)
			_, err := c.PlaceOrder(ctx, sampleOrder())
			if !errors.Is(err, digicert.ErrOutcomeUnknown) {
				t.Fatalf("got %v, want outcome unknown", err)
			}
			if !strings.HasPrefix(err.Error(), "digicert: POST /order/certificate/ssl: outcome unknown, the request may have been carried out: ") {
				t.Errorf("message %q", err)
			}
			if diff := cmp.Diff([]string{"POST /order/certificate/ssl"}, srv.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if n := len(srv.Orders()); n != tt.want {
				t.Errorf("%d orders, want %d", n, tt.want)
			}
		})
	}
	t.Run("revoke response lost", func(t *testing.T) {
		srv, c := newPair(t)
		id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
		srv.Inject(digicerttest.Fault{Method: "PUT", Times: 1, DropAfter: true})
		_, err := c.Revoke(ctx, id, "x")
		if !errors.Is(err, digicert.ErrOutcomeUnknown) || len(srv.Requests()) != 1 {
			t.Errorf("got %v after %d requests", err, len(srv.Requests()))
		}
	})
	t.Run("server down is not unknown: nothing was sent", func(t *testing.T) {
		srv := digicerttest.New(testKey)
		url := srv.Start()
		srv.Close()
		c, _ := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLimits(),
			digicert.WithRetry(digicert.Retry{Base: time.Millisecond, Max: 2 * time.Millisecond, MaxElapsed: 50 * time.Millisecond}))
		_, err := c.PlaceOrder(ctx, sampleOrder())
		if err == nil || errors.Is(err, digicert.ErrOutcomeUnknown) || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("got %v", err)
		}
	})
}

// TestClient_limits sends more requests than one window allows against a
// fake that enforces the same windows: none may be answered 429.
func TestClient_limits(t *testing.T) {
	limits := []digicert.Limit{{N: 10, Per: 300 * time.Millisecond}, {N: 25, Per: 2 * time.Second}}
	srv := digicerttest.New(testKey, digicerttest.WithLimits(limits...))
	url := srv.Start()
	defer srv.Close()
	c, _ := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLimits(limits...), digicert.WithRetry(digicert.Retry{}))
	id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				errs <- c.SetCT(context.Background(), id, i%2 == 0)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.RateLimited(); n != 0 {
		t.Errorf("%d requests answered 429", n)
	}
	if n := len(srv.Requests()); n != 40 {
		t.Errorf("%d requests", n)
	}
}

// TestClient_redaction runs every call, failures included, with a debug
// logger and checks that the key appears nowhere: logs, errors, or the
// client printed with any verb.
func TestClient_redaction(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := digicerttest.New(testKey)
	url := srv.Start()
	defer srv.Close()
	c, err := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLogger(logger), digicert.WithRetry(fastRetry), digicert.WithLimits())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out []string
	record := func(v ...any) {
		for _, x := range v {
			if x != nil {
				out = append(out, fmt.Sprint(x))
			}
		}
	}
	resp, err := c.PlaceOrder(ctx, sampleOrder())
	record(err)
	record(c.SetCT(ctx, resp.ID, false), c.SetAutoReissue(ctx, resp.ID, true))
	_, err = c.GetOrder(ctx, resp.ID)
	record(err)
	_, err = c.FindByAlternativeID(ctx, "nope")
	record(err)
	_, err = c.StatusChanges(ctx, 5)
	record(err)
	_, err = c.Revoke(ctx, resp.ID, "x")
	record(err)
	srv.Inject(digicerttest.Fault{Times: 2, Status: 503})
	record(c.SetCT(ctx, resp.ID, true))
	srv.Inject(digicerttest.Fault{Method: "POST", DropAfter: true})
	_, err = c.PlaceOrder(ctx, sampleOrder())
	record(err)
	_, err = c.GetOrder(ctx, 1)
	record(err)
	wrong, _ := digicert.New(testKey+"x", digicert.WithBaseURL(url), digicert.WithLogger(logger), digicert.WithLimits())
	record(wrong.SetCT(ctx, 1, true))
	record(fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%v %+v %#v", *c, *c, *c))
	logger.Info("client", "client", c)
	if len(out) < 5 || logs.Len() == 0 {
		t.Fatalf("too little captured: %d outputs, %d bytes of logs", len(out), logs.Len())
	}
	all := logs.String() + strings.Join(out, "\n")
	if strings.Contains(all, testKey) || strings.Contains(all, "5c1d0e9b7a") {
		t.Errorf("the API key leaked:\n%s", all)
	}
	if !strings.Contains(logs.String(), `"level":"DEBUG","msg":"digicert call"`) || !strings.Contains(logs.String(), "retrying") {
		t.Errorf("expected call and retry records in logs:\n%s", logs.String())
	}
}

func TestClient_timeoutOnOrderIsOutcomeUnknown(t *testing.T) {
	srv := digicerttest.New(testKey)
	url := srv.Start()
	defer srv.Close()
	c, err := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLimits(), digicert.WithRetry(fastRetry), digicert.WithTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	srv.Inject(digicerttest.Fault{Method: "POST", Times: 1, Latency: 400 * time.Millisecond})
	_, err = c.PlaceOrder(context.Background(), sampleOrder())
	if !errors.Is(err, digicert.ErrOutcomeUnknown) {
		t.Fatalf("got %v, want outcome unknown", err)
	}
	if !srv.WaitIdle(5 * time.Second) {
		t.Fatal("fake still busy")
	}
	// The slow order was carried out all the same: exactly one, never re-sent.
	if n, calls := len(srv.Orders()), srv.Calls(); n != 1 || len(calls) != 1 {
		t.Errorf("%d orders, calls %v", n, calls)
	}
	if _, err := digicert.New(testKey, digicert.WithTimeout(0)); err == nil || err.Error() != "digicert: timeout 0s must be positive" {
		t.Errorf("zero timeout: %v", err)
	}
}

func TestClient_retryAfterDate(t *testing.T) {
	srv, c := newPair(t)
	id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
	when := time.Now().Add(1500 * time.Millisecond).UTC().Format(http.TimeFormat)
	srv.Inject(digicerttest.Fault{Times: 1, Status: 503, RetryAfter: when})
	start := time.Now()
	if err := c.SetCT(context.Background(), id, true); err != nil {
		t.Fatal(err)
	}
	// HTTP dates have whole seconds: the wait is at least half a second.
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("retried after %s, before the Retry-After date", d)
	}
}

func TestServer_rateLimits(t *testing.T) {
	srv := digicerttest.New(testKey, digicerttest.WithLimits(digicert.Limit{N: 2, Per: time.Minute}))
	url := srv.Start()
	defer srv.Close()
	c, _ := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLimits(), digicert.WithRetry(digicert.Retry{}))
	id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
	for i := 0; i < 2; i++ {
		if err := c.SetCT(context.Background(), id, true); err != nil {
			t.Fatal(err)
		}
	}
	err := c.SetCT(context.Background(), id, true)
	if !digicert.IsRateLimited(err) || err.Error() != "digicert: 429 request_limit_exceeded: Request limit exceeded. Please wait before making additional requests." {
		t.Errorf("third call: %v", err)
	}
	if srv.RateLimited() != 1 {
		t.Errorf("RateLimited() = %d", srv.RateLimited())
	}
}

// newClient returns a client for an API URL with fast retries and no
// client-side limits.
func newClient(t *testing.T, url string) *digicert.Client {
	t.Helper()
	c, err := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithRetry(fastRetry), digicert.WithLimits())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClient_redirects has server A redirect every call to server B: the
// client follows none, so B never sees a request (nor the key), A sees one,
// and the calls that cannot be repeated report an unknown outcome.
func TestClient_redirects(t *testing.T) {
	ctx := context.Background()
	const never = "; certform never follows redirects: check --api-url"
	tests := []struct {
		name    string
		fault   digicerttest.Fault // {B} in Redirect is B's API URL
		call    func(c *digicert.Client) error
		wantReq string
		unknown bool
		want    string // {B} is B's API URL, {A} A's origin
	}{
		{
			name:  "order POST answered 307",
			fault: digicerttest.Fault{Redirect: "{B}/order/certificate/ssl?token=s3cret", Status: 307},
			call: func(c *digicert.Client) error {
				_, err := c.PlaceOrder(ctx, sampleOrder())
				return err
			},
			wantReq: "POST /order/certificate/ssl", unknown: true,
			want: "digicert: POST /order/certificate/ssl: outcome unknown, the request may have been carried out: the answer was a redirect, 307 temporary redirect to {B}/order/certificate/ssl" + never,
		},
		{
			name:  "order POST answered 308",
			fault: digicerttest.Fault{Redirect: "{B}/order/certificate/ssl", Status: 308},
			call: func(c *digicert.Client) error {
				_, err := c.PlaceOrder(ctx, sampleOrder())
				return err
			},
			wantReq: "POST /order/certificate/ssl", unknown: true,
			want: "digicert: POST /order/certificate/ssl: outcome unknown, the request may have been carried out: the answer was a redirect, 308 permanent redirect to {B}/order/certificate/ssl" + never,
		},
		{
			name:  "order POST answered 302 without a Location",
			fault: digicerttest.Fault{Body: "moved", ContentType: "text/plain", Status: 302},
			call: func(c *digicert.Client) error {
				_, err := c.PlaceOrder(ctx, sampleOrder())
				return err
			},
			wantReq: "POST /order/certificate/ssl", unknown: true,
			want: "digicert: POST /order/certificate/ssl: outcome unknown, the request may have been carried out: the answer was a redirect, 302 found without a Location" + never,
		},
		{
			name:  "revoke answered 307",
			fault: digicerttest.Fault{Redirect: "{B}/order/certificate/100001/revoke"},
			call: func(c *digicert.Client) error {
				_, err := c.Revoke(ctx, 100001, "retired")
				return err
			},
			wantReq: "PUT /order/certificate/100001/revoke", unknown: true,
			want: "digicert: PUT /order/certificate/{id}/revoke: outcome unknown, the request may have been carried out: the answer was a redirect, 307 temporary redirect to {B}/order/certificate/100001/revoke" + never,
		},
		{
			name:  "reissue POST answered 307",
			fault: digicerttest.Fault{Redirect: "{B}/order/certificate/100001/reissue"},
			call: func(c *digicert.Client) error {
				_, err := c.Reissue(ctx, 100001, sampleReissue(true))
				return err
			},
			wantReq: "POST /order/certificate/100001/reissue", unknown: true,
			want: "digicert: POST /order/certificate/{id}/reissue: outcome unknown, the request may have been carried out: the answer was a redirect, 307 temporary redirect to {B}/order/certificate/100001/reissue" + never,
		},
		{
			name:  "ListReissues answered 302",
			fault: digicerttest.Fault{Redirect: "{B}/order/certificate/100001/reissue", Status: 302},
			call: func(c *digicert.Client) error {
				_, err := c.ListReissues(ctx, 100001)
				return err
			},
			wantReq: "GET /order/certificate/100001/reissue",
			want:    "digicert: GET /order/certificate/{id}/reissue: the answer was a redirect, 302 found to {B}/order/certificate/100001/reissue" + never,
		},
		{
			name:  "GetOrder answered 302",
			fault: digicerttest.Fault{Redirect: "{B}/order/certificate/100001?a=b", Status: 302},
			call: func(c *digicert.Client) error {
				_, err := c.GetOrder(ctx, 100001)
				return err
			},
			wantReq: "GET /order/certificate/100001",
			want:    "digicert: GET /order/certificate/{id}: the answer was a redirect, 302 found to {B}/order/certificate/100001" + never,
		},
		{
			name:  "GetOrder answered 301 to a relative Location",
			fault: digicerttest.Fault{Redirect: "/elsewhere/v2/order?key=x", Status: 301},
			call: func(c *digicert.Client) error {
				_, err := c.GetOrder(ctx, 100001)
				return err
			},
			wantReq: "GET /order/certificate/100001",
			want:    "digicert: GET /order/certificate/{id}: the answer was a redirect, 301 moved permanently to {A}/elsewhere/v2/order" + never,
		},
		{
			name:  "look-up answered 307 is not none",
			fault: digicerttest.Fault{Redirect: "{B}/order/alternate/certform-a-0001"},
			call: func(c *digicert.Client) error {
				refs, err := c.FindByAlternativeID(ctx, "certform-a-0001")
				if refs != nil {
					t.Errorf("refs %v", refs)
				}
				return err
			},
			wantReq: "GET /order/alternate/certform-a-0001",
			want:    "digicert: GET /order/alternate/{id}: the answer was a redirect, 307 temporary redirect to {B}/order/alternate/certform-a-0001" + never,
		},
		{
			name:  "SetCT answered 303",
			fault: digicerttest.Fault{Redirect: "{B}/order/certificate/100001/ct-status", Status: 303},
			call: func(c *digicert.Client) error {
				return c.SetCT(ctx, 100001, true)
			},
			wantReq: "PUT /order/certificate/100001/ct-status",
			want:    "digicert: PUT /order/certificate/{id}/ct-status: the answer was a redirect, 303 see other to {B}/order/certificate/100001/ct-status" + never,
		},
		{
			name:  "ListOrders answered 307",
			fault: digicerttest.Fault{Redirect: "{B}/order/certificate"},
			call: func(c *digicert.Client) error {
				_, err := c.ListOrders(ctx, digicert.OrderFilter{})
				return err
			},
			wantReq: "GET /order/certificate?limit=1000&offset=0",
			want:    "digicert: GET /order/certificate: the answer was a redirect, 307 temporary redirect to {B}/order/certificate" + never,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := digicerttest.New(testKey)
			bURL := b.Start()
			t.Cleanup(b.Close)
			a := digicerttest.New(testKey)
			aURL := a.Start()
			t.Cleanup(a.Close)
			aOrigin := strings.TrimSuffix(aURL, a.BasePath)
			f := tt.fault
			f.Redirect = strings.ReplaceAll(f.Redirect, "{B}", bURL)
			a.Inject(f)
			err := tt.call(newClient(t, aURL))
			want := strings.NewReplacer("{B}", bURL, "{A}", aOrigin).Replace(tt.want)
			if err == nil || err.Error() != want {
				t.Errorf("error\n got %v\nwant %s", err, want)
			}
			if got := errors.Is(err, digicert.ErrOutcomeUnknown); got != tt.unknown {
				t.Errorf("errors.Is(err, ErrOutcomeUnknown) = %v, want %v", got, tt.unknown)
			}
			if errors.Is(err, digicert.ErrBadAnswer) {
				t.Error("a redirect matches ErrBadAnswer")
			}
			if diff := cmp.Diff([]string{tt.wantReq}, a.Calls()); diff != "" {
				t.Errorf("calls to A (-want +got):\n%s", diff)
			}
			if reqs := b.Requests(); len(reqs) != 0 {
				t.Errorf("B received %d requests; the key reached it", len(reqs))
			}
			if n := len(a.Orders()) + len(b.Orders()); n != 0 {
				t.Errorf("%d orders placed", n)
			}
		})
	}
}

// TestClient_PlaceOrder_badAnswer: only a decoded 2xx with an order id > 0
// is success; any other 2xx is an unknown outcome, sent exactly once.
func TestClient_PlaceOrder_badAnswer(t *testing.T) {
	const prefix = "digicert: POST /order/certificate/ssl: outcome unknown, the request may have been carried out: "
	tests := []struct {
		name   string
		fault  digicerttest.Fault
		want   string // after prefix
		orders int    // orders that exist afterwards
	}{
		{"201 empty after placing", digicerttest.Fault{Process: true}, "the 201 answer is empty", 1},
		{"201 empty, nothing placed", digicerttest.Fault{Status: 201}, "the 201 answer is empty", 0},
		{"204 after placing", digicerttest.Fault{Status: 204, Process: true}, "the 204 answer is empty", 1},
		{"201 truncated", digicerttest.Fault{Body: `{"id": 100001, "requ`, Process: true},
			"the 201 answer could not be decoded (application/json, 20 bytes): unexpected end of JSON input", 1},
		{"200 HTML from a proxy", digicerttest.Fault{Body: "<html><body>OK</body></html>", ContentType: "text/html; charset=utf-8", Status: 200, Process: true},
			"the 200 answer could not be decoded (text/html; charset=utf-8, 28 bytes): invalid character '<' looking for beginning of value", 1},
		{"201 not JSON", digicerttest.Fault{Body: "Created", ContentType: "text/plain", Process: true},
			"the 201 answer could not be decoded (text/plain, 7 bytes): invalid character 'C' looking for beginning of value", 1},
		{"201 id 0", digicerttest.Fault{Body: `{"id":0}`, Process: true}, "the 201 answer has no order id > 0", 1},
		{"201 negative id", digicerttest.Fault{Body: `{"id":-4}`, Process: true}, "the 201 answer has no order id > 0", 1},
		{"201 without id", digicerttest.Fault{Body: `{"requests":[{"id":500001,"status":"pending"}]}`, Process: true}, "the 201 answer has no order id > 0", 1},
		{"201 null", digicerttest.Fault{Body: `null`, Process: true}, "the 201 answer has no order id > 0", 1},
		{"201 id as a string", digicerttest.Fault{Body: `{"id":"100001"}`, Process: true},
			"the 201 answer could not be decoded (application/json, 15 bytes): json: cannot unmarshal string into Go struct field OrderResponse.id of type int", 1},
		{"201 array", digicerttest.Fault{Body: `[{"id":100001}]`},
			"the 201 answer could not be decoded (application/json, 15 bytes): json: cannot unmarshal array into Go value of type digicert.OrderResponse", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t)
			tt.fault.Method, tt.fault.Times = "POST", 1
			srv.Inject(tt.fault)
			resp, err := c.PlaceOrder(context.Background(), sampleOrder())
			if resp != nil {
				t.Errorf("response %+v", resp)
			}
			if err == nil || err.Error() != prefix+tt.want {
				t.Errorf("error\n got %v\nwant %s", err, prefix+tt.want)
			}
			var ou *digicert.OutcomeUnknownError
			if !errors.As(err, &ou) || ou.Call != "POST /order/certificate/ssl" {
				t.Errorf("errors.As OutcomeUnknownError: %#v", ou)
			}
			if !errors.Is(err, digicert.ErrOutcomeUnknown) || !errors.Is(err, digicert.ErrBadAnswer) {
				t.Errorf("errors.Is: unknown %v, bad answer %v", errors.Is(err, digicert.ErrOutcomeUnknown), errors.Is(err, digicert.ErrBadAnswer))
			}
			if diff := cmp.Diff([]string{"POST /order/certificate/ssl"}, srv.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if n := len(srv.Orders()); n != tt.orders {
				t.Errorf("%d orders, want %d", n, tt.orders)
			}
		})
	}
}

// TestClient_Revoke_badAnswer: a 2xx other than 204 must decode to a
// request; otherwise the revoke's outcome is unknown.
func TestClient_Revoke_badAnswer(t *testing.T) {
	const prefix = "digicert: PUT /order/certificate/{id}/revoke: outcome unknown, the request may have been carried out: "
	tests := []struct {
		name     string
		fault    digicerttest.Fault
		want     string // after prefix; "" for no error
		requests int    // revoke requests the fake holds afterwards
	}{
		{"201 garbled after revoking", digicerttest.Fault{Status: 201, Body: `{"id":500001,"sta`, Process: true},
			"the 201 answer could not be decoded (application/json, 17 bytes): unexpected end of JSON input", 1},
		{"201 empty after revoking", digicerttest.Fault{Status: 201, Process: true}, "the 201 answer is empty", 1},
		{"201 object without id", digicerttest.Fault{Status: 201, Body: `{"status":"pending"}`, Process: true}, "the 201 answer has no request id > 0", 1},
		{"200 HTML, nothing done", digicerttest.Fault{Body: "<html></html>", ContentType: "text/html"},
			"the 200 answer could not be decoded (text/html, 13 bytes): invalid character '<' looking for beginning of value", 0},
		{"204 is done without approval", digicerttest.Fault{Status: 204, Process: true}, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t)
			id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
			tt.fault.Method, tt.fault.Times = "PUT", 1
			srv.Inject(tt.fault)
			req, err := c.Revoke(context.Background(), id, "retired")
			if req != nil {
				t.Errorf("request %+v", req)
			}
			if tt.want == "" {
				if err != nil {
					t.Errorf("got %v", err)
				}
			} else {
				if err == nil || err.Error() != prefix+tt.want {
					t.Errorf("error\n got %v\nwant %s", err, prefix+tt.want)
				}
				if !errors.Is(err, digicert.ErrOutcomeUnknown) || !errors.Is(err, digicert.ErrBadAnswer) {
					t.Errorf("errors.Is: unknown %v, bad answer %v", errors.Is(err, digicert.ErrOutcomeUnknown), errors.Is(err, digicert.ErrBadAnswer))
				}
			}
			if diff := cmp.Diff([]string{fmt.Sprintf("PUT /order/certificate/%d/revoke", id)}, srv.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if n := len(srv.RevokeRequests()); n != tt.requests {
				t.Errorf("%d revoke requests, want %d", n, tt.requests)
			}
		})
	}
}

// TestClient_FindByAlternativeID_answers: "none" only from a 404 with
// DigiCert's error document; every other answer that is not a proper list
// is an error.
func TestClient_FindByAlternativeID_answers(t *testing.T) {
	const prefix = "digicert: GET /order/alternate/{id}: "
	tests := []struct {
		name  string
		fault digicerttest.Fault
		want  []digicert.OrderRef
		err   string // exact error, "" for none
		bad   bool   // errors.Is(err, ErrBadAnswer)
	}{
		{name: "404 with DigiCert's error document is none", fault: digicerttest.Fault{Status: 404, Code: "not_found"}},
		{name: "404 not_found|order is none", fault: digicerttest.Fault{Status: 404, Code: "not_found|order"}},
		{name: "404 not_found|route is an error", fault: digicerttest.Fault{Status: 404, Code: "not_found|route", Message: "The specified route was not found."},
			err: "digicert: 404 not_found|route: The specified route was not found."},
		{name: "404 not_found|route as one error object is an error", fault: digicerttest.Fault{Status: 404, Body: `{"errors":{"code":"not_found|route","message":"The specified route was not found."}}`},
			err: "digicert: 404 not_found|route: The specified route was not found."},
		{name: "404 with another code is an error", fault: digicerttest.Fault{Status: 404, Code: "invalid_request", Message: "No."},
			err: "digicert: 404 invalid_request: No."},
		{name: "404 HTML is an error", fault: digicerttest.Fault{Status: 404, Body: "<html><h1>404 Not Found</h1></html>", ContentType: "text/html"},
			err: "digicert: 404 not found"},
		{name: "404 with an empty error list is an error", fault: digicerttest.Fault{Status: 404, Body: `{"errors":[]}`},
			err: "digicert: 404 not found"},
		{name: "404 with errors without a code is an error", fault: digicerttest.Fault{Status: 404, Body: `{"errors":[{"message":"Not here."}]}`},
			err: "digicert: 404 Not here."},
		{name: "200 {}", fault: digicerttest.Fault{Body: `{}`}, err: prefix + "the 200 answer has no orders array", bad: true},
		{name: "200 null", fault: digicerttest.Fault{Body: `null`}, err: prefix + "the 200 answer has no orders array", bad: true},
		{name: "200 orders null", fault: digicerttest.Fault{Body: `{"orders":null}`}, err: prefix + "the 200 answer has no orders array", bad: true},
		{name: "200 orders an object", fault: digicerttest.Fault{Body: `{"orders":{"order_id":5}}`}, err: prefix + "the 200 answer has no orders array", bad: true},
		{name: "200 orders empty, page total 0, is none", fault: digicerttest.Fault{Body: `{"orders":[],"page":{"total":0,"limit":1000,"offset":0}}`}},
		{name: "200 orders empty without a page", fault: digicerttest.Fault{Body: `{"orders":[]}`},
			err: prefix + "the 200 answer lists no orders without a page total of 0; only that or a 404 not_found means none", bad: true},
		{name: "200 orders empty, page total 2", fault: digicerttest.Fault{Body: `{"orders":[],"page":{"total":2}}`},
			err: prefix + "the 200 answer lists no orders without a page total of 0; only that or a 404 not_found means none", bad: true},
		{name: "200 array", fault: digicerttest.Fault{Body: `[]`},
			err: prefix + "the 200 answer could not be decoded (application/json, 2 bytes): json: cannot unmarshal array into Go value of type map[string]json.RawMessage", bad: true},
		{name: "200 empty", fault: digicerttest.Fault{Status: 200}, err: prefix + "the 200 answer is empty", bad: true},
		{name: "200 HTML", fault: digicerttest.Fault{Body: "<!DOCTYPE html>", ContentType: "text/html"},
			err: prefix + "the 200 answer could not be decoded (text/html, 15 bytes): invalid character '<' looking for beginning of value", bad: true},
		{name: "200 entry without order id", fault: digicerttest.Fault{Body: `{"orders":[{"order_id":100001},{"status":"issued"}]}`},
			err: prefix + "the 200 answer's orders[1] has no order_id > 0", bad: true},
		{name: "200 entry of the wrong type", fault: digicerttest.Fault{Body: `{"orders":["100001"]}`},
			err: prefix + "the 200 answer's orders could not be decoded: json: cannot unmarshal string into Go value of type digicert.OrderRef", bad: true},
		{name: "200 with one order", fault: digicerttest.Fault{Body: `{"orders":[{"order_id":100001,"certificate_id":7,"status":"pending"}],"page":{"total":1}}`},
			want: []digicert.OrderRef{{OrderID: 100001, CertificateID: 7, Status: "pending"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t)
			tt.fault.Path = "/order/alternate/*"
			srv.Inject(tt.fault)
			refs, err := c.FindByAlternativeID(context.Background(), "certform-a-0001")
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err {
				t.Errorf("error\n got %q\nwant %q", got, tt.err)
			}
			if errors.Is(err, digicert.ErrBadAnswer) != tt.bad {
				t.Errorf("errors.Is(err, ErrBadAnswer) = %v, want %v", errors.Is(err, digicert.ErrBadAnswer), tt.bad)
			}
			if diff := cmp.Diff(tt.want, refs); diff != "" {
				t.Errorf("refs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"GET /order/alternate/certform-a-0001"}, srv.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClient_GetOrder_badAnswer: a 2xx that is not an order is an error,
// never an order with zero values.
func TestClient_GetOrder_badAnswer(t *testing.T) {
	const prefix = "digicert: GET /order/certificate/{id}: "
	tests := []struct {
		name  string
		fault digicerttest.Fault
		want  string
	}{
		{"empty", digicerttest.Fault{Status: 200}, "the 200 answer is empty"},
		{"{}", digicerttest.Fault{Body: `{}`}, "the 200 answer has no order id > 0"},
		{"id 0", digicerttest.Fault{Body: `{"id":0,"status":"issued"}`}, "the 200 answer has no order id > 0"},
		{"truncated", digicerttest.Fault{Body: `{"id":100001,"status":"iss`}, "the 200 answer could not be decoded (application/json, 26 bytes): unexpected end of JSON input"},
		{"HTML", digicerttest.Fault{Body: "<html/>", ContentType: "text/html"}, "the 200 answer could not be decoded (text/html, 7 bytes): invalid character '<' looking for beginning of value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t)
			id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
			tt.fault.Method = "GET"
			srv.Inject(tt.fault)
			o, err := c.GetOrder(context.Background(), id)
			if o != nil {
				t.Errorf("order %+v", o)
			}
			if err == nil || err.Error() != prefix+tt.want {
				t.Errorf("error\n got %v\nwant %s", err, prefix+tt.want)
			}
			if !errors.Is(err, digicert.ErrBadAnswer) || errors.Is(err, digicert.ErrOutcomeUnknown) {
				t.Errorf("errors.Is: bad answer %v, unknown %v", errors.Is(err, digicert.ErrBadAnswer), errors.Is(err, digicert.ErrOutcomeUnknown))
			}
			if diff := cmp.Diff([]string{fmt.Sprintf("GET /order/certificate/%d", id)}, srv.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClient_StatusChanges_badAnswer(t *testing.T) {
	const prefix = "digicert: GET /order/certificate/status-changes: "
	tests := []struct {
		name  string
		fault digicerttest.Fault
		want  string // "" for no error and no changes
	}{
		{"{} is no changes", digicerttest.Fault{Body: `{}`}, ""},
		{"null", digicerttest.Fault{Body: `null`}, "the 200 answer at offset 0 is null, not an object"},
		{"empty", digicerttest.Fault{Status: 200}, "offset 0: the 200 answer is empty"},
		{"HTML", digicerttest.Fault{Body: "<p>", ContentType: "text/html"}, "offset 0: the 200 answer could not be decoded (text/html, 3 bytes): invalid character '<' looking for beginning of value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t)
			tt.fault.Method = "GET"
			srv.Inject(tt.fault)
			refs, err := c.StatusChanges(context.Background(), 60)
			if tt.want == "" {
				if err != nil || refs != nil {
					t.Errorf("got %v, %v", refs, err)
				}
			} else if err == nil || err.Error() != prefix+tt.want || !errors.Is(err, digicert.ErrBadAnswer) {
				t.Errorf("error\n got %v\nwant %s", err, prefix+tt.want)
			}
			if diff := cmp.Diff([]string{"GET /order/certificate/status-changes?minutes=60"}, srv.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIsAlternativeIDTaken(t *testing.T) {
	apiErr := func(status int, codes ...string) error {
		e := &digicert.APIError{Status: status}
		for _, c := range codes {
			e.Errors = append(e.Errors, digicert.ErrorDetail{Code: c, Message: "m"})
		}
		return e
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"400 duplicate_alternative_order_id", apiErr(400, "duplicate_alternative_order_id"), true},
		{"409 alternative_order_id_exists", apiErr(409, "alternative_order_id_exists"), true},
		{"400 alternative_order_id_already_used", apiErr(400, "alternative_order_id_already_used"), true},
		{"400 Alternative_Order_ID_Taken", apiErr(400, "Alternative_Order_ID_Taken"), true},
		{"400 unique_alternative_order_id_required", apiErr(400, "unique_alternative_order_id_required"), true},
		{"400 second code", apiErr(400, "invalid_dns_name", "duplicate_alternative_order_id"), true},
		{"wrapped", fmt.Errorf("order shop: %w", apiErr(400, "duplicate_alternative_order_id")), true},
		{"400 invalid_alternative_order_id", apiErr(400, "invalid_alternative_order_id"), false},
		{"400 duplicate_order", apiErr(400, "duplicate_order"), false},
		{"500 duplicate_alternative_order_id", apiErr(500, "duplicate_alternative_order_id"), false},
		{"403 duplicate_alternative_order_id", apiErr(403, "duplicate_alternative_order_id"), false},
		{"400 without codes", apiErr(400), false},
		{"plain error naming the code", errors.New("duplicate_alternative_order_id"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := digicert.IsAlternativeIDTaken(tt.err); got != tt.want {
				t.Errorf("IsAlternativeIDTaken(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	t.Run("fake with unique alternative ids", func(t *testing.T) {
		srv, c := newPair(t, digicerttest.WithUniqueAlternativeIDs())
		if _, err := c.PlaceOrder(context.Background(), sampleOrder()); err != nil {
			t.Fatal(err)
		}
		_, err := c.PlaceOrder(context.Background(), sampleOrder())
		if !digicert.IsAlternativeIDTaken(err) || errors.Is(err, digicert.ErrOutcomeUnknown) {
			t.Errorf("second order: %v", err)
		}
		if n := len(srv.Orders()); n != 1 {
			t.Errorf("%d orders", n)
		}
	})
}

func TestClient_ListOrders_paging(t *testing.T) {
	tests := []struct {
		name     string
		pageSize int // the fake's page size
		orders   int
		calls    int
	}{
		{"none", 1000, 0, 1},
		{"one page", 1000, 7, 1},
		{"exactly one full page", 1000, 1000, 1},
		{"2,345 orders in pages of 1000", 1000, 2345, 3},
		{"2,345 orders in pages of 400", 400, 2345, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t, digicerttest.WithMaxPageSize(tt.pageSize))
			var want []int
			for i := 0; i < tt.orders; i++ {
				want = append(want, srv.AddOrder(digicerttest.Order{CommonName: fmt.Sprintf("h%d.example.com", i)}))
			}
			srv.ResetRequests()
			orders, err := c.ListOrders(context.Background(), digicert.OrderFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, o := range orders {
				got = append(got, o.ID)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("order ids (-want +got):\n%s", diff)
			}
			var wantCalls []string
			for i := 0; i < tt.calls; i++ {
				wantCalls = append(wantCalls, fmt.Sprintf("GET /order/certificate?limit=1000&offset=%d", i*tt.pageSize))
			}
			if diff := cmp.Diff(wantCalls, srv.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClient_ListOrders_filters(t *testing.T) {
	created := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	srv, c := newPair(t, digicerttest.WithClock(func() time.Time { return created }))
	a := srv.AddOrder(digicerttest.Order{CommonName: "shop.example.com", DNSNames: []string{"www.shop.example.com"}, CertificateID: 9001, SignatureHash: "sha256", DisableCT: true, AlternativeOrderID: "cf-1"})
	srv.AddOrder(digicerttest.Order{CommonName: "shop.example.com", Status: "revoked"})
	srv.AddOrder(digicerttest.Order{CommonName: "other.example.com"})
	b := srv.AddOrder(digicerttest.Order{CommonName: "SHOP.example.com"})
	srv.ResetRequests()
	ctx := context.Background()
	tests := []struct {
		name   string
		filter digicert.OrderFilter
		want   []int
		call   string
	}{
		{"status and common name, any case", digicert.OrderFilter{Status: "issued", CommonName: "Shop.Example.com"}, []int{a, b},
			"GET /order/certificate?filters%5Bcommon_name%5D=Shop.Example.com&filters%5Bstatus%5D=issued&limit=1000&offset=0"},
		{"status only", digicert.OrderFilter{Status: "revoked"}, []int{a + 1},
			"GET /order/certificate?filters%5Bstatus%5D=revoked&limit=1000&offset=0"},
		{"common name only", digicert.OrderFilter{CommonName: "other.example.com"}, []int{a + 2},
			"GET /order/certificate?filters%5Bcommon_name%5D=other.example.com&limit=1000&offset=0"},
		{"escaped value", digicert.OrderFilter{CommonName: "a&b=c d.example.com"}, nil,
			"GET /order/certificate?filters%5Bcommon_name%5D=a%26b%3Dc+d.example.com&limit=1000&offset=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetRequests()
			orders, err := c.ListOrders(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, o := range orders {
				got = append(got, o.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{tt.call}, srv.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
	// A list entry carries what certform compares.
	orders, err := c.ListOrders(ctx, digicert.OrderFilter{CommonName: "shop.example.com", Status: "issued"})
	if err != nil {
		t.Fatal(err)
	}
	fake, _ := srv.Order(a)
	want := digicert.Order{
		ID: a, Status: "issued", DateCreated: "2026-03-02T10:00:00Z", // no disable_ct, auto_reissue, alternative_order_id: a real list entry has none
		Certificate: digicert.OrderCert{ID: 9001, CommonName: "shop.example.com", DNSNames: []string{"www.shop.example.com"}, SignatureHash: "sha256",
			SerialNumber: fake.SerialNumber, Thumbprint: fake.Thumbprint, ValidFrom: "2026-03-02", ValidTill: "2026-09-17", DaysRemaining: 199},
		Product:        digicert.Product{NameID: "ssl_", Type: "ssl_certificate"},
		Organization:   digicert.IDRef{ID: 0},
		OrderValidTill: "2027-03-02",
	}
	if diff := cmp.Diff(want, orders[0]); diff != "" {
		t.Errorf("entry (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"shop.example.com"}, orders[1].Names()); diff != "" {
		t.Errorf("names of an entry with dns_names [\" \"] (-want +got):\n%s", diff)
	}
}

// TestClient_ListOrders_badAnswer: a page that is not a proper page fails
// the whole list; none is read as "no more orders".
func TestClient_ListOrders_badAnswer(t *testing.T) {
	const prefix = "digicert: GET /order/certificate: "
	tests := []struct {
		name  string
		fault digicerttest.Fault
		want  string
	}{
		{"{}", digicerttest.Fault{Body: `{}`}, "the 200 answer at offset 0 has no orders array"},
		{"null", digicerttest.Fault{Body: `null`}, "the 200 answer at offset 0 has no orders array"},
		{"orders null", digicerttest.Fault{Body: `{"orders":null,"page":{"total":0}}`}, "the 200 answer at offset 0 has no orders array"},
		{"no page", digicerttest.Fault{Body: `{"orders":[]}`}, "the 200 answer at offset 0 has no page object"},
		{"page null", digicerttest.Fault{Body: `{"orders":[],"page":null}`}, "the 200 answer at offset 0 has no page object"},
		{"page without total", digicerttest.Fault{Body: `{"orders":[],"page":{"limit":1000}}`}, "the 200 answer at offset 0 has no page total"},
		{"empty page while more are due", digicerttest.Fault{Body: `{"orders":[],"page":{"total":5,"limit":1000,"offset":0}}`},
			"the 200 answer at offset 0 has no orders although the total is 5"},
		{"entry without id", digicerttest.Fault{Body: `{"orders":[{"status":"issued"}],"page":{"total":1}}`}, "the 200 answer at offset 0 has orders[0] without an id > 0"},
		{"another page than asked", digicerttest.Fault{Body: `{"orders":[{"id":1}],"page":{"total":9,"offset":4}}`}, "the 200 answer at offset 0 is the page at offset 4"},
		{"entry of the wrong type", digicerttest.Fault{Body: `{"orders":[1],"page":{"total":1}}`},
			"the 200 answer at offset 0: orders could not be decoded: json: cannot unmarshal number into Go value of type digicert.Order"},
		{"HTML", digicerttest.Fault{Body: "<html>", ContentType: "text/html"},
			"offset 0: the 200 answer could not be decoded (text/html, 6 bytes): invalid character '<' looking for beginning of value"},
		{"empty", digicerttest.Fault{Status: 200}, "offset 0: the 200 answer is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t)
			tt.fault.Path = "/order/certificate"
			srv.Inject(tt.fault)
			orders, err := c.ListOrders(context.Background(), digicert.OrderFilter{})
			if orders != nil {
				t.Errorf("orders %v", orders)
			}
			if err == nil || err.Error() != prefix+tt.want || !errors.Is(err, digicert.ErrBadAnswer) {
				t.Errorf("error\n got %v\nwant %s", err, prefix+tt.want)
			}
			if diff := cmp.Diff([]string{"GET /order/certificate?limit=1000&offset=0"}, srv.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClient_ListOrders_pageLoop scripts the pages by offset: the loop
// ends on an empty page that should not be empty or on a server that
// ignores offset, and keeps an entry seen on two pages once.
func TestClient_ListOrders_pageLoop(t *testing.T) {
	tests := []struct {
		name  string
		pages map[string]string // offset → answer
		want  []int
		err   string
		calls []string // offsets asked
	}{
		{
			name: "empty page while more are due",
			pages: map[string]string{
				"0": `{"orders":[{"id":1},{"id":2}],"page":{"total":5,"limit":1000,"offset":0}}`,
				"2": `{"orders":[],"page":{"total":5,"limit":1000,"offset":2}}`,
			},
			err:   "digicert: GET /order/certificate: the 200 answer at offset 2 has no orders although the total is 5",
			calls: []string{"0", "2"},
		},
		{
			name: "offset ignored",
			pages: map[string]string{
				"0": `{"orders":[{"id":1},{"id":2}],"page":{"total":5,"limit":1000,"offset":0}}`,
				"2": `{"orders":[{"id":1},{"id":2}],"page":{"total":5,"limit":1000,"offset":0}}`,
			},
			err:   "digicert: GET /order/certificate: the 200 answer at offset 2 is the page at offset 0",
			calls: []string{"0", "2"},
		},
		{
			name: "entry seen twice is kept once",
			pages: map[string]string{
				"0": `{"orders":[{"id":3},{"id":2}],"page":{"total":4,"limit":2,"offset":0}}`,
				"2": `{"orders":[{"id":2},{"id":1}],"page":{"total":4,"limit":2,"offset":2}}`,
			},
			want:  []int{3, 2, 1},
			calls: []string{"0", "2"},
		},
		{
			name: "pages without an offset",
			pages: map[string]string{
				"0": `{"orders":[{"id":1}],"page":{"total":2}}`,
				"1": `{"orders":[{"id":2}],"page":{"total":2}}`,
			},
			want:  []int{1, 2},
			calls: []string{"0", "1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var calls []string
			stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				off := r.URL.Query().Get("offset")
				mu.Lock()
				calls = append(calls, off)
				mu.Unlock()
				body, ok := tt.pages[off]
				if !ok || r.URL.Path != "/order/certificate" || r.URL.Query().Get("limit") != "1000" {
					http.Error(w, `{"errors":[{"code":"unexpected"}]}`, http.StatusTeapot)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, body)
			}))
			defer stub.Close()
			orders, err := newClient(t, stub.URL).ListOrders(context.Background(), digicert.OrderFilter{})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err {
				t.Errorf("error\n got %q\nwant %q", got, tt.err)
			}
			if tt.err != "" && !errors.Is(err, digicert.ErrBadAnswer) {
				t.Errorf("errors.Is(err, ErrBadAnswer) is false")
			}
			var ids []int
			for _, o := range orders {
				ids = append(ids, o.ID)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.calls, calls); diff != "" {
				t.Errorf("offsets asked (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClient_ListOrders_retried(t *testing.T) {
	srv, c := newPair(t)
	id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
	srv.ResetRequests()
	srv.Inject(digicerttest.Fault{Path: "/order/certificate", Times: 1, Status: 503})
	orders, err := c.ListOrders(context.Background(), digicert.OrderFilter{})
	if err != nil || len(orders) != 1 || orders[0].ID != id {
		t.Fatalf("got %v, %v", orders, err)
	}
	want := []string{"GET /order/certificate?limit=1000&offset=0", "GET /order/certificate?limit=1000&offset=0"}
	if diff := cmp.Diff(want, srv.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestClient_ListRequests(t *testing.T) {
	when := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	srv, c := newPair(t, digicerttest.WithMaxPageSize(2), digicerttest.WithClock(func() time.Time { return when }))
	ctx := context.Background()
	var ids []int
	for _, cn := range []string{"a.example.com", "b.example.com", "c.example.com", "d.example.com"} {
		ids = append(ids, srv.AddOrder(digicerttest.Order{CommonName: cn}))
	}
	revoke := func(id int, comments string) {
		t.Helper()
		if _, err := c.Revoke(ctx, id, comments); err != nil {
			t.Fatal(err)
		}
	}
	revoke(ids[0], "retired a")
	revoke(ids[1], "retired b")
	srv.RejectRevoke(ids[1])
	revoke(ids[1], "retired b again")
	srv.Revoke(ids[2], "done in the console")
	revoke(ids[3], "retired d")
	srv.ApproveRevoke(ids[3])
	date := "2026-03-02T10:00:00Z"
	all := []digicert.Request{
		{ID: 500001, Date: date, Type: "revoke", Status: "pending", Comments: "retired a", Order: digicert.RequestOrder{ID: ids[0]}},
		{ID: 500002, Date: date, Type: "revoke", Status: "rejected", Comments: "retired b", Order: digicert.RequestOrder{ID: ids[1]}},
		{ID: 500003, Date: date, Type: "revoke", Status: "pending", Comments: "retired b again", Order: digicert.RequestOrder{ID: ids[1]}},
		{ID: 500004, Date: date, Type: "revoke", Status: "approved", Comments: "done in the console", Order: digicert.RequestOrder{ID: ids[2]}},
		{ID: 500005, Date: date, Type: "revoke", Status: "approved", Comments: "retired d", Order: digicert.RequestOrder{ID: ids[3]}},
	}
	if diff := cmp.Diff(all, srv.RevokeRequests()); diff != "" {
		t.Errorf("fake's requests (-want +got):\n%s", diff)
	}
	tests := []struct {
		name   string
		filter digicert.RequestFilter
		want   []digicert.Request
		calls  []string
	}{
		{"all, three pages", digicert.RequestFilter{}, all, []string{
			"GET /request?limit=1000&offset=0", "GET /request?limit=1000&offset=2", "GET /request?limit=1000&offset=4"}},
		{"pending", digicert.RequestFilter{Status: "pending"}, []digicert.Request{all[0], all[2]}, []string{
			"GET /request?filters%5Bstatus%5D=pending&limit=1000&offset=0"}},
		{"submitted: none", digicert.RequestFilter{Status: "submitted"}, nil, []string{
			"GET /request?filters%5Bstatus%5D=submitted&limit=1000&offset=0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetRequests()
			got, err := c.ListRequests(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.calls, srv.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("GetRequest", func(t *testing.T) {
		srv.ResetRequests()
		got, err := c.GetRequest(ctx, 500002)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&all[1], got); diff != "" {
			t.Errorf("request (-want +got):\n%s", diff)
		}
		_, err = c.GetRequest(ctx, 7)
		if !digicert.IsNotFound(err) || err.Error() != "digicert: 404 not_found: Request not found." {
			t.Errorf("unknown request: %v", err)
		}
		srv.Inject(digicerttest.Fault{Path: "/request/*", Times: 1, Body: `{"status":"pending"}`})
		_, err = c.GetRequest(ctx, 500001)
		if !errors.Is(err, digicert.ErrBadAnswer) || err.Error() != "digicert: GET /request/{id}: the 200 answer has no request id > 0" {
			t.Errorf("bad answer: %v", err)
		}
		if diff := cmp.Diff([]string{"GET /request/500002", "GET /request/7", "GET /request/500001"}, srv.Calls()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})
}

// TestClient_lookupLag: an order placed a moment ago is missed by the
// look-up and the list until the fake's clock passes the lag; reading it by
// id sees it at once.
func TestClient_lookupLag(t *testing.T) {
	clock := digicerttest.NewClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	srv, c := newPair(t, digicerttest.WithLookupLag(30*time.Second), digicerttest.WithClock(clock.Now))
	ctx := context.Background()
	resp, err := c.PlaceOrder(ctx, sampleOrder())
	if err != nil {
		t.Fatal(err)
	}
	check := func(wantRefs []digicert.OrderRef, wantListed int) {
		t.Helper()
		refs, err := c.FindByAlternativeID(ctx, "certform-a-0001")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantRefs, refs); diff != "" {
			t.Errorf("look-up (-want +got):\n%s", diff)
		}
		orders, err := c.ListOrders(ctx, digicert.OrderFilter{})
		if err != nil || len(orders) != wantListed {
			t.Errorf("list: %d orders, %v", len(orders), err)
		}
		o, err := c.GetOrder(ctx, resp.ID)
		if err != nil || o.ID != resp.ID {
			t.Errorf("by id: %+v, %v", o, err)
		}
	}
	check(nil, 0)
	clock.Add(29 * time.Second)
	check(nil, 0)
	clock.Add(time.Second)
	check([]digicert.OrderRef{{OrderID: resp.ID, CertificateID: resp.CertificateID, Status: "issued"}}, 1)
	var want []string
	want = append(want, "POST /order/certificate/ssl")
	for i := 0; i < 3; i++ {
		want = append(want, "GET /order/alternate/certform-a-0001", "GET /order/certificate?limit=1000&offset=0", fmt.Sprintf("GET /order/certificate/%d", resp.ID))
	}
	if diff := cmp.Diff(want, srv.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// TestClient_answerTooLarge: an answer over the 16 MiB cap is an error,
// never decoded cut short; a list page of 1000 large orders fits.
func TestClient_answerTooLarge(t *testing.T) {
	var size atomic.Int64
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		n := int(size.Load())
		io.WriteString(w, `{"id": 7, "status": "issued", "pad": "`+strings.Repeat("x", n)+`"}`)
	}))
	defer stub.Close()
	c := newClient(t, stub.URL)
	size.Store(4 << 20)
	if o, err := c.GetOrder(context.Background(), 7); err != nil || o.ID != 7 {
		t.Fatalf("4 MiB answer: %v", err)
	}
	size.Store(17 << 20)
	_, err := c.GetOrder(context.Background(), 7)
	if err == nil || !strings.Contains(err.Error(), "the answer is larger than 16 MiB, the most certform reads") {
		t.Fatalf("17 MiB answer: %v", err)
	}
}

// sampleReissue is a reissue of a.example.com to testCSR's key, adding
// www.a.example.com, with or without skip_approval.
func sampleReissue(skip bool) *digicert.ReissueRequest {
	return &digicert.ReissueRequest{
		Certificate: digicert.CertificateRequest{
			CommonName: "a.example.com", DNSNames: []string{"www.a.example.com"}, CSR: testCSR,
			SignatureHash: "sha384", ServerPlatform: &digicert.IDRef{ID: 2},
		},
		SkipApproval: skip,
	}
}

func TestClient_Reissue(t *testing.T) {
	tests := []struct {
		name    string
		skip    bool
		body    string
		request string // the request's status
		status  string // the order's afterwards
	}{
		{"skip_approval", true, `{"certificate":{"common_name":"a.example.com","dns_names":["www.a.example.com"],"csr":` + jsonString(testCSR) +
			`,"signature_hash":"sha384","server_platform":{"id":2}},"skip_approval":true}`, "approved", "issued"},
		{"skip_approval false is not sent", false, `{"certificate":{"common_name":"a.example.com","dns_names":["www.a.example.com"],"csr":` + jsonString(testCSR) +
			`,"signature_hash":"sha384","server_platform":{"id":2}}}`, "pending", "reissue_pending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t)
			id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com", SignatureHash: "sha256"})
			resp, err := c.Reissue(context.Background(), id, sampleReissue(tt.skip))
			if err != nil {
				t.Fatal(err)
			}
			want := &digicert.ReissueResponse{ID: id, Requests: []digicert.RequestStatus{{ID: 500001, Status: tt.request}}}
			if diff := cmp.Diff(want, resp); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			if r.Method != "POST" || r.Path != fmt.Sprintf("/order/certificate/%d/reissue", id) {
				t.Errorf("call %s %s", r.Method, r.Path)
			}
			if diff := cmp.Diff(tt.body, string(r.Body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			for h, v := range map[string]string{"X-DC-DEVKEY": testKey, "Content-Type": "application/json", "User-Agent": "certform/1.2.3", "Accept": "application/json"} {
				if got := r.Header.Get(h); got != v {
					t.Errorf("header %s = %q, want %q", h, got, v)
				}
			}
			o, _ := srv.Order(id)
			if o.Status != tt.status || o.SignatureHash != "sha384" || len(o.Reissues) != 1 || o.Reissues[0].CertificateID != 5000001 {
				t.Errorf("order afterwards: %s %s, %d reissues", o.Status, o.SignatureHash, len(o.Reissues))
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		srv, c := newPair(t)
		id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com", Status: "needs_approval"})
		_, err := c.Reissue(context.Background(), id, sampleReissue(true))
		var apiErr *digicert.APIError
		if !errors.As(err, &apiErr) || apiErr.Code() != "order_not_issued" || errors.Is(err, digicert.ErrOutcomeUnknown) ||
			err.Error() != "digicert: 400 order_not_issued: The order is needs_approval; only an issued order can be reissued." {
			t.Errorf("reissue of an order not issued: %v", err)
		}
		_, err = c.Reissue(context.Background(), 999, sampleReissue(true))
		if !digicert.IsNotFound(err) || errors.Is(err, digicert.ErrOutcomeUnknown) {
			t.Errorf("reissue of an unknown order: %v", err)
		}
		if n := len(srv.Requests()); n != 2 {
			t.Errorf("%d requests, want 2: a final 4xx is not retried", n)
		}
	})
}

// TestClient_Reissue_outcomeUnknown: like an order, a reissue is sent
// exactly once once it may have reached CertCentral, and only a decoded
// 2xx with an order id > 0 is success.
func TestClient_Reissue_outcomeUnknown(t *testing.T) {
	const prefix = "digicert: POST /order/certificate/{id}/reissue: outcome unknown, the request may have been carried out: "
	tests := []struct {
		name     string
		fault    digicerttest.Fault
		want     string // the error after prefix; "" to check the prefix only
		bad      bool   // errors.Is(err, ErrBadAnswer)
		reissued bool   // the fake carried the reissue out
	}{
		{name: "answer lost after the reissue", fault: digicerttest.Fault{DropAfter: true}, reissued: true},
		{name: "connection dropped before processing", fault: digicerttest.Fault{DropBefore: true}},
		{name: "503", fault: digicerttest.Fault{Status: 503}, want: "digicert: 503 service_unavailable: Injected fault: Service Unavailable."},
		{name: "garbled 2xx after the reissue", fault: digicerttest.Fault{Body: `{"id": 100001, "requ`, Process: true}, bad: true, reissued: true,
			want: "the 201 answer could not be decoded (application/json, 20 bytes): unexpected end of JSON input"},
		{name: "HTML 200 from a proxy", fault: digicerttest.Fault{Body: "<html>OK</html>", ContentType: "text/html", Status: 200, Process: true}, bad: true, reissued: true,
			want: "the 200 answer could not be decoded (text/html, 15 bytes): invalid character '<' looking for beginning of value"},
		{name: "empty 201", fault: digicerttest.Fault{Process: true}, bad: true, reissued: true, want: "the 201 answer is empty"},
		{name: "id 0", fault: digicerttest.Fault{Body: `{"id":0,"requests":[{"id":500001,"status":"approved"}]}`, Process: true}, bad: true, reissued: true,
			want: "the 201 answer has no order id > 0"},
		{name: "no id, nothing done", fault: digicerttest.Fault{Body: `{}`}, bad: true, want: "the 201 answer has no order id > 0"},
		{name: "redirect", fault: digicerttest.Fault{Redirect: "https://elsewhere.example/x", Status: 308},
			want: "the answer was a redirect, 308 permanent redirect to https://elsewhere.example/x; certform never follows redirects: check --api-url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t)
			id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
			tt.fault.Method, tt.fault.Path, tt.fault.Times = "POST", fmt.Sprintf("/order/certificate/%d/reissue", id), 1
			srv.Inject(tt.fault)
			resp, err := c.Reissue(context.Background(), id, sampleReissue(true))
			if resp != nil {
				t.Errorf("response %+v", resp)
			}
			if !errors.Is(err, digicert.ErrOutcomeUnknown) {
				t.Fatalf("got %v, want outcome unknown", err)
			}
			if !strings.HasPrefix(err.Error(), prefix) || (tt.want != "" && err.Error() != prefix+tt.want) {
				t.Errorf("error\n got %v\nwant %s%s", err, prefix, tt.want)
			}
			var ou *digicert.OutcomeUnknownError
			if !errors.As(err, &ou) || ou.Call != "POST /order/certificate/{id}/reissue" {
				t.Errorf("errors.As OutcomeUnknownError: %#v", ou)
			}
			if got := errors.Is(err, digicert.ErrBadAnswer); got != tt.bad {
				t.Errorf("errors.Is(err, ErrBadAnswer) = %v, want %v", got, tt.bad)
			}
			if !srv.WaitIdle(5 * time.Second) {
				t.Fatal("fake still busy")
			}
			if diff := cmp.Diff([]string{fmt.Sprintf("POST /order/certificate/%d/reissue", id)}, srv.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if o, _ := srv.Order(id); (len(o.Reissues) == 1) != tt.reissued {
				t.Errorf("%d reissues, want carried out %v", len(o.Reissues), tt.reissued)
			}
		})
	}
	t.Run("429 is retried: the reissue was not taken", func(t *testing.T) {
		srv, c := newPair(t)
		useFakeTime(c)
		id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
		srv.Inject(digicerttest.Fault{Method: "POST", Times: 1, Status: 429, Code: "request_limit_exceeded"})
		if _, err := c.Reissue(context.Background(), id, sampleReissue(true)); err != nil {
			t.Fatal(err)
		}
		if o, _ := srv.Order(id); len(srv.Requests()) != 2 || len(o.Reissues) != 1 {
			t.Errorf("%d requests, %d reissues", len(srv.Requests()), len(o.Reissues))
		}
	})
	t.Run("408 is retried", func(t *testing.T) {
		srv, c := newPair(t)
		id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
		srv.Inject(digicerttest.Fault{Method: "POST", Times: 1, Status: 408})
		if _, err := c.Reissue(context.Background(), id, sampleReissue(true)); err != nil {
			t.Fatal(err)
		}
		if n := len(srv.Requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
	t.Run("server down is not unknown: nothing was sent", func(t *testing.T) {
		srv := digicerttest.New(testKey)
		url := srv.Start()
		srv.Close()
		c, _ := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLimits(),
			digicert.WithRetry(digicert.Retry{Base: time.Millisecond, Max: 2 * time.Millisecond, MaxElapsed: 50 * time.Millisecond}))
		_, err := c.Reissue(context.Background(), 100001, sampleReissue(true))
		if err == nil || errors.Is(err, digicert.ErrOutcomeUnknown) || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		srv := digicerttest.New(testKey)
		url := srv.Start()
		defer srv.Close()
		id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
		c, _ := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLimits(), digicert.WithRetry(fastRetry), digicert.WithTimeout(100*time.Millisecond))
		srv.Inject(digicerttest.Fault{Method: "POST", Times: 1, Latency: 400 * time.Millisecond})
		if _, err := c.Reissue(context.Background(), id, sampleReissue(true)); !errors.Is(err, digicert.ErrOutcomeUnknown) {
			t.Fatalf("got %v, want outcome unknown", err)
		}
		if !srv.WaitIdle(5 * time.Second) {
			t.Fatal("fake still busy")
		}
		if o, _ := srv.Order(id); len(srv.Calls()) != 1 || len(o.Reissues) != 1 {
			t.Errorf("calls %v, %d reissues", srv.Calls(), len(o.Reissues))
		}
	})
}

func TestClient_ListReissues(t *testing.T) {
	clock := digicerttest.NewClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	srv, c := newPair(t, digicerttest.WithClock(clock.Now))
	ctx := context.Background()
	id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
	if got, err := c.ListReissues(ctx, id); err != nil || got != nil {
		t.Fatalf("before any reissue: %v, %v", got, err)
	}
	clock.Add(time.Hour)
	if _, err := c.Reissue(ctx, id, sampleReissue(true)); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Hour)
	pending := sampleReissue(false)
	pending.Certificate.DNSNames = nil // listed as [" "]
	if _, err := c.Reissue(ctx, id, pending); err != nil {
		t.Fatal(err)
	}
	o, _ := srv.Order(id)
	issued := o.Reissues[0]
	srv.ResetRequests()
	got, err := c.ListReissues(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []digicert.Reissue{
		{ID: 5000002, Status: "pending", CommonName: "a.example.com", CSR: testCSR, DateCreated: "2026-03-02T12:00:00+00:00"},
		{ID: 5000001, Status: "issued", CommonName: "a.example.com", DNSNames: []string{"www.a.example.com"}, SerialNumber: issued.SerialNumber,
			CSR: testCSR, DateCreated: "2026-03-02T11:00:00+00:00", DateIssued: "2026-03-02T11:00:00+00:00", ValidTill: "2026-09-17"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reissues (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{fmt.Sprintf("GET /order/certificate/%d/reissue", id)}, srv.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if created, ok := got[0].Created(); !ok || !created.Equal(time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("Created() = %s, %v", created, ok)
	}
	if diff := cmp.Diff([]string{"a.example.com"}, got[0].Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if _, err := c.ListReissues(ctx, 999); !digicert.IsNotFound(err) || err.Error() != "digicert: 404 not_found|order: Order not found." {
		t.Errorf("unknown order: %v", err)
	}
}

func TestReissue_Created(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2019-04-08T17:33:26+00:00", time.Date(2019, 4, 8, 17, 33, 26, 0, time.UTC), true},
		{"2019-04-08T17:33:26Z", time.Date(2019, 4, 8, 17, 33, 26, 0, time.UTC), true},
		{"2019-04-08T19:33:26+02:00", time.Date(2019, 4, 8, 17, 33, 26, 0, time.UTC), true},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, false},
	} {
		got, ok := digicert.Reissue{DateCreated: tt.in}.Created()
		if ok != tt.ok || !got.Equal(tt.want) || (ok && got.Location() != time.UTC) {
			t.Errorf("Created(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestClient_ListReissues_answers: only an object counts; a missing or
// null list is none, anything else that is not a list of entries with ids
// is a bad answer.
func TestClient_ListReissues_answers(t *testing.T) {
	const prefix = "digicert: GET /order/certificate/{id}/reissue: "
	tests := []struct {
		name  string
		fault digicerttest.Fault
		want  string // error, "" for none
		calls int
	}{
		{name: "empty object is none", fault: digicerttest.Fault{Body: `{}`}, calls: 1},
		{name: "null list is none", fault: digicerttest.Fault{Body: `{"certificates":null}`}, calls: 1},
		{name: "empty list is none", fault: digicerttest.Fault{Body: `{"certificates":[]}`}, calls: 1},
		{name: "retried after a 503", fault: digicerttest.Fault{Status: 503}, calls: 2},
		{name: "empty 200", fault: digicerttest.Fault{Status: 200}, calls: 1, want: prefix + "the 200 answer is empty"},
		{name: "null", fault: digicerttest.Fault{Body: `null`}, calls: 1, want: prefix + "the 200 answer is null, not an object"},
		{name: "an array", fault: digicerttest.Fault{Body: `[]`}, calls: 1,
			want: prefix + "the 200 answer could not be decoded (application/json, 2 bytes): json: cannot unmarshal array into Go value of type map[string]json.RawMessage"},
		{name: "certificates an object", fault: digicerttest.Fault{Body: `{"certificates":{}}`}, calls: 1, want: prefix + "the 200 answer's certificates is not an array"},
		{name: "an entry without id", fault: digicerttest.Fault{Body: `{"certificates":[{"status":"pending"}]}`}, calls: 1,
			want: prefix + "the 200 answer's certificates[0] has no id > 0"},
		{name: "an id as a string", fault: digicerttest.Fault{Body: `{"certificates":[{"id":"5"}]}`}, calls: 1,
			want: prefix + "the 200 answer's certificates could not be decoded: json: cannot unmarshal string into Go struct field Reissue.id of type int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t)
			tt.fault.Times = 1
			srv.Inject(tt.fault)
			got, err := c.ListReissues(context.Background(), srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"}))
			if tt.want == "" {
				if err != nil || got != nil {
					t.Errorf("got %v, %v; want none", got, err)
				}
			} else {
				if err == nil || err.Error() != tt.want {
					t.Errorf("error\n got %v\nwant %s", err, tt.want)
				}
				if !errors.Is(err, digicert.ErrBadAnswer) || errors.Is(err, digicert.ErrOutcomeUnknown) {
					t.Errorf("errors.Is: bad answer %v, unknown %v", errors.Is(err, digicert.ErrBadAnswer), errors.Is(err, digicert.ErrOutcomeUnknown))
				}
			}
			if n := len(srv.Requests()); n != tt.calls {
				t.Errorf("%d requests, want %d", n, tt.calls)
			}
		})
	}
	t.Run("blank names are dropped", func(t *testing.T) {
		srv, c := newPair(t)
		srv.Inject(digicerttest.Fault{Times: 1, Body: `{"certificates":[{"id":5,"common_name":"a.example.com","dns_names":[" ", "b.example.com ", ""]},{"id":6,"dns_names":[" "]}]}`})
		got, err := c.ListReissues(context.Background(), 100001)
		if err != nil {
			t.Fatal(err)
		}
		want := []digicert.Reissue{{ID: 5, CommonName: "a.example.com", DNSNames: []string{"b.example.com"}}, {ID: 6}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("reissues (-want +got):\n%s", diff)
		}
	})
}

func TestClient_PlaceOrder_renewal(t *testing.T) {
	srv, c := newPair(t)
	ctx := context.Background()
	first, err := c.PlaceOrder(ctx, sampleOrder())
	if err != nil {
		t.Fatal(err)
	}
	renewal := sampleOrder()
	renewal.AlternativeOrderID = "certform-a-0002"
	renewal.RenewalOfOrderID = first.ID
	second, err := c.PlaceOrder(ctx, renewal)
	if err != nil {
		t.Fatal(err)
	}
	bodies := srv.Requests()
	const tail = `"dcv_method":"dns-txt-token","comments":"ticket 1","alternative_order_id":"certform-a-0001"}`
	if got := string(bodies[0].Body); !strings.HasSuffix(got, tail) || strings.Contains(got, "renewal_of_order_id") {
		t.Errorf("an order that renews nothing sends renewal_of_order_id: %s", got)
	}
	wantTail := fmt.Sprintf(`"dcv_method":"dns-txt-token","comments":"ticket 1","alternative_order_id":"certform-a-0002","renewal_of_order_id":%d}`, first.ID)
	if got := string(bodies[1].Body); !strings.HasSuffix(got, wantTail) {
		t.Errorf("renewal body %s\nwant it to end %s", got, wantTail)
	}
	old, err := c.GetOrder(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bool(old.IsRenewed) || old.RenewedOrderID != second.ID || old.RenewalOfOrderID != 0 {
		t.Errorf("renewed order: is_renewed %v, renewed_order_id %d, renewal_of_order_id %d", old.IsRenewed, old.RenewedOrderID, old.RenewalOfOrderID)
	}
	renewed, err := c.GetOrder(ctx, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bool(renewed.IsRenewed) || renewed.RenewalOfOrderID != first.ID {
		t.Errorf("renewal: is_renewed %v, renewal_of_order_id %d", renewed.IsRenewed, renewed.RenewalOfOrderID)
	}
	renewal.AlternativeOrderID = "certform-a-0003"
	srv.ResetRequests()
	_, err = c.PlaceOrder(ctx, renewal)
	want := fmt.Sprintf("digicert: 400 order_already_renewed: Order %d has already been renewed by order %d; it cannot be renewed again.", first.ID, second.ID)
	var apiErr *digicert.APIError
	if err == nil || err.Error() != want || !errors.As(err, &apiErr) || apiErr.Code() != "order_already_renewed" || errors.Is(err, digicert.ErrOutcomeUnknown) {
		t.Errorf("renewing twice: %v", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests: a refused renewal was retried", n)
	}
}
