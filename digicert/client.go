// Package digicert is certform's client for the DigiCert CertCentral
// Services API v2: the calls the reconciler needs (order, CT status,
// auto-reissue, revoke, order info, alternative-id lookup, status changes),
// with CertCentral's rate limits kept on the client side, retries of what is
// transient only, and errors that carry DigiCert's codes.
//
// It does not decide what to call; package reconcile does. A fake
// CertCentral for tests and the demo lives in digicert/digicerttest.
package digicert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Base URLs of CertCentral's Services API v2.
const (
	BaseURLUS = "https://www.digicert.com/services/v2"
	BaseURLEU = "https://certcentral.digicert.eu/services/v2"
)

// maxBody caps how much of a response body is read (1 MiB); the rest is
// discarded. CertCentral's answers for these calls are a few KiB.
const maxBody = 1 << 20

// apiKey holds the API key and never prints it.
type apiKey string

func (apiKey) String() string                 { return "[redacted]" }
func (apiKey) GoString() string               { return `"[redacted]"` }
func (apiKey) LogValue() slog.Value           { return slog.StringValue("[redacted]") }
func (k apiKey) Format(f fmt.State, _ rune)   { io.WriteString(f, k.String()) }
func (k apiKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Retry says how transient failures are retried: exponential backoff from
// Base, doubling up to Max, with full jitter (a random wait between 0 and
// the backoff), within MaxElapsed from the first attempt. A Retry-After
// header, when sent, sets the wait instead. A zero MaxElapsed disables
// retries.
type Retry struct {
	Base       time.Duration
	Max        time.Duration
	MaxElapsed time.Duration
}

// DefaultRetry retries for up to a minute, backing off from 500 ms to 15 s.
var DefaultRetry = Retry{Base: 500 * time.Millisecond, Max: 15 * time.Second, MaxElapsed: time.Minute}

// Call describes one HTTP exchange, for an Observer.
type Call struct {
	Endpoint string // such as "PUT /order/certificate/{id}/ct-status"
	Status   int    // HTTP status, 0 when no answer came
	Attempt  int    // 1 for the first try
	Duration time.Duration
	Err      error // transport error, if any
}

// Client talks to CertCentral. It is safe for concurrent use; every
// goroutine shares its rate limits.
type Client struct {
	key     *apiKey // a pointer, so that even a printed copy of Client shows an address
	base    *url.URL
	http    *http.Client
	ua      string
	log     *slog.Logger
	limiter *windowLimiter
	retry   Retry
	observe func(Call)
}

// Option configures a Client.
type Option func(*Client) error

// WithBaseURL sets the API base, such as BaseURLEU or a fake's URL. It must
// be https, or http on a loopback address (127.0.0.0/8, ::1, localhost).
func WithBaseURL(raw string) Option {
	return func(c *Client) error {
		u, err := url.Parse(strings.TrimRight(raw, "/"))
		if err != nil {
			return fmt.Errorf("digicert: API URL %q: %w", raw, err)
		}
		switch u.Scheme {
		case "https":
		case "http":
			if !isLoopback(u.Hostname()) {
				return fmt.Errorf("digicert: API URL %q: plain http is allowed only for loopback addresses; use https", raw)
			}
		default:
			return fmt.Errorf("digicert: API URL %q: scheme must be https", raw)
		}
		if u.Host == "" {
			return fmt.Errorf("digicert: API URL %q has no host", raw)
		}
		c.base = u
		return nil
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// WithTimeout sets the time limit of one HTTP exchange (default 30 s),
// connection, request and reading the answer included. There is no option
// to replace the transport or turn certificate verification off: https
// always verifies against the system's certificate pool.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("digicert: timeout %s must be positive", d)
		}
		c.http.Timeout = d
		return nil
	}
}

// WithVersion sets the version in the User-Agent header, "certform/VERSION".
func WithVersion(v string) Option {
	return func(c *Client) error { c.ua = "certform/" + v; return nil }
}

// WithLogger logs each call at debug level and each retry at warn level.
// The API key never appears in these records.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error { c.log = l; return nil }
}

// WithLimits replaces DefaultLimits; no limits disables client-side
// throttling.
func WithLimits(limits ...Limit) Option {
	return func(c *Client) error { c.limiter = newWindowLimiter(limits); return nil }
}

// WithRetry replaces DefaultRetry.
func WithRetry(r Retry) Option {
	return func(c *Client) error { c.retry = r; return nil }
}

// WithObserver calls f after every HTTP exchange (metrics).
func WithObserver(f func(Call)) Option {
	return func(c *Client) error { c.observe = f; return nil }
}

