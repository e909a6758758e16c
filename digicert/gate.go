package digicert

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// gateFresh is how long a passed gate (see WithGate) stands for the
// connection's writes: a request whose bytes would leave later than this
// after the last proof (a paused process, SIGSTOP or a frozen VM, resumes
// between the proof and the send; a slow dial or TLS handshake) is proved
// again first. Without a pause the proof and the write are microseconds
// apart; a standby that takes the lock meanwhile needs its poll (a
// second) and a cycle's reads before it sends anything.
const gateFresh = 100 * time.Millisecond

// gate is WithGate's check, and when it last passed.
type gate struct {
	check func() error

	mu     sync.Mutex
	passed time.Time // monotonic; when the last passed check began
}

// prove runs the check and records when it began.
func (g *gate) prove() error {
	began := time.Now()
	if err := g.check(); err != nil {
		return err
	}
	g.mu.Lock()
	if began.After(g.passed) {
		g.passed = began
	}
	g.mu.Unlock()
	return nil
}

// fresh proves again unless a check passed less than gateFresh ago.
func (g *gate) fresh() error {
	g.mu.Lock()
	stale := time.Since(g.passed) > gateFresh
	g.mu.Unlock()
	if stale {
		return g.prove()
	}
	return nil
}

// gatedConn is a connection to CertCentral whose every write is preceded by
// a fresh proof (gate.fresh): bytes leave only while the gate stands.
type gatedConn struct {
	net.Conn
	gate *gate
}

func (c *gatedConn) Write(p []byte) (int, error) {
	if err := c.gate.fresh(); err != nil {
		return 0, &gateError{err: err}
	}
	return c.Conn.Write(p)
}

// gateError is a write the gate refused: nothing of it left.
type gateError struct{ err error }

func (e *gateError) Error() string { return "not sent: " + e.err.Error() }
func (e *gateError) Unwrap() error { return e.err }

// gatedTransport returns a transport like http.DefaultTransport whose
// connections are gatedConns of g.
func gatedTransport(g *gate) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &gatedConn{Conn: conn, gate: g}, nil
	}
	return t
}
