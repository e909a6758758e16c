package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testSecret is a Standard Webhooks secret as a receiver's secret_file
// holds it.
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// verify checks a Standard Webhooks request as a receiver would, written
// from the spec (standardwebhooks.com): the secret is the base64 after
// "whsec_"; the signed content is id.timestamp.body; webhook-signature is a
// space-separated list of "v1,<base64 HMAC-SHA256>"; the timestamp is
// within 5 minutes of now.
func verify(secret string, h http.Header, body []byte, now time.Time) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		v, b64, ok := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if ok && v == "v1" && err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// request is one request a test receiver got.
type request struct {
	header http.Header
	body   []byte
}

// receiver is a local HTTP receiver on 127.0.0.1 answering each request
// with the next of codes (200 once they run out).
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	got   []request
	codes []int
	// block, when not nil, holds every request until it is closed.
	block chan struct{}
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	r := &receiver{codes: codes}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, request{req.Header.Clone(), body})
		code := 200
		if len(r.codes) > 0 {
			code, r.codes = r.codes[0], r.codes[1:]
		}
		block := r.block
		r.mu.Unlock()
		if block != nil {
			select {
			case <-block:
			case <-req.Context().Done():
			}
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.got...)
}

// fakeTime is the clock of a Notifier under test: After records each
// wait, moves the time on by it and fires at once.
type fakeTime struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func newFakeTime() *fakeTime { return &fakeTime{now: time.Now().Truncate(time.Second)} }

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, d)
	f.now = f.now.Add(d)
	c := make(chan time.Time, 1)
	c <- f.now
	return c
}

func (f *fakeTime) Waits() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.waits...)
}

// countMetrics counts NotificationSent and NotificationFailed by receiver.
type countMetrics struct {
	mu           sync.Mutex
	sent, failed map[string]int
	done         chan string
}

func newCountMetrics() *countMetrics {
	return &countMetrics{sent: map[string]int{}, failed: map[string]int{}, done: make(chan string, 100)}
}

func (m *countMetrics) NotificationSent(r string) {
	m.mu.Lock()
	m.sent[r]++
	m.mu.Unlock()
	m.done <- r
}

func (m *countMetrics) NotificationFailed(r string) {
	m.mu.Lock()
	m.failed[r]++
	m.mu.Unlock()
	m.done <- r
}

// wait waits until n events were sent or dropped.
func (m *countMetrics) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-m.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("no event sent or dropped within 10s")
		}
	}
}

// logBuf is a JSON log.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newNotifier(t *testing.T, rcs ...*ReceiverConfig) (*Notifier, *fakeTime, *countMetrics, *logBuf) {
	t.Helper()
	for _, r := range rcs {
		if r.Timeout == 0 {
			r.Timeout = 5 * time.Second
		}
		if r.RetryFor == 0 {
			r.RetryFor = DefaultRetryFor
		}
	}
	ft, met, logs := newFakeTime(), newCountMetrics(), &logBuf{}
	n := New(&Config{Receivers: rcs}, Options{Log: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: met, Now: ft.Now, After: ft.After})
	t.Cleanup(n.Close)
	return n, ft, met, logs
}

func testEvent() Event {
	return Event{Type: TypeFailed, Spec: "shop", OrderID: 1234, Message: "delivery failed 3 times in a row: wrong key", Hint: "check the CSR"}
}

// TestWebhook_signed: the generic webhook POSTs the event as JSON with
// webhook-id, webhook-timestamp and a webhook-signature that a Standard
// Webhooks verifier accepts (and rejects with another secret).
func TestWebhook_signed(t *testing.T) {
	rcv := newReceiver(t)
	key, _ := decodeSecret(testSecret)
	n, ft, met, _ := newNotifier(t, &ReceiverConfig{Name: "ops", Kind: KindWebhook, URL: rcv.URL + "/hook", Secret: key})
	n.Send(testEvent())
	met.wait(t, 1)
	reqs := rcv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if !verify(testSecret, r.header, r.body, ft.Now()) {
		t.Errorf("the signature does not verify: %v", r.header)
	}
	if verify("whsec_"+base64.StdEncoding.EncodeToString([]byte("another secret of 24 bytes")), r.header, r.body, ft.Now()) {
		t.Error("the signature verifies with another secret")
	}
	if !strings.HasPrefix(r.header.Get("webhook-id"), "msg_") || r.header.Get("webhook-timestamp") != strconv.FormatInt(ft.Now().Unix(), 10) ||
		r.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", r.header)
	}
	var e Event
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	want := Event{ID: r.header.Get("webhook-id"), Type: "failed", Time: ft.Now().UTC(), Spec: "shop", OrderID: 1234, Message: "delivery failed 3 times in a row: wrong key",
		Hint: "check the CSR", Link: DocsURL + "#failed", Server: host}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if met.sent["ops"] != 1 {
		t.Errorf("sent %v", met.sent)
	}
}

