package digicert_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/google/go-cmp/cmp"
)

// fakeTime is a client's clock and sleep for tests of waits: each sleep
// advances the clock at once and is recorded, with the time it began.
type fakeTime struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

// useFakeTime gives c a fake clock, starting now, and returns it.
func useFakeTime(c *digicert.Client) *fakeTime {
	ft := &fakeTime{now: time.Now()}
	digicert.SetClock(c, ft.Now, ft.sleep)
	return ft
}

// Now returns the fake time.
func (ft *fakeTime) Now() time.Time {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.now
}

func (ft *fakeTime) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.slept = append(ft.slept, d)
	ft.now = ft.now.Add(d)
	return nil
}

// Slept returns the sleeps so far.
func (ft *fakeTime) Slept() []time.Duration {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return append([]time.Duration(nil), ft.slept...)
}

// Total returns the time slept so far.
func (ft *fakeTime) Total() time.Duration {
	var d time.Duration
	for _, s := range ft.Slept() {
		d += s
	}
	return d
}

// TestClient_StatusChanges_pages: the feed is read page by page until the
// last, with the page object the fake sends; without one (DigiCert's
// example), until a page is shorter than the limit; an answer that cannot
// be followed fails the whole feed.
func TestClient_StatusChanges_pages(t *testing.T) {
	ctx := context.Background()
	t.Run("the fake's pages", func(t *testing.T) {
		srv, c := newPair(t, digicerttest.WithMaxPageSize(2))
		var want []digicert.OrderRef
		for i := 0; i < 5; i++ {
			id := srv.AddOrder(digicerttest.Order{CommonName: fmt.Sprintf("o%d.example.com", i)})
			want = append(want, digicert.OrderRef{OrderID: id, CertificateID: id + 900000, Status: "issued"})
		}
		refs, err := c.StatusChanges(ctx, 60)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, refs); diff != "" {
			t.Errorf("refs (-want +got):\n%s", diff)
		}
		wantCalls := []string{
			"GET /order/certificate/status-changes?minutes=60",
			"GET /order/certificate/status-changes?limit=1000&minutes=60&offset=2",
			"GET /order/certificate/status-changes?limit=1000&minutes=60&offset=4",
		}
		if diff := cmp.Diff(wantCalls, srv.Calls()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})
	page := func(from, n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"order_id":%d,"certificate_id":1,"status":"issued"}`, from+i)
		}
		return `{"orders":[` + b.String() + `]}`
	}
	tests := []struct {
		name  string
		pages []string // answers in turn
		n     int      // entries returned
		err   string   // error, "" for none
	}{
		{name: "no page object: a full page, then a short one", pages: []string{page(1, 1000), page(1001, 3)}, n: 1003},
		{name: "no page object: a full page repeated", pages: []string{page(1, 1000), page(1, 1000)},
			err: "digicert: GET /order/certificate/status-changes: the 200 answer at offset 1000 repeats the page before it"},
		{name: "page object: no orders while more are due", pages: []string{`{"orders":[{"order_id":1,"certificate_id":1,"status":"issued"}],"page":{"total":2}}`, `{"orders":[],"page":{"total":2}}`},
			err: "digicert: GET /order/certificate/status-changes: the 200 answer at offset 1 has no orders although the total is 2"},
		{name: "page object: another offset", pages: []string{`{"orders":[{"order_id":1,"certificate_id":1,"status":"issued"}],"page":{"total":2,"offset":0}}`, `{"orders":[{"order_id":2,"certificate_id":1,"status":"issued"}],"page":{"total":2,"offset":0}}`},
			err: "digicert: GET /order/certificate/status-changes: the 200 answer at offset 1 is the page at offset 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t)
			for _, p := range tt.pages {
				srv.Inject(digicerttest.Fault{Method: "GET", Times: 1, Body: p})
			}
			refs, err := c.StatusChanges(ctx, 60)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err || len(refs) != tt.n {
				t.Errorf("got %d refs, error %q; want %d, %q", len(refs), got, tt.n, tt.err)
			}
			if tt.err != "" && !errors.Is(err, digicert.ErrBadAnswer) {
				t.Errorf("not ErrBadAnswer: %v", err)
			}
			if n := len(srv.Calls()); n != len(tt.pages) {
				t.Errorf("%d calls, want %d", n, len(tt.pages))
			}
		})
	}
}

// TestClient_rateLimitPause: after a 429 the key rests at least
// RateLimitPause, or Retry-After when longer, before its next call: also
// a call from elsewhere that did not get the 429, not only the retrying
// one.
func TestClient_rateLimitPause(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		retryAfter string
		want       time.Duration
	}{
		{"", digicert.RateLimitPause},
		{"1", digicert.RateLimitPause},
		{"30", 30 * time.Second},
	} {
		t.Run("Retry-After "+tt.retryAfter, func(t *testing.T) {
			srv := digicerttest.New(testKey)
			url := srv.Start()
			defer srv.Close()
			c, err := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLimits(), digicert.WithRetry(digicert.Retry{}))
			if err != nil {
				t.Fatal(err)
			}
			ft := useFakeTime(c)
			id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
			srv.Inject(digicerttest.Fault{Times: 1, Status: 429, Code: "request_limit_exceeded", RetryAfter: tt.retryAfter})
			if err := c.SetCT(ctx, id, true); !digicert.IsRateLimited(err) {
				t.Fatalf("first call: %v", err)
			}
			if s := ft.Slept(); len(s) != 0 {
				t.Fatalf("slept %v before the 429", s)
			}
			// Another goroutine's call, not a retry.
			done := make(chan error)
			go func() { _, err := c.GetOrder(ctx, id); done <- err }()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]time.Duration{tt.want}, ft.Slept()); diff != "" {
				t.Errorf("waits before the next call (-want +got):\n%s", diff)
			}
			if n := len(srv.Requests()); n != 2 {
				t.Errorf("%d requests", n)
			}
			// The pause is over: the next call waits for nothing.
			if _, err := c.GetOrder(ctx, id); err != nil || len(ft.Slept()) != 1 {
				t.Errorf("third call: %v, slept %v", err, ft.Slept())
			}
		})
	}
}

// TestClient_keyScrubbed: an error message that echoes the API key (a
// 401 saying "API key KEY is not valid", a retried 503) reaches neither
// the error's text nor the log: the key becomes [redacted], whatever its
// case.
func TestClient_keyScrubbed(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := digicerttest.New(testKey)
	url := srv.Start()
	defer srv.Close()
	c, err := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLogger(logger), digicert.WithRetry(fastRetry), digicert.WithLimits())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv.Inject(digicerttest.Fault{Times: 1, Status: 503, Message: "Key " + strings.ToLower(testKey) + " is busy."})
	srv.Inject(digicerttest.Fault{Times: 1, Status: 401, Code: "access_denied|invalid_api_key", Message: "API key " + testKey + " is not valid."})
	err = c.SetCT(ctx, 1, true)
	if err == nil || err.Error() != "digicert: 401 access_denied|invalid_api_key: API key [redacted] is not valid." || !digicert.IsInvalidKey(err) {
		t.Errorf("error: %v", err)
	}
	var ae *digicert.APIError
	if !errors.As(err, &ae) || strings.Contains(fmt.Sprintf("%+v %#v", ae, ae.Errors), "5c1d0e9b7a") {
		t.Errorf("APIError carries the key: %#v", ae)
	}
	if !strings.Contains(logs.String(), "Key [redacted] is busy.") || strings.Contains(strings.ToLower(logs.String()), "5c1d0e9b7a") {
		t.Errorf("logs:\n%s", logs.String())
	}
	// A redirect whose Location holds the key.
	srv.Inject(digicerttest.Fault{Times: 1, Redirect: "https://elsewhere.example/" + testKey + "/x"})
	_, err = c.GetOrder(ctx, 1)
	if err == nil || strings.Contains(err.Error(), "5c1d0e9b7a") || !strings.Contains(err.Error(), "to https://elsewhere.example/[redacted]/x") {
		t.Errorf("redirect: %v", err)
	}
}

// TestIsNotFound: only a 404 with DigiCert's error document and the code
// not_found or not_found|order says the order does not exist; a route not
// found, another code or a proxy's page does not.
func TestIsNotFound(t *testing.T) {
	for _, tt := range []struct {
		fault digicerttest.Fault
		want  bool
	}{
		{digicerttest.Fault{Status: 404, Code: "not_found|order"}, true},
		{digicerttest.Fault{Status: 404, Code: "not_found"}, true},
		{digicerttest.Fault{Status: 404, Code: "not_found|route"}, false},
		{digicerttest.Fault{Status: 404, Code: "invalid_request"}, false},
		{digicerttest.Fault{Status: 404, Body: "<html>Not Found</html>", ContentType: "text/html"}, false},
		{digicerttest.Fault{Status: 400, Code: "not_found"}, false},
	} {
		srv, c := newPair(t)
		srv.Inject(tt.fault)
		_, err := c.GetOrder(context.Background(), 5)
		if got := digicert.IsNotFound(err); got != tt.want {
			t.Errorf("%d %s %q: IsNotFound = %v, want %v (%v)", tt.fault.Status, tt.fault.Code, tt.fault.Body, got, tt.want, err)
		}
	}
}

// TestIsRenewalConflict: the three codes with which CertCentral refuses a
// renewal of an order renewed already.
func TestIsRenewalConflict(t *testing.T) {
	for code, want := range map[string]bool{"order_already_renewed": true, "order_renewed_already": true, "order_not_eligible_for_renewal": true, "invalid_renewal_of_order_id": false} {
		if got := digicert.IsRenewalConflict(&digicert.APIError{Status: 400, Errors: []digicert.ErrorDetail{{Code: code}}}); got != want {
			t.Errorf("%s: %v", code, got)
		}
	}
}
