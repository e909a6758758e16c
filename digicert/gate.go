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
// after the last proof began (a paused process, SIGSTOP or a frozen VM,
// resumes between the proof and the send; a slow dial or TLS handshake)
// is proved again first. Without a pause the proof and the write are
// milliseconds apart, the proof's wait for the state's connection
// included. A shorter pause is covered otherwise: a standby needs its
// poll (a second) and a cycle's reads before it sends anything, and an
// order or revoke in flight has its intent, which the new leader settles
// by a look-up and does not send again before --resend-after. It is a
// variable for tests.
var gateFresh = time.Second

// gate is WithGate's check, and when it last passed.
type gate struct {
	check func() error

	proving sync.Mutex // one proof at a time from fresh
	mu      sync.Mutex
	passed  time.Time // monotonic; when the last passed check began
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

// fresh proves again unless a check that passed began less than
// gateFresh ago. Writes that find the proof stale at once share one new
// proof, rather than queue one each for the state's connection.
func (g *gate) fresh() error {
	stale := func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return time.Since(g.passed) > gateFresh
	}
	if !stale() {
		return nil
	}
	g.proving.Lock()
	defer g.proving.Unlock()
	if !stale() {
		return nil // proved while this write waited
	}
	return g.prove()
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
