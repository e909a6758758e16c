package digicert_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
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
	want := &digicert.OrderResponse{
		ID: 100001, Requests: []digicert.RequestStatus{{ID: 500001, Status: "approved"}}, CertificateID: 1000001,
		Domains: []digicert.Domain{{ID: 1000, Name: "a.example.com", DNSName: "a.example.com"}, {ID: 1001, Name: "www.a.example.com", DNSName: "www.a.example.com"}},
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
	srv, c := newPair(t)
	resp, err := c.PlaceOrder(context.Background(), sampleOrder())
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.GetOrder(context.Background(), resp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o.ID != resp.ID || o.Status != "issued" || !bool(o.DisableCT) || bool(o.AutoReissue) || o.AlternativeOrderID != "certform-a-0001" ||
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
	if diff := cmp.Diff([]digicert.OrderRef{{OrderID: id, Status: "issued"}}, refs); diff != "" {
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
		srv, c := newPair(t)
		id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
		srv.Inject(digicerttest.Fault{Times: 2, Status: 429, Code: "request_limit_exceeded"})
		if err := c.SetAutoReissue(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		if n := len(srv.Requests()); n != 3 {
			t.Errorf("%d requests, want 3", n)
		}
	})
	t.Run("429 with Retry-After waits that long", func(t *testing.T) {
		srv, c := newPair(t)
		id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
		srv.Inject(digicerttest.Fault{Times: 1, Status: 429, Code: "request_limit_exceeded", RetryAfter: "1"})
		start := time.Now()
		if err := c.SetCT(ctx, id, false); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("retried after %s, before Retry-After's 1s", d)
		}
	})
	t.Run("429 on ordering is retried: the order was not taken", func(t *testing.T) {
		srv, c := newPair(t)
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