// TestSlackAndTeams_payloads: the exact shapes posted to a Slack
// incoming webhook and a Teams Workflows webhook.
func TestSlackAndTeams_payloads(t *testing.T) {
	slack, teams := newReceiver(t), newReceiver(t)
	n, _, met, _ := newNotifier(t, &ReceiverConfig{Name: "team", Kind: KindSlack, URL: slack.URL}, &ReceiverConfig{Name: "chat", Kind: KindTeams, URL: teams.URL})
	e := testEvent()
	e.ID, e.Time, e.Server, e.Link = "msg_1", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), "cf1", "https://example.com/o/1234"
	n.Send(e)
	met.wait(t, 2)
	decode := func(rcv *receiver) any {
		reqs := rcv.requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		if reqs[0].header.Get("webhook-signature") != "" {
			t.Error("a chat webhook got a signature")
		}
		var v any
		if err := json.Unmarshal(reqs[0].body, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	wantSlack := map[string]any{
		"text": "certform failed: shop (order 1234): delivery failed 3 times in a row: wrong key",
		"blocks": []any{
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*certform failed: shop (order 1234)*\ndelivery failed 3 times in a row: wrong key\nhint: check the CSR"}},
			map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn", "text": "2026-03-01T12:00:00Z on cf1 · <https://example.com/o/1234|details>"}}},
		},
	}
	if diff := cmp.Diff(wantSlack, decode(slack)); diff != "" {
		t.Errorf("slack payload (-want +got):\n%s", diff)
	}
	wantTeams := map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content": map[string]any{
				"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
				"body": []any{
					map[string]any{"type": "TextBlock", "text": "certform failed: shop (order 1234)", "weight": "Bolder", "size": "Medium", "wrap": true},
					map[string]any{"type": "TextBlock", "text": "delivery failed 3 times in a row: wrong key", "wrap": true},
					map[string]any{"type": "TextBlock", "text": "hint: check the CSR", "wrap": true, "isSubtle": true},
					map[string]any{"type": "FactSet", "facts": []any{map[string]any{"title": "time", "value": "2026-03-01T12:00:00Z"}, map[string]any{"title": "server", "value": "cf1"}}},
				},
				"actions": []any{map[string]any{"type": "Action.OpenUrl", "title": "Details", "url": "https://example.com/o/1234"}},
			},
		}},
	}
	if diff := cmp.Diff(wantTeams, decode(teams)); diff != "" {
		t.Errorf("teams payload (-want +got):\n%s", diff)
	}
}