// New returns a client for the API key. The key is sent only in the
// X-DC-DEVKEY header and never printed.
func New(key string, opts ...Option) (*Client, error) {
	if strings.TrimSpace(key) == "" {
		return nil, errors.New("digicert: the API key is empty")
	}
	k := apiKey(strings.TrimSpace(key))
	c := &Client{
		key:     &k,
		http:    &http.Client{Timeout: 30 * time.Second},
		ua:      "certform/dev",
		log:     slog.New(slog.DiscardHandler),
		limiter: newWindowLimiter(DefaultLimits),
		retry:   DefaultRetry,
	}
	if err := WithBaseURL(BaseURLUS)(c); err != nil {
		return nil, err
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// String describes the client without its key. String, GoString, Format
// and LogValue have value receivers so that a copy of a Client prints the
// same way.
func (c Client) String() string { return fmt.Sprintf("digicert.Client{base: %s}", c.base) }

// GoString is String, so that %#v shows no key either.
func (c Client) GoString() string { return c.String() }

// Format prints String for every verb.
func (c Client) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// LogValue logs the base URL only.
func (c Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

// BaseURL returns the API base in use.
func (c *Client) BaseURL() string { return c.base.String() }

// PlaceOrder submits an order. It is never repeated by the client once the
// request may have reached CertCentral: such failures match
// ErrOutcomeUnknown, and the caller must look the order up by
// req.AlternativeOrderID before ordering again. Failures before sending
// (connection refused, 408, 429) are retried.
func (c *Client) PlaceOrder(ctx context.Context, req *OrderRequest) (*OrderResponse, error) {
	var out OrderResponse
	if _, err := c.do(ctx, "POST", "/order/certificate/ssl", "POST /order/certificate/ssl", req, &out, false); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetCT turns CT logging off (disable true) or on for an order: PUT
// .../ct-status {"disable_ct": bool}, answered 204.
func (c *Client) SetCT(ctx context.Context, orderID int, disable bool) error {
	body := struct {
		DisableCT bool `json:"disable_ct"`
	}{disable}
	_, err := c.do(ctx, "PUT", fmt.Sprintf("/order/certificate/%d/ct-status", orderID), "PUT /order/certificate/{id}/ct-status", body, nil, true)
	return err
}

// SetAutoReissue turns auto-reissue on or off: PUT .../auto-reissue
// {"auto_reissue": 1|0}, answered 204.
func (c *Client) SetAutoReissue(ctx context.Context, orderID int, on bool) error {
	body := struct {
		AutoReissue int `json:"auto_reissue"`
	}{Bool01(on)}
	_, err := c.do(ctx, "PUT", fmt.Sprintf("/order/certificate/%d/auto-reissue", orderID), "PUT /order/certificate/{id}/auto-reissue", body, nil, true)
	return err
}

// Revoke asks DigiCert to revoke every certificate on an order: PUT
// .../revoke {"comments": ...}. DigiCert answers 201 with the request
// (usually pending an administrator's approval), or 204 when approval is
// skipped; then the returned request is nil. Like PlaceOrder it is never
// repeated once it may have been carried out (a second revoke is an error).
func (c *Client) Revoke(ctx context.Context, orderID int, comments string) (*RevokeRequest, error) {
	body := struct {
		Comments string `json:"comments"`
	}{comments}
	var out RevokeRequest
	status, err := c.do(ctx, "PUT", fmt.Sprintf("/order/certificate/%d/revoke", orderID), "PUT /order/certificate/{id}/revoke", body, &out, false)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNoContent {
		return nil, nil
	}
	return &out, nil
}

// GetOrder reads one order: GET /order/certificate/{id}.
func (c *Client) GetOrder(ctx context.Context, orderID int) (*Order, error) {
	var out Order
	if _, err := c.do(ctx, "GET", fmt.Sprintf("/order/certificate/%d", orderID), "GET /order/certificate/{id}", nil, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// FindByAlternativeID lists the orders that carry an alternative order id:
// GET /order/alternate/{id}. None is an empty list and no error (DigiCert
// answers 404).
func (c *Client) FindByAlternativeID(ctx context.Context, altID string) ([]OrderRef, error) {
	var out struct {
		Orders []OrderRef `json:"orders"`
	}
	_, err := c.do(ctx, "GET", "/order/alternate/"+url.PathEscape(altID), "GET /order/alternate/{id}", nil, &out, true)
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return out.Orders, nil
}

// StatusChanges lists orders whose status changed in the last minutes (1 to
// 10080, seven days): GET /order/certificate/status-changes?minutes=N.
func (c *Client) StatusChanges(ctx context.Context, minutes int) ([]OrderRef, error) {
	if minutes < 1 || minutes > 7*24*60 {
		return nil, fmt.Errorf("digicert: status changes: %d minutes is out of range 1-10080", minutes)
	}
	var out struct {
		Orders []OrderRef `json:"orders"`
	}
	if _, err := c.do(ctx, "GET", "/order/certificate/status-changes?minutes="+strconv.Itoa(minutes), "GET /order/certificate/status-changes", nil, &out, true); err != nil {
		return nil, err
	}
	return out.Orders, nil
}

// do sends one call with throttling and retries and decodes a 2xx answer
// into out. repeatable says whether the call may be sent again after it may
// have reached the server; when false, such failures become
// OutcomeUnknownError. It returns the final HTTP status.
func (c *Client) do(ctx context.Context, method, path, endpoint string, in, out any, repeatable bool) (int, error) {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return 0, fmt.Errorf("digicert: %s: encoding the request: %w", endpoint, err)
		}
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		if err := c.limiter.Wait(ctx); err != nil {
			return 0, fmt.Errorf("digicert: %s: %w", endpoint, err)
		}
		status, header, body, sent, err := c.send(ctx, method, path, payload)
		c.observeCall(Call{Endpoint: endpoint, Status: status, Attempt: attempt, Duration: time.Since(start), Err: err})
		if ctx.Err() != nil {
			if !repeatable && sent {
				return 0, &OutcomeUnknownError{Call: endpoint, Err: ctx.Err()}
			}
			return 0, fmt.Errorf("digicert: %s: %w", endpoint, ctx.Err())
		}
		var retryAfter time.Duration
		var failure error
		switch {
		case err != nil && sent && !repeatable:
			return 0, &OutcomeUnknownError{Call: endpoint, Err: err}
		case err != nil:
			failure = fmt.Errorf("digicert: %s: %w", endpoint, err)
		case status >= 200 && status < 300:
			if out != nil && status != http.StatusNoContent && len(bytes.TrimSpace(body)) > 0 {
				if err := json.Unmarshal(body, out); err != nil {
					return status, fmt.Errorf("digicert: %s: decoding the %d answer: %w", endpoint, status, err)
				}
			}
			return status, nil
		default:
			apiErr := decodeAPIError(status, body)
			if !apiErr.Transient() {
				return status, apiErr
			}
			if status >= 500 && !repeatable {
				return status, &OutcomeUnknownError{Call: endpoint, Err: apiErr}
			}
			failure = apiErr
			retryAfter = parseRetryAfter(header.Get("Retry-After"), time.Now())
		}
		wait := retryAfter
		if wait <= 0 {
			wait = c.backoff(attempt)
		}
		if c.retry.MaxElapsed <= 0 || time.Since(start)+wait > c.retry.MaxElapsed {
			if attempt > 1 {
				return status, fmt.Errorf("%w (gave up after %d attempts in %s)", failure, attempt, time.Since(start).Round(time.Millisecond))
			}
			return status, failure
		}
		c.log.Warn("digicert call failed, retrying", "endpoint", endpoint, "attempt", attempt, "wait", wait.Round(time.Millisecond), "error", failure.Error())
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return status, fmt.Errorf("%w (retry cancelled: %w)", failure, ctx.Err())
		case <-timer.C:
		}
	}
}

func (c *Client) observeCall(call Call) {
	c.log.Debug("digicert call", "endpoint", call.Endpoint, "status", call.Status, "attempt", call.Attempt, "elapsed", call.Duration.Round(time.Millisecond))
	if c.observe != nil {
		c.observe(call)
	}
}

// backoff returns a full-jitter wait for the attempt that just failed: a
// random duration in [0, min(Max, Base*2^(attempt-1))].
func (c *Client) backoff(attempt int) time.Duration {
	d := c.retry.Base
	for i := 1; i < attempt && d < c.retry.Max; i++ {
		d *= 2
	}
	if c.retry.Max > 0 && d > c.retry.Max {
		d = c.retry.Max
	}
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// send makes one HTTP exchange. sent reports whether the request may have
// reached the server: false only when the connection could not be made.
func (c *Client) send(ctx context.Context, method, path string, payload []byte) (status int, header http.Header, body []byte, sent bool, err error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, rd)
	if err != nil {
		return 0, nil, nil, false, err
	}
	req.Header.Set("X-DC-DEVKEY", string(*c.key))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, !notSent(err), scrubURLError(err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4*maxBody)) // drain for connection reuse
	if err != nil {
		return 0, nil, nil, true, fmt.Errorf("reading the %d answer: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, resp.Header, body, true, nil
}

// notSent reports whether a transport error proves that the request never
// left: the connection could not be dialled.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// scrubURLError drops the *url.Error wrapper, whose text repeats method and
// URL that the caller's message already names.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func decodeAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var doc struct {
		Errors []ErrorDetail `json:"errors"`
	}
	if json.Unmarshal(body, &doc) == nil {
		e.Errors = doc.Errors
	}
	return e
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}
