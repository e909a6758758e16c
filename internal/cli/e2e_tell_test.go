package cli

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/certform/certform/spec/spectest"
)

// TestRun_deliveryFailsHealthy: a daemon whose delivery of one spec's
// certificate keeps failing still works: /healthz answers 200 "ok" with
// the failure in last_failure, /readyz 200, /status names the spec with
// its error and is the object status --json prints, "cycle done" counts
// the failed delivery, and the failure is logged once, not every cycle.
func TestRun_deliveryFailsHealthy(t *testing.T) {
	_, env, dir, st := appliedSpecs(t, 2)
	ids := loadStateFile(t, st).Entries
	// A file where host00's folder goes: every delivery of it fails, and
	// nothing a reissue could mend (a certificate for another key is
	// reissued since issue 23: reason key).
	certDir := filepath.Join(t.TempDir(), "certs")
	if err := os.MkdirAll(certDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certDir, "host00"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	hook := startWebhook(t)
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--cert-dir", certDir, "--poll-interval", "1h", "--debounce", "50ms", "--listen", "127.0.0.1:0",
		"--notify-config", notifyConfig(t, hook.URL))
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
	wantErr := "delivery: writing the certificate of order "
	if e, _ := rows[0]["last_error"].(string); rows[0]["name"] != "host00" || !strings.HasPrefix(e, wantErr) || !strings.HasSuffix(e, "it exists and is not a folder") ||
		rows[0]["delivery_error"] != strings.TrimPrefix(e, "delivery: ") || rows[0]["next_renewal"] == nil {
		t.Errorf("/status of host00: %v", rows[0])
	}
	if rows[1]["name"] != "host01" || rows[1]["last_error"] != nil || rows[1]["delivered_at"] == nil {
		t.Errorf("/status of host01: %v", rows[1])
	}
	// Two notifications: host01 delivered, and host00's delivery failed 3
	// cycles in a row (the 4th cycle's failure is the same event).
	hook.wait(t, 2)
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
	events := hook.events()
	if len(events) != 2 || events[0]["type"] != "delivered" || events[0]["spec"] != "host01" ||
		events[1]["type"] != "failed" || events[1]["spec"] != "host00" || events[1]["order_id"] != float64(ids["host00"].OrderID) ||
		!strings.HasPrefix(events[1]["message"].(string), "failed 3 cycles in a row: delivery: writing the certificate of order ") {
		t.Errorf("notifications: %v", events)
	}
	if !strings.Contains(metrics, `certform_notifications_sent_total{receiver="ops"} 2`) || !strings.Contains(metrics, `certform_notifications_failed_total{receiver="ops"} 0`) {
		t.Errorf("/metrics lacks the notification counters")
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
	hook := startWebhook(t)
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--cert-dir", filepath.Join(t.TempDir(), "certs"), "--poll-interval", "1h", "--listen", "127.0.0.1:0",
		"--notify-config", notifyConfig(t, hook.URL))
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

// webhookSecret is the test receiver's Standard Webhooks secret.
const webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// webhook is a Standard Webhooks receiver on 127.0.0.1 that keeps the
// events whose signature verifies, and counts the others.
type webhook struct {
	*httptest.Server
	mu       sync.Mutex
	got      []map[string]any
	unsigned int
	arrived  chan struct{}
}

func startWebhook(t *testing.T) *webhook {
	t.Helper()
	w := &webhook{arrived: make(chan struct{}, 100)}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		defer w.mu.Unlock()
		if !verifyWebhook(webhookSecret, r.Header, body) {
			w.unsigned++
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		var e map[string]any
		json.Unmarshal(body, &e)
		w.got = append(w.got, e)
		w.arrived <- struct{}{}
	}))
	t.Cleanup(w.Close)
	return w
}

// wait waits for n more verified events.
func (w *webhook) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-w.arrived:
		case <-time.After(20 * time.Second):
			t.Fatalf("no notification within 20s; got %v", w.got)
		}
	}
}

// events returns the verified events; a request whose signature did not
// verify fails the test.
func (w *webhook) events() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unsigned > 0 {
		panic(fmt.Sprintf("%d webhook requests without a valid signature", w.unsigned))
	}
	return append([]map[string]any(nil), w.got...)
}

// verifyWebhook is a Standard Webhooks verifier written from the spec:
// HMAC-SHA256, keyed with the base64 after "whsec_", of
// "id.timestamp.body", in a webhook-signature list of "v1,<base64>".
func verifyWebhook(secret string, h http.Header, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if b64, ok := strings.CutPrefix(sig, "v1,"); ok {
			if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
				return true
			}
		}
	}
	return false
}

// notifyConfig writes a notification config with one webhook receiver,
// "ops", at url, and its secret file; it returns the config's path.
func notifyConfig(t *testing.T, url string) string {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "webhook.secret")
	cfg := filepath.Join(dir, "notify.yaml")
	if err := os.WriteFile(secret, []byte(webhookSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := "receivers:\n  - name: ops\n    type: webhook\n    url: " + url + "/certform\n    secret_file: " + secret + "\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestNotifyTest: certform notify test sends a signed test event to each
// receiver and says which accepted it; exit 1 when one did not.
func TestNotifyTest(t *testing.T) {
	hook := startWebhook(t)
	cfg := notifyConfig(t, hook.URL)
	code, stdout, stderr := runBinary(t, nil, "notify", "test", "--notify-config", cfg)
	if code != 0 || stdout != "ops: sent\n" || stderr != "" {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	events := hook.events()
	if len(events) != 1 || events[0]["type"] != "test" || !strings.HasPrefix(events[0]["message"].(string), "a test event from certform notify test on ") {
		t.Errorf("events %v", events)
	}
	// A receiver that refuses: exit 1, its answer, a hint.
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }))
	defer refuse.Close()
	cfg = notifyConfig(t, refuse.URL)
	code, stdout, stderr = runBinary(t, nil, "notify", "test", "--notify-config", cfg)
	if code != 1 || stdout != "ops: failed: the receiver answered 410 Gone\n" || stderr != "hint: check each failed receiver's url, url_file, secret_file or command in "+cfg+"\n" {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	// A config others may read is refused.
	os.Chmod(cfg, 0o644)
	code, _, stderr = runBinary(t, nil, "notify", "test", "--notify-config", cfg)
	if code != 1 || stderr != "certform notify test: the notification config "+cfg+": mode 0644: others may read or write it\nhint: chmod 600 "+cfg+"\n" {
		t.Errorf("exit %d, stderr: %s", code, stderr)
	}
}
