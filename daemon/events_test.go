package daemon

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certform/certform/daemon/serve/servetest"
	"github.com/certform/certform/dcv"
	"github.com/certform/certform/deliver"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/internal/dnstest"
	"github.com/certform/certform/internal/runner"
	"github.com/certform/certform/notify"
	"github.com/certform/certform/reconcile"
	"github.com/google/go-cmp/cmp"
)

// recorder is a Notifier that keeps the events sent.
type recorder struct {
	mu  sync.Mutex
	cfg *notify.Config
	got []notify.Event
}

func newRecorder() *recorder {
	return &recorder{cfg: &notify.Config{FailedAfter: 3, ExpiringDays: 14, DCVExpiringDays: 14, WaitingHours: 24, Reminder: 24 * time.Hour}}
}

func (r *recorder) Send(e notify.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, e)
}

func (r *recorder) Config() *notify.Config { return r.cfg }

// take returns the events sent since the last take, as "type spec:
// message".
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.got {
		out = append(out, e.Type+" "+e.Spec+": "+e.Message)
	}
	r.got = nil
	return out
}

// eventRig is a daemon against the fake CertCentral, with a spec that is
// issued at once (shop), one that waits for approval (api), a certificate
// folder and a deploy hook that fails; opts configure the fake.
func eventRig(t *testing.T, n Notifier, opts ...digicerttest.Option) (*Daemon, *fakeClock, *digicerttest.Server) {
	t.Helper()
	clock := newFakeClock()
	srv, api := fakeCertCentral(t, append([]digicerttest.Option{digicerttest.WithClock(clock.Now)}, opts...)...)
	dir := t.TempDir()
	writeSpec(t, dir, "shop", "skip_approval: true\n")
	writeSpec(t, dir, "api", "")
	r := &reconcile.Reconciler{Dir: dir, API: api, Observe: true, Limits: reconcile.Limits{MaxRevocations: 1, MaxPurchases: 2},
		DeliveryOptions: reconcile.DeliveryOptions{CertDir: t.TempDir(),
			Hook: &deliver.Hook{Command: "echo reload refused >&2; exit 3", Timeout: 10 * time.Second}, HookBackoff: time.Hour}}
	d, c, logs, _ := newTestDaemonClock(t, Config{Runner: runner.From(r), Notifier: n}, clock)
	r.Now = c.Now
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.buf.String())
		}
	})
	return d, c, srv
}

// TestDaemon_notifications: a cycle sends delivered and hook_failed; the
// same events are not sent again by the next cycles; an order waiting for
// approval for more than waiting_hours sends waiting once, then a
// reminder a day later.
func TestDaemon_notifications(t *testing.T) {
	rec := newRecorder()
	d, clock, srv := eventRig(t, rec)
	ctx := context.Background()
	d.cycle(ctx, trigger{reasons: []string{reasonStart}})
	d.cycle(ctx, trigger{reasons: []string{reasonPoll}})
	got := rec.take()
	if len(got) != 2 || !strings.HasPrefix(got[0], "delivered shop: certificate ") ||
		got[1] != "hook_failed shop: the deploy hook for certificate "+strings.Fields(got[0])[3]+" failed: deploy hook exited with status 3" {
		t.Fatalf("events after the first cycles: %q", got)
	}
	d.cycle(ctx, trigger{reasons: []string{reasonPoll}})
	if got := rec.take(); len(got) != 0 {
		t.Errorf("events sent again: %q", got)
	}
	// A day later: the hook ran again after its backoff and failed the
	// same way (a reminder), and api has waited for approval too long.
	clock.Advance(25 * time.Hour)
	d.cycle(ctx, trigger{reasons: []string{reasonPoll}})
	got = rec.take()
	if len(got) != 2 || !strings.HasPrefix(got[0], "hook_failed shop: ") || !strings.HasSuffix(got[0], "failed: deploy hook exited with status 3 (reminder)") ||
		!strings.HasPrefix(got[1], "waiting api: order ") || !strings.HasSuffix(got[1], " has waited for an administrator's approval since 2026-03-01T12:00:00Z") {
		t.Errorf("events a day later: %q", got)
	}
	d.cycle(ctx, trigger{reasons: []string{reasonPoll}})
	if got := rec.take(); len(got) != 0 {
		t.Errorf("events sent again: %q", got)
	}
	// Approved: the waiting event is over; the certificate is delivered
	// (and its hook fails).
	for _, o := range srv.Orders() { // the two orders were placed in parallel
		if o.CommonName == "api.example.com" {
			srv.Approve(o.ID)
		}
	}
	d.cycle(ctx, trigger{reasons: []string{reasonPoll}})
	if got := rec.take(); len(got) != 2 || !strings.HasPrefix(got[0], "delivered api: certificate ") || !strings.HasPrefix(got[1], "hook_failed api: ") {
		t.Errorf("events once approved: %q", got)
	}
}

