package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRun_deliveryFailsHealthy: a daemon whose delivery of one spec's
// certificate keeps failing still works: /healthz answers 200 "ok" with
// the failure in last_failure, /readyz 200, /status names the spec with
// its error and is the object status --json prints, "cycle done" counts
// the failed delivery, and the failure is logged once, not every cycle.
func TestRun_deliveryFailsHealthy(t *testing.T) {
	srv, env, dir, st := appliedSpecs(t, 2)
	ids := loadStateFile(t, st).Entries
	srv.IssueWrongKey(ids["host00"].OrderID)
	certDir := filepath.Join(t.TempDir(), "certs")
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--cert-dir", certDir, "--poll-interval", "1h", "--debounce", "50ms", "--listen", "127.0.0.1:0")
	// Cycles on SIGHUP only, so that none runs between /status and the
	// end of the daemon.
	d.waitFor("the start cycle", 1, cycleDone)
	for n := 2; n <= 4; n++ {
		d.signal(syscall.SIGHUP)
		d.waitFor("a SIGHUP cycle", n, cycleDone)
	}
	failed := func(r map[string]any) bool { return r["msg"] == "delivery failed" && r["spec"] == "host00" }
	if n := d.count(failed); n != 1 {
		t.Errorf("the failed delivery was logged %d times in 4 cycles, want once:\n%s", n, d.logs())
	}
	if n := d.count(func(r map[string]any) bool {
		return cycleDone(r) && r["deliveries_failed"] == 1.0 && r["hooks_failed"] == 0.0
	}); n < 3 {
		t.Errorf("%d cycle done records count the failed delivery, want every cycle:\n%s", n, d.logs())
	}
	code, body := d.get("/healthz")
	var health map[string]string
	if err := json.Unmarshal([]byte(body), &health); err != nil || code != 200 || health["status"] != "ok" || health["last_result"] != "failed" || health["last_failure"] != "a delivery failed" {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if code, body := d.get("/readyz"); code != 200 || body != "{\"status\":\"leading\"}\n" {
		t.Errorf("/readyz: %d %s", code, body)
	}
	code, body = d.get("/status")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(body), &rows); err != nil || code != 200 || len(rows) != 2 {
		t.Fatalf("/status: %d %v\n%s", code, err, body)
	}
	wantErr := "delivery: the certificate of order "
	if e, _ := rows[0]["last_error"].(string); rows[0]["name"] != "host00" || !strings.HasPrefix(e, wantErr) || !strings.HasSuffix(e, "it is not the key of the spec's CSR; nothing written") ||
		rows[0]["delivery_error"] != strings.TrimPrefix(e, "delivery: ") || rows[0]["next_renewal"] == nil {
		t.Errorf("/status of host00: %v", rows[0])
	}
	if rows[1]["name"] != "host01" || rows[1]["last_error"] != nil || rows[1]["delivered_at"] == nil {
		t.Errorf("/status of host01: %v", rows[1])
	}
	_, metrics := d.get("/metrics")
	h1 := loadStateFile(t, st).Entries["host01"]
	for _, want := range []string{
		`certform_certificate_ready_status{condition="False",name="host00"} 1`,
		`certform_certificate_ready_status{condition="True",name="host00"} 0`,
		`certform_certificate_ready_status{condition="True",name="host01"} 1`,
		`certform_certificate_ready_status{condition="Unknown",name="host01"} 0`,
		fmt.Sprintf(`certform_certificate_expiration_timestamp_seconds{name="host01",order_id="%d"} %s`, h1.OrderID, strconv.FormatFloat(float64(h1.NotAfter.Unix()), 'g', -1, 64)),
		fmt.Sprintf(`certform_order_expiration_timestamp_seconds{name="host01",order_id="%d"} %s`, h1.OrderID, strconv.FormatFloat(float64(h1.OrderValidTill.Unix()), 'g', -1, 64)),
		`certform_certificate_renewal_pending{name="host01"} 0`,
		`certform_deliveries_total{result="failed"} 4`,
		`certform_api_requests_total{code="200",endpoint="GET /order/certificate/status-changes"}`,
		`certform_api_request_duration_seconds_count{endpoint="GET /order/certificate/status-changes"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(metrics, `certform_certificate_renewal_timestamp_seconds{name="host01"}`) {
		t.Errorf("/metrics lacks host01's renewal time")
	}
	d.signal(syscall.SIGTERM)
	if code := d.waitExit(); code != 0 {
		t.Errorf("exit %d\n%s", code, d.logs())
	}
	// The same object as status --json (which has no last cycle's errors).
	_, out, _ := runBinary(t, nil, "status", "--state", st, "--dir", dir, "--json")
	var cli []map[string]any
	if err := json.Unmarshal([]byte(out), &cli); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	for _, r := range rows {
		delete(r, "last_error")
	}
	if diff := cmp.Diff(rows, cli); diff != "" {
		t.Errorf("/status and status --json differ (-/status +status --json):\n%s", diff)
	}
}
