package digicerttest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func do(t *testing.T, method, url, key, ctype, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-DC-DEVKEY", key)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// csr is a valid P-256 request for a.example.com, JSON-escaped.
const csr = `-----BEGIN CERTIFICATE REQUEST-----\nMIIBEjCBuAIBADAYMRYwFAYDVQQDDA1hLmV4YW1wbGUuY29tMFkwEwYHKoZIzj0C\nAQYIKoZIzj0DAQcDQgAEBZGG+vt5t4wh2vghDzisXVaqrwxN0sQZuNO1hOERf7aA\nJD/X2RB0f2TLqL1hsC4COsobguvyBosKldIxyChcqKA+MDwGCSqGSIb3DQEJDjEv\nMC0wKwYDVR0RBCQwIoINYS5leGFtcGxlLmNvbYIRd3d3LmEuZXhhbXBsZS5jb20w\nCgYIKoZIzj0EAwIDSQAwRgIhAKwNtzxnBLXaEWP682N7KbtcXyLAibU7wR1Nw06Y\n4xaNAiEAhvmUlSXLs3QsEaf3I47zHpQDsC2qej8BNvEq37HMt7c=\n-----END CERTIFICATE REQUEST-----`

func TestServer_validation(t *testing.T) {
	s := New("k")
	base := s.Start()
	defer s.Close()
	id := s.AddOrder(Order{CommonName: "a.example.com"})
	ct := base + "/order/certificate/100001/ct-status"
	tests := []struct {
		name, method, url, key, ctype, body string
		status                              int
		answer                              string
	}{
		{"no key", "PUT", ct, "", "application/json", `{"disable_ct":true}`, 401, `{"errors":[{"code":"access_denied|invalid_api_key","message":"Missing or invalid API key."}]}`},
		{"wrong content type", "PUT", ct, "k", "text/plain", `{"disable_ct":true}`, 415, `{"errors":[{"code":"unsupported_media_type","message":"Content-Type must be application/json."}]}`},
		{"not json", "PUT", ct, "k", "application/json", `disable_ct=true`, 400, `{"errors":[{"code":"bad_request_format","message":"The request body is not a JSON object."}]}`},
		{"integer for a boolean", "PUT", ct, "k", "application/json", `{"disable_ct":1}`, 400, `{"errors":[{"code":"invalid_type","message":"Field disable_ct must be a boolean."}]}`},
		{"boolean for an integer", "PUT", base + "/order/certificate/100001/auto-reissue", "k", "application/json", `{"auto_reissue":true}`, 400, `{"errors":[{"code":"invalid_type","message":"Field auto_reissue must be an integer."}]}`},
		{"missing field", "PUT", ct, "k", "application/json", `{}`, 400, `{"errors":[{"code":"missing_field","message":"Missing required field: disable_ct."}]}`},
		{"unknown order", "GET", base + "/order/certificate/5", "k", "", "", 404, `{"errors":[{"code":"not_found|order","message":"Order not found."}]}`},
		{"unknown order field", "POST", base + "/order/certificate/ssl", "k", "application/json", `{"certificat":{}}`, 400, `{"errors":[{"code":"bad_request_format","message":"Unknown field: certificat."}]}`},
		{"unparseable csr", "POST", base + "/order/certificate/ssl", "k", "application/json", `{"certificate":{"common_name":"a.example.com","csr":"x","signature_hash":"sha256"},"order_validity":{"years":1}}`, 400, `{"errors":[{"code":"csr_invalid_cannot_parse","message":"Unable to parse the CSR."}]}`},
		{"order without organization", "POST", base + "/order/certificate/ssl", "k", "application/json", `{"certificate":{"common_name":"a.example.com","csr":"` + csr + `","signature_hash":"sha256"},"order_validity":{"years":1}}`, 400, `{"errors":[{"code":"missing_field","message":"Missing required field: organization."}]}`},
		{"auto_renew as bool", "POST", base + "/order/certificate/ssl", "k", "application/json", `{"certificate":{"common_name":"a.example.com","csr":"` + csr + `","signature_hash":"sha256"},"order_validity":{"years":1},"organization":{"id":1},"auto_renew":true}`, 400, `{"errors":[{"code":"invalid_type","message":"Field auto_renew must be an integer."}]}`},
		{"validity out of range", "POST", base + "/order/certificate/ssl", "k", "application/json", `{"certificate":{"common_name":"a.example.com","csr":"` + csr + `","signature_hash":"sha256"},"order_validity":{"years":4},"organization":{"id":1}}`, 400, `{"errors":[{"code":"invalid_order_validity","message":"Order validity must be 1-3 years or 1-1095 days."}]}`},
		{"status changes range", "GET", base + "/order/certificate/status-changes?minutes=0", "k", "", "", 400, `{"errors":[{"code":"invalid_minutes","message":"minutes must be between 1 and 10080."}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, answer := do(t, tt.method, tt.url, tt.key, tt.ctype, tt.body)
			if status != tt.status || answer != tt.answer {
				t.Errorf("got %d %s\nwant %d %s", status, answer, tt.status, tt.answer)
			}
		})
	}
	if o, _ := s.Order(id); o.DisableCT {
		t.Error("a rejected call changed the order")
	}
	if n := len(s.Orders()); n != 1 {
		t.Errorf("%d orders after rejected orders", n)
	}
	if n := len(s.Requests()); n != len(tests) {
		t.Errorf("recorded %d requests, want %d", n, len(tests))
	}
}

func TestServer_faultsAndOutOfBand(t *testing.T) {
	s := New("k")
	base := s.Start()
	defer s.Close()
	id := s.AddOrder(Order{CommonName: "a.example.com"})
	s.Inject(Fault{Method: "GET", Path: "/order/certificate/*", Times: 1, Status: 503, RetryAfter: "7"})
	req, _ := http.NewRequest("GET", base+"/order/certificate/100001", nil)
	req.Header.Set("X-DC-DEVKEY", "k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("fault: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if status, _ := do(t, "GET", base+"/order/certificate/100001", "k", "", ""); status != 200 {
		t.Errorf("fault not used up: %d", status)
	}
	s.SetCT(id, true)
	s.SetStatus(id, "canceled")
	_, answer := do(t, "GET", base+"/order/certificate/100001", "k", "", "")
	want := `{"auto_reissue":0,"certificate":{"common_name":"a.example.com","dns_names":[" "],"signature_hash":""},"disable_ct":true,"id":100001,"organization":{"id":0},"product":{"name_id":"ssl_","type":"ssl_certificate"},"status":"canceled"}`
	if answer != want {
		t.Errorf("order\n got %s\nwant %s", answer, want)
	}
	status, answer := do(t, "PUT", base+"/order/certificate/100001/ct-status", "k", "application/json", `{"disable_ct":false}`)
	if status != 400 || answer != `{"errors":[{"code":"invalid_order_status","message":"The order is canceled; its settings cannot change."}]}` {
		t.Errorf("toggle on canceled order: %d %s", status, answer)
	}
}

func TestServer_uniqueAlternativeIDs(t *testing.T) {
	s := New("k", WithUniqueAlternativeIDs())
	base := s.Start()
	defer s.Close()
	body := `{"certificate":{"common_name":"a.example.com","csr":"` + csr + `","signature_hash":"sha256"},"order_validity":{"years":1},"organization":{"id":1},"skip_approval":true,"alternative_order_id":"cf-abc-1"}`
	status, answer := do(t, "POST", base+"/order/certificate/ssl", "k", "application/json", body)
	if status != 201 || answer != `{"certificate_id":1000001,"domains":[{"dns_name":"a.example.com","id":1000,"name":"a.example.com"}],"id":100001,"requests":[{"id":500001,"status":"approved"}]}` {
		t.Errorf("first order: %d %s", status, answer)
	}
	status, answer = do(t, "POST", base+"/order/certificate/ssl", "k", "application/json", body)
	if status != 400 || answer != `{"errors":[{"code":"duplicate_alternative_order_id","message":"An order with this alternative order ID already exists."}]}` {
		t.Errorf("second order: %d %s", status, answer)
	}
	status, answer = do(t, "GET", base+"/order/alternate/cf-abc-1", "k", "", "")
	if status != 200 || answer != `{"orders":[{"order_id":100001,"certificate_id":1000001,"status":"issued"}],"page":{"limit":1000,"offset":0,"total":1}}` {
		t.Errorf("lookup: %d %s", status, answer)
	}
}
