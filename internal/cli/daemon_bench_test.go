package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certform/certform/daemon"
	"github.com/certform/certform/deliver"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/internal/runner"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// BenchmarkRun_changeToCall measures, for certform run with --debounce
// 200ms, the time from writing a changed spec file to the first API call
// that change causes, once per iteration (run it with -benchtime 30x or
// more). Target: p99 within the quiet period + 100 ms (300 ms). Reported:
// p50-ms and p99-ms.
func BenchmarkRun_changeToCall(b *testing.B) {
	arrived := make(chan time.Time, 16)
	srv := digicerttest.New(e2eKey, digicerttest.WithHook(func(r digicerttest.Request) {
		if r.Method == "PUT" {
			arrived <- time.Now()
		}
	}))
	url := srv.Start()
	defer srv.Close()
	dir := b.TempDir()
	writeSpecs(&testing.T{}, dir, 1)
	spec0 := filepath.Join(dir, "spec00.yaml")
	orig, _ := os.ReadFile(spec0)
	cmd := exec.Command(binary, "run", "--dir", dir, "--state", filepath.Join(b.TempDir(), "s.json"), "--debounce", "200ms", "--log-level", "warn")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DIGICERT_API_KEY=" + e2eKey, "DIGICERT_API_URL=" + url}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	for len(srv.Orders()) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ct := "false"
		if i%2 == 0 {
			ct = "true"
		}
		content := strings.Replace(string(orig), "skip_approval: true\n", "skip_approval: true\ndisable_ct: "+ct+"\n", 1)
		start := time.Now()
		if err := os.WriteFile(spec0, []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-arrived:
			lat = append(lat, at.Sub(start))
		case <-time.After(10 * time.Second):
			b.Fatal("no call after a change")
		}
		time.Sleep(50 * time.Millisecond) // let the cycle finish
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// runningDaemon starts one daemon over r, kept for the whole benchmark as
// certform run keeps one for its life (its metrics, its watcher), and
// waits for its start cycle. cycle runs one more cycle (SIGHUP) and
// returns once it ended, with an error when it had failures; stop ends the
// daemon.
func runningDaemon(b *testing.B, r *reconcile.Reconciler) (cycle func() error, stop func()) {
	b.Helper()
	sigs := make(chan os.Signal, 1)
	ended := make(chan string, 16)
	r.Quiet = 10 * time.Millisecond // the debounce, as certform run sets both
	d, err := daemon.New(daemon.Config{Runner: runner.From(r), Signals: sigs, Debounce: r.Quiet,
		Notify: func(s string) {
			if strings.HasPrefix(s, "STATUS=last cycle") {
				ended <- s
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	wait := func() error {
		select {
		case s := <-ended:
			if !strings.HasPrefix(s, "STATUS=last cycle ok") {
				return fmt.Errorf("the cycle failed: %s", s)
			}
			return nil
		case err := <-done:
			return fmt.Errorf("the daemon ended: %v", err)
		}
	}
	if err := wait(); err != nil {
		cancel()
		b.Fatalf("the start cycle: %v", err)
	}
	cycle = func() error {
		sigs <- syscall.SIGHUP
		return wait()
	}
	stop = func() {
		cancel()
		<-done
	}
	return cycle, stop
}

// BenchmarkRun_noChangeCycle10000 measures the CPU time of one daemon cycle
// over 10,000 specs and a matching state when nothing changed (the spec
// cache is warm and the tree quiet, as in a running daemon; the cycle
// checks the tree is quiet before and after it reads it). One daemon runs
// every cycle (SIGHUP), as certform run does: its metrics and watcher are
// warm too. Target: under
// 100 ms of CPU. Reported: cpu-ms/op (user + system time of the whole
// process, all cores).
func BenchmarkRun_noChangeCycle10000(b *testing.B) { benchNoChangeCycle(b, 10000) }

// BenchmarkRun_noChangeCycle100000 is BenchmarkRun_noChangeCycle10000 over
// 100,000 specs (issue 27: at most 11x the 10,000 figure). Writing the
// tree takes minutes.
func BenchmarkRun_noChangeCycle100000(b *testing.B) { benchNoChangeCycle(b, 100000) }

// benchNoChangeCycle is the body of the no-change cycle benchmarks over n
// specs.
func benchNoChangeCycle(b *testing.B, n int) {
	specs, st := planBenchTreeN(b, n)
	work := filepath.Join(b.TempDir(), "state.json")
	data, err := os.ReadFile(st)
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(work, data, 0o600)
	store, err := state.Open(work)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	r := &reconcile.Reconciler{Dir: specs, Store: store, Cache: spec.NewCache(), Limits: reconcile.Limits{MaxRevocations: 1, MaxPurchases: -1}, Parallelism: 4}
	cycle, stop := runningDaemon(b, r)
	defer stop()
	// The start cycle was the warm-up.
	b.ReportMetric(float64(timedCycles(b, cycle).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkRun_noChangeCycleDelivered10000 measures one daemon cycle as
// certform run makes it (observing CertCentral, delivering into
// --cert-dir, a deploy hook set) over 10,000 specs whose orders are issued,
// observed and delivered, when nothing changed in the specs or in
// CertCentral: the fake is served over HTTP on 127.0.0.1 and holds the
// 10,000 orders. One daemon runs every cycle (SIGHUP), as certform run
// does; its start cycle, whose first call (the feed) is also its check of
// CertCentral, is not measured. Targets: 1 API call per cycle (the status-changes feed)
// and no write call, and 1 call for the start cycle too; CPU under 100 ms.
// Reported: calls/op, writes/op, start-calls and cpu-ms/op (user + system
// time of the whole process, fake included).
func BenchmarkRun_noChangeCycleDelivered10000(b *testing.B) {
	specs, st := planBenchTree(b)
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	now := start
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	srv := digicerttest.New(e2eKey, digicerttest.WithClock(clock))
	url := srv.Start()
	defer srv.Close()
	f, err := state.Read(st)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range f.Entries {
		o, _ := srv.Order(srv.AddOrder(digicerttest.Order{Status: "issued"}))
		e.OrderID, e.CertificateID, e.SerialNumber, e.NotAfter, e.OrderValidTill = o.ID, o.CertificateID, o.SerialNumber, o.NotAfter, o.OrderValidTill
		e.ObservedAt, e.DeliveredAt, e.DeliveredCertificateID, e.DeliveredSerial = start, start, o.CertificateID, o.SerialNumber
	}
	// The orders were made at start; the daemon starts 5 minutes later,
	// one minute after the last observation: the feed of its start cycle
	// reports no change, as a restarted daemon's usually does.
	clockMu.Lock()
	now = start.Add(5 * time.Minute)
	clockMu.Unlock()
	f.ObservedAt = start.Add(4 * time.Minute)
	work := filepath.Join(b.TempDir(), "state.json")
	if err := state.WriteFile(work, f); err != nil {
		b.Fatal(err)
	}
	store, err := state.Open(work)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	client, err := digicert.New(e2eKey, digicert.WithBaseURL(url))
	if err != nil {
		b.Fatal(err)
	}
	client.CheckFirstCall() // as certform run does
	r := &reconcile.Reconciler{Dir: specs, API: client, Store: store, Cache: spec.NewCache(), Limits: reconcile.Limits{MaxRevocations: 1, MaxPurchases: -1}, Parallelism: 4,
		Observe: true, DeliveryOptions: reconcile.DeliveryOptions{CertDir: b.TempDir(), Hook: &deliver.Hook{Command: "exit 1"}}, Now: clock}
	next, stop := runningDaemon(b, r)
	defer stop()
	startCalls := len(srv.Calls())
	cycle := func() error {
		clockMu.Lock()
		now = now.Add(time.Minute)
		clockMu.Unlock()
		return next()
	}
	// The start cycle, and a second one, were the warm-up.
	if err := cycle(); err != nil {
		b.Fatalf("the warm-up cycle: %v", err)
	}
	srv.ResetRequests()
	used := timedCycles(b, cycle)
	b.StopTimer()
	b.ReportMetric(float64(used.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(len(srv.Calls()))/float64(b.N), "calls/op")
	b.ReportMetric(float64(len(writes(srv)))/float64(b.N), "writes/op")
	b.ReportMetric(float64(startCalls), "start-calls")
}

// timedCycles resets the benchmark's timer, runs b.N cycles and returns
// the CPU time (user and system) the process used for them.
func timedCycles(b *testing.B, cycle func() error) time.Duration {
	b.Helper()
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ResetTimer()
	before := cpu()
	for i := 0; i < b.N; i++ {
		if err := cycle(); err != nil {
			b.Fatalf("cycle: %v", err)
		}
	}
	return cpu() - before
}
