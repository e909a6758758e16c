package digicert_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
)

// TestClient_ServerClock: the client keeps the Date header of the latest
// answer, the fake's clock here (two years behind the real one), with the
// local time it was read at; an error answer counts too; an answer without
// a Date header keeps the last one.
func TestClient_ServerClock(t *testing.T) {
	behind := time.Date(2024, 12, 7, 6, 0, 0, 0, time.UTC)
	_, c := newPair(t, digicerttest.WithClock(func() time.Time { return behind }))
	if _, _, ok := c.ServerClock(); ok {
		t.Fatal("a clock before any answer")
	}
	before := time.Now()
	if _, err := c.StatusChanges(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	date, seen, ok := c.ServerClock()
	if !ok || !date.Equal(behind) || seen.Before(before) || time.Since(seen) < 0 {
		t.Fatalf("ServerClock() = %s, %s, %v; want %s, seen after %s", date, seen, ok, behind, before)
	}
	if _, err := c.GetOrder(context.Background(), 999); err == nil {
		t.Fatal("order 999 found")
	}
	if _, seen2, _ := c.ServerClock(); !seen2.After(seen) {
		t.Fatalf("the 404's Date was not kept: seen %s, then %s", seen, seen2)
	}

	// An answer without a Date header keeps the last one seen.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("minutes") == "1" {
			w.Header().Set("Date", "Sat, 07 Dec 2024 06:00:00 GMT")
		} else {
			w.Header()["Date"] = nil // net/http adds none then
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"orders": []}`))
	}))
	t.Cleanup(srv.Close)
	c2, err := digicert.New(testKey, digicert.WithBaseURL(srv.URL), digicert.WithRetry(digicert.Retry{}), digicert.WithLimits())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.StatusChanges(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := c2.ServerClock(); ok {
		t.Fatal("a clock from an answer without a Date header")
	}
	if _, err := c2.StatusChanges(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.StatusChanges(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if date, _, ok := c2.ServerClock(); !ok || !date.Equal(behind) {
		t.Fatalf("ServerClock() = %s, %v; want %s", date, ok, behind)
	}
}
