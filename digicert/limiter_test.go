package digicert_test

import (
	"context"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/google/go-cmp/cmp"
)

// TestClient_limitsCountTheSend: a request counts in the rate windows from
// when it is sent, not from when the limiter let it start. The client and
// the fake share one fake clock and a window of 2 calls per 10 s; the
// first call's gate (the state's lock proof) takes 5 s, so the fake counts
// it at 5 s. A third call at 10.5 s must wait until 15 s, 10 s after the
// first two reached the fake, instead of going at once and being answered
// 429, as it was when the limiter counted the first call at 0 s.
func TestClient_limitsCountTheSend(t *testing.T) {
	ctx := context.Background()
	ft := &fakeTime{now: time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)}
	start := ft.Now()
	limits := []digicert.Limit{{N: 2, Per: 10 * time.Second}}
	srv := digicerttest.New(testKey, digicerttest.WithLimits(limits...), digicerttest.WithClock(ft.Now))
	url := srv.Start()
	defer srv.Close()
	proofs := 0
	slowProof := func() error {
		if proofs++; proofs == 1 {
			ft.advance(5 * time.Second)
		}
		return nil
	}
	c, err := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLimits(limits...),
		digicert.WithRetry(digicert.Retry{}), digicert.WithGate(slowProof))
	if err != nil {
		t.Fatal(err)
	}
	digicert.SetClock(c, ft.Now, ft.sleep)
	id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com"})
	for i, at := range []time.Duration{0, 5 * time.Second, 10*time.Second + 500*time.Millisecond} {
		ft.advance(start.Add(at).Sub(ft.Now()))
		if _, err := c.GetOrder(ctx, id); err != nil {
			t.Fatalf("call %d at %s: %v", i+1, at, err)
		}
	}
	if n := srv.RateLimited(); n != 0 {
		t.Errorf("%d requests answered 429", n)
	}
	// The third call waited from 10.5 s until 15 s: the first two calls
	// were answered at 5 s, which bounds when the fake counted them.
	if diff := cmp.Diff([]time.Duration{4500 * time.Millisecond}, ft.Slept()); diff != "" {
		t.Errorf("the limiter's waits (-want +got):\n%s", diff)
	}
	if got := ft.Now().Sub(start); got != 15*time.Second {
		t.Errorf("the third call went at %s, want 15s", got)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

// advance moves the fake clock on by d without recording a sleep: time
// the test, not the client, spends.
func (ft *fakeTime) advance(d time.Duration) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.now = ft.now.Add(d)
}

// TestClient_Rate: the long-run rate is the tightest window's.
func TestClient_Rate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		limits []digicert.Limit
		want   float64
	}{
		{"default", digicert.DefaultLimits, 1000.0 / 180},
		{"one", []digicert.Limit{{N: 10, Per: time.Second}}, 10},
		{"none", nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := digicert.New(testKey, digicert.WithLimits(tt.limits...))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Rate(); got != tt.want {
				t.Errorf("Rate() = %v, want %v", got, tt.want)
			}
		})
	}
}
