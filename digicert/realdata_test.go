package digicert_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certform/certform/digicert"
	"github.com/google/go-cmp/cmp"
)

// TestClient_realdata decodes each real CertCentral answer in
// testdata/realdata (see its SOURCES.md) with the client: the file is
// served at its endpoint from 127.0.0.1, the client method that calls it
// runs, and what it decoded is checked.
func TestClient_realdata(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		file   string
		status int    // 200 when 0
		route  string // "METHOD /path" below the base, without the query
		check  func(t *testing.T, c *digicert.Client)
	}{
		{file: "ribose_order.json", route: "GET /order/certificate/123456789", check: func(t *testing.T, c *digicert.Client) {
			o, err := c.GetOrder(ctx, 123456789)
			if err != nil {
				t.Fatal(err)
			}
			// The organization id is only under certificate.organization;
			// disable_ct and auto_reissue are absent: unknown.
			if o.ID != 123456789 || o.Status != "approved" || o.OrganizationID() != 117483 || o.Organization.ID != 0 ||
				o.Product.NameID != "ssl_plus" || o.Certificate.ID != 112358 || o.DisableCT != nil || o.AutoReissue != nil ||
				o.Certificate.SerialNumber != "0669D46CAE79EF684A69777490602485" || o.Certificate.ValidTill != "2015-08-19" || bool(o.IsRenewed) {
				t.Errorf("order %+v", o)
			}
			if diff := cmp.Diff([]string{"digicert.com"}, o.Names()); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		}},
		{file: "ribose_ssl_ev_order.json", route: "GET /order/certificate/123456789", check: func(t *testing.T, c *digicert.Client) {
			o, err := c.GetOrder(ctx, 123456789)
			if err != nil {
				t.Fatal(err)
			}
			if o.Product.NameID != "ssl_ev_plus" || o.OrganizationID() != 117483 || o.DisableCT != nil {
				t.Errorf("order %+v", o)
			}
			if diff := cmp.Diff([]string{"digicert.com", "www.digicert.com"}, o.Names()); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		}},
		{file: "vareversat_list_orders.json", route: "GET /order/certificate", check: func(t *testing.T, c *digicert.Client) {
			orders, err := c.ListOrders(ctx, digicert.OrderFilter{})
			if err != nil {
				t.Fatal(err)
			}
			// page.total says 9 for 10 orders: all 10 are kept, none asked again.
			if len(orders) != 10 {
				t.Fatalf("%d orders", len(orders))
			}
			o := orders[0]
			if o.ID != 139941333 || o.Status != "expired" || o.OrganizationID() != 11111111 || o.Product.NameID != "ssl_basic" ||
				o.Certificate.ID != 140900444 || o.OrderValidTill != "2024-06-15" || !bool(o.IsRenewed) || o.DisableCT != nil || o.AutoReissue != nil {
				t.Errorf("first order %+v", o)
			}
			if diff := cmp.Diff([]string{"*.example.com"}, o.Names()); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		}},
		{file: "ribose_orders.json", route: "GET /order/certificate", check: func(t *testing.T, c *digicert.Client) {
			orders, err := c.ListOrders(ctx, digicert.OrderFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var ids []int
			for _, o := range orders {
				ids = append(ids, o.ID)
			}
			if diff := cmp.Diff([]int{556729, 556730, 556731}, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if o := orders[1]; o.Status != "needs_approval" || o.OrganizationID() != 117483 || o.Product.NameID != "ssl_plus" {
				t.Errorf("second order %+v", o)
			}
		}},
		{file: "docs_alternate_lookup.json", route: "GET /order/alternate/cfshop0123", check: func(t *testing.T, c *digicert.Client) {
			refs, err := c.FindByAlternativeID(ctx, "cfshop0123")
			if err != nil {
				t.Fatal(err)
			}
			want := []digicert.OrderRef{{OrderID: 1234567, CertificateID: 2345678, Status: "pending"}, {OrderID: 1234568, CertificateID: 2345679, Status: "pending"}}
			if diff := cmp.Diff(want, refs); diff != "" {
				t.Errorf("refs (-want +got):\n%s", diff)
			}
		}},
		{file: "docs_status_changes.json", route: "GET /order/certificate/status-changes", check: func(t *testing.T, c *digicert.Client) {
			refs, err := c.StatusChanges(ctx, 60)
			if err != nil {
				t.Fatal(err)
			}
			if len(refs) != 7 || refs[0] != (digicert.OrderRef{OrderID: 265, CertificateID: 112233, Status: "issued"}) ||
				refs[3] != (digicert.OrderRef{OrderID: 262, CertificateID: 112230, Status: "rejected"}) {
				t.Errorf("refs %+v", refs)
			}
		}},
		{file: "docs_status_changes_empty.json", route: "GET /order/certificate/status-changes", check: func(t *testing.T, c *digicert.Client) {
			if refs, err := c.StatusChanges(ctx, 60); err != nil || refs != nil {
				t.Errorf("got %v, %v; want no changes", refs, err)
			}
		}},
		{file: "docs_list_reissues.json", route: "GET /order/certificate/12345678/reissue", check: func(t *testing.T, c *digicert.Client) {
			rs, err := c.ListReissues(ctx, 12345678)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 2 || rs[0].ID != 12345 || rs[0].Status != "issued" || rs[0].DateIssued != "2019-04-08T18:31:16+00:00" ||
				rs[1].ID != 23456 || rs[1].Status != "rejected" || rs[1].DateIssued != "" {
				t.Fatalf("reissues %+v", rs)
			}
			if diff := cmp.Diff([]string{"example.com", "sub.example.com", "*.example.org"}, rs[0].Names()); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		}},
		{file: "docs_list_requests.json", route: "GET /request", check: func(t *testing.T, c *digicert.Client) {
			// One request of a total of 14: the page is decoded, and the
			// next one asked for; the same page again is no page 2.
			_, err := c.ListRequests(ctx, digicert.RequestFilter{Status: "pending"})
			if !errors.Is(err, digicert.ErrBadAnswer) || !strings.Contains(err.Error(), "the 200 answer at offset 1 is the page at offset 0") {
				t.Errorf("got %v", err)
			}
		}},
		{file: "ribose_certificate_requests.json", route: "GET /request", check: func(t *testing.T, c *digicert.Client) {
			// No page object: a list that may be cut short is refused.
			_, err := c.ListRequests(ctx, digicert.RequestFilter{})
			if !errors.Is(err, digicert.ErrBadAnswer) || !strings.Contains(err.Error(), "has no page object") {
				t.Errorf("got %v", err)
			}
		}},
		{file: "ribose_certificate_request.json", route: "GET /request/123456789", check: func(t *testing.T, c *digicert.Client) {
			r, err := c.GetRequest(ctx, 123456789)
			if err != nil {
				t.Fatal(err)
			}
			if r.ID != 123456789 || r.Type != "new_request" || r.Status != "approved" || r.Order.ID != 542757 {
				t.Errorf("request %+v", r)
			}
		}},
		{file: "ribose_order_created.json", status: 201, route: "POST /order/certificate/ssl", check: func(t *testing.T, c *digicert.Client) {
			resp, err := c.PlaceOrder(ctx, sampleOrder())
			if err != nil {
				t.Fatal(err)
			}
			if resp.ID != 542772 || len(resp.Requests) != 1 || resp.Requests[0] != (digicert.RequestStatus{ID: 922432, Status: "pending"}) || resp.CertificateID != 0 {
				t.Errorf("answer %+v", resp)
			}
		}},
		{file: "ribose_order_created_with_immediate_issuance.json", status: 201, route: "POST /order/certificate/ssl", check: func(t *testing.T, c *digicert.Client) {
			resp, err := c.PlaceOrder(ctx, sampleOrder())
			if err != nil {
				t.Fatal(err)
			}
			if resp.ID != 123456789 || resp.CertificateID != 456789123 || resp.Requests[0] != (digicert.RequestStatus{ID: 987654321, Status: "approved"}) {
				t.Errorf("answer %+v", resp)
			}
		}},
		{file: "seed_order_approved_domains.json", status: 201, route: "POST /order/certificate/ssl", check: func(t *testing.T, c *digicert.Client) {
			resp, err := c.PlaceOrder(ctx, sampleOrder())
			if err != nil {
				t.Fatal(err)
			}
			if resp.ID != 112233 || resp.Requests[0].Status != "approved" || len(resp.Domains) != 3 || resp.Domains[2] != (digicert.Domain{ID: 1471, Name: "example3.com", DNSName: "example3.com"}) {
				t.Errorf("answer %+v", resp)
			}
		}},
		{file: "ribose_order_reissued.json", status: 201, route: "POST /order/certificate/542757/reissue", check: func(t *testing.T, c *digicert.Client) {
			resp, err := c.Reissue(ctx, 542757, sampleReissue(true))
			if err != nil {
				t.Fatal(err)
			}
			if resp.ID != 542757 || len(resp.Requests) != 1 || resp.Requests[0].ID != 1 {
				t.Errorf("answer %+v", resp)
			}
		}},
		{file: "ribose_certificate_revoked.json", status: 201, route: "PUT /order/certificate/542757/revoke", check: func(t *testing.T, c *digicert.Client) {
			r, err := c.Revoke(ctx, 542757, "key compromised")
			if err != nil {
				t.Fatal(err)
			}
			if r.ID != 1 || r.Type != "revoke" || r.Status != "pending" || r.Comments != "Revoked via API!" {
				t.Errorf("request %+v", r)
			}
		}},
		{file: "ribose_errors.json", status: 404, route: "GET /order/certificate/7", check: func(t *testing.T, c *digicert.Client) {
			// {"errors": {...}}, one object: a route not found, not an order.
			_, err := c.GetOrder(ctx, 7)
			var ae *digicert.APIError
			if !errors.As(err, &ae) || ae.Code() != "not_found|route" || digicert.IsNotFound(err) ||
				err.Error() != "digicert: 404 not_found|route: The specified route was not found." {
				t.Errorf("got %v", err)
			}
		}},
		{file: "jupiterone_403_invalid_key.json", status: 403, route: "GET /order/certificate", check: func(t *testing.T, c *digicert.Client) {
			err := c.Check(ctx)
			if !digicert.IsInvalidKey(err) || err.Error() != "digicert: 403 access_denied|access_denied_invalid_key: Access denied due to access_denied_invalid_key." {
				t.Errorf("got %v", err)
			}
		}},
		{file: "docs_429.json", status: 429, route: "PUT /order/certificate/5/ct-status", check: func(t *testing.T, c *digicert.Client) {
			err := c.SetCT(ctx, 5, true)
			if !digicert.IsRateLimited(err) || err.Error() != "digicert: 429 request_limit_exceeded: Service unavailable, please limit request volume" {
				t.Errorf("got %v", err)
			}
		}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "realdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if got := r.Method + " " + strings.TrimPrefix(r.URL.Path, "/services/v2"); got != tt.route {
					http.Error(w, "unexpected "+got, http.StatusTeapot)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				w.Write(body)
			}))
			defer srv.Close()
			c, err := digicert.New(testKey, digicert.WithBaseURL(srv.URL+"/services/v2"), digicert.WithLimits(), digicert.WithRetry(digicert.Retry{}))
			if err != nil {
				t.Fatal(err)
			}
			useFakeTime(c) // a 429 pauses the key: no real wait
			tt.check(t, c)
		})
	}
	files, err := filepath.Glob(filepath.Join("testdata", "realdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s is not decoded by any row", f)
		}
	}
}
