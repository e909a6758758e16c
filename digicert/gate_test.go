package digicert_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
)

// A gate that refuses sends nothing: the order is certainly not placed, so
// the error is no unknown outcome, and the server sees no request.
func TestClient_gate(t *testing.T) {
	srv, requests := countingServer(t)
	lost := errors.New("lock lost")
	var gateCalls atomic.Int32
	open := true
	c, err := digicert.New(testKey, digicert.WithBaseURL(srv.URL), digicert.WithRetry(fastRetry), digicert.WithLimits(),
		digicert.WithGate(func() error {
			gateCalls.Add(1)
			if open {
				return nil
			}
			return lost
		}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetCT(context.Background(), 5, true); err != nil {
		t.Fatalf("gate open: %v", err)
	}
	if gateCalls.Load() != 1 || requests.Load() != 1 {
		t.Fatalf("gate open: %d gate calls, %d requests; want 1 and 1", gateCalls.Load(), requests.Load())
	}
	open = false
	_, err = c.PlaceOrder(context.Background(), sampleOrder())
	if !errors.Is(err, lost) || errors.Is(err, digicert.ErrOutcomeUnknown) {
		t.Fatalf("gate shut: %v, want the gate's error and no unknown outcome", err)
	}
	if want := "digicert: POST /order/certificate/ssl: not sent: lock lost"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if requests.Load() != 1 {
		t.Errorf("the server saw %d requests, want 1 (none after the gate shut)", requests.Load())
	}
}

// A process paused between its check and the send (here: a check that
// takes longer than the proof stands) is checked again before the first
// byte leaves; a failed second check stops the request, and the server
// sees nothing.
func TestClient_gateStaleAtSend(t *testing.T) {
	srv, requests := countingServer(t)
	defer digicert.SetGateFresh(100 * time.Millisecond)()
	lost := errors.New("lock lost")
	var calls atomic.Int32
	c, err := digicert.New(testKey, digicert.WithBaseURL(srv.URL), digicert.WithRetry(fastRetry), digicert.WithLimits(),
		digicert.WithGate(func() error {
			if calls.Add(1) == 1 {
				time.Sleep(150 * time.Millisecond) // paused after the database answered
				return nil
			}
			return lost
		}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PlaceOrder(context.Background(), sampleOrder())
	if !errors.Is(err, lost) || !errors.Is(err, digicert.ErrOutcomeUnknown) {
		t.Fatalf("PlaceOrder: %v, want the gate's error as an unknown outcome", err)
	}
	if calls.Load() != 2 || requests.Load() != 0 {
		t.Errorf("%d checks, %d requests; want 2 checks and no request", calls.Load(), requests.Load())
	}
}

// countingServer answers every request with order 1, counting them.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	requests := new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id": 1}`))
	}))
	t.Cleanup(srv.Close)
	return srv, requests
}
