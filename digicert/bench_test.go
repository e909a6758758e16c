package digicert_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
)

// BenchmarkClient_PUTs1000 sends 1,000 PUTs from 32 goroutines through one
// client against a fake that enforces DigiCert's two windows scaled down in
// time by 10 (100 per 0.5 s, 1000 per 18 s) and answers after 50 ms.
// Reported: 429s (target 0) and ratio, the fastest time the windows allow
// (the first 100 at once, then 100 more every 0.5 s: 4.5 s, plus one
// latency) divided by the time taken (target >= 0.9).
func BenchmarkClient_PUTs1000(b *testing.B) {
	limits := []digicert.Limit{{N: 100, Per: 500 * time.Millisecond}, {N: 1000, Per: 18 * time.Second}}
	const calls, workers, latency = 1000, 32, 50 * time.Millisecond
	ideal := 9*limits[0].Per + latency
	for i := 0; i < b.N; i++ {
		srv := digicerttest.New(testKey, digicerttest.WithLimits(limits...), digicerttest.WithLatency(latency))
		url := srv.Start()
		c, err := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLimits(limits...), digicert.WithRetry(digicert.Retry{}))
		if err != nil {
			b.Fatal(err)
		}
		id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= calls {
					if err := c.SetCT(context.Background(), id, true); err != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		srv.Close()
		b.ReportMetric(float64(srv.RateLimited()), "429s")
		b.ReportMetric(float64(failed.Load()), "failed")
		b.ReportMetric(ideal.Seconds()/elapsed.Seconds(), "ratio")
		b.ReportMetric(float64(calls)/elapsed.Seconds(), "calls/s")
	}
}
