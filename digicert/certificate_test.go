package digicert_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/google/go-cmp/cmp"
)

// pemTypes lists the types of the PEM blocks in b.
func pemTypes(b []byte) []string {
	var out []string
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return out
		}
		out = append(out, block.Type)
	}
}

func TestClient_DownloadCertificate(t *testing.T) {
	const prefix = "digicert: GET /certificate/download/order/{id}/format/pem_all: "
	root := string(digicerttest.New("k").RootPEM()) // a real certificate for raw answers
	tests := []struct {
		name   string
		fault  *digicerttest.Fault
		order  int // 0: the issued order
		want   string
		status int  // of an *APIError, 0 for none
		bad    bool // errors.Is(err, ErrBadAnswer)
		calls  int
		body   string // the bytes returned, "" for the fake's chain
	}{
		{name: "issued", calls: 1},
		{name: "text/plain is accepted", fault: &digicerttest.Fault{Body: root, ContentType: "text/plain"}, calls: 1, body: root},
		{name: "text around the blocks is kept", fault: &digicerttest.Fault{Body: "chain:\n" + root + "end\n", ContentType: "application/x-pem-file"},
			calls: 1, body: "chain:\n" + root + "end\n"},
		{name: "retried after a 503", fault: &digicerttest.Fault{Status: 503, Times: 1}, calls: 2},
		{name: "empty 2xx", fault: &digicerttest.Fault{Status: 200}, calls: 1, bad: true,
			want: prefix + "the 200 answer holds no PEM certificate (application/json, 0 bytes)"},
		{name: "JSON 2xx", fault: &digicerttest.Fault{Body: `{"certificate":"x"}`}, calls: 1, bad: true,
			want: prefix + "the 200 answer holds no PEM certificate (application/json, 19 bytes)"},
		{name: "HTML 2xx", fault: &digicerttest.Fault{Body: "<html>signed out</html>", ContentType: "text/html"}, calls: 1, bad: true,
			want: prefix + "the 200 answer holds no PEM certificate (text/html, 23 bytes)"},
		{name: "a key is not a certificate", fault: &digicerttest.Fault{Body: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", ContentType: "application/x-pem-file"},
			calls: 1, bad: true, want: prefix + "the 200 answer holds no PEM certificate (application/x-pem-file, 59 bytes)"},
		{name: "a certificate block that does not parse", fault: &digicerttest.Fault{Body: root + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", ContentType: "application/x-pem-file"},
			calls: 1, bad: true, want: prefix + "the 200 answer's certificate 2 could not be parsed"},
		{name: "unknown order", order: 999, calls: 1, status: 404, want: "digicert: 404 not_found|order: Order not found."},
		{name: "not issued", order: -1, calls: 1, status: 400, want: "digicert: 400 certificate_not_issued: The order has no issued certificate."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t)
			ctx := context.Background()
			id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
			switch tt.order {
			case 0:
			case -1:
				id = srv.AddOrder(digicerttest.Order{CommonName: "b.example.com", Status: "needs_approval"})
			default:
				id = tt.order
			}
			if tt.fault != nil {
				tt.fault.Method = "GET"
				srv.Inject(*tt.fault)
			}
			srv.ResetRequests()
			got, err := c.DownloadCertificate(ctx, id)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tt.body != "" && string(got) != tt.body {
					t.Errorf("body\n%s\nwant\n%s", got, tt.body)
				}
				o, _ := srv.Order(id)
				if tt.body == "" && (!bytes.HasPrefix(got, o.CertificatePEM) || !bytes.HasSuffix(got, srv.RootPEM()) ||
					!cmp.Equal([]string{"CERTIFICATE", "CERTIFICATE", "CERTIFICATE"}, pemTypes(got))) {
					t.Errorf("body is not the leaf, the intermediate and the root:\n%s", got)
				}
			} else {
				if got != nil || err == nil || !strings.HasPrefix(err.Error(), tt.want) {
					t.Errorf("got %q, %v\nwant error %s", got, err, tt.want)
				}
				var apiErr *digicert.APIError
				if errors.As(err, &apiErr) != (tt.status != 0) || (apiErr != nil && apiErr.Status != tt.status) {
					t.Errorf("APIError %#v, want status %d", apiErr, tt.status)
				}
				if errors.Is(err, digicert.ErrBadAnswer) != tt.bad || errors.Is(err, digicert.ErrOutcomeUnknown) {
					t.Errorf("errors.Is: bad answer %v, unknown %v", errors.Is(err, digicert.ErrBadAnswer), errors.Is(err, digicert.ErrOutcomeUnknown))
				}
			}
			reqs := srv.Requests()
			if len(reqs) != tt.calls {
				t.Fatalf("%d calls, want %d: %v", len(reqs), tt.calls, srv.Calls())
			}
			for _, r := range reqs {
				if want := fmt.Sprintf("/certificate/download/order/%d/format/pem_all", id); r.Method != "GET" || r.Path != want {
					t.Errorf("call %s %s, want GET %s", r.Method, r.Path, want)
				}
				if a := r.Header.Get("Accept"); !strings.Contains(a, "application/x-pem-file") {
					t.Errorf("Accept %q", a)
				}
			}
		})
	}
}

