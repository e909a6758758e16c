package reconcile

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/state"
)

// TestListedChanged_realListing reads a real order list (digicert's
// testdata/realdata/vareversat_list_orders.json) with the client: an
// entry recorded from each listed order is unchanged by the list, and a
// change of each field the list carries is seen.
func TestListedChanged_realListing(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "digicert", "testdata", "realdata", "vareversat_list_orders.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	api, err := digicert.New(testKey, digicert.WithBaseURL(srv.URL+"/services/v2"), digicert.WithLimits(), digicert.WithRetry(digicert.Retry{}))
	if err != nil {
		t.Fatal(err)
	}
	listed, err := api.ListOrders(t.Context(), digicert.OrderFilter{})
	if err != nil || len(listed) != 10 {
		t.Fatalf("%d orders, %v", len(listed), err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	recorded := func(o *digicert.Order) *state.Entry {
		e := &state.Entry{OrderID: o.ID}
		recordOrder(e, o, now)
		return e
	}
	for i := range listed {
		if e := recorded(&listed[i]); listedChanged(e, &listed[i]) {
			t.Errorf("order %d: changed against its own entry %+v", listed[i].ID, e)
		}
	}
	first := &listed[0]
	if e := recorded(first); e.Status != "expired" || e.CertificateID != 140900444 || e.SerialNumber != "7S5RIKI62FJDKVTGD2YK0MKBCKDF9" ||
		e.NotAfter != time.Date(2024, 6, 15, 0, 0, 0, 0, time.UTC) || e.OrderValidTill != time.Date(2024, 6, 15, 0, 0, 0, 0, time.UTC) ||
		!e.Renewed || len(e.Names) != 1 || e.Names[0] != "*.example.com" {
		t.Fatalf("entry from the first listed order: %+v", e)
	}
	tests := []struct {
		name string
		edit func(e *state.Entry)
	}{
		{"status", func(e *state.Entry) { e.Status = "issued" }},
		{"certificate id", func(e *state.Entry) { e.CertificateID = 1 }},
		{"serial number", func(e *state.Entry) { e.SerialNumber = "01" }},
		{"names", func(e *state.Entry) { e.Names = []string{"*.example.com", "example.com"} }},
		{"no certificate end", func(e *state.Entry) { e.NotAfter = time.Time{} }},
		{"order end", func(e *state.Entry) { e.OrderValidTill = e.OrderValidTill.AddDate(1, 0, 0) }},
		{"renewed", func(e *state.Entry) { e.Renewed = false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := recorded(first)
			tt.edit(e)
			if !listedChanged(e, first) {
				t.Errorf("a state entry with another %s is unchanged by the list", tt.name)
			}
		})
	}
}
