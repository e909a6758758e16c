package digicert_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/certform/certform/digicert"
)

// TestClient_CheckFirstCall: with CheckFirstCall, the client's first call
// is the check. It is retried on a 5xx like any call; it fails at once
// (one attempt) when no connection can be made, on a TLS error, a 401 and
// a 403, and then every later call fails with the same *CheckError
// unsent; an answer like a 404 passes the check.
func TestClient_CheckFirstCall(t *testing.T) {
	order := `{"id":7,"status":"issued","certificate":{"common_name":"a.example.com"}}`
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr + "/services/v2"
	}
	tests := []struct {
		name     string
		answers  []int // status of each answer in turn; the last repeats
		tls      bool  // a TLS server the client does not trust
		noServer bool
		attempts int  // attempts of the first call
		check    bool // the first call fails with a *CheckError
		status   int  // the *APIError's status, if any
		later    int  // requests the server got after a second call
	}{
		{name: "200", answers: []int{200}, attempts: 1, later: 2},
		{name: "503 then 200", answers: []int{503, 200}, attempts: 2, later: 3},
		{name: "404 passes", answers: []int{404, 200}, attempts: 1, status: 404, later: 2},
		{name: "401", answers: []int{401}, attempts: 1, check: true, status: 401, later: 1},
		{name: "403", answers: []int{403}, attempts: 1, check: true, status: 403, later: 1},
		{name: "connection refused", noServer: true, attempts: 1, check: true},
		{name: "tls", tls: true, answers: []int{200}, attempts: 1, check: true, later: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(got.Add(1))
				status := tt.answers[min(n, len(tt.answers))-1]
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				if status == 200 {
					w.Write([]byte(order))
				} else {
					w.Write([]byte(`{"errors":[{"code":"x","message":"y"}]}`))
				}
			})
			url := ""
			switch {
			case tt.noServer:
				url = refused()
			case tt.tls:
				srv := httptest.NewTLSServer(h)
				defer srv.Close()
				url = srv.URL + "/services/v2"
			default:
				srv := httptest.NewServer(h)
				defer srv.Close()
				url = srv.URL + "/services/v2"
			}
			var attempts atomic.Int32
			c, err := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithRetry(fastRetry), digicert.WithLimits(),
				digicert.WithObserver(func(digicert.Call) { attempts.Add(1) }))
			if err != nil {
				t.Fatal(err)
			}
			c.CheckFirstCall()
			_, err = c.GetOrder(context.Background(), 7)
			if n := int(attempts.Load()); n != tt.attempts {
				t.Errorf("first call: %d attempts, want %d (%v)", n, tt.attempts, err)
			}
			var ce *digicert.CheckError
			if errors.As(err, &ce) != tt.check {
				t.Errorf("first call: %v; CheckError %v, want %v", err, ce != nil, tt.check)
			}
			var ae *digicert.APIError
			if s := 0; errors.As(err, &ae) {
				s = ae.Status
				if s != tt.status {
					t.Errorf("status %d, want %d", s, tt.status)
				}
			} else if tt.status != 0 {
				t.Errorf("first call: %v, want status %d", err, tt.status)
			}
			_, err2 := c.GetOrder(context.Background(), 7)
			if tt.check && err2 != error(ce) {
				t.Errorf("second call: %v, want the first call's *CheckError", err2)
			}
			if !tt.noServer {
				if n := int(got.Load()); n != tt.later {
					t.Errorf("the server got %d requests after two calls, want %d", n, tt.later)
				}
			}
		})
	}
}

// TestClient_CheckFirstCall_concurrent: calls made while the first call
// is under way wait for it; once it failed (here a 401), none of them is
// sent, and each returns its *CheckError.
func TestClient_CheckFirstCall_concurrent(t *testing.T) {
	var got atomic.Int32
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got.Add(1) == 1 {
			close(arrived)
			<-release
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		w.Write([]byte(`{"errors":[{"code":"invalid_api_key","message":"bad key"}]}`))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL+"/services/v2")
	c.CheckFirstCall()
	first := make(chan error, 1)
	go func() { _, err := c.GetOrder(context.Background(), 1); first <- err }()
	<-arrived
	errs := make(chan error, 8)
	for i := range 8 {
		go func() { _, err := c.GetOrder(context.Background(), 2+i); errs <- err }()
	}
	close(release)
	var ce *digicert.CheckError
	if err := <-first; !errors.As(err, &ce) || !digicert.IsUnauthorized(err) {
		t.Fatalf("first call: %v", err)
	}
	for range 8 {
		if err := <-errs; err != error(ce) {
			t.Errorf("a concurrent call: %v, want the first call's %v", err, ce)
		}
	}
	if n := got.Load(); n != 1 {
		t.Errorf("the server got %d requests, want 1", n)
	}
}

// TestClient_CheckNextCall: after a first call that failed the check (a
// 401), calls fail unsent until CheckNextCall; then the next call is sent
// as a check again, and once it passed the calls after it are plain. A
// client without CheckFirstCall has no check to re-arm.
func TestClient_CheckNextCall(t *testing.T) {
	var got, refuse atomic.Int32
	refuse.Store(1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if refuse.Load() == 1 {
			w.WriteHeader(401)
			w.Write([]byte(`{"errors":[{"code":"access_denied","message":"no"}]}`))
			return
		}
		w.Write([]byte(`{"id":7,"status":"issued","certificate":{"common_name":"a.example.com"}}`))
	}))
	defer srv.Close()
	c, err := digicert.New(testKey, digicert.WithBaseURL(srv.URL+"/services/v2"), digicert.WithRetry(fastRetry), digicert.WithLimits())
	if err != nil {
		t.Fatal(err)
	}
	if c.CheckNextCall() {
		t.Fatal("CheckNextCall re-armed a client without CheckFirstCall")
	}
	c.CheckFirstCall()
	ctx := context.Background()
	var ce *digicert.CheckError
	if _, err := c.GetOrder(ctx, 7); !errors.As(err, &ce) {
		t.Fatalf("first call: %v, want a *CheckError", err)
	}
	if _, err := c.GetOrder(ctx, 7); err != error(ce) || got.Load() != 1 {
		t.Fatalf("second call: %v after %d requests, want the *CheckError unsent", err, got.Load())
	}
	refuse.Store(0)
	if !c.CheckNextCall() {
		t.Fatal("CheckNextCall: false for a client with CheckFirstCall")
	}
	for i := range 2 {
		if _, err := c.GetOrder(ctx, 7); err != nil {
			t.Fatalf("call %d after CheckNextCall: %v", i+1, err)
		}
	}
	if n := got.Load(); n != 3 {
		t.Errorf("the server got %d requests, want 3", n)
	}
	refuse.Store(1)
	c.CheckNextCall()
	if _, err := c.GetOrder(ctx, 7); !errors.As(err, &ce) {
		t.Fatalf("the re-armed check of a refused key: %v, want a *CheckError", err)
	}
}
