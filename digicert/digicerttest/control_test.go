package digicerttest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// startControl serves s.Handler() on 127.0.0.1 for one test and returns
// the server's root URL, such as http://127.0.0.1:41234.
func startControl(t *testing.T, s *Server) string {
	t.Helper()
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

// orderJSON is what the control API answers for order id as it is now.
func orderJSON(t *testing.T, s *Server, id int) string {
	t.Helper()
	o, ok := s.Order(id)
	if !ok {
		t.Fatalf("order %d not found", id)
	}
	b, err := json.Marshal(newControlOrder(o))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestControl_key(t *testing.T) {
	s := New("k")
	root := startControl(t, s)
	s.AddOrder(Order{CommonName: "a.example.com"})
	const denied = `{"error":"missing or wrong API key: send the fake's key in the X-DC-DEVKEY header, as to its CertCentral API"}`
	tests := []struct{ name, method, path, key, body string }{
		{"list without key", "GET", "/_fake/orders", "", ""},
		{"list with a wrong key", "GET", "/_fake/orders", "K", ""},
		{"approve without key", "POST", "/_fake/orders/100001/approve", "", ""},
		{"add without key", "POST", "/_fake/orders", "", `{"common_name":"b.example.com"}`},
		{"fault without key", "POST", "/_fake/faults", "", `{"status":503}`},
		{"clear faults without key", "DELETE", "/_fake/faults", "", ""},
		{"unknown path without key", "GET", "/_fake/nothing", "", ""},
		{"the prefix alone without key", "GET", "/_fake", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, answer := do(t, tt.method, root+tt.path, tt.key, "application/json", tt.body)
			if status != 401 || answer != denied {
				t.Errorf("got %d %s\nwant 401 %s", status, answer, denied)
			}
		})
	}
	if n := len(s.Orders()); n != 1 {
		t.Errorf("%d orders after calls without the key, want 1", n)
	}
	if status, _ := do(t, "GET", root+"/_fake/orders", "k", "", ""); status != 200 {
		t.Errorf("with the key: %d, want 200", status)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("control calls were recorded as CertCentral requests: %v", s.Calls())
	}
	// The CertCentral API is served on the same port, with its own 401.
	status, answer := do(t, "GET", root+"/services/v2/order/certificate/100001", "", "", "")
	if status != 401 || answer != `{"errors":[{"code":"access_denied|invalid_api_key","message":"Missing or invalid API key."}]}` {
		t.Errorf("CertCentral API without key: %d %s", status, answer)
	}
}

func TestControl_orders(t *testing.T) {
	clock := NewClock(day0)
	s := New("k", WithClock(clock.Now))
	root := startControl(t, s)

	status, answer := do(t, "GET", root+"/_fake/orders", "k", "", "")
	if status != 200 || answer != `{"orders":[]}` {
		t.Errorf("empty list: %d %s", status, answer)
	}

	// curl -d sends application/x-www-form-urlencoded: the body is read as
	// JSON all the same.
	status, answer = do(t, "POST", root+"/_fake/orders", "k", "application/x-www-form-urlencoded",
		`{"common_name":"shop.example.com","dns_names":["www.shop.example.com"],"organization_id":112233,"disable_ct":true,"auto_reissue":true}`)
	o, _ := s.Order(100001)
	want := `{"id":100001,"status":"issued","common_name":"shop.example.com","dns_names":["www.shop.example.com"],"signature_hash":"sha256",` +
		`"product":"ov","organization_id":112233,"disable_ct":true,"auto_reissue":true,"created":"2026-03-02T10:00:00Z",` +
		`"order_valid_till":"2027-03-02T10:00:00Z","certificate_id":1000001,"serial_number":"` + o.SerialNumber + `",` +
		`"not_before":"2026-03-02T09:59:00Z","not_after":"2026-09-17T10:00:00Z"}`
	if status != 201 || answer != want {
		t.Errorf("add:\n got %d %s\nwant 201 %s", status, answer, want)
	}
	if o.CommonName != "shop.example.com" || !cmp.Equal(o.DNSNames, []string{"www.shop.example.com"}) || o.ProductType != "ov" ||
		o.OrganizationID != 112233 || !o.DisableCT || !o.AutoReissue || o.SignatureHash != "sha256" || o.CertificatePEM == nil {
		t.Errorf("the fake's order: %+v", o)
	}

	status, answer = do(t, "POST", root+"/_fake/orders", "k", "",
		`{"common_name":"api.example.com","status":"needs_approval","product":"ev","signature_hash":"sha384"}`)
	want2 := `{"id":100002,"status":"needs_approval","common_name":"api.example.com","dns_names":[],"signature_hash":"sha384",` +
		`"product":"ev","disable_ct":false,"auto_reissue":false,"created":"2026-03-02T10:00:00Z","order_valid_till":"2027-03-02T10:00:00Z"}`
	if status != 201 || answer != want2 {
		t.Errorf("add waiting:\n got %d %s\nwant 201 %s", status, answer, want2)
	}

	status, answer = do(t, "GET", root+"/_fake/orders", "k", "", "")
	if status != 200 || answer != `{"orders":[`+want+`,`+want2+`]}` {
		t.Errorf("list: %d %s", status, answer)
	}
	status, answer = do(t, "GET", root+"/_fake/orders/100002", "k", "", "")
	if status != 200 || answer != want2 {
		t.Errorf("get: %d %s", status, answer)
	}
	// The order is CertCentral's like any other.
	status, answer = do(t, "GET", root+"/services/v2/order/certificate/100002", "k", "", "")
	if status != 200 || !strings.Contains(answer, `"status":"needs_approval"`) {
		t.Errorf("CertCentral API: %d %s", status, answer)
	}
}

func TestControl_errors(t *testing.T) {
	s := New("k")
	root := startControl(t, s)
	s.AddOrder(Order{CommonName: "a.example.com"})
	tests := []struct {
		name, method, path, body string
		status                   int
		answer                   string
		allow                    string
	}{
		{"unknown order", "GET", "/_fake/orders/999", "", 404, `{"error":"order 999 not found"}`, ""},
		{"unknown order, a call on it", "POST", "/_fake/orders/999/approve", "", 404, `{"error":"order 999 not found"}`, ""},
		{"order id not a number", "GET", "/_fake/orders/abc", "", 404, `{"error":"no control call GET /_fake/orders/abc; see \"Trying certform by hand\" in docs/fake-server.md"}`, ""},
		{"order id with a leading zero", "GET", "/_fake/orders/0100001", "", 404, `{"error":"no control call GET /_fake/orders/0100001; see \"Trying certform by hand\" in docs/fake-server.md"}`, ""},
		{"unknown call on an order", "POST", "/_fake/orders/100001/frobnicate", "", 404, `{"error":"no control call POST /_fake/orders/100001/frobnicate; see \"Trying certform by hand\" in docs/fake-server.md"}`, ""},
		{"unknown path", "GET", "/_fake/requests", "", 404, `{"error":"no control call GET /_fake/requests; see \"Trying certform by hand\" in docs/fake-server.md"}`, ""},
		{"the prefix alone", "GET", "/_fake", "", 404, `{"error":"no control call GET /_fake; see \"Trying certform by hand\" in docs/fake-server.md"}`, ""},
		{"GET of a call", "GET", "/_fake/orders/100001/approve", "", 405, `{"error":"GET /_fake/orders/100001/approve: method not allowed; use POST"}`, "POST"},
		{"POST to an order", "POST", "/_fake/orders/100001", "", 405, `{"error":"POST /_fake/orders/100001: method not allowed; use GET"}`, "GET"},
		{"DELETE of orders", "DELETE", "/_fake/orders", "", 405, `{"error":"DELETE /_fake/orders: method not allowed; use GET or POST"}`, "GET, POST"},
		{"PUT of faults", "PUT", "/_fake/faults", "", 405, `{"error":"PUT /_fake/faults: method not allowed; use GET or POST or DELETE"}`, "GET, POST, DELETE"},
		{"not JSON", "POST", "/_fake/orders", `common_name=a.example.com`, 400, `{"error":"the body is not JSON: invalid character 'c' looking for beginning of value"}`, ""},
		{"not an object", "POST", "/_fake/orders", `["a.example.com"]`, 400, `{"error":"the body must be a JSON object, got array"}`, ""},
		{"two objects", "POST", "/_fake/orders", `{"common_name":"b.example.com"} {}`, 400, `{"error":"the body is not a JSON object: more than one JSON value"}`, ""},
		{"unknown field", "POST", "/_fake/orders", `{"common_nme":"b.example.com"}`, 400, `{"error":"unknown field \"common_nme\""}`, ""},
		{"wrong type", "POST", "/_fake/orders", `{"common_name":"b.example.com","disable_ct":"yes"}`, 400, `{"error":"disable_ct must be true or false, got string"}`, ""},
		{"wrong list type", "POST", "/_fake/orders", `{"common_name":"b.example.com","dns_names":"c.example.com"}`, 400, `{"error":"dns_names must be a list of strings, got string"}`, ""},
		{"add without a common name", "POST", "/_fake/orders", `{}`, 400, `{"error":"common_name is required"}`, ""},
		{"add with every problem", "POST", "/_fake/orders",
			`{"common_name":"Not A Name","dns_names":["ok.example.com","bad name"],"status":"lost","product":"dv","signature_hash":"md5","organization_id":-1}`, 400,
			`{"error":"common_name \"Not A Name\" is not a DNS name; dns_names[1] \"bad name\" is not a DNS name; status \"lost\" is not one of needs_approval, pending, processing, waiting_pickup, issued, reissue_pending, revoked, canceled, rejected, expired; product \"dv\" is not one of ov, ev, grid, private; signature_hash \"md5\" is not one of sha256, sha384, sha512; organization_id -1 is negative"}`, ""},
		{"a body where none is taken", "POST", "/_fake/orders/100001/reissue", `{"now":true}`, 400, `{"error":"unknown field \"now\""}`, ""},
		{"status missing", "POST", "/_fake/orders/100001/status", `{}`, 400, `{"error":"status is required, one of needs_approval, pending, processing, waiting_pickup, issued, reissue_pending, revoked, canceled, rejected, expired"}`, ""},
		{"status unknown", "POST", "/_fake/orders/100001/status", `{"status":"Revoked"}`, 400, `{"error":"status \"Revoked\" is not one of needs_approval, pending, processing, waiting_pickup, issued, reissue_pending, revoked, canceled, rejected, expired"}`, ""},
		{"days missing", "POST", "/_fake/orders/100001/ends-in", ``, 400, `{"error":"days is required: a whole number of days from now, 0 or less for one that has ended"}`, ""},
		{"days not whole", "POST", "/_fake/orders/100001/certificate/ends-in", `{"days":1.5}`, 400, `{"error":"days must be a whole number, got number 1.5"}`, ""},
		{"days out of range", "POST", "/_fake/orders/100001/ends-in", `{"days":3651}`, 400, `{"error":"days 3651 is out of range: at most 3650 either way"}`, ""},
		{"settings empty", "POST", "/_fake/orders/100001/settings", `{}`, 400, `{"error":"give disable_ct, auto_reissue or both"}`, ""},
		{"settings as 0/1", "POST", "/_fake/orders/100001/settings", `{"auto_reissue":1}`, 400, `{"error":"auto_reissue must be true or false, got number"}`, ""},
		{"revoke without comments", "POST", "/_fake/orders/100001/revoke", `{"comments":" "}`, 400, `{"error":"comments is required: why the order is revoked"}`, ""},
		{"body too large", "POST", "/_fake/faults", `{"status":200,"body":"` + strings.Repeat("x", 1<<20) + `"}`, 413, `{"error":"the body is larger than 1048576 bytes"}`, ""},
	}
	before := orderJSON(t, s, 100001)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, header, answer := doFull(t, tt.method, root+tt.path, "k", "application/json", tt.body)
			if status != tt.status || strings.TrimSpace(answer) != tt.answer {
				t.Errorf("got %d %s\nwant %d %s", status, answer, tt.status, tt.answer)
			}
			if got := header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if ct := header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if after := orderJSON(t, s, 100001); after != before || len(s.Orders()) != 1 {
		t.Errorf("refused calls changed the fake:\n%s\n%s", before, after)
	}
	if faults := s.liveFaults(); len(faults) != 0 {
		t.Errorf("refused calls injected faults: %+v", faults)
	}
}

// TestControl_orderCalls makes each control call on an order in the state
// it applies to, and in one it does not: a 409 that changes nothing.
func TestControl_orderCalls(t *testing.T) {
	type setup func(t *testing.T, s *Server, root string) int
	issued := func(t *testing.T, s *Server, root string) int {
		return s.AddOrder(Order{CommonName: "a.example.com", DNSNames: []string{"www.a.example.com"}, SignatureHash: "sha256"})
	}
	withStatus := func(status string) setup {
		return func(t *testing.T, s *Server, root string) int {
			return s.AddOrder(Order{CommonName: "a.example.com", Status: status})
		}
	}
	// heldReissue asks for a reissue through the CertCentral API, which
	// waits for approval.
	heldReissue := func(t *testing.T, s *Server, root string) int {
		id := issued(t, s, root)
		status, answer := do(t, "POST", root+"/services/v2/order/certificate/"+strconv.Itoa(id)+"/reissue", "k", "application/json",
			reissueBody("b.example.com", nil, csr, "sha384", false))
		if status != 201 {
			t.Fatalf("reissue: %d %s", status, answer)
		}
		return id
	}
	// revokeAsked asks for a revocation through the CertCentral API, which
	// waits for approval.
	revokeAsked := func(t *testing.T, s *Server, root string) int {
		id := issued(t, s, root)
		status, answer := do(t, "PUT", root+"/services/v2/order/certificate/"+strconv.Itoa(id)+"/revoke", "k", "application/json", `{"comments":"retired"}`)
		if status != 201 {
			t.Fatalf("revoke: %d %s", status, answer)
		}
		return id
	}
	renewed := func(t *testing.T, s *Server, root string) int {
		id := issued(t, s, root)
		s.RenewOutside(id)
		return id
	}
	tests := []struct {
		name   string
		setup  setup
		call   string // path after /_fake/orders/{id}/
		body   string
		status int
		answer string // for an error; otherwise the order as it is afterwards
		check  func(t *testing.T, before, after Order)
	}{
		{name: "approve needs_approval", setup: withStatus("needs_approval"), call: "approve", status: 200,
			check: func(t *testing.T, before, after Order) {
				if after.Status != "issued" || after.CertificatePEM == nil || after.CertificateID != after.ID+900000 {
					t.Errorf("status %s, certificate %d", after.Status, after.CertificateID)
				}
			}},
		{name: "approve pending", setup: withStatus("pending"), call: "approve", status: 200,
			check: func(t *testing.T, before, after Order) {
				if after.Status != "issued" || after.CertificatePEM == nil {
					t.Errorf("status %s", after.Status)
				}
			}},
		{name: "approve issued", setup: issued, call: "approve", status: 409,
			answer: `{"error":"order 100001 is issued; only an order that needs approval or is pending can be approved"}`},
		{name: "pending", setup: issued, call: "pending", status: 200,
			check: func(t *testing.T, before, after Order) {
				if after.Status != "pending" || after.CertificateID != before.CertificateID {
					t.Errorf("status %s, certificate %d", after.Status, after.CertificateID)
				}
			}},
		{name: "reissue", setup: issued, call: "reissue", status: 200,
			check: func(t *testing.T, before, after Order) {
				if after.CertificateID != 5000001 || after.SerialNumber == before.SerialNumber || len(after.Reissues) != 1 || after.Reissues[0].Status != "issued" {
					t.Errorf("certificate %d, reissues %+v", after.CertificateID, after.Reissues)
				}
			}},
		{name: "reissue without a certificate", setup: withStatus("needs_approval"), call: "reissue", status: 409,
			answer: `{"error":"order 100001 has no certificate to reissue (it is needs_approval); approve it first"}`},
		{name: "approve a held reissue", setup: heldReissue, call: "reissue/approve", status: 200,
			check: func(t *testing.T, before, after Order) {
				if before.Status != "reissue_pending" || after.Status != "issued" || after.CommonName != "b.example.com" ||
					after.CertificateID != 5000001 || after.Reissues[0].Status != "issued" {
					t.Errorf("before %s, after %s %s %d %+v", before.Status, after.Status, after.CommonName, after.CertificateID, after.Reissues)
				}
			}},
		{name: "reject a held reissue", setup: heldReissue, call: "reissue/reject", status: 200,
			check: func(t *testing.T, before, after Order) {
				if after.Status != "issued" || after.CommonName != "a.example.com" || after.SignatureHash != "sha256" ||
					after.CertificateID != 1000001 || after.Reissues[0].Status != "rejected" {
					t.Errorf("after %s %s %s %d %+v", after.Status, after.CommonName, after.SignatureHash, after.CertificateID, after.Reissues)
				}
			}},
		{name: "approve a reissue when none waits", setup: issued, call: "reissue/approve", status: 409,
			answer: `{"error":"order 100001 has no reissue waiting for approval"}`},
		{name: "reject a reissue when none waits", setup: issued, call: "reissue/reject", status: 409,
			answer: `{"error":"order 100001 has no reissue waiting for approval"}`},
		{name: "order ends in 10 days", setup: issued, call: "ends-in", body: `{"days":10}`, status: 200,
			check: func(t *testing.T, before, after Order) {
				if !after.OrderValidTill.Equal(day0.Add(10*24*time.Hour)) || after.CertificateID != before.CertificateID {
					t.Errorf("order ends %s, certificate %d", after.OrderValidTill, after.CertificateID)
				}
			}},
		{name: "order has ended", setup: issued, call: "ends-in", body: `{"days":-1}`, status: 200,
			check: func(t *testing.T, before, after Order) {
				if !after.OrderValidTill.Equal(day0.Add(-24 * time.Hour)) {
					t.Errorf("order ends %s", after.OrderValidTill)
				}
			}},
		{name: "certificate ends in 5 days", setup: issued, call: "certificate/ends-in", body: `{"days":5}`, status: 200,
			check: func(t *testing.T, before, after Order) {
				if !after.NotAfter.Equal(day0.Add(5*24*time.Hour)) || after.CertificateID != 5000001 || len(after.Reissues) != 0 {
					t.Errorf("certificate %d ends %s", after.CertificateID, after.NotAfter)
				}
			}},
		{name: "certificate ends, none issued", setup: withStatus("pending"), call: "certificate/ends-in", body: `{"days":5}`, status: 409,
			answer: `{"error":"order 100001 has no certificate (it is pending); approve it first"}`},
		{name: "status canceled", setup: issued, call: "status", body: `{"status":"canceled"}`, status: 200,
			check: func(t *testing.T, before, after Order) {
				if after.Status != "canceled" || after.CertificateID != before.CertificateID {
					t.Errorf("status %s", after.Status)
				}
			}},
		{name: "settings both", setup: issued, call: "settings", body: `{"disable_ct":true,"auto_reissue":true}`, status: 200,
			check: func(t *testing.T, before, after Order) {
				if !after.DisableCT || !after.AutoReissue {
					t.Errorf("disable_ct %v auto_reissue %v", after.DisableCT, after.AutoReissue)
				}
			}},
		{name: "settings one", setup: issued, call: "settings", body: `{"auto_reissue":true}`, status: 200,
			check: func(t *testing.T, before, after Order) {
				if after.DisableCT || !after.AutoReissue {
					t.Errorf("disable_ct %v auto_reissue %v", after.DisableCT, after.AutoReissue)
				}
			}},
		{name: "revoke in the console", setup: issued, call: "revoke", body: `{"comments":"key lost"}`, status: 200,
			check: func(t *testing.T, before, after Order) {
				if after.Status != "revoked" || after.Revoke == nil || after.Revoke.Status != "approved" || after.Revoke.Comments != "key lost" {
					t.Errorf("status %s, revoke %+v", after.Status, after.Revoke)
				}
			}},
		{name: "revoke a revoked order", setup: withStatus("revoked"), call: "revoke", body: `{"comments":"again"}`, status: 409,
			answer: `{"error":"order 100001 is already revoked"}`},
		{name: "approve a revoke request", setup: revokeAsked, call: "revoke/approve", status: 200,
			check: func(t *testing.T, before, after Order) {
				if before.Revoke.Status != "pending" || after.Status != "revoked" || after.Revoke.Status != "approved" {
					t.Errorf("status %s, revoke %+v", after.Status, after.Revoke)
				}
			}},
		{name: "reject a revoke request", setup: revokeAsked, call: "revoke/reject", status: 200,
			check: func(t *testing.T, before, after Order) {
				if after.Status != "issued" || after.Revoke.Status != "rejected" {
					t.Errorf("status %s, revoke %+v", after.Status, after.Revoke)
				}
			}},
		{name: "approve a revoke request when none waits", setup: issued, call: "revoke/approve", status: 409,
			answer: `{"error":"order 100001 has no revoke request waiting for approval"}`},
		{name: "reject a revoke request already approved", setup: func(t *testing.T, s *Server, root string) int {
			id := issued(t, s, root)
			s.Revoke(id, "gone")
			return id
		}, call: "revoke/reject", status: 409, answer: `{"error":"order 100001 has no revoke request waiting for approval"}`},
		{name: "renew an order renewed already", setup: renewed, call: "renew", status: 409,
			answer: `{"error":"order 100001 has already been renewed by order 100002; it cannot be renewed again"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New("k", WithClock(func() time.Time { return day0 }))
			root := startControl(t, s)
			id := tt.setup(t, s, root)
			before, _ := s.Order(id)
			beforeJSON := orderJSON(t, s, id)
			nOrders := len(s.Orders())
			status, answer := do(t, "POST", root+"/_fake/orders/"+strconv.Itoa(id)+"/"+tt.call, "k", "", tt.body)
			after, _ := s.Order(id)
			if tt.answer != "" {
				if status != tt.status || answer != tt.answer {
					t.Errorf("got %d %s\nwant %d %s", status, answer, tt.status, tt.answer)
				}
				if got := orderJSON(t, s, id); got != beforeJSON || len(s.Orders()) != nOrders {
					t.Errorf("a refused call changed the fake:\n%s\n%s", beforeJSON, got)
				}
				return
			}
			if want := orderJSON(t, s, id); status != tt.status || answer != want {
				t.Errorf("got %d %s\nwant %d %s", status, answer, tt.status, want)
			}
			tt.check(t, before, after)
		})
	}
}

func TestControl_renew(t *testing.T) {
	s := New("k", WithClock(func() time.Time { return day0 }))
	root := startControl(t, s)
	id := s.AddOrder(Order{CommonName: "a.example.com", DNSNames: []string{"b.example.com"}, SignatureHash: "sha256", ProductType: "ov", OrganizationID: 7})
	status, answer := do(t, "POST", root+"/_fake/orders/100001/renew", "k", "", "")
	old, _ := s.Order(id)
	renewal, ok := s.Order(old.RenewedOrderID)
	want := `{"id":100002,"status":"issued","common_name":"a.example.com","dns_names":["b.example.com"],"signature_hash":"sha256",` +
		`"product":"ov","organization_id":7,"disable_ct":false,"auto_reissue":false,"created":"2026-03-02T10:00:00Z",` +
		`"order_valid_till":"2027-03-02T10:00:00Z","certificate_id":1000002,"serial_number":"` + renewal.SerialNumber + `",` +
		`"not_before":"2026-03-02T09:59:00Z","not_after":"2026-09-17T10:00:00Z","renewal_of_order_id":100001}`
	if status != 201 || answer != want {
		t.Errorf("renew:\n got %d %s\nwant 201 %s", status, answer, want)
	}
	if !ok || !old.IsRenewed || old.RenewedOrderID != 100002 || renewal.RenewalOfOrderID != id {
		t.Errorf("old %+v\nrenewal %+v", old, renewal)
	}
	_, answer = do(t, "GET", root+"/_fake/orders/100001", "k", "", "")
	if !strings.Contains(answer, `"renewed_order_id":100002`) {
		t.Errorf("old order: %s", answer)
	}
}

func TestControl_shows(t *testing.T) {
	s := New("k", WithClock(func() time.Time { return day0 }))
	root := startControl(t, s)
	id := s.AddOrder(Order{CommonName: "a.example.com", SignatureHash: "sha256", AlternativeOrderID: "cf-a-1", DCVMethod: "dns-txt-token"})
	do(t, "POST", root+"/services/v2/order/certificate/100001/reissue", "k", "application/json", reissueBody("b.example.com", []string{"c.example.com"}, csr, "sha256", false))
	do(t, "PUT", root+"/services/v2/order/certificate/100001/revoke", "k", "application/json", `{"comments":"retired"}`)
	o, _ := s.Order(id)
	_, answer := do(t, "GET", root+"/_fake/orders/100001", "k", "", "")
	want := `{"id":100001,"status":"reissue_pending","common_name":"b.example.com","dns_names":["c.example.com"],"signature_hash":"sha256",` +
		`"disable_ct":false,"auto_reissue":false,"alternative_order_id":"cf-a-1","created":"2026-03-02T10:00:00Z",` +
		`"order_valid_till":"2027-03-02T10:00:00Z","certificate_id":1000001,"serial_number":"` + o.SerialNumber + `",` +
		`"not_before":"2026-03-02T09:59:00Z","not_after":"2026-09-17T10:00:00Z","dcv_method":"dns-txt-token","dcv_random_value":"` + o.DCVRandomValue + `",` +
		`"reissues":[{"certificate_id":5000001,"status":"pending","common_name":"b.example.com","dns_names":["c.example.com"],"created":"2026-03-02T10:00:00Z"}],` +
		`"revokes_previous":true,"revoke":{"id":500002,"status":"pending","comments":"retired"}}`
	if answer != want {
		t.Errorf("order:\n got %s\nwant %s", answer, want)
	}
}

func TestControl_faults(t *testing.T) {
	s := New("k")
	root := startControl(t, s)
	s.AddOrder(Order{CommonName: "a.example.com"})
	api := root + "/services/v2"

	status, answer := do(t, "GET", root+"/_fake/faults", "k", "", "")
	if status != 200 || answer != `{"faults":[]}` {
		t.Errorf("no faults: %d %s", status, answer)
	}
	status, answer = do(t, "POST", root+"/_fake/faults", "k", "", `{"method":"get","path":"/services/v2/order/certificate/*","times":1,"status":503,"retry_after":"7"}`)
	if want := `{"method":"GET","path":"/order/certificate/*","times":1,"status":503,"retry_after":"7"}`; status != 201 || answer != want {
		t.Errorf("inject:\n got %d %s\nwant 201 %s", status, answer, want)
	}
	status, answer = do(t, "POST", root+"/_fake/faults", "k", "", `{"method":"POST","path":"/order/certificate/ssl","drop_after":true,"latency":"50ms"}`)
	if want := `{"method":"POST","path":"/order/certificate/ssl","drop_after":true,"latency":"50ms"}`; status != 201 || answer != want {
		t.Errorf("inject:\n got %d %s\nwant 201 %s", status, answer, want)
	}
	status, answer = do(t, "POST", root+"/_fake/faults", "k", "", `{"method":"PUT","status":201,"body":"{\"id\":","content_type":"application/json","process":true,"times":2}`)
	if want := `{"method":"PUT","times":2,"status":201,"body":"{\"id\":","content_type":"application/json","process":true}`; status != 201 || answer != want {
		t.Errorf("inject:\n got %d %s\nwant 201 %s", status, answer, want)
	}
	status, answer = do(t, "GET", root+"/_fake/faults", "k", "", "")
	want := `{"faults":[{"method":"GET","path":"/order/certificate/*","times":1,"status":503,"retry_after":"7"},` +
		`{"method":"POST","path":"/order/certificate/ssl","drop_after":true,"latency":"50ms"},` +
		`{"method":"PUT","times":2,"status":201,"body":"{\"id\":","content_type":"application/json","process":true}]}`
	if status != 200 || answer != want {
		t.Errorf("list:\n got %d %s\nwant 200 %s", status, answer, want)
	}

	// The faults act on the CertCentral API.
	status, header, _ := doFull(t, "GET", api+"/order/certificate/100001", "k", "", "")
	if status != 503 || header.Get("Retry-After") != "7" {
		t.Errorf("GET with the fault: %d, Retry-After %q", status, header.Get("Retry-After"))
	}
	if status, _ := do(t, "GET", api+"/order/certificate/100001", "k", "", ""); status != 200 {
		t.Errorf("GET after the fault was used up: %d", status)
	}
	order := `{"certificate":{"common_name":"b.example.com","csr":"` + csr + `","signature_hash":"sha256"},"order_validity":{"years":1},"organization":{"id":1},"skip_approval":true}`
	if _, _, err := try(t, "POST", api+"/order/certificate/ssl", order); err == nil {
		t.Error("POST with drop_after: an answer came")
	}
	if o, ok := s.Order(100002); !ok || o.Status != "issued" {
		t.Errorf("drop_after: the order was not placed: %+v", o)
	}
	status, answer, _ = try(t, "PUT", api+"/order/certificate/100001/ct-status", `{"disable_ct":true}`)
	if o, _ := s.Order(100001); status != 201 || answer != `{"id":` || !o.DisableCT {
		t.Errorf("PUT with a garbled answer after processing: %d %q, disable_ct %v", status, answer, o.DisableCT)
	}
	_, answer = do(t, "GET", root+"/_fake/faults", "k", "", "")
	want = `{"faults":[{"method":"POST","path":"/order/certificate/ssl","drop_after":true,"latency":"50ms"},` +
		`{"method":"PUT","times":1,"status":201,"body":"{\"id\":","content_type":"application/json","process":true}]}`
	if answer != want {
		t.Errorf("list after use:\n got %s\nwant %s", answer, want)
	}

	status, answer = do(t, "DELETE", root+"/_fake/faults", "k", "", "")
	if status != 200 || answer != `{"faults":[]}` {
		t.Errorf("clear: %d %s", status, answer)
	}
	if _, _, err := try(t, "POST", api+"/order/certificate/ssl", order); err != nil {
		t.Errorf("POST after clearing: %v", err)
	}

	status, answer = do(t, "POST", root+"/_fake/faults", "k", "", `{"path":"/order/certificate/100001","drop_before":true}`)
	if status != 201 || answer != `{"path":"/order/certificate/100001","drop_before":true}` {
		t.Errorf("inject drop_before: %d %s", status, answer)
	}
	if _, _, err := try(t, "GET", api+"/order/certificate/100001", ""); err == nil {
		t.Error("GET with drop_before: an answer came")
	}
	status, answer = do(t, "POST", root+"/_fake/faults", "k", "", `{"redirect":"https://elsewhere.example/v2","status":302,"times":1}`)
	if status != 201 || answer != `{"times":1,"status":302,"redirect":"https://elsewhere.example/v2"}` {
		t.Errorf("inject redirect: %d %s", status, answer)
	}
	s.ClearFaults()
	do(t, "POST", root+"/_fake/faults", "k", "", `{"redirect":"https://elsewhere.example/v2","status":302,"times":1}`)
	status, header, _ = doFull(t, "GET", api+"/order/certificate/100001", "k", "", "")
	if status != 302 || header.Get("Location") != "https://elsewhere.example/v2" {
		t.Errorf("redirect: %d %q", status, header.Get("Location"))
	}
}

func TestControl_faultErrors(t *testing.T) {
	s := New("k")
	root := startControl(t, s)
	tests := []struct{ name, body, answer string }{
		{"nothing to do", `{"method":"POST","path":"/order/certificate/ssl"}`,
			`{"error":"the fault does nothing: give status, drop_before, drop_after, latency, redirect, body or process"}`},
		{"empty", ``, `{"error":"the fault does nothing: give status, drop_before, drop_after, latency, redirect, body or process"}`},
		{"every problem", `{"method":"PATCH","path":"order/certificate","times":-1,"status":1000,"latency":"soon"}`,
			`{"error":"method \"PATCH\" is not one of GET, POST, PUT, DELETE; path \"order/certificate\" must start with /, such as /order/certificate/ssl; times -1 is negative; 0 means every request until cleared; status 1000 is not an HTTP status; latency \"soon\" is not a duration such as \"2s\" or \"500ms\""}`},
		{"negative latency", `{"latency":"-1s"}`, `{"error":"latency \"-1s\" is not a duration such as \"2s\" or \"500ms\""}`},
		{"latency as a number", `{"latency":2}`, `{"error":"latency must be a string, got number"}`},
		{"unknown field", `{"drop":true}`, `{"error":"unknown field \"drop\""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, answer := do(t, "POST", root+"/_fake/faults", "k", "application/json", tt.body)
			if status != 400 || answer != tt.answer {
				t.Errorf("got %d %s\nwant 400 %s", status, answer, tt.answer)
			}
		})
	}
	if faults := s.liveFaults(); len(faults) != 0 {
		t.Errorf("refused faults were injected: %+v", faults)
	}
}

// TestControl_concurrent: control calls and CertCentral calls at once, for
// the race detector.
func TestControl_concurrent(t *testing.T) {
	s := New("k")
	root := startControl(t, s)
	call := func(method, url, body string) (int, string, error) {
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("X-DC-DEVKEY", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for range 10 {
				status, answer, err := call("POST", root+"/_fake/orders", `{"common_name":"a.example.com","status":"needs_approval"}`)
				var o struct{ ID int }
				if err == nil && (status != 201 || json.Unmarshal([]byte(answer), &o) != nil) {
					err = fmt.Errorf("add: %d %s", status, answer)
				}
				if err == nil {
					status, answer, err = call("POST", root+"/_fake/orders/"+strconv.Itoa(o.ID)+"/approve", "")
				}
				if err == nil && status != 200 {
					err = fmt.Errorf("approve: %d %s", status, answer)
				}
				if err == nil {
					_, _, err = call("GET", root+"/services/v2/order/certificate/"+strconv.Itoa(o.ID), "")
				}
				if err == nil {
					_, _, err = call("GET", root+"/_fake/orders", "")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, o := range s.Orders() {
		if o.Status != "issued" {
			t.Errorf("order %d is %s", o.ID, o.Status)
		}
	}
	if n := len(s.Orders()); n != 40 {
		t.Errorf("%d orders, want 40", n)
	}
}
