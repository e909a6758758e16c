package reconcile

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/state"
)

// BenchmarkRefresh10000_unchanged refreshes (CycleOptions.Refresh, the
// list refresh) a state of 10,000 issued orders none of which changed in
// CertCentral, through a plan that saves nothing, and reports calls/op:
// the pages of the order list, 1000 orders each, and no read of an order
// (issue 27's goal: at most 12). A full refresh would make 10,000.
func BenchmarkRefresh10000_unchanged(b *testing.B) {
	const n = 10000
	srv, api, known := refreshBench(b, n)
	rec := &Reconciler{Dir: b.TempDir(), API: api, Known: known, DryRun: true, Limits: Limits{MaxPurchases: -1}, Parallelism: 4}
	calls := 0
	for b.Loop() {
		srv.ResetRequests()
		c, err := rec.Prepare(b.Context(), CycleOptions{Refresh: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(c.Errors) > 0 {
			b.Fatal(c.Errors)
		}
		calls += len(srv.Calls())
	}
	b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
}

// refreshBench starts a fake CertCentral with n issued orders and returns
// it, a client, and a state tracking every order as a read of it records
// it.
func refreshBench(b *testing.B, n int) (*digicerttest.Server, *digicert.Client, *state.File) {
	b.Helper()
	srv := digicerttest.New(testKey)
	url := srv.Start()
	b.Cleanup(srv.Close)
	api, err := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithRetry(digicert.Retry{}))
	if err != nil {
		b.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // one key for all: the fake only signs it
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		srv.AddOrder(digicerttest.Order{CommonName: fmt.Sprintf("host%05d.example.com", i), SignatureHash: "sha256",
			OrganizationID: 1, PublicKey: &key.PublicKey})
	}
	listed, err := api.ListOrders(b.Context(), digicert.OrderFilter{})
	if err != nil || len(listed) != n {
		b.Fatalf("listing the fake's %d orders: %d, %v", n, len(listed), err)
	}
	known := &state.File{Version: state.Version, Entries: make(map[string]*state.Entry, n)}
	now := time.Now()
	for i := range listed {
		e := &state.Entry{OrderID: listed[i].ID}
		recordOrder(e, &listed[i], now)
		known.Entries[fmt.Sprintf("host%05d", i)] = e
	}
	return srv, api, known
}
