package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/spec/spectest"
)

// daemonProc is a certform run process whose JSON log records are parsed
// as they come.
type daemonProc struct {
	t       testing.TB
	cmd     *exec.Cmd
	mu      sync.Mutex
	records []map[string]any
	stderr  strings.Builder
	changed chan struct{}
	exited  chan struct{}
	code    int
}

// startDaemon runs certform run with JSON logs; the process is killed when
// the test ends if it is still running.
func startDaemon(t testing.TB, env []string, args ...string) *daemonProc {
	t.Helper()
	d := &daemonProc{t: t, changed: make(chan struct{}, 1), exited: make(chan struct{})}
	d.cmd = exec.Command(binary, append([]string{"run", "--log-format", "json"}, args...)...)
	d.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	pipe, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			var rec map[string]any
			d.mu.Lock()
			d.stderr.WriteString(line + "\n")
			if json.Unmarshal([]byte(line), &rec) == nil {
				d.records = append(d.records, rec)
			}
			d.mu.Unlock()
			select {
			case d.changed <- struct{}{}:
			default:
			}
		}
		io.Copy(io.Discard, pipe)
		d.cmd.Wait()
		d.code = d.cmd.ProcessState.ExitCode()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.exited
	})
	return d
}

// count returns how many records satisfy pred.
func (d *daemonProc) count(pred func(map[string]any) bool) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, r := range d.records {
		if pred(r) {
			n++
		}
	}
	return n
}

// waitFor waits until at least n records satisfy pred.
func (d *daemonProc) waitFor(what string, n int, pred func(map[string]any) bool) {
	d.t.Helper()
	deadline := time.After(30 * time.Second)
	for d.count(pred) < n {
		select {
		case <-d.changed:
		case <-time.After(50 * time.Millisecond):
		case <-d.exited:
			if d.count(pred) >= n {
				return
			}
			d.t.Fatalf("certform run exited (code %d) before %s:\n%s", d.code, what, d.logs())
		case <-deadline:
			d.t.Fatalf("timed out waiting for %s:\n%s", what, d.logs())
		}
	}
}

func (d *daemonProc) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

func (d *daemonProc) signal(s os.Signal) {
	if err := d.cmd.Process.Signal(s); err != nil {
		d.t.Fatal(err)
	}
}

func (d *daemonProc) waitExit() int {
	d.t.Helper()
	select {
	case <-d.exited:
		return d.code
	case <-time.After(20 * time.Second):
		d.t.Fatalf("certform run did not exit:\n%s", d.logs())
		return -1
	}
}