// TestSend_retries: 503, 429 and no answer in time are retried with
// backoff (1s, 2s, 4s) under the same webhook-id, each attempt signed
// again; a 400 is not retried; a receiver that keeps failing past
// retry_for is dropped with an ERROR log and the failed metric. The
// receiver's URL never appears in the log.
func TestSend_retries(t *testing.T) {
	key, _ := decodeSecret(testSecret)
	t.Run("then accepted", func(t *testing.T) {
		rcv := newReceiver(t, 503, 429, 500)
		n, ft, met, logs := newNotifier(t, &ReceiverConfig{Name: "ops", Kind: KindWebhook, URL: rcv.URL + "/secret-token-123", Secret: key})
		n.Send(testEvent())
		met.wait(t, 1)
		reqs := rcv.requests()
		if len(reqs) != 4 || met.sent["ops"] != 1 || met.failed["ops"] != 0 {
			t.Fatalf("%d requests, sent %v, failed %v", len(reqs), met.sent, met.failed)
		}
		if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, ft.Waits()); diff != "" {
			t.Errorf("waits (-want +got):\n%s", diff)
		}
		for i, r := range reqs {
			if r.header.Get("webhook-id") != reqs[0].header.Get("webhook-id") {
				t.Errorf("attempt %d has another webhook-id", i+1)
			}
		}
		if !verify(testSecret, reqs[3].header, reqs[3].body, ft.Now()) {
			t.Error("the last attempt's signature does not verify at its time")
		}
		if strings.Contains(logs.String(), "secret-token-123") || strings.Contains(logs.String(), rcv.URL) {
			t.Errorf("the log names the receiver's URL:\n%s", logs)
		}
	})
	t.Run("400 not retried", func(t *testing.T) {
		rcv := newReceiver(t, 400)
		n, ft, met, logs := newNotifier(t, &ReceiverConfig{Name: "ops", Kind: KindWebhook, URL: rcv.URL})
		n.Send(testEvent())
		met.wait(t, 1)
		if len(rcv.requests()) != 1 || met.failed["ops"] != 1 || len(ft.Waits()) != 0 {
			t.Errorf("%d requests, failed %v, waits %v", len(rcv.requests()), met.failed, ft.Waits())
		}
		if !strings.Contains(logs.String(), `"level":"ERROR","msg":"notification dropped","receiver":"ops","type":"failed","spec":"shop"`) ||
			!strings.Contains(logs.String(), `"error":"the receiver answered 400 Bad Request"`) {
			t.Errorf("log:\n%s", logs)
		}
	})
	t.Run("dropped after retry_for", func(t *testing.T) {
		rcv := newReceiver(t, 503, 503, 503, 503, 503, 503, 503, 503)
		n, ft, met, logs := newNotifier(t, &ReceiverConfig{Name: "ops", Kind: KindWebhook, URL: rcv.URL, RetryFor: 10 * time.Second})
		n.Send(testEvent())
		met.wait(t, 1)
		// Waits of 1s, 2s and 4s: 7s; the next 8s would pass 10s.
		if len(rcv.requests()) != 4 || met.failed["ops"] != 1 || met.sent["ops"] != 0 {
			t.Errorf("%d requests, failed %v, sent %v, waits %v", len(rcv.requests()), met.failed, met.sent, ft.Waits())
		}
		if !strings.Contains(logs.String(), `"error":"the receiver answered 503 Service Unavailable (gave up after 4 attempts in 7s)"`) {
			t.Errorf("log:\n%s", logs)
		}
	})
	t.Run("a timeout is retried", func(t *testing.T) {
		rcv := newReceiver(t)
		rcv.block = make(chan struct{})
		n, _, met, logs := newNotifier(t, &ReceiverConfig{Name: "ops", Kind: KindWebhook, URL: rcv.URL, Timeout: 50 * time.Millisecond, RetryFor: 2 * time.Second})
		n.Send(testEvent())
		met.wait(t, 1)
		close(rcv.block)
		if len(rcv.requests()) != 2 || met.failed["ops"] != 1 || !strings.Contains(logs.String(), `"error":"no answer within 50ms (gave up after 2 attempts in 1s)"`) {
			t.Errorf("%d requests, failed %v, log:\n%s", len(rcv.requests()), met.failed, logs)
		}
	})
}

