package cli

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/reconcile"
)

// TestApply_clockSkew: against a CertCentral whose clock (its Date header)
// is two years behind this machine's, apply renews nothing and orders
// nothing: exit 1, one error saying both times with the hint, the plan
// shows the calls blocked_by clock, and only GET calls are made.
// --max-clock-skew 0 turns the check off.
func TestApply_clockSkew(t *testing.T) {
	srv, env := startFake(t, digicerttest.WithClock(func() time.Time { return time.Now().Add(-17520 * time.Hour) }))
	dir := t.TempDir()
	writeSpecs(t, dir, 1)
	st := filepath.Join(t.TempDir(), "s.json")
	// Ordered with the check off: the order ended a year ago by this
	// machine's clock, so a renewal is due.
	if code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--max-clock-skew", "0"); code != 0 {
		t.Fatalf("first apply: exit %d\n%s\n%s", code, stdout, stderr)
	}
	writeSpecsFrom(t, dir, 1, 1)
	srv.ResetRequests()
	orders := len(srv.Orders())

	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	re := regexp.MustCompile(`^certform apply: the local clock reads (\S+) but CertCentral's reads (\S+) \(17520h0m[01]s ahead, more than --max-clock-skew 5m0s\): no order, renewal, reissue or revocation is sent\n` +
		`hint: ` + regexp.QuoteMeta(reconcile.ClockHint) + "\n")
	m := re.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("stderr:\n%s", stderr)
	}
	if !strings.HasSuffix(stderr, "\ncertform apply: 2 calls blocked because the local clock is not CertCentral's (see above): host00, host01\n") {
		t.Errorf("stderr:\n%s", stderr)
	}
	local, err1 := time.Parse(time.RFC3339, m[1])
	server, err2 := time.Parse(time.RFC3339, m[2])
	if err1 != nil || err2 != nil || time.Since(local).Abs() > time.Minute || (local.Sub(server)-17520*time.Hour).Abs() > time.Second {
		t.Fatalf("times %s and %s", m[1], m[2])
	}
	for _, c := range srv.Calls() {
		if !strings.HasPrefix(c, "GET ") {
			t.Errorf("call %s", c)
		}
	}
	if n := len(srv.Orders()); n != orders {
		t.Fatalf("%d orders, want %d", n, orders)
	}
	for n, e := range loadStateFile(t, st).Entries {
		if e.Intent != nil {
			t.Errorf("%s: intent %+v", n, e.Intent)
		}
	}

	// plan --refresh shows the same: blocked_by clock, exit 1.
	code, stdout, stderr = runBinary(t, env, "plan", "--dir", dir, "--state", st, "--refresh", "--json")
	var plan reconcile.JSONPlan
	if err := json.Unmarshal([]byte(stdout), &plan); code != 1 || err != nil {
		t.Fatalf("plan: exit %d, %v\n%s\n%s", code, err, stdout, stderr)
	}
	var blocked []string
	for _, a := range plan.Blocked {
		blocked = append(blocked, string(a.Kind)+" "+a.Name+": "+a.BlockedBy)
	}
	if want := []string{"renew host00: clock", "order host01: clock"}; !cmp.Equal(blocked, want) || len(plan.Actions) != 0 {
		t.Errorf("blocked %q, actions %+v", blocked, plan.Actions)
	}
	if !re.MatchString(strings.Replace(stderr, "certform plan:", "certform apply:", 1)) {
		t.Errorf("plan stderr:\n%s", stderr)
	}

	// The daemon: /healthz answers 503 clock_skew with the error.
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--listen", "127.0.0.1:0")
	d.waitFor("the first cycle", 1, cycleDone)
	status, body := d.get("/healthz")
	var health map[string]string
	if err := json.Unmarshal([]byte(body), &health); err != nil || status != http.StatusServiceUnavailable || health["status"] != "clock_skew" ||
		!strings.HasPrefix(health["reason"], "the local clock reads ") || !strings.Contains(health["reason"], "more than --max-clock-skew 5m0s): no order, renewal, reissue or revocation is sent") {
		t.Errorf("/healthz: %d %s", status, body)
	}
	for _, c := range srv.Calls() {
		if !strings.HasPrefix(c, "GET ") {
			t.Errorf("call %s", c)
		}
	}
	if n := len(srv.Orders()); n != orders {
		t.Fatalf("%d orders, want %d", n, orders)
	}
}

// TestRun_maxClockSkewNegative: a negative --max-clock-skew is a usage
// error on plan, apply and run.
func TestRun_maxClockSkewNegative(t *testing.T) {
	dir, st := t.TempDir(), filepath.Join(t.TempDir(), "s.json")
	for _, tt := range []struct {
		cmd, want string
	}{
		{"plan", "certform plan: --max-revocations, --max-purchases, --resend-after, --max-clock-skew and --quiet-period must not be negative\n"},
		{"apply", "certform apply: --max-revocations, --max-purchases, --resend-after, --max-clock-skew and --quiet-period must not be negative\n"},
		{"run", "certform run: --debounce, --retry-backoff and --poll-interval must be positive, --parallelism at least 1, --max-revocations, --max-purchases, --resend-after and --max-clock-skew not negative\n"},
	} {
		code, stdout, stderr := runCLI(tt.cmd, "--dir", dir, "--state", st, "--max-clock-skew", "-1s")
		if code != exitUsage || stdout != "" || stderr != tt.want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", tt.cmd, code, stdout, stderr)
		}
	}
}

// TestCLI_quietPeriodAlias: --quiet-period and --debounce are one setting
// under two names on plan, apply and run: each command checks the value
// given under either name, and names it as it always did.
func TestCLI_quietPeriodAlias(t *testing.T) {
	dir, st := t.TempDir(), filepath.Join(t.TempDir(), "s.json")
	for _, tt := range []struct {
		cmd, flag, value, want string
	}{
		{"plan", "--debounce", "-1s", "certform plan: --max-revocations, --max-purchases, --resend-after, --max-clock-skew and --quiet-period must not be negative\n"},
		{"apply", "--debounce", "-1s", "certform apply: --max-revocations, --max-purchases, --resend-after, --max-clock-skew and --quiet-period must not be negative\n"},
		{"run", "--quiet-period", "0s", "certform run: --debounce, --retry-backoff and --poll-interval must be positive, --parallelism at least 1, --max-revocations, --max-purchases, --resend-after and --max-clock-skew not negative\n"},
	} {
		code, stdout, stderr := runCLI(tt.cmd, "--dir", dir, "--state", st, tt.flag, tt.value)
		if code != exitUsage || stdout != "" || stderr != tt.want {
			t.Errorf("%s %s %s: exit %d, stdout %q, stderr %q", tt.cmd, tt.flag, tt.value, code, stdout, stderr)
		}
	}
}
