package daemon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certform/certform/deliver"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/notify"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec/spectest"
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
// folder and a deploy hook that fails.
func eventRig(t *testing.T, n Notifier) (*Daemon, *fakeClock, *digicerttest.Server) {
	t.Helper()
	clock := newFakeClock()
	srv := digicerttest.New("daemon-key", digicerttest.WithClock(clock.Now))
	url := srv.Start()
	t.Cleanup(srv.Close)
	api, err := digicert.New("daemon-key", digicert.WithBaseURL(url), digicert.WithRetry(digicert.Retry{}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, s := range []struct{ name, extra string }{{"shop", "skip_approval: true\n"}, {"api", ""}} {
		csr, err := spectest.CSR(s.name + ".example.com")
		if err != nil {
			t.Fatal(err)
		}
		yaml := "name: " + s.name + "\ncommon_name: " + s.name + ".example.com\norganization_id: 1\n" + s.extra + "csr: |\n" + spectest.Indent(csr)
		if err := os.WriteFile(filepath.Join(dir, s.name+".yaml"), []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := &reconcile.Reconciler{Dir: dir, API: api, Observe: true, MaxRevocations: 1, MaxPurchases: 2, CertDir: t.TempDir(),
		Hook: &deliver.Hook{Command: "echo reload refused >&2; exit 3", Timeout: 10 * time.Second}, HookBackoff: time.Hour}
	d, c, logs, _ := newTestDaemonClock(t, Config{Reconciler: r, Notifier: n}, clock)
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
