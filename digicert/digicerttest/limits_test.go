package digicerttest

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
)

// TestServer_limitsCountArrival: the rate windows count a request when it
// arrives, as CertCentral does, not when the fake has read its body and
// got its lock. With 1 call per 10 s, a second call that arrives 9 s after
// the first is refused 429 even though its body comes only at 10.5 s.
func TestServer_limitsCountArrival(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(at time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC).Add(at)
	}
	s := New("k", WithLimits(digicert.Limit{N: 1, Per: 10 * time.Second}), WithClock(clock))
	url := s.Start()
	defer s.Close()
	id := s.AddOrder(Order{CommonName: "a.example.com"})
	if code, body := do(t, "GET", url+"/order/certificate", "k", "", ""); code != 200 {
		t.Fatalf("first call: %d %s", code, body)
	}

	set(9 * time.Second)
	pr, pw := io.Pipe()
	req, err := http.NewRequest("PUT", url+"/order/certificate/"+strconv.Itoa(id)+"/ct-status", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-DC-DEVKEY", "k")
	req.Header.Set("Content-Type", "application/json")
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{code: resp.StatusCode}
	}()
	// The request has arrived (its handler runs, waiting for the body):
	// only then does the clock move on and the body follow.
	for s.WaitIdle(0) {
		time.Sleep(time.Millisecond)
	}
	set(10*time.Second + 500*time.Millisecond)
	io.WriteString(pw, `{"disable_ct": true}`)
	pw.Close()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.code != 429 || s.RateLimited() != 1 {
		t.Errorf("second call arriving at 9 s: %d, %d answered 429; want 429, 1", r.code, s.RateLimited())
	}
}