// get fetches path from the daemon's --listen address.
func (d *daemonProc) get(path string) (int, string) {
	d.t.Helper()
	var addr string
	d.mu.Lock()
	for _, r := range d.records {
		if r["msg"] == "serving /healthz and /metrics" {
			addr, _ = r["addr"].(string)
		}
	}
	d.mu.Unlock()
	if addr == "" {
		d.t.Fatalf("the daemon serves no /metrics:\n%s", d.logs())
	}
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func msg(m string) func(map[string]any) bool {
	return func(r map[string]any) bool { return r["msg"] == m }
}

func cycleDone(r map[string]any) bool { return r["msg"] == "cycle done" }

func cycleDoneWith(trigger string) func(map[string]any) bool {
	return func(r map[string]any) bool {
		t, _ := r["trigger"].(string)
		return r["msg"] == "cycle done" && strings.Contains(t, trigger)
	}
}

func writes(srv *digicerttest.Server) []string {
	var out []string
	for _, c := range srv.Calls() {
		if !strings.HasPrefix(c, "GET ") {
			out = append(out, c)
		}
	}
	return out
}

func TestRun_triggers(t *testing.T) {
	srv, env := startFake(t)
	dir := t.TempDir()
	writeSpecs(t, dir, 2)
	st := filepath.Join(t.TempDir(), "s.json")
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--debounce", "200ms")
	d.waitFor("the start cycle", 1, cycleDoneWith("start"))
	if n := len(srv.Orders()); n != 2 {
		t.Fatalf("%d orders after start", n)
	}
	// A new file is reconciled.
	sub := filepath.Join(dir, "new-team")
	os.MkdirAll(sub, 0o700)
	time.Sleep(100 * time.Millisecond) // let the new folder be watched
	writeSpecsFrom(t, sub, 77, 1)
	d.waitFor("a cycle for the new file", 1, cycleDoneWith("file change"))
	d.waitFor("the order for the new file", 1, func(r map[string]any) bool { return r["msg"] == "done" && r["spec"] == "host77" })
	// An edited file is reconciled: one toggle.
	srv.ResetRequests()
	editFile(t, filepath.Join(dir, "spec00.yaml"), "skip_approval: true\n", "skip_approval: true\ndisable_ct: true\n")
	d.waitFor("the toggle", 1, func(r map[string]any) bool { return r["msg"] == "done" && r["action"] == "set_ct" })
	if got := writes(srv); len(got) != 1 || !strings.HasSuffix(got[0], "/ct-status") {
		t.Errorf("calls after the edit: %v", got)
	}
	// A folder renamed is still watched under its new name.
	renamed := filepath.Join(dir, "renamed-team")
	changes := d.count(cycleDoneWith("file change"))
	if err := os.Rename(sub, renamed); err != nil {
		t.Fatal(err)
	}
	d.waitFor("a cycle for the rename", changes+1, cycleDoneWith("file change"))
	srv.ResetRequests()
	editFile(t, filepath.Join(renamed, "spec77.yaml"), "skip_approval: true\n", "skip_approval: true\nauto_reissue: true\n")
	d.waitFor("the toggle in the renamed folder", 1, func(r map[string]any) bool {
		return r["msg"] == "done" && r["action"] == "set_auto_reissue" && r["spec"] == "host77"
	})
	// SIGHUP runs a cycle.
	d.signal(syscall.SIGHUP)
	d.waitFor("the SIGHUP cycle", 1, cycleDoneWith("signal"))
	// SIGTERM stops it with exit 0.
	d.signal(syscall.SIGTERM)
	if code := d.waitExit(); code != 0 {
		t.Errorf("exit %d after SIGTERM\n%s", code, d.logs())
	}
	if d.count(msg("certform run stopped")) != 1 {
		t.Errorf("no stop record:\n%s", d.logs())
	}
	if n := len(srv.Orders()); n != 3 {
		t.Errorf("%d orders in the end, want 3", n)
	}
}

// TestRun_gitCheckout switches a spec repository to a branch that adds 100
// spec files: each is ordered exactly once, in at most 3 cycles.
func TestRun_gitCheckout(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	srv, env := startFake(t)
	repo := t.TempDir()
	gitCmd := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "init.defaultBranch=main"}, args...)...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	gitCmd("init", "-q")
	os.WriteFile(filepath.Join(repo, "README.md"), []byte("specs\n"), 0o600)
	gitCmd("add", ".")
	gitCmd("commit", "-qm", "empty")
	gitCmd("checkout", "-qb", "more")
	writeSpecs(t, repo, 100)
	gitCmd("add", ".")
	gitCmd("commit", "-qm", "100 specs")
	gitCmd("checkout", "-q", "main")

	st := filepath.Join(t.TempDir(), "s.json")
	d := startDaemon(t, env, "--dir", repo, "--state", st, "--debounce", "200ms", "--max-purchases", "100")
	d.waitFor("the start cycle", 1, cycleDoneWith("start"))
	gitCmd("checkout", "-q", "more")
	d.waitFor("100 orders", 100, func(r map[string]any) bool { return r["msg"] == "done" && r["action"] == "order" })
	time.Sleep(2500 * time.Millisecond) // anything left to trigger has triggered by now
	cycles := d.count(cycleDone) - 1
	t.Logf("%d cycles after the checkout", cycles)
	if cycles < 1 || cycles > 3 {
		t.Errorf("%d cycles after the checkout, want 1 to 3:\n%s", cycles, d.logs())
	}
	perCN := map[string]int{}
	for _, o := range srv.Orders() {
		perCN[o.CommonName]++
	}
	if len(perCN) != 100 {
		t.Errorf("%d specs ordered", len(perCN))
	}
	for cn, n := range perCN {
		if n != 1 {
			t.Errorf("%s ordered %d times", cn, n)
		}
	}
}

