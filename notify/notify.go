package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// QueueSize is how many events a receiver holds while it cannot keep up;
// a new event that finds the queue full is dropped (ERROR log, metric).
const QueueSize = 100

// Backoff of the retries: the first wait, doubled after each failure, at
// most maxBackoff.
const (
	firstBackoff = time.Second
	maxBackoff   = time.Minute
)

// Metrics are told about each event a receiver accepted or dropped; nil
// methods are not needed: a nil Metrics counts nothing.
type Metrics interface {
	NotificationSent(receiver string)
	NotificationFailed(receiver string)
}

// Options tune a Notifier; the zero value is the real clock, no log and
// no metrics.
type Options struct {
	Log     *slog.Logger
	Metrics Metrics
	// Now and After are the clock (nil: time.Now and time.After); After
	// waits between retries.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// Notifier queues events for the receivers of a Config and sends them in
// the background. Send is safe for concurrent use and never blocks on a
// receiver.
type Notifier struct {
	cfg       *Config
	log       *slog.Logger
	met       Metrics
	now       func() time.Time
	after     func(time.Duration) <-chan time.Time
	receivers []*queue
	server    string
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu      sync.Mutex // guards pending and idle
	pending int        // events queued or being sent
	idle    chan struct{}
}

// queue is one receiver's queue and its sender.
type queue struct {
	cfg    *ReceiverConfig
	sender sender
	events chan Event
}

// New starts a Notifier: one goroutine per receiver, until Close.
func New(cfg *Config, opt Options) *Notifier {
	n := &Notifier{cfg: cfg, log: opt.Log, met: opt.Metrics, now: opt.Now, after: opt.After}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.now == nil {
		n.now = time.Now
	}
	if n.after == nil {
		n.after = time.After
	}
	n.server, _ = os.Hostname()
	n.ctx, n.cancel = context.WithCancel(context.Background())
	for _, r := range cfg.Receivers {
		q := &queue{cfg: r, sender: newSender(r, n.now), events: make(chan Event, QueueSize)}
		n.receivers = append(n.receivers, q)
		n.wg.Add(1)
		go n.run(q)
	}
	return n
}

// Config returns the Notifier's config.
func (n *Notifier) Config() *Config { return n.cfg }

// Complete fills in what Send adds to an event: an ID, the time, the
// server and a link (Config.OrderURL for an event with an order, else the
// type's documentation), where they are empty.
func (n *Notifier) Complete(e Event) Event {
	if e.ID == "" {
		e.ID = NewID()
	}
	if e.Time.IsZero() {
		e.Time = n.now()
	}
	e.Time = e.Time.UTC()
	if e.Server == "" {
		e.Server = n.server
	}
	if e.Link == "" {
		e.Link = link(n.cfg, e)
	}
	return e
}

// Send queues e (completed, see Complete) for every receiver that wants
// its type, and returns at once.
func (n *Notifier) Send(e Event) {
	e = n.Complete(e)
	for _, q := range n.receivers {
		if !q.cfg.Wants(e.Type) {
			continue
		}
		n.add(1)
		select {
		case q.events <- e:
		default:
			n.add(-1)
			n.log.Error("notification dropped: the receiver's queue is full", "receiver", q.cfg.Name, "type", e.Type, "spec", e.Spec,
				"hint", "the receiver has not accepted events for a while; check it, and certform_notifications_failed_total")
			n.failed(q.cfg.Name)
		}
	}
}

// Result is the outcome of one receiver's test send.
type Result struct {
	Receiver string
	Err      error
}

// Test sends e to every receiver at once, one attempt each (within its
// timeout), and returns each outcome in config order: certform notify
// test.
func (n *Notifier) Test(ctx context.Context, e Event) []Result {
	e = n.Complete(e)
	out := make([]Result, len(n.receivers))
	var wg sync.WaitGroup
	for i, q := range n.receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = Result{Receiver: q.cfg.Name, Err: q.attempt(ctx, e)}
		}()
	}
	wg.Wait()
	return out
}

// add changes the count of events queued or being sent.
func (n *Notifier) add(k int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pending += k
	if n.pending == 0 && n.idle != nil {
		close(n.idle)
		n.idle = nil
	}
}