// TestSend_hangingReceiverNeverBlocks: Send returns at once while a
// receiver hangs; once its queue is full, new events for it are dropped
// (ERROR, metric) and the other receiver still gets every event.
func TestSend_hangingReceiverNeverBlocks(t *testing.T) {
	hang, ok := newReceiver(t), newReceiver(t)
	hang.block = make(chan struct{})
	defer close(hang.block)
	n, _, met, logs := newNotifier(t, &ReceiverConfig{Name: "hangs", Kind: KindWebhook, URL: hang.URL, Timeout: time.Hour},
		&ReceiverConfig{Name: "ok", Kind: KindSlack, URL: ok.URL})
	done := make(chan struct{})
	go func() {
		defer close(done)
		// One in flight at hangs, then a full queue there; ok keeps up
		// (each batch fits its queue, and it is drained before the next).
		n.Send(testEvent())
		met.wait(t, 1)
		for range QueueSize {
			n.Send(testEvent())
		}
		met.wait(t, QueueSize)
		for range 4 {
			n.Send(testEvent())
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Send blocked on a receiver that hangs")
	}
	// ok gets all of them; hangs drops the last 4.
	met.wait(t, 8)
	met.mu.Lock()
	defer met.mu.Unlock()
	if met.sent["ok"] != QueueSize+5 || met.failed["hangs"] != 4 || met.failed["ok"] != 0 {
		t.Errorf("sent %v, failed %v", met.sent, met.failed)
	}
	if c := strings.Count(logs.String(), "notification dropped: the receiver's queue is full"); c != 4 {
		t.Errorf("%d queue-full records, want 4", c)
	}
}

// TestExec: an exec receiver runs its command with the event as JSON on
// stdin and its type and id in the environment; a failing command is
// retried, and its output is in the error.
func TestExec(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := filepath.Join(dir, "page")
	os.WriteFile(script, []byte("#!/bin/sh\n{ echo \"$CERTFORM_EVENT_TYPE $CERTFORM_EVENT_ID\"; cat; } > "+out+"\n"), 0o700)
	n, _, met, _ := newNotifier(t, &ReceiverConfig{Name: "pager", Kind: KindExec, Command: script})
	e := testEvent()
	e.ID = "msg_42"
	n.Send(e)
	met.wait(t, 1)
	got, _ := os.ReadFile(out)
	line, body, _ := strings.Cut(string(got), "\n")
	var ev Event
	if err := json.Unmarshal([]byte(body), &ev); err != nil || line != "failed msg_42" || ev.Spec != "shop" || ev.ID != "msg_42" || met.sent["pager"] != 1 {
		t.Errorf("the command got %q (%v)", got, err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("#!/bin/sh\necho pager down >&2\nexit 3\n"), 0o700)
	n2, _, met2, logs := newNotifier(t, &ReceiverConfig{Name: "pager", Kind: KindExec, Command: bad, RetryFor: 2 * time.Second})
	n2.Send(e)
	met2.wait(t, 1)
	if met2.failed["pager"] != 1 || !strings.Contains(logs.String(), `"error":"`+bad+`: exit status 3: pager down (gave up after 2 attempts in 1s)"`) {
		t.Errorf("failed %v, log:\n%s", met2.failed, logs)
	}
}

// TestTest: Test sends a test event to each receiver once, even one that
// lists other events, and reports each outcome.
func TestTest(t *testing.T) {
	good, bad := newReceiver(t), newReceiver(t, 404)
	n, _, _, _ := newNotifier(t, &ReceiverConfig{Name: "a", Kind: KindWebhook, URL: good.URL, Events: []string{TypeDelivered}},
		&ReceiverConfig{Name: "b", Kind: KindSlack, URL: bad.URL})
	res := n.Test(context.Background(), Event{Type: TypeTest, Message: "a test"})
	if len(res) != 2 || res[0].Receiver != "a" || res[0].Err != nil || res[1].Receiver != "b" || res[1].Err == nil || res[1].Err.Error() != "the receiver answered 404 Not Found" {
		t.Errorf("results %+v", res)
	}
	var e Event
	json.Unmarshal(good.requests()[0].body, &e)
	if e.Type != "test" || e.Message != "a test" {
		t.Errorf("test event %+v", e)
	}
}

// TestDrain: Drain returns once the queued events were sent, and false
// when its context ends first.
func TestDrain(t *testing.T) {
	rcv := newReceiver(t)
	rcv.block = make(chan struct{})
	n, _, _, _ := newNotifier(t, &ReceiverConfig{Name: "ops", Kind: KindWebhook, URL: rcv.URL})
	if !n.Drain(context.Background()) {
		t.Error("Drain with nothing queued")
	}
	n.Send(testEvent())
	n.Send(testEvent())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n.Drain(ctx) {
		t.Error("Drain reported sent while the receiver holds the first")
	}
	close(rcv.block)
	if !n.Drain(context.Background()) || len(rcv.requests()) != 2 {
		t.Errorf("after Drain: %d requests", len(rcv.requests()))
	}
}