func TestRun_dryRun(t *testing.T) {
	srv, env := startFake(t)
	dir := copyTree(t, "examples")
	st := filepath.Join(t.TempDir(), "s.json")
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--debounce", "200ms", "--dry-run")
	d.waitFor("the start cycle", 1, cycleDoneWith("start"))
	editFile(t, filepath.Join(dir, "payments", "api.yaml"), "disable_ct: true", "disable_ct: false")
	d.waitFor("a file-change cycle", 1, cycleDoneWith("file change"))
	d.signal(syscall.SIGHUP)
	d.waitFor("the SIGHUP cycle", 1, cycleDoneWith("signal"))
	if got := writes(srv); len(got) != 0 {
		t.Errorf("dry run made write calls: %v", got)
	}
	if n := d.count(msg("planned (dry run: not applied)")); n != 15 {
		t.Errorf("%d dry-run plan records over 3 cycles, want 15:\n%s", n, d.logs())
	}
	if _, err := os.Stat(st); err == nil {
		if f := loadStateFile(t, st); len(f.Entries) != 0 {
			t.Errorf("dry run changed the state: %v", f.Names())
		}
	}
}

// TestRun_killDuringApply kills the daemon with SIGKILL while it applies
// 20 orders against a slow CertCentral, starts it again, and checks that
// every spec ends with exactly one order.
func TestRun_killDuringApply(t *testing.T) {
	arrived := make(chan struct{}, 100)
	srv, env := startFake(t, digicerttest.WithLatency(200*time.Millisecond), digicerttest.WithHook(func(r digicerttest.Request) {
		if r.Method == "POST" { // orders, not the look-ups before them
			arrived <- struct{}{}
		}
	}))
	dir := t.TempDir()
	writeSpecs(t, dir, 20)
	st := filepath.Join(t.TempDir(), "s.json")
	// The first daemon's --resend-after is recorded in each intent: the
	// restarted one does not send again before it.
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--resend-after", "1s")
	for i := 0; i < 6; i++ {
		select {
		case <-arrived:
		case <-time.After(20 * time.Second):
			t.Fatalf("calls did not arrive:\n%s", d.logs())
		}
	}
	d.cmd.Process.Kill()
	d.waitExit()
	if !srv.WaitIdle(10 * time.Second) { // the fake finishes the calls in flight
		t.Fatal("the fake did not finish the calls in flight")
	}
	before := len(srv.Orders())
	// An intent saved just before the kill, whose order never reached
	// CertCentral, is not found by its look-up: that order is sent again
	// only after --resend-after, by a "resend" cycle.
	d2 := startDaemon(t, env, "--dir", dir, "--state", st, "--resend-after", "1s")
	d2.waitFor("a cycle with nothing failed or waiting", 1, func(r map[string]any) bool {
		return r["msg"] == "cycle done" && r["failed"] == 0.0 && r["waiting"] == 0.0
	})
	perCN := map[string]int{}
	for _, o := range srv.Orders() {
		perCN[o.CommonName]++
	}
	if len(perCN) != 20 || before < 6 {
		t.Errorf("%d specs ordered (%d before the restart)", len(perCN), before)
	}
	for cn, n := range perCN {
		if n != 1 {
			t.Errorf("%s ordered %d times", cn, n)
		}
	}
	if n := d2.count(func(r map[string]any) bool {
		res, _ := r["result"].(string)
		return r["msg"] == "done" && strings.HasPrefix(res, "adopted order")
	}); n == 0 {
		t.Errorf("no order was adopted after the kill:\n%s", d2.logs())
	}
}

func TestRun_secondDaemonRefuses(t *testing.T) {
	_, env := startFake(t)
	dir := t.TempDir()
	writeSpecs(t, dir, 1)
	st := filepath.Join(t.TempDir(), "s.json")
	d := startDaemon(t, env, "--dir", dir, "--state", st)
	d.waitFor("the start cycle", 1, cycleDone)
	code, _, stderr := runBinary(t, env, "run", "--dir", dir, "--state", st)
	want := fmt.Sprintf("certform run: state file %s is in use by another certform process (pid %d)\nhint: wait for that certform to finish (ps -p %d shows what it is); plan and status can read the state meanwhile\n", st, d.cmd.Process.Pid, d.cmd.Process.Pid)
	if code != 1 || !strings.HasSuffix(stderr, want) {
		t.Errorf("exit %d\n%s\nwant suffix %q", code, stderr, want)
	}
}

