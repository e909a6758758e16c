package digicert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
)

// CheckError is the first call of a client made with CheckFirstCall that
// showed CertCentral cannot be used: it could not be reached, it refused
// the key (401) or the key's permissions (403), it redirected, or it kept
// failing (5xx, 429, timeouts) for CheckTimeout. Every later call of that
// client fails with the same *CheckError without being sent. A command
// prints it once, with a hint, instead of one error per call.
type CheckError struct {
	URL string // the API base URL
	Err error  // the first call's error
	// Timeout is true when the call found no usable answer within
	// CheckTimeout: no answer at all, or only transient failures.
	Timeout bool
	// Answered is true when some answer came (a 5xx or a 429), false when
	// none did.
	Answered bool
}

// Error is the first call's error; for a call that found no usable
// answer in time it says so first, naming the URL.
func (e *CheckError) Error() string {
	switch {
	case e.Timeout && e.Answered:
		return fmt.Sprintf("digicert: CertCentral at %s kept failing for %s: %v", e.URL, CheckTimeout, e.Err)
	case e.Timeout:
		return fmt.Sprintf("digicert: CertCentral at %s did not answer within %s: %v", e.URL, CheckTimeout, e.Err)
	}
	return e.Err.Error()
}

// Unwrap returns the first call's error (an *APIError for a 401 or 403).
func (e *CheckError) Unwrap() error { return e.Err }

// CheckFirstCall makes the client's first call, whatever it is, the check
// that CertCentral answers and accepts the key, in place of a call of its
// own (Check): a command whose work starts with a GET (the status-changes
// feed, a look-up) makes that GET once and no other, so that a command
// with nothing to do makes exactly one call. The first call:
//
//   - is retried on a 5xx, a 429 and a timeout, as any call is, but only
//     within CheckTimeout;
//   - fails at once when no connection can be made (refused, no route,
//     DNS), on a TLS error, and on a 401 or 403 (not transient anyway);
//   - fails with a *CheckError in those cases and after CheckTimeout, and
//     so does every later call of the client, without being sent;
//   - passes on any other answer, an error like a 404 included: then
//     CertCentral answered and took the key, and the call returns its own
//     result.
//
// Calls made while the first is under way wait for it. A first call that
// is not repeatable (an order, a reissue, a revocation) is preceded by
// Check's GET /order/certificate?limit=1, with the same rules, so that it
// is never sent twice by a retry it does not allow. It is meant for a
// command's client; the daemon re-arms it with CheckNextCall.
func (c *Client) CheckFirstCall() {
	c.first = &firstCall{done: make(chan struct{})}
}

// firstCall is CheckFirstCall's gate: open once the first call passed,
// closed for good with err once it failed.
type firstCall struct {
	mu      sync.Mutex
	started bool
	// finished is set once the first call has finished (done closed).
	finished bool
	done     chan struct{} // closed when the first call has finished
	err      error         // the *CheckError, once failed
}

// enter reports whether the caller makes the first call; otherwise it
// waits for the first call to finish and returns its *CheckError, if any.
func (f *firstCall) enter(ctx context.Context) (first bool, err error) {
	f.mu.Lock()
	if !f.started {
		f.started = true
		f.mu.Unlock()
		return true, nil
	}
	done := f.done
	f.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return false, f.err
}

// finish records the first call's outcome and lets the others go on.
func (f *firstCall) finish(err error) {
	f.mu.Lock()
	f.err = err
	f.finished = true
	f.mu.Unlock()
	close(f.done)
}

// rearm makes the next call a first call again, unless one is under way.
func (f *firstCall) rearm() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started && !f.finished {
		return
	}
	f.started, f.finished, f.err = false, false, nil
	f.done = make(chan struct{})
}

// CheckNextCall makes the next call of a client made with CheckFirstCall
// the check again, with the first call's rules: after a check that
// failed, calls are sent again, the next one as a check. A check under
// way is left as it is. It reports false, doing nothing, for a client
// without CheckFirstCall. The daemon calls it (through its runner) before
// its start cycle, a takeover's cycle and every cycle after a failed one,
// so that the cycle's own first GET, the status-changes feed, is its
// reachability check. Safe for concurrent use.
func (c *Client) CheckNextCall() bool {
	if c.first == nil {
		return false
	}
	c.first.rearm()
	return true
}

// checked makes a call of a client with CheckFirstCall: the first one
// with the check's rules (see CheckFirstCall), the others as usual once it
// passed.
func (c *Client) checked(ctx context.Context, method, path, endpoint, accept string, in any, repeatable bool) (*answer, error) {
	plain := *c
	plain.first = nil
	first, err := c.first.enter(ctx)
	if err != nil {
		return nil, err
	}
	if !first {
		return plain.doAccept(ctx, method, path, endpoint, accept, in, repeatable)
	}
	check := plain
	check.failFast = true
	check.retry.MaxElapsed = CheckTimeout
	cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	if !repeatable {
		_, err := check.doAccept(cctx, "GET", "/order/certificate?limit=1&offset=0", "GET /order/certificate", "application/json", nil, true)
		if cerr := c.checkFailed(ctx, cctx, err); cerr != nil {
			c.first.finish(cerr)
			return nil, cerr
		}
		c.first.finish(nil)
		return plain.doAccept(ctx, method, path, endpoint, accept, in, repeatable)
	}
	ans, err := check.doAccept(cctx, method, path, endpoint, accept, in, repeatable)
	cerr := c.checkFailed(ctx, cctx, err)
	c.first.finish(cerr)
	if cerr != nil {
		return nil, cerr
	}
	return ans, err
}

// checkFailed returns the *CheckError for the first call's error, or nil
// when the call passed: it succeeded, or CertCentral answered it with an
// error that says nothing about reaching it or the key (a 404, a 400).
// ctx is the caller's, cctx the check's (ctx bounded by CheckTimeout).
func (c *Client) checkFailed(ctx, cctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// The command is stopping: not CertCentral's fault.
		return err
	}
	ce := &CheckError{URL: c.BaseURL(), Err: err}
	var ae *APIError
	var ne net.Error
	switch {
	case errors.As(err, &ae) && ae.Transient():
		ce.Timeout, ce.Answered = true, true
	case errors.As(err, &ae) && ae.Status != http.StatusUnauthorized && ae.Status != http.StatusForbidden:
		return nil
	case ae != nil, permanent(err):
	case cctx.Err() != nil, errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// Transient transport failures until the time was up.
		ce.Timeout = true
	}
	return ce
}

// permanent reports whether a transport error cannot pass by retrying
// within seconds: no connection could be made (refused, no route, a DNS
// answer that the name does not exist) or TLS failed (the certificate,
// the handshake). A timeout, including one while connecting, is not.
func permanent(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	var op *net.OpError
	var dns *net.DNSError
	var rh tls.RecordHeaderError
	var alert tls.AlertError
	var verify *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &op) && op.Op == "dial" || errors.As(err, &dns) ||
		errors.As(err, &rh) || errors.As(err, &alert) || errors.As(err, &verify) ||
		errors.As(err, &unknownCA) || errors.As(err, &host) || errors.As(err, &invalid)
}
