package daemon

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/certform/certform/daemon/serve/servetest"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/internal/runner"
	"github.com/certform/certform/reconcile"
)

// TestDaemon_clockSkew: while the local clock is two years ahead of
// CertCentral's, a cycle orders nothing (GET calls only), logs the one
// clock error with its hint, and /healthz answers 503 "clock_skew" with
// that error; once the clock is right, the next cycle orders and /healthz
// is ok again.
func TestDaemon_clockSkew(t *testing.T) {
	certcentral := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srv, api := fakeCertCentral(t, digicerttest.WithClock(func() time.Time { return certcentral }))
	dir := t.TempDir()
	writeSpec(t, dir, "shop", "skip_approval: true\n")
	var off atomic.Int64
	off.Store(int64(17520 * time.Hour))
	r := &reconcile.Reconciler{Dir: dir, API: api, Observe: true, Limits: reconcile.Limits{MaxRevocations: 1, MaxPurchases: 1, MaxClockSkew: reconcile.DefaultMaxClockSkew},
		Now: func() time.Time { return certcentral.Add(time.Duration(off.Load())) }}
	d, _, logs, _ := newTestDaemon(t, Config{Runner: runner.From(r)})

	if d.cycle(context.Background(), trigger{reasons: []string{reasonStart}}) {
		t.Fatal("the cycle succeeded")
	}
	for _, c := range srv.Calls() {
		if c[:4] != "GET " {
			t.Fatalf("call %s with a clock two years ahead", c)
		}
	}
	const msg = "the local clock reads 2028-02-29T12:00:00Z but CertCentral's reads 2026-03-01T12:00:00Z (17520h0m0s ahead, more than --max-clock-skew 5m0s): no order, renewal, reissue or revocation is sent"
	wantLog := []map[string]any{{"level": "ERROR", "msg": "cycle error", "cycle": 1.0, "error": msg, "hint": reconcile.ClockHint}}
	if diff := cmp.Diff(wantLog, logs.records(t, "cycle error")); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	wantBody := map[string]string{"status": "clock_skew", "last_result": "failed", "trigger": "start", "last_cycle": "2026-03-01T12:00:00Z", "reason": msg}
	if code, body := servetest.Healthz(t, d.health); code != http.StatusServiceUnavailable || !cmp.Equal(body, wantBody) {
		t.Errorf("/healthz with the clock ahead: %d %v", code, body)
	}
	if n := len(srv.Orders()); n != 0 {
		t.Fatalf("%d orders", n)
	}

	off.Store(int64(time.Second))
	if !d.cycle(context.Background(), trigger{reasons: []string{reasonRetry}}) {
		t.Fatal("the cycle failed with the clock right")
	}
	if n := len(srv.Orders()); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
	code, body := servetest.Healthz(t, d.health)
	if code != http.StatusOK || body["status"] != "ok" || body["reason"] != "" {
		t.Errorf("/healthz with the clock right: %d %v", code, body)
	}
}