func TestRun_healthAndMetrics(t *testing.T) {
	_, env := startFake(t)
	dir := t.TempDir()
	writeSpecs(t, dir, 2)
	d := startDaemon(t, env, "--dir", dir, "--state", filepath.Join(t.TempDir(), "s.json"), "--listen", "127.0.0.1:0")
	d.waitFor("the start cycle", 1, cycleDone)
	get := d.get
	code, body := get("/healthz")
	var h map[string]string
	json.Unmarshal([]byte(body), &h)
	if code != 200 || h["status"] != "ok" || h["last_result"] != "ok" || h["last_cycle"] == "" {
		t.Errorf("/healthz: %d %s", code, body)
	}
	code, body = get("/metrics")
	for _, want := range []string{
		`certform_cycles_total{result="ok",trigger="start"} 1`,
		`certform_api_calls_total{endpoint="POST /order/certificate/ssl",status="201"} 2`,
		`certform_plan_actions_total{kind="order"} 2`,
		`certform_orders{status="issued"} 2`,
		`certform_spec_errors 0`,
		`certform_revoke_requests_pending 0`,
		`certform_api_rate_limited_total 0`,
		"certform_last_success_timestamp_seconds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code != 200 {
		t.Errorf("/metrics: %d", code)
	}
}

func TestRun_usageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--dir", "examples", "--state", "x", "--schedule", "every day"}, "certform run: --schedule \"every day\": "},
		{[]string{"run", "--dir", "examples"}, "certform run: --state is required\n"},
		{[]string{"run", "--dir", "examples", "--state", "x", "--debounce", "0s"}, "certform run: --debounce, --retry-backoff and --poll-interval must be positive"},
		{[]string{"run", "--dir", "examples", "--state", "x", "--poll-interval", "0s"}, "certform run: --debounce, --retry-backoff and --poll-interval must be positive"},
	}
	for _, tt := range tests {
		code, _, stderr := runBinary(t, nil, tt.args...)
		if code != 2 || !strings.HasPrefix(stderr, tt.want) {
			t.Errorf("%v: exit %d\n%s", tt.args, code, stderr)
		}
	}
}

// TestRun_specErrorsAndOutageRetried fails the first order with a 503: its
// outcome is unknown, so the retry cycle only looks it up and waits
// (--resend-after), and a "resend" cycle scheduled for then orders it.
// The spec error is logged by every cycle.
func TestRun_specErrorsAndOutageRetried(t *testing.T) {
	srv, env := startFake(t)
	dir := t.TempDir()
	writeSpecs(t, dir, 1)
	os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("name: broken\ncommon_nme: x.example.com\n"), 0o600)
	srv.Inject(digicerttest.Fault{Method: "POST", Times: 1, Status: 503})
	d := startDaemon(t, env, "--dir", dir, "--state", filepath.Join(t.TempDir(), "s.json"), "--retry-backoff", "300ms", "--resend-after", "1s")
	d.waitFor("the resend cycle", 1, cycleDoneWith("resend"))
	if n := len(srv.Orders()); n != 1 {
		t.Errorf("%d orders after the resend", n)
	}
	specErr := func(r map[string]any) bool {
		return r["msg"] == "spec error" && r["error"] == "broken.yaml:2:1: common_nme: unknown key; did you mean common_name?"
	}
	if n := d.count(specErr); n < 3 {
		t.Errorf("the spec error was logged %d times over 3 cycles:\n%s", n, d.logs())
	}
	for _, c := range []struct {
		trigger               string
		done, failed, waiting float64
	}{{"start", 0, 1, 0}, {"retry", 0, 0, 1}, {"resend", 1, 0, 0}} {
		if n := d.count(func(r map[string]any) bool {
			return r["msg"] == "cycle done" && r["trigger"] == c.trigger && r["done"] == c.done && r["failed"] == c.failed && r["waiting"] == c.waiting
		}); n != 1 {
			t.Errorf("want one %s cycle with %v done, %v failed, %v waiting:\n%s", c.trigger, c.done, c.failed, c.waiting, d.logs())
		}
	}
	if n := d.count(msg("an order waits before it may be sent again; a cycle is scheduled for then")); n != 1 {
		t.Errorf("%d records of the scheduled resend:\n%s", n, d.logs())
	}
}

