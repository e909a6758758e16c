package digicerttest

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/google/go-cmp/cmp"
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
	s := New("k", WithClock(func() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) }))
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
	o, _ := s.Order(id)
	want := `{"auto_reissue":0,"certificate":{"common_name":"a.example.com","days_remaining":199,"dns_names":[" "],"id":1000001,` +
		`"serial_number":"` + o.SerialNumber + `","signature_hash":"","thumbprint":"` + o.Thumbprint + `","valid_from":"2026-03-02","valid_till":"2026-09-17"},` +
		`"date_created":"2026-03-02T10:00:00Z","id":100001,"is_renewed":false,"order_valid_till":"2027-03-02","organization":{"id":0},` +
		`"product":{"name_id":"ssl_","type":"ssl_certificate"},"status":"canceled"}` // no disable_ct: DigiCert's order info lacks it (WithDisableCTField)
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

// noFollow is an HTTP client that hands redirects back unfollowed.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// doFull is do with the answer's headers, never following a redirect.
func doFull(t *testing.T, method, url, key, ctype, body string) (int, http.Header, string) {
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
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

var day0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func TestServer_listOrders(t *testing.T) {
	s := New("k", WithClock(func() time.Time { return day0 }), WithMaxPageSize(2))
	base := s.Start()
	defer s.Close()
	s.AddOrder(Order{CommonName: "a.example.com", CertificateID: 7})
	s.AddOrder(Order{CommonName: "B.example.com", Status: "revoked"})
	s.AddOrder(Order{CommonName: "b.example.com"})
	// entry is an order's JSON; an issued order has a certificate of 199
	// days from day0.
	entry := func(id int, cn, status string) string {
		o, _ := s.Order(id)
		cert := `{"common_name":"` + cn + `","dns_names":[" "],"signature_hash":""}`
		if o.CertificatePEM != nil {
			cert = `{"common_name":"` + cn + `","days_remaining":199,"dns_names":[" "],"id":` + strconv.Itoa(o.CertificateID) +
				`,"serial_number":"` + o.SerialNumber + `","signature_hash":"","thumbprint":"` + o.Thumbprint +
				`","valid_from":"2026-03-02","valid_till":"2026-09-17"}`
		}
		// A list entry has neither disable_ct nor auto_reissue, as a real
		// listing; GET of the order adds auto_reissue.
		return `{"certificate":` + cert + `,"date_created":"2026-03-02T10:00:00Z",` +
			`"id":` + strconv.Itoa(id) + `,"is_renewed":false,"order_valid_till":"2027-03-02","organization":{"id":0},` +
			`"product":{"name_id":"ssl_","type":"ssl_certificate"},"status":"` + status + `"}`
	}
	a, b1, b2 := entry(100001, "a.example.com", "issued"), entry(100002, "B.example.com", "revoked"), entry(100003, "b.example.com", "issued")
	if o, _ := s.Order(100001); o.CertificateID != 7 {
		t.Errorf("AddOrder replaced the certificate id 7 with %d", o.CertificateID)
	}
	if o, _ := s.Order(100003); o.CertificateID != 1000003 {
		t.Errorf("AddOrder's first certificate id is %d, want 1000003", o.CertificateID)
	}
	tests := []struct {
		name   string
		query  string
		status int
		answer string
	}{
		{"first page, server's page size", "", 200, `{"orders":[` + a + `,` + b1 + `],"page":{"limit":2,"offset":0,"total":3}}`},
		{"limit above the page size", "?limit=1000&offset=2", 200, `{"orders":[` + b2 + `],"page":{"limit":2,"offset":2,"total":3}}`},
		{"limit below the page size", "?limit=1&offset=1", 200, `{"orders":[` + b1 + `],"page":{"limit":1,"offset":1,"total":3}}`},
		{"offset past the end", "?offset=9", 200, `{"orders":[],"page":{"limit":2,"offset":9,"total":3}}`},
		{"common name without regard to case", "?filters%5Bcommon_name%5D=b.EXAMPLE.com", 200, `{"orders":[` + b1 + `,` + b2 + `],"page":{"limit":2,"offset":0,"total":2}}`},
		{"common name is matched whole", "?filters%5Bcommon_name%5D=example.com", 200, `{"orders":[],"page":{"limit":2,"offset":0,"total":0}}`},
		{"status and common name", "?filters%5Bstatus%5D=issued&filters%5Bcommon_name%5D=b.example.com", 200, `{"orders":[` + b2 + `],"page":{"limit":2,"offset":0,"total":1}}`},
		{"bad limit", "?limit=0", 400, `{"errors":[{"code":"invalid_limit","message":"limit must be a positive integer."}]}`},
		{"bad offset", "?offset=-1", 400, `{"errors":[{"code":"invalid_offset","message":"offset must be an integer of at least 0."}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, answer := do(t, "GET", base+"/order/certificate"+tt.query, "k", "", "")
			if status != tt.status || answer != tt.answer {
				t.Errorf("got %d %s\nwant %d %s", status, answer, tt.status, tt.answer)
			}
		})
	}
	// A list entry is the object GET /order/certificate/{id} gives, without
	// the settings.
	if _, answer := do(t, "GET", base+"/order/certificate/100001", "k", "", ""); answer != `{"auto_reissue":0,`+strings.TrimPrefix(a, "{") {
		t.Errorf("order\n got %s\nwant %s", answer, a)
	}
	if status, _ := do(t, "POST", base+"/order/certificate", "k", "application/json", "{}"); status != 404 {
		t.Errorf("POST to the list: %d", status)
	}
}

func TestServer_revokeRequests(t *testing.T) {
	s := New("k", WithClock(func() time.Time { return day0 }))
	base := s.Start()
	defer s.Close()
	id := s.AddOrder(Order{CommonName: "a.example.com"})
	revoke := base + "/order/certificate/100001/revoke"
	req := func(n int, status, comments string) string {
		return `{"id":` + strconv.Itoa(n) + `,"date":"2026-03-02T10:00:00Z","type":"revoke","status":"` + status + `","comments":"` + comments + `","order":{"id":100001}}`
	}
	steps := []struct {
		name         string
		act          func()
		method, url  string
		body         string
		status       int
		answer       string
		orderStatus  string
		revokeStatus string // of the order's latest revoke request
	}{
		{name: "revoke", method: "PUT", url: revoke, body: `{"comments":"one"}`, status: 201,
			answer: `{"id":500001,"date":"2026-03-02T10:00:00Z","type":"revoke","status":"pending","comments":"one"}`, orderStatus: "issued", revokeStatus: "pending"},
		{name: "second while pending", method: "PUT", url: revoke, body: `{"comments":"two"}`, status: 400,
			answer: `{"errors":[{"code":"revoke_request_exists","message":"A revoke request already exists for this order."}]}`, orderStatus: "issued", revokeStatus: "pending"},
		{name: "rejected", act: func() { s.RejectRevoke(id) }, method: "GET", url: base + "/request/500001", status: 200,
			answer: req(500001, "rejected", "one"), orderStatus: "issued", revokeStatus: "rejected"},
		{name: "again after a rejection", method: "PUT", url: revoke, body: `{"comments":"three"}`, status: 201,
			answer: `{"id":500002,"date":"2026-03-02T10:00:00Z","type":"revoke","status":"pending","comments":"three"}`, orderStatus: "issued", revokeStatus: "pending"},
		{name: "pending list", method: "GET", url: base + "/request?filters%5Bstatus%5D=pending", status: 200,
			answer: `{"page":{"limit":1000,"offset":0,"total":1},"requests":[` + req(500002, "pending", "three") + `]}`, orderStatus: "issued", revokeStatus: "pending"},
		{name: "approved", act: func() { s.ApproveRevoke(id) }, method: "GET", url: base + "/request", status: 200,
			answer: `{"page":{"limit":1000,"offset":0,"total":2},"requests":[` + req(500001, "rejected", "one") + `,` + req(500002, "approved", "three") + `]}`, orderStatus: "revoked", revokeStatus: "approved"},
		{name: "second page", method: "GET", url: base + "/request?limit=1&offset=1", status: 200,
			answer: `{"page":{"limit":1,"offset":1,"total":2},"requests":[` + req(500002, "approved", "three") + `]}`, orderStatus: "revoked", revokeStatus: "approved"},
		{name: "after approval", method: "PUT", url: revoke, body: `{"comments":"four"}`, status: 400,
			answer: `{"errors":[{"code":"revoke_request_exists","message":"A revoke request already exists for this order."}]}`, orderStatus: "revoked", revokeStatus: "approved"},
		{name: "unknown request", method: "GET", url: base + "/request/42", status: 404,
			answer: `{"errors":[{"code":"not_found","message":"Request not found."}]}`, orderStatus: "revoked", revokeStatus: "approved"},
	}
	for _, st := range steps {
		if st.act != nil {
			st.act()
		}
		ctype := ""
		if st.body != "" {
			ctype = "application/json"
		}
		status, answer := do(t, st.method, st.url, "k", ctype, st.body)
		if status != st.status || answer != st.answer {
			t.Errorf("%s: got %d %s\nwant %d %s", st.name, status, answer, st.status, st.answer)
		}
		o, _ := s.Order(id)
		if o.Status != st.orderStatus || o.Revoke == nil || o.Revoke.Status != st.revokeStatus {
			t.Errorf("%s: order %s, revoke request %+v", st.name, o.Status, o.Revoke)
		}
	}
	got := s.RevokeRequests()
	want := []digicert.Request{
		{ID: 500001, Date: "2026-03-02T10:00:00Z", Type: "revoke", Status: "rejected", Comments: "one", Order: digicert.RequestOrder{ID: id}},
		{ID: 500002, Date: "2026-03-02T10:00:00Z", Type: "revoke", Status: "approved", Comments: "three", Order: digicert.RequestOrder{ID: id}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RevokeRequests (-want +got):\n%s", diff)
	}
	got[0].Status = "changed by the caller"
	if s.RevokeRequests()[0].Status != "rejected" {
		t.Error("RevokeRequests returned the fake's own requests, not copies")
	}
}

func TestServer_rawFaults(t *testing.T) {
	order := `{"certificate":{"common_name":"a.example.com","csr":"` + csr + `","signature_hash":"sha256"},"order_validity":{"years":1},"organization":{"id":1},"skip_approval":true}`
	tests := []struct {
		name     string
		fault    Fault
		key      string
		body     string // the order sent, default a valid one
		status   int
		location string
		ctype    string
		answer   string
		orders   int
	}{
		{name: "redirect, default 307", fault: Fault{Redirect: "https://elsewhere.example/v2/order/certificate/ssl"},
			status: 307, location: "https://elsewhere.example/v2/order/certificate/ssl"},
		{name: "redirect 308", fault: Fault{Redirect: "/x", Status: 308}, status: 308, location: "/x"},
		{name: "redirect with a status that is not one becomes 307", fault: Fault{Redirect: "/x", Status: 500}, status: 307, location: "/x"},
		{name: "redirect before the key check", fault: Fault{Redirect: "/x", Status: 302}, key: "wrong", status: 302, location: "/x"},
		{name: "body not processed, default 201 for POST", fault: Fault{Body: `{"id":`}, status: 201, ctype: "application/json", answer: `{"id":`},
		{name: "body processed", fault: Fault{Body: "<html></html>", ContentType: "text/html", Status: 200, Process: true},
			status: 200, ctype: "text/html", answer: "<html></html>", orders: 1},
		{name: "2xx status without body is empty", fault: Fault{Status: 204}, status: 204, ctype: "application/json"},
		{name: "process without body answers an empty 201", fault: Fault{Process: true}, status: 201, ctype: "application/json", orders: 1},
		{name: "body with an error status", fault: Fault{Body: "Bad gateway", ContentType: "text/plain", Status: 502},
			status: 502, ctype: "text/plain", answer: "Bad gateway"},
		{name: "processing checks the key first", fault: Fault{Body: `{}`, Process: true}, key: "wrong",
			status: 401, ctype: "application/json", answer: `{"errors":[{"code":"access_denied|invalid_api_key","message":"Missing or invalid API key."}]}` + "\n"},
		{name: "a failed order still gets the raw answer", fault: Fault{Body: `{"id":1}`, Process: true}, body: `{}`, status: 201, ctype: "application/json", answer: `{"id":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New("k")
			base := s.Start()
			defer s.Close()
			tt.fault.Times = 1
			s.Inject(tt.fault)
			key := tt.key
			if key == "" {
				key = "k"
			}
			body := order
			if tt.body != "" {
				body = tt.body
			}
			status, h, answer := doFull(t, "POST", base+"/order/certificate/ssl", key, "application/json", body)
			if status != tt.status || h.Get("Location") != tt.location || h.Get("Content-Type") != tt.ctype || answer != tt.answer {
				t.Errorf("got %d Location %q Content-Type %q %q\nwant %d Location %q Content-Type %q %q",
					status, h.Get("Location"), h.Get("Content-Type"), answer, tt.status, tt.location, tt.ctype, tt.answer)
			}
			if n := len(s.Orders()); n != tt.orders {
				t.Errorf("%d orders, want %d", n, tt.orders)
			}
			if n := len(s.Requests()); n != 1 {
				t.Errorf("%d requests recorded", n)
			}
			// The fault is used up: the next order is answered for real.
			if status, _, _ := doFull(t, "POST", base+"/order/certificate/ssl", "k", "application/json", order); status != 201 {
				t.Errorf("next order: %d", status)
			}
		})
	}
	t.Run("GET defaults to 200, revoke processed", func(t *testing.T) {
		s := New("k")
		base := s.Start()
		defer s.Close()
		id := s.AddOrder(Order{CommonName: "a.example.com"})
		s.Inject(Fault{Method: "PUT", Body: "garbled", Process: true})
		status, _, answer := doFull(t, "PUT", base+"/order/certificate/100001/revoke", "k", "application/json", `{"comments":"x"}`)
		if status != 200 || answer != "garbled" {
			t.Errorf("got %d %q", status, answer)
		}
		if o, _ := s.Order(id); o.Revoke == nil || o.Revoke.Status != "pending" || len(s.RevokeRequests()) != 1 {
			t.Errorf("revoke not carried out: %+v", o.Revoke)
		}
	})
}

func TestServer_lookupLag(t *testing.T) {
	clock := NewClock(day0)
	s := New("k", WithLookupLag(time.Minute), WithClock(clock.Now))
	base := s.Start()
	defer s.Close()
	body := `{"certificate":{"common_name":"a.example.com","csr":"` + csr + `","signature_hash":"sha256"},"order_validity":{"years":1},"organization":{"id":1},"alternative_order_id":"cf-1"}`
	if status, answer := do(t, "POST", base+"/order/certificate/ssl", "k", "application/json", body); status != 201 {
		t.Fatalf("order: %d %s", status, answer)
	}
	old := s.AddOrder(Order{CommonName: "old.example.com", AlternativeOrderID: "cf-0", Created: day0.Add(-time.Hour)})
	tests := []struct {
		name      string
		advance   time.Duration
		url       string
		status    int
		answerHas string
	}{
		{"look-up misses a new order", 0, "/order/alternate/cf-1", 404, `"code":"not_found"`},
		{"list misses a new order", 0, "/order/certificate", 200, `"page":{"limit":1000,"offset":0,"total":1}`},
		{"an older order is seen", 0, "/order/alternate/cf-0", 200, `"order_id":` + strconv.Itoa(old)},
		{"by id at once", 0, "/order/certificate/100001", 200, `"id":100001`},
		{"still missed just before the lag", 59 * time.Second, "/order/alternate/cf-1", 404, `"code":"not_found"`},
		{"look-up hits after the lag", time.Second, "/order/alternate/cf-1", 200, `"order_id":100001`},
		{"list hits after the lag", 0, "/order/certificate", 200, `"page":{"limit":1000,"offset":0,"total":2}`},
	}
	for _, tt := range tests {
		clock.Add(tt.advance)
		status, answer := do(t, "GET", base+tt.url, "k", "", "")
		if status != tt.status || !strings.Contains(answer, tt.answerHas) {
			t.Errorf("%s: got %d %s, want %d with %s", tt.name, status, answer, tt.status, tt.answerHas)
		}
	}
}
