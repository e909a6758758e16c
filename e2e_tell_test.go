package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/certform/certform/spec/spectest"
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

// dashboardMetrics returns the metric names the dashboard's queries (its
// panels' targets and its template variables) name, sorted.
func dashboardMetrics(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Definition string
			}
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q queries nothing", path, p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	seen := map[string]bool{}
	for _, e := range exprs {
		for _, m := range metricName.FindAllString(e, -1) {
			seen[m] = true
		}
	}
	names := make([]string, 0, len(seen))
	for m := range seen {
		names = append(names, m)
	}
	sort.Strings(names)
	return names
}

// metricName matches certform's metric names in PromQL.
var metricName = regexp.MustCompile(`\bcertform_[a-z0-9_]+\b`)

// TestDashboard_metricsExist: every metric deploy/grafana/certform.json
// queries is in /metrics of a running daemon with a delivery that fails,
// an order waiting for approval and a notification receiver.
func TestDashboard_metricsExist(t *testing.T) {
	names := dashboardMetrics(t, filepath.Join("deploy", "grafana", "certform.json"))
	if len(names) < 10 {
		t.Fatalf("the dashboard names only %v", names)
	}
	srv, env, dir, st := appliedSpecs(t, 1)
	srv.IssueWrongKey(loadStateFile(t, st).Entries["host00"].OrderID)
	csr, err := spectest.CSR("api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "api.yaml"), []byte("name: api\ncommon_name: api.example.com\norganization_id: 1\ncsr: |\n"+spectest.Indent(csr)), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--cert-dir", filepath.Join(t.TempDir(), "certs"), "--poll-interval", "1h", "--listen", "127.0.0.1:0")
	d.waitFor("the start cycle", 1, cycleDone)
	_, metrics := d.get("/metrics")
	for _, m := range names {
		if !strings.Contains(metrics, "\n"+m+"{") && !strings.Contains(metrics, "\n"+m+" ") {
			t.Errorf("the dashboard queries %s, which /metrics lacks", m)
		}
	}
	d.signal(syscall.SIGTERM)
	d.waitExit()
}