// TestRun_revocationBudget checks that --max-revocations is a budget per
// rolling 24 hours, recorded in the state, across daemon cycles: a second
// revocation a cycle later is blocked.
func TestRun_revocationBudget(t *testing.T) {
	srv, env, dir, st := appliedSpecs(t, 2)
	ids := loadStateFile(t, st).Entries
	srv.ResetRequests()
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--debounce", "200ms", "--max-revocations", "1")
	d.waitFor("the start cycle", 1, cycleDoneWith("start"))
	revoke := "skip_approval: true\nrevoke: true\nrevoke_comments: retired\n"
	editFile(t, filepath.Join(dir, "spec00.yaml"), "skip_approval: true\n", revoke)
	d.waitFor("the revocation", 1, func(r map[string]any) bool {
		return r["msg"] == "done" && r["action"] == "revoke" && r["spec"] == "host00"
	})
	editFile(t, filepath.Join(dir, "spec01.yaml"), "skip_approval: true\n", revoke)
	d.waitFor("the blocked cycle", 1, func(r map[string]any) bool { return cycleDone(r) && r["blocked"] == 1.0 })
	want := []string{fmt.Sprintf("PUT /order/certificate/%d/revoke", ids["host00"].OrderID)}
	if diff := cmp.Diff(want, writes(srv)); diff != "" {
		t.Errorf("write calls (-want +got):\n%s", diff)
	}
	note := func(r map[string]any) bool {
		return r["msg"] == "note" && r["level"] == "WARN" && r["kind"] == "blocked" &&
			r["message"] == "1 revocation planned, but 1 of the 1 revocation requests --max-revocations allows in 24 hours was used already: host01; none of them is made"
	}
	if d.count(note) == 0 {
		t.Errorf("no blocked note:\n%s", d.logs())
	}
	if revs := loadStateFile(t, st).Revocations; len(revs) != 1 || revs[0].Name != "host00" || revs[0].OrderID != ids["host00"].OrderID {
		t.Errorf("revocations in the state: %+v", revs)
	}
}

// TestRun_stateRefused: run --dev keeps its own state and refuses --state
// (a usage error); a state file inside --dir is refused before any call.
func TestRun_stateRefused(t *testing.T) {
	dir := t.TempDir()
	writeSpecs(t, dir, 1)
	code, _, stderr := runBinary(t, nil, "run", "--dev", "--dir", dir, "--state", "prod.json")
	want := "certform run: --dev keeps its own temporary state; --state would record the fake's order ids in prod.json\n" +
		"hint: leave out --state with --dev, or --dev to run on this state\n"
	if code != 2 || stderr != want {
		t.Errorf("--dev --state: exit %d\n%s\nwant %q", code, stderr, want)
	}

	srv, env := startFake(t)
	st := filepath.Join(dir, "state", "s.json")
	code, _, stderr = runBinary(t, env, "run", "--dir", dir, "--state", st)
	want = fmt.Sprintf("certform run: the state file %s is inside the spec directory %s; every state write would change the specs' tree\n"+
		"hint: keep the state outside --dir, such as /var/lib/certform/state.json\n", st, dir)
	if code != 1 || stderr != want {
		t.Errorf("state inside --dir: exit %d\n%q\nwant %q", code, stderr, want)
	}
	if _, err := os.Stat(st); !errors.Is(err, fs.ErrNotExist) || len(srv.Calls()) != 0 {
		t.Errorf("state file: %v; calls %v", err, srv.Calls())
	}
}