// Drain waits until every event sent so far was sent or dropped, or ctx
// ends; it reports whether they all were. certform run calls it before it
// exits (with --once, and on SIGTERM with a short deadline).
func (n *Notifier) Drain(ctx context.Context) bool {
	n.mu.Lock()
	if n.pending == 0 {
		n.mu.Unlock()
		return true
	}
	if n.idle == nil {
		n.idle = make(chan struct{})
	}
	idle := n.idle
	n.mu.Unlock()
	select {
	case <-idle:
		return true
	case <-ctx.Done():
		return false
	}
}

// Close stops the senders: events still queued or being retried are
// dropped (logged at WARN). It waits for the goroutines to end.
func (n *Notifier) Close() {
	n.closeOnce.Do(func() {
		n.cancel()
		n.wg.Wait()
	})
}

// run sends q's events one at a time until Close.
func (n *Notifier) run(q *queue) {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			if k := len(q.events); k > 0 {
				n.log.Warn("notifications not sent: certform is stopping", "receiver", q.cfg.Name, "events", k)
			}
			return
		case e := <-q.events:
			n.deliver(q, e)
			n.add(-1)
		}
	}
}

// deliver sends e to q's receiver, retrying what may pass later (no
// answer, a timeout, 408, 429, 5xx, a command that failed) with backoff
// until RetryFor has passed since the first attempt; then, or at once on
// an error that retrying cannot mend, it drops e with an ERROR log and
// the metric.
func (n *Notifier) deliver(q *queue, e Event) {
	start := n.now()
	wait := firstBackoff
	for attempt := 1; ; attempt++ {
		err := q.attempt(n.ctx, e)
		if err == nil {
			if n.met != nil {
				n.met.NotificationSent(q.cfg.Name)
			}
			if attempt > 1 {
				n.log.Info("notification sent after retries", "receiver", q.cfg.Name, "type", e.Type, "id", e.ID, "attempts", attempt)
			}
			return
		}
		if n.ctx.Err() != nil {
			n.log.Warn("notification not sent: certform is stopping", "receiver", q.cfg.Name, "type", e.Type, "id", e.ID)
			return
		}
		var perm *PermanentError
		final := errors.As(err, &perm)
		if !final && n.now().Add(wait).Sub(start) > q.cfg.RetryFor {
			final = true
			err = fmt.Errorf("%w (gave up after %d attempts in %s)", err, attempt, n.now().Sub(start).Round(time.Second))
		}
		if final {
			n.log.Error("notification dropped", "receiver", q.cfg.Name, "type", e.Type, "spec", e.Spec, "id", e.ID, "error", err.Error(),
				"hint", "check the receiver in --notify-config, then try it with certform notify test")
			n.failed(q.cfg.Name)
			return
		}
		n.log.Warn("notification failed; retrying", "receiver", q.cfg.Name, "type", e.Type, "id", e.ID, "attempt", attempt, "error", err.Error(), "in", wait.String())
		select {
		case <-n.ctx.Done():
			n.log.Warn("notification not sent: certform is stopping", "receiver", q.cfg.Name, "type", e.Type, "id", e.ID)
			return
		case <-n.after(wait):
		}
		wait = min(2*wait, maxBackoff)
	}
}

func (n *Notifier) failed(receiver string) {
	if n.met != nil {
		n.met.NotificationFailed(receiver)
	}
}

// attempt sends e once, within the receiver's timeout.
func (q *queue) attempt(ctx context.Context, e Event) error {
	ctx, cancel := context.WithTimeout(ctx, q.cfg.Timeout)
	defer cancel()
	return q.sender.send(ctx, e)
}

// PermanentError is a send that retrying cannot mend, such as a 4xx
// answer other than 408 and 429.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// link returns an event's link: the order in CertCentral when order_url
// is set and the event has an order, else the type's documentation.
func link(c *Config, e Event) string {
	if c != nil && c.OrderURL != "" && e.OrderID != 0 {
		return replaceOrderID(c.OrderURL, e.OrderID)
	}
	return DocsURL + "#" + e.Type
}