// TestClient_GetOrder_certificate: an issued order reports its certificate
// and the order's end, and the helpers parse them.
func TestClient_GetOrder_certificate(t *testing.T) {
	day0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	srv, c := newPair(t, digicerttest.WithClock(func() time.Time { return day0 }))
	ctx := context.Background()
	resp, err := c.PlaceOrder(ctx, sampleOrder())
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.GetOrder(ctx, resp.ID)
	if err != nil {
		t.Fatal(err)
	}
	fake, _ := srv.Order(resp.ID)
	if len(fake.SerialNumber) != 32 || len(fake.Thumbprint) != 40 || len(fake.DCVRandomValue) != 32 {
		t.Errorf("fake's order: serial %q, thumbprint %q, dcv_random_value %q", fake.SerialNumber, fake.Thumbprint, fake.DCVRandomValue)
	}
	want := digicert.OrderCert{ID: 1000001, CommonName: "a.example.com", DNSNames: []string{"www.a.example.com"}, SignatureHash: "sha256",
		SerialNumber: fake.SerialNumber, Thumbprint: fake.Thumbprint, ValidFrom: "2026-03-02", ValidTill: "2026-09-17", DaysRemaining: 199}
	if diff := cmp.Diff(want, o.Certificate); diff != "" {
		t.Errorf("certificate (-want +got):\n%s", diff)
	}
	if o.OrderValidTill != "2027-03-02" || o.IsRenewed || o.RenewedOrderID != 0 || o.DCVMethod != "dns-txt-token" ||
		o.DCVRandomValue != fake.DCVRandomValue || o.DCVRandomValue != resp.DCVRandomValue {
		t.Errorf("order_valid_till %q, is_renewed %v, renewed_order_id %d, dcv %q %q (placed: %q)",
			o.OrderValidTill, o.IsRenewed, o.RenewedOrderID, o.DCVMethod, o.DCVRandomValue, resp.DCVRandomValue)
	}
	if end, ok := o.ValidTill(); !ok || !end.Equal(time.Date(2026, 9, 17, 0, 0, 0, 0, time.UTC)) || end.After(fake.NotAfter) {
		t.Errorf("ValidTill() = %s, %v; the certificate ends %s", end, ok, fake.NotAfter)
	}
	if end, ok := o.OrderEnds(); !ok || !end.Equal(time.Date(2027, 3, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("OrderEnds() = %s, %v", end, ok)
	}
	// A list entry carries the same certificate fields, but not the
	// settings nor the alternative order id, as a real listing.
	list, err := c.ListOrders(ctx, digicert.OrderFilter{})
	if err != nil {
		t.Fatal(err)
	}
	wantEntry := *o
	wantEntry.DisableCT, wantEntry.AutoReissue, wantEntry.AlternativeOrderID = nil, nil, ""
	if diff := cmp.Diff(wantEntry, list[0]); diff != "" {
		t.Errorf("list entry (-GET +list):\n%s", diff)
	}
}

// TestClient_GetOrder_optionalFields: the certificate and life-cycle
// fields are read when present, in DigiCert's forms, and never required.
func TestClient_GetOrder_optionalFields(t *testing.T) {
	const bare = `{"id":100001,"status":"pending","certificate":{"common_name":"a.example.com","dns_names":[" "]}`
	tests := []struct {
		name        string
		body        string
		cert        digicert.OrderCert
		validTill   string // "" when ValidTill reports none
		orderEnds   string
		isRenewed   bool
		renewedID   int
		dcv, dcvVal string
	}{
		{name: "none of them", body: bare + `}`},
		{name: "nulls", body: `{"id":100001,"status":"pending","is_renewed":null,"order_valid_till":null,"certificate":{"common_name":"a.example.com","dns_names":[" "],"serial_number":null,"valid_till":null}}`},
		{name: "all of them",
			body: `{"id":100001,"status":"issued","order_valid_till":"2027-03-02","is_renewed":true,"renewed_order_id":100777,"dcv_method":"http-token","dcv_random_value":"abc123",` +
				`"certificate":{"id":5,"common_name":"a.example.com","dns_names":[" "],"serial_number":"0A1B","thumbprint":"FFEE","valid_from":"2026-03-02","valid_till":"2026-09-17","days_remaining":12}}`,
			cert:      digicert.OrderCert{ID: 5, SerialNumber: "0A1B", Thumbprint: "FFEE", ValidFrom: "2026-03-02", ValidTill: "2026-09-17", DaysRemaining: 12},
			validTill: "2026-09-17T00:00:00Z", orderEnds: "2027-03-02T00:00:00Z", isRenewed: true, renewedID: 100777, dcv: "http-token", dcvVal: "abc123"},
		{name: "is_renewed as 1, timestamps", body: `{"id":100001,"status":"issued","is_renewed":1,"order_valid_till":"2027-03-02T12:30:00+01:00",` +
			`"certificate":{"common_name":"a.example.com","dns_names":[" "],"valid_till":"2026-09-17 10:00:00"}}`,
			cert: digicert.OrderCert{ValidTill: "2026-09-17 10:00:00"}, validTill: "2026-09-17T10:00:00Z", orderEnds: "2027-03-02T11:30:00Z", isRenewed: true},
		{name: "a date in another form is kept, not parsed", body: `{"id":100001,"status":"issued","order_valid_till":"02/03/2027",` +
			`"certificate":{"common_name":"a.example.com","dns_names":[" "],"valid_till":"soon"}}`,
			cert: digicert.OrderCert{ValidTill: "soon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t)
			srv.Inject(digicerttest.Fault{Method: "GET", Body: tt.body})
			o, err := c.GetOrder(context.Background(), 100001)
			if err != nil {
				t.Fatal(err)
			}
			tt.cert.CommonName, tt.cert.DNSNames = "a.example.com", []string{" "}
			if diff := cmp.Diff(tt.cert, o.Certificate); diff != "" {
				t.Errorf("certificate (-want +got):\n%s", diff)
			}
			if bool(o.IsRenewed) != tt.isRenewed || o.RenewedOrderID != tt.renewedID || o.DCVMethod != tt.dcv || o.DCVRandomValue != tt.dcvVal {
				t.Errorf("is_renewed %v, renewed_order_id %d, dcv_method %q, dcv_random_value %q", o.IsRenewed, o.RenewedOrderID, o.DCVMethod, o.DCVRandomValue)
			}
			for _, h := range []struct {
				name string
				f    func() (time.Time, bool)
				want string
			}{{"ValidTill", o.ValidTill, tt.validTill}, {"OrderEnds", o.OrderEnds, tt.orderEnds}} {
				got, ok := h.f()
				if ok != (h.want != "") || (ok && got.Format(time.RFC3339) != h.want) || (!ok && !got.IsZero()) {
					t.Errorf("%s() = %s, %v; want %q", h.name, got.Format(time.RFC3339), ok, h.want)
				}
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // RFC 3339, "" for false
	}{
		{"date", "2026-11-25", "2026-11-25T00:00:00Z"},
		{"date with blanks", " 2026-11-25\n", "2026-11-25T00:00:00Z"},
		{"RFC 3339 with offset", "2026-03-02T10:00:00+02:00", "2026-03-02T08:00:00Z"},
		{"RFC 3339 UTC", "2026-03-02T10:00:00Z", "2026-03-02T10:00:00Z"},
		{"space-separated", "2026-03-02 10:00:00", "2026-03-02T10:00:00Z"},
		{"empty", "", ""},
		{"day first", "25/11/2026", ""},
		{"no such day", "2026-02-30", ""},
		{"words", "never", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := digicert.ParseDate(tt.in)
			if ok != (tt.want != "") || (ok && got.Format(time.RFC3339) != tt.want) || (!ok && !got.IsZero()) {
				t.Errorf("ParseDate(%q) = %s, %v; want %q", tt.in, got.Format(time.RFC3339), ok, tt.want)
			}
		})
	}
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2026-11-25", "2026-03-02T10:00:00+02:00", "2026-03-02 10:00:00", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := digicert.ParseDate(s)
		if !ok && !got.IsZero() {
			t.Errorf("ParseDate(%q) = %s with false", s, got)
		}
		if ok && got.Location() != time.UTC {
			t.Errorf("ParseDate(%q) = %s, not UTC", s, got)
		}
	})
}
