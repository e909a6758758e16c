package digicert

import (
	"net/http"
	"sync"
	"time"
)

// serverClock keeps the Date header of CertCentral's latest answer that
// carried one. Safe for concurrent use.
type serverClock struct {
	mu   sync.Mutex
	date time.Time // the Date header, to the second, in UTC
	seen time.Time // when it was read, by time.Now (monotonic reading kept)
}

// record keeps the time an answer's Date header says, unless it is empty or
// does not parse as an HTTP date.
func (s *serverClock) record(header string) {
	if header == "" {
		return
	}
	date, err := http.ParseTime(header)
	if err != nil {
		return
	}
	seen := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.date, s.seen = date.UTC(), seen
}

// ServerClock returns the time CertCentral's latest answer that carried a
// Date header gave (RFC 9110's Date: one-second precision), and the local
// time it was read at, from time.Now with its monotonic clock reading, so
// that date plus time.Since(seen) is CertCentral's time now, whatever the
// local wall clock did meanwhile. Every answer counts, errors included; ok
// is false until one carried a Date header. Package reconcile compares it
// with the local clock before any call that costs money or cannot be
// undone (--max-clock-skew).
func (c *Client) ServerClock() (date, seen time.Time, ok bool) {
	c.clock.mu.Lock()
	defer c.clock.mu.Unlock()
	return c.clock.date, c.clock.seen, !c.clock.seen.IsZero()
}
