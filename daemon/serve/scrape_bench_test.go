package serve

import (
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/certform/certform/status"
)

// benchRows returns n /status rows of issued orders with a certificate, an
// order end and a next renewal: every per-spec series is shown.
func benchRows(n int, now time.Time) []status.Entry {
	rows := make([]status.Entry, n)
	for i := range rows {
		end, orderEnd, renew := now.Add(time.Duration(i)*time.Minute+30*24*time.Hour), now.Add(300*24*time.Hour), now.Add(20*24*time.Hour)
		rows[i] = status.Entry{Name: "spec" + strconv.Itoa(i), OrderID: 100000 + i, Status: "issued", NotAfter: &end, OrderValidTill: &orderEnd, NextRenewal: &renew}
	}
	return rows
}

// BenchmarkMetrics_scrape100000 measures one /metrics scrape with the
// series of 100,000 specs (7 each). Reported: heap-MB, what the series
// keep on the heap between scrapes (after a collection).
func BenchmarkMetrics_scrape100000(b *testing.B) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	rows := benchRows(100000, now)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := NewMetrics()
	m.ObserveSpecs(rows, nil, now)
	runtime.GC()
	runtime.ReadMemStats(&after)
	h := m.Handler(&Health{})
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MB")
	runtime.KeepAlive(rows)
}