// TestRun_lockFileRemoved removes the state's lock file under a running
// daemon, so that certform apply can take the lock (in a new lock file).
// While apply holds it, the daemon's next cycle fails on the lock, calling
// and writing nothing; once apply has exited, the daemon takes the lock
// again, reads the state apply wrote and orders nothing twice.
func TestRun_lockFileRemoved(t *testing.T) {
	var gated atomic.Bool
	release := make(chan struct{})
	arrived := make(chan string, 10)
	srv, env := startFake(t, digicerttest.WithHook(func(r digicerttest.Request) {
		if gated.Load() && r.Method == "GET" {
			arrived <- r.Path
			<-release
		}
	}))
	dir := t.TempDir()
	writeSpecs(t, dir, 2)
	st := filepath.Join(t.TempDir(), "s.json")
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--debounce", "200ms", "--retry-backoff", "300ms")
	d.waitFor("the start cycle", 1, cycleDoneWith("start"))
	if err := os.Remove(st + ".lock"); err != nil {
		t.Fatal(err)
	}
	known := loadStateFile(t, st).Entries
	refreshes := map[string]bool{checkCall: true} // apply checks CertCentral first
	for _, e := range known {
		refreshes[fmt.Sprintf("GET /order/certificate/%d", e.OrderID)] = true
	}
	before, err := os.ReadFile(st)
	if err != nil {
		t.Fatal(err)
	}

	// apply --refresh=full takes the lock, then its GETs (one per order)
	// wait in the fake.
	srv.ResetRequests()
	gated.Store(true)
	apply := exec.Command(binary, "apply", "--refresh=full", "--dir", dir, "--state", st)
	apply.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var applyOut bytes.Buffer
	apply.Stdout, apply.Stderr = &applyOut, &applyOut
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	var applyErr error
	applied := make(chan struct{})
	go func() { applyErr = apply.Wait(); close(applied) }()
	released := false
	t.Cleanup(func() {
		if !released {
			gated.Store(false)
			close(release)
		}
		apply.Process.Kill()
		<-applied
	})
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("apply's refresh did not reach the fake")
	}
	if lock, err := os.ReadFile(st + ".lock"); err != nil || !strings.HasPrefix(string(lock), fmt.Sprintf("%d\n", apply.Process.Pid)) {
		t.Fatalf("the new lock file: %q, %v", lock, err)
	}

	// A new spec triggers the daemon's next cycle, which fails on the lock.
	writeSpecsFrom(t, dir, 2, 1)
	real, err := filepath.EvalSymlinks(st)
	if err != nil {
		t.Fatal(err)
	}
	lockErr := fmt.Sprintf("state file %s is in use by another certform process (pid %d)", real, apply.Process.Pid)
	d.waitFor("the cycle that fails on the lock", 1, func(r map[string]any) bool { return r["msg"] == "cycle failed" && r["error"] == lockErr })
	if n := d.count(func(r map[string]any) bool {
		return r["msg"] == "cycle failed" && r["level"] == "ERROR" &&
			r["hint"] == "another certform process holds the state file's lock; this daemon calls nothing and writes nothing until it can take the lock again, which it retries with backoff"
	}); n == 0 {
		t.Errorf("no hint with the failed cycle:\n%s", d.logs())
	}
	for _, c := range srv.Calls() {
		if !refreshes[c] {
			t.Errorf("call %q while apply held the lock (only apply's refresh GETs were expected)", c)
		}
	}
	if now, err := os.ReadFile(st); err != nil || !bytes.Equal(now, before) {
		t.Errorf("the state file changed while apply waited: %v\n%s", err, now)
	}

	gated.Store(false)
	close(release)
	released = true
	select {
	case <-applied:
		if applyErr != nil || !strings.Contains(applyOut.String(), "Apply: 1 of 1 calls done.\n") {
			t.Fatalf("apply: %v\n%s", applyErr, applyOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("apply did not end")
	}
	d.waitFor("a cycle with the lock taken again", 1, func(r map[string]any) bool {
		tr, _ := r["trigger"].(string)
		return cycleDone(r) && strings.Contains(tr, "retry") && r["planned"] == 0.0 && r["blocked"] == 0.0 && r["failed"] == 0.0
	})
	// One record each cycle that found the lock lost and tried to take it
	// again: the one that failed on it, and the retry that succeeded.
	if n := d.count(msg("the state's lock was lost; taking it again and reading the state afresh")); n < 2 {
		t.Errorf("%d records of the lock loss:\n%s", n, d.logs())
	}
	perCN := map[string]int{}
	for _, o := range srv.Orders() {
		perCN[o.CommonName]++
	}
	if want := map[string]int{"host00.example.com": 1, "host01.example.com": 1, "host02.example.com": 1}; !cmp.Equal(want, perCN) {
		t.Errorf("orders per name %v, want %v", perCN, want)
	}
	if e := loadStateFile(t, st).Entries["host02"]; e == nil || e.OrderID == 0 {
		t.Errorf("host02 in the state: %+v", e)
	}
}

// TestRun_signalWaitsForQuietTree edits a spec just before SIGHUP: the
// cycle the signal starts reads the specs only once the tree has been
// quiet for --debounce, and so sees the whole edit.
func TestRun_signalWaitsForQuietTree(t *testing.T) {
	var putAt atomic.Int64
	_, env, dir, st := appliedSpecs(t, 1, digicerttest.WithHook(func(r digicerttest.Request) {
		if r.Method == "PUT" {
			putAt.CompareAndSwap(0, time.Now().UnixNano())
		}
	}))
	const quiet = 2 * time.Second
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--debounce", quiet.String())
	d.waitFor("the start cycle", 1, cycleDoneWith("start"))
	edited := time.Now()
	editFile(t, filepath.Join(dir, "spec00.yaml"), "skip_approval: true\n", "skip_approval: true\ndisable_ct: true\n")
	d.signal(syscall.SIGHUP)
	d.waitFor("the signal cycle", 1, cycleDoneWith("signal"))
	if n := d.count(func(r map[string]any) bool {
		// The CT call and the reissue that follows it.
		return cycleDone(r) && r["trigger"] == "signal" && r["planned"] == 2.0 && r["done"] == 2.0
	}); n != 1 {
		t.Errorf("the signal cycle did not apply the edit:\n%s", d.logs())
	}
	// Generous margin: without the quiet wait the call follows within milliseconds.
	if at := putAt.Load(); at == 0 || time.Unix(0, at).Sub(edited) < quiet*3/4 {
		t.Errorf("the call came %v after the edit, want about %v or more", time.Unix(0, at).Sub(edited), quiet)
	}
}

// TestRun_certificateLife follows certificates through the daemon: one
// issued at once is delivered by the start cycle, one that waits for
// approval is noted once (not every poll), shown in the metrics, and
// delivered by the poll after its approval; a certificate DigiCert
// reissued on its own is noticed on SIGHUP and delivered, the hook run
// again; a failing hook is run again after its backoff; a certificate for
// another key is refused and the good one stays.
func TestRun_certificateLife(t *testing.T) {
	srv, env := startFake(t)
	dir := t.TempDir()
	writeSpecs(t, dir, 1)
	csr, err := spectest.CSR("api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "api.yaml"), []byte("name: api\ncommon_name: api.example.com\norganization_id: 1\ncsr: |\n"+spectest.Indent(csr)), 0o600); err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(t.TempDir(), "s.json")
	certDir := filepath.Join(t.TempDir(), "certs")
	runs := filepath.Join(t.TempDir(), "runs")
	fail := filepath.Join(t.TempDir(), "fail")
	hook := fmt.Sprintf(`if [ -e %s ]; then echo "reload refused" >&2; exit 3; fi; echo "$CERTFORM_NAME $CERTFORM_SERIAL" >> %s`, fail, runs)
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--cert-dir", certDir, "--deploy-hook", hook, "--deploy-hook-backoff", "1s",
		"--poll-interval", "300ms", "--debounce", "100ms", "--listen", "127.0.0.1:0")
	delivered := func(name string) func(map[string]any) bool {
		return func(r map[string]any) bool { return r["msg"] == "delivered" && r["spec"] == name }
	}
	hookRuns := func() []string {
		data, _ := os.ReadFile(runs)
		return strings.Split(strings.TrimSpace(string(data)), "\n")
	}
	serialOf := func(id int) string {
		o, _ := srv.Order(id)
		n, _ := new(big.Int).SetString(o.SerialNumber, 16)
		return fmt.Sprintf("%X", n)
	}
	d.waitFor("host00's delivery", 1, delivered("host00"))
	d.waitFor("three poll cycles", 3, cycleDoneWith("poll"))
	ids := loadStateFile(t, st).Entries
	waitingNote := func(r map[string]any) bool { return r["msg"] == "note" && r["kind"] == "waiting" && r["spec"] == "api" }
	if n := d.count(waitingNote); n != 1 {
		t.Errorf("the waiting note was logged %d times, want once:\n%s", n, d.logs())
	}
	_, metrics := d.get("/metrics")
	for _, want := range []string{
		`certform_orders_waiting{reason="needs_approval"} 1`,
		fmt.Sprintf(`certform_certificate_not_after_timestamp_seconds{name="host00"} %s`, strconv.FormatFloat(float64(ids["host00"].NotAfter.Unix()), 'g', -1, 64)),
		fmt.Sprintf(`certform_order_valid_till_timestamp_seconds{name="host00"} %s`, strconv.FormatFloat(float64(ids["host00"].OrderValidTill.Unix()), 'g', -1, 64)),
		`certform_deliveries_total{result="delivered"} 1`,
		`certform_deliveries_total{result="hook_ok"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if ids["host00"].NotAfter.IsZero() || ids["host00"].OrderValidTill.IsZero() {
		t.Errorf("host00's dates not recorded: %+v", ids["host00"])
	}
	// Approved in CertCentral: the next poll delivers it.
	srv.Approve(ids["api"].OrderID)
	d.waitFor("api's delivery", 1, delivered("api"))
	if diff := cmp.Diff([]string{"host00 " + serialOf(ids["host00"].OrderID), "api " + serialOf(ids["api"].OrderID)}, hookRuns()); diff != "" {
		t.Errorf("hook runs (-want +got):\n%s", diff)
	}
	// DigiCert reissues host00 on its own, and the hook fails: SIGHUP
	// delivers it; the hook runs again after its backoff, once fixed.
	if err := os.WriteFile(fail, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Reissue(ids["host00"].OrderID)
	d.signal(syscall.SIGHUP)
	d.waitFor("the reissued certificate's delivery", 2, delivered("host00"))
	d.waitFor("the failed hook", 1, msg("deploy hook failed"))
	os.Remove(fail)
	d.waitFor("the hook's retry", 1, cycleDoneWith("deploy hook"))
	d.waitFor("the hook's success", 3, msg("deploy hook ran"))
	if runs := hookRuns(); len(runs) != 3 || runs[2] != "host00 "+serialOf(ids["host00"].OrderID) {
		t.Errorf("hook runs: %q", runs)
	}
	if e := loadStateFile(t, st).Entries["host00"]; e.HookPending != "" || e.DeliveredSerial != serialOf(ids["host00"].OrderID) {
		t.Errorf("host00 after the hook's retry: %+v", e)
	}
	// A certificate for another key: refused, the good one stays.
	good, err := os.ReadFile(filepath.Join(certDir, "host00", "fullchain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	srv.IssueWrongKey(ids["host00"].OrderID)
	d.signal(syscall.SIGHUP)
	d.waitFor("the refused delivery", 1, func(r map[string]any) bool {
		e, _ := r["error"].(string)
		return r["msg"] == "delivery failed" && r["level"] == "WARN" && r["spec"] == "host00" &&
			strings.HasSuffix(e, "public key: it is not the key of the spec's CSR; nothing written")
	})
	if now, _ := os.ReadFile(filepath.Join(certDir, "host00", "fullchain.pem")); !bytes.Equal(now, good) {
		t.Error("the refused certificate replaced the good one")
	}
	if runs := hookRuns(); len(runs) != 3 {
		t.Errorf("hook runs after the refused certificate: %q", runs)
	}
	d.signal(syscall.SIGTERM)
	if code := d.waitExit(); code != 0 {
		t.Errorf("exit %d\n%s", code, d.logs())
	}
}
