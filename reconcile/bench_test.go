package reconcile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/internal/pgtest"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/spec/spectest"
	"github.com/certform/certform/state"
	"github.com/certform/certform/state/pgstate"
)

// BenchmarkApply1000 applies 1,000 new orders against a fake that enforces
// DigiCert's two windows, scaled down in time by 10 (100 per 0.5 s, 1000
// per 18 s), and answers after 100 ms, with the client keeping the same
// windows, 100 specs at once (a window's worth, so the last window is not drained by a few workers) and the state saved after every order.
// Reported: 429s (target 0), duplicate orders (must be 0), and ratio, the
// fastest time the windows allow (4.5 s plus one latency) divided by the
// time taken (target >= 0.9).
//
// The client's pause after a 429 (digicert.RateLimitPause, 5 s) is not
// scaled: the target is no 429 at all, and an unscaled pause makes one
// that happens show in the ratios as well as in the count.
//
// BenchmarkApply1000_postgres is the same with the state in PostgreSQL (a
// throwaway server, a new workspace each run) and the client proving the
// lock before each call, as certform apply does there.
func BenchmarkApply1000(b *testing.B) {
	dir := b.TempDir()
	benchApply1000(b, func() (*state.Store, []digicert.Option) {
		st := filepath.Join(dir, "state.json")
		os.Remove(st)
		os.Remove(state.LockPath(st)) // a fresh start on purpose
		store, err := state.Open(st)
		if err != nil {
			b.Fatal(err)
		}
		return store, nil
	})
}

func BenchmarkApply1000_postgres(b *testing.B) {
	srv := pgtest.Start(b)
	b.Setenv("PGPASSWORD", srv.Password)
	url := srv.CreateDatabase(b)
	runs := 0
	benchApply1000(b, func() (*state.Store, []digicert.Option) {
		runs++
		cfg, err := pgstate.Parse(url, fmt.Sprintf("bench%d", runs))
		if err != nil {
			b.Fatal(err)
		}
		store, err := state.OpenBackend(pgstate.New(cfg))
		if err != nil {
			b.Fatal(err)
		}
		return store, []digicert.Option{digicert.WithGate(store.Check)}
	})
}

// benchApply1000 runs BenchmarkApply1000 with the stores open returns, a
// new empty one each run, and the client options it needs.
func benchApply1000(b *testing.B, open func() (*state.Store, []digicert.Option)) {
	dir := b.TempDir()
	if err := spectest.WriteTree(filepath.Join(dir, "specs"), 1000); err != nil {
		b.Fatal(err)
	}
	res, err := spec.Load(filepath.Join(dir, "specs"))
	if err != nil || len(res.Orders) != 1000 {
		b.Fatalf("%v, %d orders", err, len(res.Orders))
	}
	limits := []digicert.Limit{{N: 100, Per: 500 * time.Millisecond}, {N: 1000, Per: 18 * time.Second}}
	const latency = 100 * time.Millisecond
	ideal := 9*limits[0].Per + latency
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		srv := digicerttest.New("k", digicerttest.WithLimits(limits...), digicerttest.WithLatency(latency))
		url := srv.Start()
		store, opts := open()
		client, err := digicert.New("k", append([]digicert.Option{digicert.WithBaseURL(url), digicert.WithLimits(limits...)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		p := plan(planInput{Desired: res.Orders, Known: store.Snapshot(), Consulted: true, MaxPurchases: -1})
		ap := &applier{API: client, Store: store, Parallelism: 100, Limits: Limits{MaxPurchases: -1}}
		start := time.Now()
		results := ap.Apply(context.Background(), p)
		elapsed := time.Since(start)
		store.Close()
		srv.Close()
		for _, r := range results {
			if r.Err != nil {
				b.Fatalf("%s: %v", r.Action.Name, r.Err)
			}
		}
		perCN := map[string]int{}
		dups := 0
		for _, o := range srv.Orders() {
			perCN[o.CommonName]++
			if perCN[o.CommonName] > 1 {
				dups++
			}
		}
		if len(perCN) != 1000 {
			b.Fatalf("%d specs ordered", len(perCN))
		}
		// The new orders' names are checked once more before their POSTs
		// (issue 21): with more than liveReadAbove of them, by one paged
		// read of the account (one GET here: 1,001 calls), and the
		// windows allow 1,000 calls per 18 s, so the fastest time is that
		// of the calls made (calls-ratio); ratio keeps the fastest time
		// of 1,000, which the one call over the long window puts at 0.25.
		calls := 0
		for _, q := range srv.Requests() {
			if q.Method == "GET" {
				calls++
			}
		}
		b.ReportMetric(float64(srv.RateLimited()), "429s")
		b.ReportMetric(float64(dups), "duplicates")
		b.ReportMetric(float64(calls)/1000, "GETs/order")
		b.ReportMetric(ideal.Seconds()/elapsed.Seconds(), "ratio")
		// A request answered 429 is not counted in the fake's windows, so
		// the fastest time is that of the requests answered otherwise: a
		// 429's retry must not make the run look faster than it was.
		b.ReportMetric(fastest(len(srv.Requests())-srv.RateLimited(), limits, latency).Seconds()/elapsed.Seconds(), "calls-ratio")
		b.ReportMetric(1000/elapsed.Seconds(), "orders/s")
	}
}

// fastest is the least time n calls take within the windows limits (the
// short one of limits[0].N per limits[0].Per, the long one of limits[1].N
// per limits[1].Per), each answered after latency.
func fastest(n int, limits []digicert.Limit, latency time.Duration) time.Duration {
	long := (n - 1) / limits[1].N
	rest := (n - 1) % limits[1].N
	return time.Duration(long)*limits[1].Per + time.Duration(rest/limits[0].N)*limits[0].Per + latency
}