// TestDaemon_hangingReceiver: a webhook receiver that never answers
// does not delay the cycles: each one ends while the receiver still
// holds the first request.
func TestDaemon_hangingReceiver(t *testing.T) {
	hold := make(chan struct{})
	got := make(chan struct{}, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- struct{}{}
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(rcv.Close)
	t.Cleanup(func() { close(hold) })
	n := notify.New(&notify.Config{FailedAfter: 3, ExpiringDays: 14, WaitingHours: 24, Reminder: 24 * time.Hour,
		Receivers: []*notify.ReceiverConfig{{Name: "hangs", Kind: notify.KindWebhook, URL: rcv.URL, Timeout: time.Hour, RetryFor: time.Hour}}}, notify.Options{})
	t.Cleanup(n.Close)
	d, clock, _ := eventRig(t, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.cycle(context.Background(), trigger{reasons: []string{reasonStart}})
		<-got // the receiver holds the first event
		for range 3 {
			clock.Advance(time.Hour)
			d.cycle(context.Background(), trigger{reasons: []string{reasonPoll}})
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the cycles waited for a receiver that hangs")
	}
	if d.cycles != 4 {
		t.Errorf("%d cycles ran", d.cycles)
	}
}

// TestDaemon_notifyCycleFailed: while CertCentral cannot be reached,
// the third failed cycle in a row sends one failed event; the next
// failures the same way send nothing more.
func TestDaemon_notifyCycleFailed(t *testing.T) {
	rec := newRecorder()
	d, _, srv := eventRig(t, rec)
	srv.Close()
	for i := range 4 {
		d.cycle(context.Background(), trigger{reasons: []string{reasonRetry}})
		got := rec.take()
		switch {
		case i == 2 && (len(got) != 1 || !strings.HasPrefix(got[0], "failed : 3 cycles in a row failed: CertCentral cannot be reached or refuses the key: ")):
			t.Errorf("events of the third failed cycle: %q", got)
		case i != 2 && len(got) != 0:
			t.Errorf("events of failed cycle %d: %q", i+1, got)
		}
	}
}

// TestDaemon_notifyOutageOnce: an outage whose errors differ only in
// addresses, ports, retries and durations is one cause, whether the cycle
// or the check before it failed: with failed_after 1, three failed cycles
// send one failed event, a different cause (the key refused) a second,
// and the same cause a reminder once reminder has passed.
func TestDaemon_notifyOutageOnce(t *testing.T) {
	rec := newRecorder()
	rec.cfg.FailedAfter = 1
	d, clock, srv := eventRig(t, rec)
	d.cycle(context.Background(), trigger{reasons: []string{reasonStart}})
	rec.take()
	fail := func(f digicerttest.Fault) []string {
		t.Helper()
		srv.ClearFaults()
		srv.Inject(f)
		d.cycle(context.Background(), trigger{reasons: []string{reasonRetry}})
		return rec.take()
	}
	outage := func(i int) digicerttest.Fault {
		return digicerttest.Fault{Status: 503, Message: fmt.Sprintf("read tcp 10.0.0.7:%d->10.0.0.9:443: connection reset (gave up after %d attempts in %s)",
			48812+i, 9+i, []string{"47.846s", "1m2.5s", "850ms"}[i])}
	}
	// The first failure is the cycle's, the next ones the check's before
	// the cycle (CertCentral cannot be reached).
	want := "failed : 1 cycles in a row failed: reading what changed in CertCentral: digicert: 503 service_unavailable: " +
		"read tcp 10.0.0.7:48812->10.0.0.9:443: connection reset (gave up after 9 attempts in 47.846s)"
	if diff := cmp.Diff([]string{want}, fail(outage(0))); diff != "" {
		t.Errorf("events of the first failed cycle (-want +got):\n%s", diff)
	}
	for i := 1; i < 3; i++ {
		if got := fail(outage(i)); len(got) != 0 {
			t.Errorf("events of failed cycle %d, the same outage: %q", i+1, got)
		}
	}
	refused := digicerttest.Fault{Status: 401, Code: "access_denied", Message: "Invalid API key."}
	const denied = "failed : %d cycles in a row failed: CertCentral cannot be reached or refuses the key: digicert: 401 access_denied: Invalid API key.%s"
	if diff := cmp.Diff([]string{fmt.Sprintf(denied, 4, "")}, fail(refused)); diff != "" {
		t.Errorf("events of another cause (-want +got):\n%s", diff)
	}
	if got := fail(refused); len(got) != 0 {
		t.Errorf("events of the same cause again: %q", got)
	}
	clock.Advance(rec.cfg.Reminder)
	if diff := cmp.Diff([]string{fmt.Sprintf(denied, 6, " (reminder)")}, fail(refused)); diff != "" {
		t.Errorf("events once reminder passed (-want +got):\n%s", diff)
	}
}

// dcvEvents returns the dcv_expiring events sent since the last take, as
// "domain: message" (with what is wrong if one lacks a hint or names a
// spec or order), and forgets all events.
func (r *recorder) dcvEvents() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.got {
		if e.Type == notify.TypeDCVExpiring {
			line := e.Domain + ": " + e.Message
			if e.Hint == "" || e.Spec != "" || e.OrderID != 0 {
				line += fmt.Sprintf(" (bad event: hint %q, spec %q, order %d)", e.Hint, e.Spec, e.OrderID)
			}
			out = append(out, line)
		}
	}
	r.got = nil
	return out
}

// TestDaemon_domainValidation: with a DCV config, each cycle sets the
// validation end of each account domain a spec uses (not of the others)
// and the names waiting on validation; a domain whose validation ends
// within dcv_expiring_days sends one dcv_expiring event, not sent again
// by the next cycle, and a reminder a day later.
func TestDaemon_domainValidation(t *testing.T) {
	rec := newRecorder()
	d, clock, srv := eventRig(t, rec)
	dir := t.TempDir()
	conf := filepath.Join(dir, "dcv.yaml")
	// No zone can revalidate example.com (a web root serves only
	// http-token): it is left to end.
	if err := os.WriteFile(conf, []byte("providers:\n  web: {type: webroot, path: "+dir+"}\nzones:\n  example.com: web\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := dcv.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	reconcilerOf(d).DCV = &reconcile.Validation{Config: cfg}
	start := clock.Now()
	srv.AddDomain("example.com", start.Add(10*24*time.Hour))
	srv.AddDomain("example.org", start.Add(5*24*time.Hour)) // no spec uses it
	srv.AddDomain("example.net", start.Add(100*24*time.Hour))
	ctx := context.Background()
	d.cycle(ctx, trigger{reasons: []string{reasonStart}})
	end := start.Add(10 * 24 * time.Hour)
	want := []string{fmt.Sprintf("domain=example.com,validation=: %v", float64(end.Unix()))}
	if diff := cmp.Diff(want, servetest.Gauges(t, d.met.Gatherer(), "certform_domain_validation_expiry_timestamp_seconds")); diff != "" {
		t.Errorf("expiry series (-want +got):\n%s", diff)
	}
	// The orders were placed after the plan read their validation.
	if diff := cmp.Diff([]string{": 0"}, servetest.Gauges(t, d.met.Gatherer(), "certform_domain_validation_names_waiting")); diff != "" {
		t.Errorf("names waiting after the first cycle (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"example.com: the validation of domain example.com ends at 2026-03-11T12:00:00Z (10 days)"}, rec.dcvEvents()); diff != "" {
		t.Fatalf("events of the first cycle (-want +got):\n%s", diff)
	}
	d.cycle(ctx, trigger{reasons: []string{reasonPoll}})
	if got := rec.dcvEvents(); len(got) != 0 {
		t.Errorf("sent again: %q", got)
	}
	// api waits for approval; its name is validated through example.com.
	if diff := cmp.Diff([]string{": 0"}, servetest.Gauges(t, d.met.Gatherer(), "certform_domain_validation_names_waiting")); diff != "" {
		t.Errorf("names waiting (-want +got):\n%s", diff)
	}
	clock.Advance(25 * time.Hour)
	d.cycle(ctx, trigger{reasons: []string{reasonPoll}})
	if diff := cmp.Diff([]string{"example.com: the validation of domain example.com ends at 2026-03-11T12:00:00Z (8 days) (reminder)"}, rec.dcvEvents()); diff != "" {
		t.Errorf("events a day later (-want +got):\n%s", diff)
	}
	d.cycle(ctx, trigger{reasons: []string{reasonPoll}})
	if got := rec.dcvEvents(); len(got) != 0 {
		t.Errorf("reminder sent again: %q", got)
	}
	// Once example.com's validation has ended, api's name waits on
	// validation; the event says it ended (a day after the reminder).
	clock.Advance(10 * 24 * time.Hour)
	d.cycle(ctx, trigger{reasons: []string{reasonPoll}})
	if diff := cmp.Diff([]string{": 1"}, servetest.Gauges(t, d.met.Gatherer(), "certform_domain_validation_names_waiting")); diff != "" {
		t.Errorf("names waiting after the end (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"example.com: the validation of domain example.com ended at 2026-03-11T12:00:00Z (reminder)"}, rec.dcvEvents()); diff != "" {
		t.Errorf("events after the end (-want +got):\n%s", diff)
	}
}

// TestDaemon_domainRevalidatedNoEvent: a domain that the cycle
// revalidates sends no dcv_expiring event, though the plan read its old
// end; the next cycle shows the new end.
func TestDaemon_domainRevalidatedNoEvent(t *testing.T) {
	ns := dnstest.Start(t)
	rec := newRecorder()
	d, clock, srv := eventRig(t, rec, digicerttest.WithDNSResolver(ns.Addr))
	conf := filepath.Join(t.TempDir(), "dcv.yaml")
	yaml := fmt.Sprintf("providers:\n  corp: {type: rfc2136, server: %q, tsig_key: %s, tsig_secret_file: %s, nameservers: [%q]}\nzones:\n  example.com: corp\n",
		ns.Addr, ns.KeyName, ns.SecretFile, ns.Addr)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := dcv.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	reconcilerOf(d).DCV = &reconcile.Validation{Config: cfg, Waiter: &dcv.Waiter{Timeout: time.Minute, Now: clock.Now,
		Sleep: func(context.Context, time.Duration) error {
			t.Error("the propagation wait slept: Knot answers at once")
			return nil
		}}}
	id := srv.AddDomain("example.com", clock.Now().Add(10*24*time.Hour))
	ctx := context.Background()
	d.cycle(ctx, trigger{reasons: []string{reasonStart}})
	if dm, _ := srv.DomainByID(id); dm.Validations != 1 {
		t.Fatalf("validations %d, want 1", dm.Validations)
	}
	if got := rec.dcvEvents(); len(got) != 0 {
		t.Errorf("events of the cycle that revalidated: %q", got)
	}
	d.cycle(ctx, trigger{reasons: []string{reasonPoll}})
	if got := rec.dcvEvents(); len(got) != 0 {
		t.Errorf("events after the revalidation: %q", got)
	}
	end := clock.Now().Add(digicerttest.DomainValidationPeriod)
	want := []string{fmt.Sprintf("domain=example.com,validation=: %v", float64(end.Unix()))}
	if diff := cmp.Diff(want, servetest.Gauges(t, d.met.Gatherer(), "certform_domain_validation_expiry_timestamp_seconds")); diff != "" {
		t.Errorf("expiry series (-want +got):\n%s", diff)
	}
}

// TestFailureCause: failures that differ only in addresses, ports,
// retries and durations, or in the step that made the failing call (the
// check before the cycle, the cycle), have one cause (the key of their
// failed event, a spec's too); another error has another.
func TestFailureCause(t *testing.T) {
	const call = "digicert: GET /order/certificate/status-changes: read tcp 127.0.0.1:%d->127.0.0.1:18932: read: connection reset by peer %s"
	same := []string{
		"reading what changed in CertCentral: " + fmt.Sprintf(call, 42244, "(gave up after 11 attempts in 55.702s)"),
		"CertCentral cannot be reached or refuses the key: digicert: CertCentral at http://127.0.0.1:18932/services/v2 did not answer within 15s: " +
			fmt.Sprintf(call, 60476, "(gave up after 6 attempts in 1m1.248s)"),
		"reading what changed in CertCentral: " + fmt.Sprintf(call, 60310, "(retry cancelled: context canceled)"),
	}
	for _, why := range same[1:] {
		if failureCause(why) != failureCause(same[0]) {
			t.Errorf("causes differ:\n%s\n%s", failureCause(why), failureCause(same[0]))
		}
	}
	for _, other := range []string{
		"CertCentral cannot be reached or refuses the key: digicert: 401 access_denied: Invalid API key.",
		"reading what changed in CertCentral: digicert: GET /order/certificate/status-changes: dial tcp 127.0.0.1:18932: connect: connection refused",
		"renew: open /var/lib/certform/state.json: permission denied",
	} {
		if failureCause(other) == failureCause(same[0]) {
			t.Errorf("%q has the cause of %q", other, same[0])
		}
	}
}
