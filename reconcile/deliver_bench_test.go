package reconcile

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/spec/spectest"
	"github.com/certform/certform/state"
)

// BenchmarkDeliver1000 delivers the certificates of 1,000 issued orders at
// once (the fake on 127.0.0.1 answering pem_all downloads; Parallelism 4,
// certform's default): download, check, atomic write and a state save
// each, with the client keeping DigiCert's two windows scaled down in time
// by 10 (100 calls per 0.5 s, 1000 per 18 s), as BenchmarkApply1000 does.
// Reported: calls per certificate (target 1: one download), certs/s, and
// ratio, the fastest time the windows allow (4.5 s) divided by the time
// taken (1 when only the rate limit holds delivery back).
func BenchmarkDeliver1000(b *testing.B) {
	const n = 1000
	dir := b.TempDir()
	specDir := filepath.Join(dir, "specs")
	if err := spectest.WriteTree(specDir, n); err != nil {
		b.Fatal(err)
	}
	res, err := spec.Load(specDir)
	if err != nil || len(res.Orders) != n {
		b.Fatalf("%v, %d orders", err, len(res.Orders))
	}
	srv := digicerttest.New("k")
	url := srv.Start()
	defer srv.Close()
	limits := []digicert.Limit{{N: 100, Per: 500 * time.Millisecond}, {N: 1000, Per: 18 * time.Second}}
	ideal := 9 * limits[0].Per
	client, err := digicert.New("k", digicert.WithBaseURL(url), digicert.WithLimits(limits...))
	if err != nil {
		b.Fatal(err)
	}
	// The orders, issued in CertCentral for the specs' keys, and a state
	// that knows each one's certificate and has delivered none.
	f := &state.File{Version: state.Version, Entries: map[string]*state.Entry{}}
	for _, o := range res.Orders {
		block, _ := pem.Decode([]byte(o.CSR))
		csr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			b.Fatal(err)
		}
		got, _ := srv.Order(srv.AddOrder(digicerttest.Order{CommonName: o.CommonName, DNSNames: o.DNSNames, PublicKey: csr.PublicKey}))
		f.Entries[o.Name] = &state.Entry{OrderID: got.ID, Fingerprint: o.Fingerprint, Fixed: o.FixedFields(), Status: "issued",
			CertificateID: got.CertificateID, SerialNumber: got.SerialNumber, File: o.File}
	}
	st := filepath.Join(dir, "state.json")
	if err := state.WriteFile(st, f); err != nil {
		b.Fatal(err)
	}
	store, err := state.Open(st)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	r := &Reconciler{Dir: specDir, API: client, Store: store, Parallelism: 4, Limits: Limits{MaxPurchases: -1}, DeliveryOptions: DeliveryOptions{CertDir: filepath.Join(dir, "certs")}}
	c := &Cycle{Specs: res}
	var calls int
	var took time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := store.Mutate(func(f *state.File) {
			for _, e := range f.Entries {
				e.DeliveredCertificateID, e.DeliveredSerial, e.DeliveredAt = 0, "", time.Time{}
			}
		}); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(r.CertDir)
		srv.ResetRequests()
		if i > 0 {
			time.Sleep(limits[1].Per) // the windows empty, as in a fresh run
		}
		b.StartTimer()
		start := time.Now()
		ds := r.Deliver(context.Background(), c)
		took += time.Since(start)
		b.StopTimer()
		calls += len(srv.Calls())
		if len(ds) != n {
			b.Fatalf("%d deliveries", len(ds))
		}
		for _, d := range ds {
			if d.Err != nil || !d.Delivered {
				b.Fatalf("%s: %v", d.Name, d.Err)
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(calls)/float64(b.N*n), "calls/cert")
	b.ReportMetric(float64(b.N*n)/took.Seconds(), "certs/s")
	b.ReportMetric(ideal.Seconds()*float64(b.N)/took.Seconds(), "ratio")
}
