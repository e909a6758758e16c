// Package digicert is certform's client for the DigiCert CertCentral
// Services API v2, with CertCentral's rate limits kept on the client side,
// retries of what is transient only, and errors that carry DigiCert's codes.
// The calls are those the reconciler needs:
//
//	PlaceOrder           POST /order/certificate/ssl (renewals too)
//	Reissue              POST /order/certificate/{id}/reissue
//	ListReissues         GET  /order/certificate/{id}/reissue
//	SetCT                PUT  /order/certificate/{id}/ct-status
//	SetAutoReissue       PUT  /order/certificate/{id}/auto-reissue
//	Revoke               PUT  /order/certificate/{id}/revoke
//	GetOrder             GET  /order/certificate/{id}
//	ListOrders           GET  /order/certificate (every page)
//	FindByAlternativeID  GET  /order/alternate/{alternative_order_id}
//	StatusChanges        GET  /order/certificate/status-changes
//	DownloadCertificate  GET  /certificate/download/order/{id}/format/pem_all
//	ListRequests         GET  /request (every page)
//	GetRequest           GET  /request/{id}
//
// An answer counts only when it proves what happened. The client never
// follows a redirect (the API key would go to another host, and an order
// could be placed twice), and a 2xx answer that does not decode or lacks
// what it must have is an error matching ErrBadAnswer, never a success or a
// "none". PlaceOrder, Reissue and Revoke, which cost money, replace the
// certificate or cannot be undone, are never repeated once they may have
// reached CertCentral: such failures match ErrOutcomeUnknown.
//
// It does not decide what to call; package reconcile does. A fake
// CertCentral for tests and the demo lives in digicert/digicerttest.
package digicert

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certform/certform/internal/wait"
)

// Base URLs of CertCentral's Services API v2.
const (
	BaseURLUS = "https://www.digicert.com/services/v2"
	BaseURLEU = "https://certcentral.digicert.eu/services/v2"
)

// listLimit is the page size asked of list calls: 1000, the most
// CertCentral's list endpoints accept (shared/digicert-api.md).
const listLimit = 1000

// maxBody caps how much of a response body is read (16 MiB). Most answers
// are a few KiB, but a list page holds up to 1000 orders of about 1 to 4
// KiB each; a larger answer is an error, never silently cut short.
const maxBody = 16 << 20

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
	gate    *gate
	clock   *serverClock // shared by copies of the Client (see Check)
	// first is set by CheckFirstCall; failFast (on the first call's
	// copy) fails a call at once on an error retrying cannot cure.
	first    *firstCall
	failFast bool
	pause    *keyPause                                        // shared by copies of the client (Check's)
	scrubRE  *regexp.Regexp                                   // the key, for scrub
	now      func() time.Time                                 // time.Now; tests replace it
	sleep    func(ctx context.Context, d time.Duration) error // wait.Sleep; tests replace it
}

// RateLimitPause is the least wait after a 429 before the next call with
// the same key, from any goroutine: CertCentral blocks a key that exceeded
// a limit "for a while" (shared/digicert-api.md) and a retry within a
// second of jitter only finds it blocked still. A Retry-After header that
// asks for longer wins.
const RateLimitPause = 5 * time.Second

// keyPause is when the key may be used again after a 429.
type keyPause struct {
	mu    sync.Mutex
	until time.Time
}

// block makes the key wait until t, unless it waits longer already.
func (p *keyPause) block(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.After(p.until) {
		p.until = t
	}
}

// left returns how long the key must still wait at now.
func (p *keyPause) left(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.until.Sub(now)
}

// waitPause waits until the key may be used again after a 429, or ctx
// ends. A 429 that another call gets meanwhile makes it wait again.
func (c *Client) waitPause(ctx context.Context) error {
	for {
		d := c.pause.left(c.now())
		if d <= 0 {
			return ctx.Err()
		}
		if err := c.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// scrub replaces every occurrence of the API key in s, whatever its case,
// with [redacted]: text that came from the network (DigiCert's error
// messages, a Location) is scrubbed before an error carries it, so that a
// server echoing the key ("API key KEY is not valid") never has it
// printed or logged.
func (c *Client) scrub(s string) string {
	if c.scrubRE == nil {
		return s
	}
	return c.scrubRE.ReplaceAllLiteralString(s, "[redacted]")
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

// WithGate calls f just before each HTTP exchange (every attempt, after
// the rate limiter's wait): an error from f sends nothing, and the call
// fails with an error that wraps f's and says it was not sent. It is
// called again before any bytes leave more than a second after the last
// check began (a process paused between the check and the send, or a slow
// connect): a failure then stops the request before its first byte, but,
// as the connection may have carried part of it, a call that cannot be
// repeated reports an unknown outcome. certform passes the state store's
// lock check, so a process that may have lost its lock (a standby took
// over while it was paused) makes no call. It gives the client its own
// transport.
func WithGate(f func() error) Option {
	return func(c *Client) error {
		c.gate = &gate{check: f}
		c.http.Transport = gatedTransport(c.gate)
		return nil
	}
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
		http:    &http.Client{Timeout: 30 * time.Second, CheckRedirect: noRedirects},
		ua:      "certform/dev",
		log:     slog.New(slog.DiscardHandler),
		limiter: newWindowLimiter(DefaultLimits),
		retry:   DefaultRetry,
		clock:   &serverClock{},
		pause:   &keyPause{},
		scrubRE: regexp.MustCompile("(?i)" + regexp.QuoteMeta(string(k))),
		now:     time.Now,
		sleep:   wait.Sleep,
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

// noRedirects makes the http.Client hand every 3xx answer back unfollowed:
// following one would send the X-DC-DEVKEY header to wherever Location
// points and, after a 307 or 308, send an order POST a second time.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

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

// PlaceOrder submits an order, or a renewal of an existing order when
// req.RenewalOfOrderID is set. It succeeds only with a 2xx answer that
// decodes and carries an order id > 0. It is never repeated by the client
// once the request may have reached CertCentral: such failures match
// ErrOutcomeUnknown (a lost answer, a timeout, a 5xx, a redirect, or a 2xx
// answer that cannot be understood, which matches ErrBadAnswer too), and
// the caller must look the order up by req.AlternativeOrderID before
// ordering again. Failures before sending (connection refused) and 408 and
// 429 answers are retried.
func (c *Client) PlaceOrder(ctx context.Context, req *OrderRequest) (*OrderResponse, error) {
	const endpoint = "POST /order/certificate/ssl"
	ans, err := c.do(ctx, "POST", "/order/certificate/ssl", endpoint, req, false)
	if err != nil {
		return nil, err
	}
	return decodeProof(endpoint, ans, "order id", func(r *OrderResponse) int { return r.ID })
}

// Reissue asks for a new certificate on an order, with the common name,
// names, CSR and signature hash of req: POST
// /order/certificate/{id}/reissue. DigiCert answers 201 with the order's
// id and the reissue's request; the order is reissue_pending until the new
// certificate is issued, at once when req.SkipApproval is honoured. A
// reissue that changes the common name or drops a name makes DigiCert
// revoke the order's earlier certificates 48 to 72 hours after the new one
// is issued.
//
// Like PlaceOrder, it succeeds only with a 2xx answer that decodes and
// carries an order id > 0, and it is never repeated by the client once the
// request may have reached CertCentral: such failures (a lost answer, a
// timeout, a 5xx, a redirect, a 2xx answer that cannot be understood,
// which matches ErrBadAnswer too) match ErrOutcomeUnknown, and the caller
// must read the order (a reissue_pending status or a new certificate id)
// or ListReissues before asking again. Failures before sending and 408 and
// 429 answers are retried.
func (c *Client) Reissue(ctx context.Context, orderID int, req *ReissueRequest) (*ReissueResponse, error) {
	const endpoint = "POST /order/certificate/{id}/reissue"
	ans, err := c.do(ctx, "POST", fmt.Sprintf("/order/certificate/%d/reissue", orderID), endpoint, req, false)
	if err != nil {
		return nil, err
	}
	return decodeProof(endpoint, ans, "order id", func(r *ReissueResponse) int { return r.ID })
}

// ListReissues lists an order's reissues: GET
// /order/certificate/{id}/reissue, whose answer is {"certificates": [...]},
// retried as any GET is. Entries are returned in the answer's order
// (DigiCert does not document one; the fake sends the newest first), with
// blank entries dropped from their DNSNames. A 2xx answer must be a JSON
// object; a missing or null "certificates" means no reissues, since
// DigiCert does not document the answer for an order without any. Any
// other "certificates" than an array, or an entry without an id > 0, is an
// error matching ErrBadAnswer. It returns nil when there are none.
func (c *Client) ListReissues(ctx context.Context, orderID int) ([]Reissue, error) {
	const endpoint = "GET /order/certificate/{id}/reissue"
	ans, err := c.do(ctx, "GET", fmt.Sprintf("/order/certificate/%d/reissue", orderID), endpoint, nil, true)
	if err != nil {
		return nil, err
	}
	var doc map[string]json.RawMessage
	if err := ans.decode(&doc); err != nil {
		return nil, fmt.Errorf("digicert: %s: %w", endpoint, err)
	}
	if doc == nil {
		return nil, fmt.Errorf("digicert: %s: %w", endpoint, badAnswer("the %d answer is null, not an object", ans.status))
	}
	raw := bytes.TrimSpace(doc["certificates"])
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if !isJSONArray(raw) {
		return nil, fmt.Errorf("digicert: %s: %w", endpoint, badAnswer("the %d answer's certificates is not an array", ans.status))
	}
	var out []Reissue
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("digicert: %s: %w", endpoint, &badAnswerError{reason: fmt.Sprintf("the %d answer's certificates could not be decoded", ans.status), err: err})
	}
	for i := range out {
		if out[i].ID <= 0 {
			return nil, fmt.Errorf("digicert: %s: %w", endpoint, badAnswer("the %d answer's certificates[%d] has no id > 0", ans.status, i))
		}
		out[i].DNSNames = withoutBlanks(out[i].DNSNames)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// SetCT turns CT logging off (disable true) or on for an order: PUT
// .../ct-status {"disable_ct": bool}, answered 204. Any 2xx counts as done,
// whatever its body; the call is retried as a GET is, since repeating it
// changes nothing.
func (c *Client) SetCT(ctx context.Context, orderID int, disable bool) error {
	body := struct {
		DisableCT bool `json:"disable_ct"`
	}{disable}
	_, err := c.do(ctx, "PUT", fmt.Sprintf("/order/certificate/%d/ct-status", orderID), "PUT /order/certificate/{id}/ct-status", body, true)
	return err
}

// SetAutoReissue turns auto-reissue on or off: PUT .../auto-reissue
// {"auto_reissue": 1|0}, answered 204. Like SetCT, any 2xx counts as done.
func (c *Client) SetAutoReissue(ctx context.Context, orderID int, on bool) error {
	body := struct {
		AutoReissue int `json:"auto_reissue"`
	}{Bool01(on)}
	_, err := c.do(ctx, "PUT", fmt.Sprintf("/order/certificate/%d/auto-reissue", orderID), "PUT /order/certificate/{id}/auto-reissue", body, true)
	return err
}

// Revoke asks DigiCert to revoke every certificate on an order: PUT
// .../revoke {"comments": ...}. DigiCert answers 201 with the request
// (usually pending an administrator's approval), or 204 when approval is
// skipped; then the returned request is nil. Any 2xx other than 204 must
// decode to a request with an id > 0; otherwise the error is an
// *OutcomeUnknownError matching ErrBadAnswer. Like PlaceOrder it is never
// repeated once it may have been carried out (a second revoke is an error).
func (c *Client) Revoke(ctx context.Context, orderID int, comments string) (*RevokeRequest, error) {
	const endpoint = "PUT /order/certificate/{id}/revoke"
	body := struct {
		Comments string `json:"comments"`
	}{comments}
	ans, err := c.do(ctx, "PUT", fmt.Sprintf("/order/certificate/%d/revoke", orderID), endpoint, body, false)
	if err != nil {
		return nil, err
	}
	if ans.status == http.StatusNoContent {
		return nil, nil
	}
	return decodeProof(endpoint, ans, "request id", func(r *RevokeRequest) int { return r.ID })
}

// decodeProof decodes the 2xx answer of a call that is never repeated
// (PlaceOrder, Reissue, Revoke) into a T and requires id to be > 0 in it,
// what naming that id in the error. Anything less is no proof of what was
// carried out: an *OutcomeUnknownError for the endpoint that matches
// ErrBadAnswer.
func decodeProof[T any](endpoint string, ans *answer, what string, id func(*T) int) (*T, error) {
	var out T
	if err := ans.decode(&out); err != nil {
		return nil, &OutcomeUnknownError{Call: endpoint, Err: err}
	}
	if id(&out) <= 0 {
		return nil, &OutcomeUnknownError{Call: endpoint, Err: badAnswer("the %d answer has no %s > 0", ans.status, what)}
	}
	return &out, nil
}

// callJSON sends a repeatable call without a body and decodes its 2xx
// answer into a T. A decoded answer for which lacks (when given) is true
// has what is missing ("no order id > 0"): it is an error matching
// ErrBadAnswer, like an answer that does not decode.
func callJSON[T any](ctx context.Context, c *Client, method, path, endpoint, missing string, lacks func(*T) bool) (*T, error) {
	ans, err := c.do(ctx, method, path, endpoint, nil, true)
	if err != nil {
		return nil, err
	}
	var out T
	if err := ans.decode(&out); err != nil {
		return nil, fmt.Errorf("digicert: %s: %w", endpoint, err)
	}
	if lacks != nil && lacks(&out) {
		return nil, fmt.Errorf("digicert: %s: %w", endpoint, badAnswer("the %d answer has %s", ans.status, missing))
	}
	return &out, nil
}

// GetOrder reads one order: GET /order/certificate/{id}. A 2xx answer that
// does not decode or has no id > 0 is an error matching ErrBadAnswer. Only
// an error that IsNotFound says the order does not exist.
func (c *Client) GetOrder(ctx context.Context, orderID int) (*Order, error) {
	const endpoint = "GET /order/certificate/{id}"
	return callJSON(ctx, c, "GET", fmt.Sprintf("/order/certificate/%d", orderID), endpoint, "no order id > 0", func(o *Order) bool { return o.ID <= 0 })
}

// ListOrders lists every order that matches the filter, reading all pages
// of GET /order/certificate?filters[status]=...&filters[common_name]=...
// &limit=1000&offset=N until offset + the page's length reaches the page's
// total; an empty filter field is not sent. Each page is retried as any GET
// is. A 2xx page without an orders array or a page object, with an entry
// whose id is not > 0, at another offset than asked, or with no orders
// while more are due is an error matching ErrBadAnswer: the list is never
// cut short silently. Pages are not a snapshot: an order whose status
// changes while they are read may be missed, and one seen twice is kept
// once. It returns nil when no order matches.
func (c *Client) ListOrders(ctx context.Context, f OrderFilter) ([]Order, error) {
	q := url.Values{}
	if f.Status != "" {
		q.Set("filters[status]", f.Status)
	}
	if f.CommonName != "" {
		q.Set("filters[common_name]", f.CommonName)
	}
	return listAll(ctx, c, "/order/certificate", "GET /order/certificate", "orders", q, func(o *Order) int { return o.ID })
}

// CheckTimeout bounds Check: a CertCentral that cannot be reached fails a
// command within it, instead of after every retry of every call.
const CheckTimeout = 15 * time.Second

// Check asks CertCentral once, cheaply, whether it answers and accepts the
// key: one GET /order/certificate?limit=1, not retried, within
// CheckTimeout. A 401 or 403 answer matches IsUnauthorized.
func (c *Client) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	once := *c
	once.retry = Retry{}
	ans, err := once.do(ctx, "GET", "/order/certificate?limit=1&offset=0", "GET /order/certificate", nil, true)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("digicert: CertCentral at %s did not answer within %s: %w", c.BaseURL(), CheckTimeout, err)
		}
		return err
	}
	var doc map[string]json.RawMessage
	if err := ans.decode(&doc); err != nil {
		return fmt.Errorf("digicert: GET /order/certificate: %w", err)
	}
	return nil
}

// ListRequests lists every approval request that matches the filter
// (revoke requests among them), reading all pages of
// GET /request?filters[status]=S&limit=1000&offset=N as ListOrders does,
// with the same checks; the answer's array is "requests". It returns nil
// when none matches.
func (c *Client) ListRequests(ctx context.Context, f RequestFilter) ([]Request, error) {
	q := url.Values{}
	if f.Status != "" {
		q.Set("filters[status]", f.Status)
	}
	return listAll(ctx, c, "/request", "GET /request", "requests", q, func(r *Request) int { return r.ID })
}

// GetRequest reads one approval request: GET /request/{id}. A 2xx answer
// that does not decode or has no id > 0 is an error matching ErrBadAnswer.
func (c *Client) GetRequest(ctx context.Context, requestID int) (*Request, error) {
	const endpoint = "GET /request/{id}"
	return callJSON(ctx, c, "GET", fmt.Sprintf("/request/%d", requestID), endpoint, "no request id > 0", func(o *Request) bool { return o.ID <= 0 })
}

// FindByAlternativeID lists the orders that carry an alternative order id:
// GET /order/alternate/{id}. It answers "none" (nil, nil) only when
// CertCentral proves it: a 404 that IsNotFound (DigiCert's error document
// with the code not_found or not_found|order), or a 2xx answer whose
// "orders" is an empty array and whose page says total 0. Any other 404
// (not_found|route, another code, a proxy's page without DigiCert's error
// document) is an *APIError. Any other 2xx answer must be an object whose
// "orders" is an array of at least one entry, each with an order_id > 0;
// anything else (an empty body, {}, null, "orders": null, [] without a
// page total of 0, another shape) is an error matching ErrBadAnswer.
//
// Only proof counts because the caller orders again when this says none:
// a look-up whose answer is not clearly "none" must never lead to a second
// order, so it fails instead, and the caller tries again later.
func (c *Client) FindByAlternativeID(ctx context.Context, altID string) ([]OrderRef, error) {
	const endpoint = "GET /order/alternate/{id}"
	ans, err := c.do(ctx, "GET", "/order/alternate/"+url.PathEscape(altID), endpoint, nil, true)
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc map[string]json.RawMessage
	if err := ans.decode(&doc); err != nil {
		return nil, fmt.Errorf("digicert: %s: %w", endpoint, err)
	}
	if !isJSONArray(doc["orders"]) {
		return nil, fmt.Errorf("digicert: %s: %w", endpoint, badAnswer("the %d answer has no orders array", ans.status))
	}
	var refs []OrderRef
	if err := json.Unmarshal(doc["orders"], &refs); err != nil {
		return nil, fmt.Errorf("digicert: %s: %w", endpoint, &badAnswerError{reason: fmt.Sprintf("the %d answer's orders could not be decoded", ans.status), err: err})
	}
	if len(refs) == 0 {
		if page := decodePageInfo(doc["page"]); page != nil && page.Total != nil && *page.Total == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("digicert: %s: %w", endpoint, badAnswer("the %d answer lists no orders without a page total of 0; only that or a 404 not_found means none", ans.status))
	}
	for i, r := range refs {
		if r.OrderID <= 0 {
			return nil, fmt.Errorf("digicert: %s: %w", endpoint, badAnswer("the %d answer's orders[%d] has no order_id > 0", ans.status, i))
		}
	}
	return refs, nil
}

// StatusChanges lists orders whose status changed in the last minutes (1 to
// 10080, seven days), reading every page of GET
// /order/certificate/status-changes: DigiCert documents the list as
// paged, and a caller that moved its watermark after page one would miss
// the rest for good. The first page is asked as ?minutes=N, with the list
// defaults (limit 1000, offset 0); each later one as
// ?limit=1000&minutes=N&offset=K. A page with a
// page object ({"total", "offset"}) is followed until offset + its length
// reaches total, as ListOrders does; one without (DigiCert's example has
// none) until a page holds fewer than the limit asked. Each page is
// retried as any GET is. A 2xx page must be a JSON object; a missing or
// null "orders" means no (more) changes, so {} is an empty feed. Anything
// else (another shape, a page at another offset, no orders while more are
// due, a full page that repeats the one before) is an error matching
// ErrBadAnswer, and nothing is returned: the list is never cut short
// silently. Every entry read is returned, in the order read; an order
// whose status changed while the pages were read may appear twice.
func (c *Client) StatusChanges(ctx context.Context, minutes int) ([]OrderRef, error) {
	const endpoint = "GET /order/certificate/status-changes"
	if minutes < 1 || minutes > 7*24*60 {
		return nil, fmt.Errorf("digicert: status changes: %d minutes is out of range 1-10080", minutes)
	}
	var out []OrderRef
	seen := map[OrderRef]bool{}
	q := url.Values{}
	q.Set("minutes", strconv.Itoa(minutes))
	for offset := 0; ; {
		if offset > 0 {
			q.Set("limit", strconv.Itoa(listLimit))
			q.Set("offset", strconv.Itoa(offset))
		}
		ans, err := c.do(ctx, "GET", "/order/certificate/status-changes?"+q.Encode(), endpoint, nil, true)
		if err != nil {
			return nil, err
		}
		var doc *statusChangesPage
		if err := ans.decode(&doc); err != nil {
			return nil, fmt.Errorf("digicert: %s: offset %d: %w", endpoint, offset, err)
		}
		if doc == nil {
			return nil, badPage(endpoint, ans, offset, "is null, not an object")
		}
		fresh := 0
		for _, r := range doc.Orders {
			if !seen[r] {
				seen[r] = true
				fresh++
			}
			out = append(out, r)
		}
		done, err := doc.last(endpoint, ans, offset, fresh)
		if err != nil {
			return nil, err
		}
		if done {
			return out, nil
		}
		offset += len(doc.Orders)
	}
}

// statusChangesPage is one page of GET /order/certificate/status-changes.
type statusChangesPage struct {
	Orders []OrderRef `json:"orders"`
	Page   *pageInfo  `json:"page"`
}

// pageInfo is the page object of a list answer: {"total", "offset"}, each
// nil when missing.
type pageInfo struct {
	Total  *int `json:"total"`
	Offset *int `json:"offset"`
}

// decodePageInfo decodes a list answer's page object; nil when raw is
// missing, not a JSON object, or does not decode.
func decodePageInfo(raw json.RawMessage) *pageInfo {
	raw = bytes.TrimSpace(raw)
	var page pageInfo
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &page) != nil {
		return nil
	}
	return &page
}

// last reports whether the page read at offset, with fresh entries not
// seen before, ends the feed, or why it cannot be followed: a page object
// with a total is followed until the total is reached, a page without one
// until it holds fewer than the limit asked.
func (p *statusChangesPage) last(endpoint string, ans *answer, offset, fresh int) (bool, error) {
	n := len(p.Orders)
	switch pg := p.Page; {
	case pg != nil && pg.Total != nil:
		if pg.Offset != nil && *pg.Offset != offset {
			return false, badPage(endpoint, ans, offset, "is the page at offset %d", *pg.Offset)
		}
		if offset+n >= *pg.Total {
			return true, nil
		}
		if n == 0 {
			return false, badPage(endpoint, ans, offset, "has no orders although the total is %d", *pg.Total)
		}
	case n < listLimit:
		return true, nil
	case fresh == 0:
		return false, badPage(endpoint, ans, offset, "repeats the page before it")
	}
	return false, nil
}

// badPage is the error matching ErrBadAnswer for the page of a list call
// read at offset.
func badPage(endpoint string, ans *answer, offset int, format string, args ...any) error {
	return fmt.Errorf("digicert: %s: %w", endpoint, badAnswer("the %d answer at offset %d %s", ans.status, offset, fmt.Sprintf(format, args...)))
}

// pemAccept is the Accept header of DownloadCertificate: DigiCert answers
// application/x-pem-file (shared/digicert-api.md); text/plain or any other
// type is taken too, since the body is checked, not its label.
const pemAccept = "application/x-pem-file, text/plain;q=0.9, */*;q=0.8"

// DownloadCertificate downloads the order's current certificate with its
// chain: GET /certificate/download/order/{id}/format/pem_all, retried as any
// GET is. The answer is PEM text, the leaf first, then the intermediates
// and the root; its content type is not checked (DigiCert sends
// application/x-pem-file). It returns the body as sent. A 2xx answer that
// holds no PEM CERTIFICATE block, or one whose block is not an X.509
// certificate, is an error matching ErrBadAnswer. The certificate is not
// checked against a key, names or a chain: that is the caller's job.
func (c *Client) DownloadCertificate(ctx context.Context, orderID int) ([]byte, error) {
	const endpoint = "GET /certificate/download/order/{id}/format/pem_all"
	ans, err := c.doAccept(ctx, "GET", fmt.Sprintf("/certificate/download/order/%d/format/pem_all", orderID), endpoint, pemAccept, nil, true)
	if err != nil {
		return nil, err
	}
	if err := checkPEMCertificates(ans); err != nil {
		return nil, fmt.Errorf("digicert: %s: %w", endpoint, err)
	}
	return ans.body, nil
}

// checkPEMCertificates returns an error matching ErrBadAnswer unless the
// answer holds at least one PEM CERTIFICATE block and every such block
// parses as an X.509 certificate. Other blocks and text around them are
// ignored.
func checkPEMCertificates(a *answer) error {
	ct := a.contentType
	if ct == "" {
		ct = "no Content-Type"
	}
	n := 0
	for rest := a.body; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		n++
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return &badAnswerError{reason: fmt.Sprintf("the %d answer's certificate %d could not be parsed (%s, %d bytes)", a.status, n, ct, len(a.body)), err: err}
		}
	}
	if n == 0 {
		return badAnswer("the %d answer holds no PEM certificate (%s, %d bytes)", a.status, ct, len(a.body))
	}
	return nil
}

// listAll reads every page of a list call: path?query&limit=1000&offset=N,
// whose answer is {field: [...], "page": {"total", "limit", "offset"}}. id
// returns an entry's id; entries are kept once by id, in the order read.
func listAll[T any](ctx context.Context, c *Client, path, endpoint, field string, q url.Values, id func(*T) int) ([]T, error) {
	var out []T
	seen := map[int]bool{}
	q.Set("limit", strconv.Itoa(listLimit))
	for offset := 0; ; {
		q.Set("offset", strconv.Itoa(offset))
		ans, err := c.do(ctx, "GET", path+"?"+q.Encode(), endpoint, nil, true)
		if err != nil {
			return nil, err
		}
		items, total, err := decodeListPage[T](ans, endpoint, field, offset)
		if err != nil {
			return nil, err
		}
		for i := range items {
			n := id(&items[i])
			if n <= 0 {
				return nil, badPage(endpoint, ans, offset, "has %s[%d] without an id > 0", field, i)
			}
			if !seen[n] {
				seen[n] = true
				out = append(out, items[i])
			}
		}
		if offset+len(items) >= total {
			return out, nil
		}
		if len(items) == 0 {
			return nil, badPage(endpoint, ans, offset, "has no %s although the total is %d", field, total)
		}
		offset += len(items)
	}
}

// decodeListPage decodes the page of a list call read at offset: its
// entries under field and the page's total. A page without the array or
// without a page object with a total, or the page at another offset, is an
// error matching ErrBadAnswer.
func decodeListPage[T any](ans *answer, endpoint, field string, offset int) ([]T, int, error) {
	var doc map[string]json.RawMessage
	if err := ans.decode(&doc); err != nil {
		return nil, 0, fmt.Errorf("digicert: %s: offset %d: %w", endpoint, offset, err)
	}
	if !isJSONArray(doc[field]) {
		return nil, 0, badPage(endpoint, ans, offset, "has no %s array", field)
	}
	page := decodePageInfo(doc["page"])
	if page == nil {
		return nil, 0, badPage(endpoint, ans, offset, "has no page object")
	}
	if page.Total == nil || *page.Total < 0 {
		return nil, 0, badPage(endpoint, ans, offset, "has no page total")
	}
	if page.Offset != nil && *page.Offset != offset {
		return nil, 0, badPage(endpoint, ans, offset, "is the page at offset %d", *page.Offset)
	}
	var items []T
	if err := json.Unmarshal(doc[field], &items); err != nil {
		return nil, 0, fmt.Errorf("digicert: %s: %w", endpoint, &badAnswerError{reason: fmt.Sprintf("the %d answer at offset %d: %s could not be decoded", ans.status, offset, field), err: err})
	}
	return items, *page.Total, nil
}

// isJSONArray reports whether raw is a JSON array (not missing, not null).
func isJSONArray(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '['
}

// answer is a 2xx answer: status, content type and body.
type answer struct {
	status      int
	contentType string
	body        []byte
}

// decode unmarshals the answer's JSON body into v. An empty body or one
// that does not decode is an error matching ErrBadAnswer that says so.
func (a *answer) decode(v any) error {
	if len(bytes.TrimSpace(a.body)) == 0 {
		return badAnswer("the %d answer is empty", a.status)
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		ct := a.contentType
		if ct == "" {
			ct = "no Content-Type"
		}
		return &badAnswerError{reason: fmt.Sprintf("the %d answer could not be decoded (%s, %d bytes)", a.status, ct, len(a.body)), err: err}
	}
	return nil
}

// do sends one call with throttling and retries and returns its 2xx
// answer, undecoded; the caller checks it. repeatable says whether the call
// may be sent again after it may have reached the server; when false, such
// failures become OutcomeUnknownError. A 3xx answer is never followed nor
// retried: an error, and for a call that is not repeatable an
// OutcomeUnknownError, since the server that redirected may have acted.
func (c *Client) do(ctx context.Context, method, path, endpoint string, in any, repeatable bool) (*answer, error) {
	return c.doAccept(ctx, method, path, endpoint, "application/json", in, repeatable)
}

// doAccept is do with the Accept header given: every call but a download
// accepts application/json only.
func (c *Client) doAccept(ctx context.Context, method, path, endpoint, accept string, in any, repeatable bool) (*answer, error) {
	if c.first != nil {
		return c.checked(ctx, method, path, endpoint, accept, in, repeatable)
	}
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("digicert: %s: encoding the request: %w", endpoint, err)
		}
	}
	start, clockStart := time.Now(), c.now()
	for attempt := 1; ; attempt++ {
		slot, err := c.takeSlot(ctx, endpoint)
		if err != nil {
			return nil, err
		}
		ex := c.send(slot.trace(ctx), method, path, accept, payload)
		if ex.sent {
			slot.finish()
		} else {
			slot.free()
		}
		c.observeCall(Call{Endpoint: endpoint, Status: ex.status, Attempt: attempt, Duration: time.Since(start), Err: ex.err})
		ans, retry, err := c.judge(ctx, endpoint, path, repeatable, ex)
		if retry == nil {
			return ans, err
		}
		if err := c.waitRetry(ctx, endpoint, attempt, clockStart, retry); err != nil {
			return nil, err
		}
	}
}

// takeSlot waits for the key's pause after a 429 and for a place in the
// rate windows, then passes the gate. The slot holds the request's place
// from here until its end is known (written, answered), or is freed if
// nothing is sent: the pause and the gate count as part of the send.
func (c *Client) takeSlot(ctx context.Context, endpoint string) (*slot, error) {
	// After a 429 the key waits RateLimitPause (or Retry-After) before
	// any call, before and after the limiter's own wait.
	if err := c.waitPause(ctx); err != nil {
		return nil, fmt.Errorf("digicert: %s: %w", endpoint, err)
	}
	slot, err := c.limiter.Wait(ctx)
	if err != nil {
		return nil, fmt.Errorf("digicert: %s: %w", endpoint, err)
	}
	if err := c.waitPause(ctx); err != nil {
		slot.free()
		return nil, fmt.Errorf("digicert: %s: %w", endpoint, err)
	}
	if c.gate != nil {
		// Only an attempt that cannot have reached the server, or a
		// 429, is tried again when the call is not repeatable: nothing
		// sent before can have acted, so this failure is certain too.
		if err := c.gate.prove(); err != nil {
			slot.free()
			return nil, fmt.Errorf("digicert: %s: not sent: %w", endpoint, err)
		}
	}
	return slot, nil
}

// retryable is a failed attempt that may be tried again: its error and
// the wait the server asked for (0 when it asked none).
type retryable struct {
	failure    error
	retryAfter time.Duration
}

// judge classifies one exchange. It returns the answer of a 2xx, or the
// error that ends the call, or (with a nil answer and error) the failure
// to retry. A call that is not repeatable and may have reached the server
// ends with an OutcomeUnknownError.
func (c *Client) judge(ctx context.Context, endpoint, path string, repeatable bool, ex exchange) (*answer, *retryable, error) {
	switch status, err := ex.status, ex.err; {
	case err != nil && ctx.Err() != nil:
		if !repeatable && ex.sent {
			return nil, nil, &OutcomeUnknownError{Call: endpoint, Err: ctx.Err()}
		}
		return nil, nil, fmt.Errorf("digicert: %s: %w", endpoint, ctx.Err())
	case err != nil && c.failFast && permanent(err):
		return nil, nil, fmt.Errorf("digicert: %s: %w", endpoint, err)
	case err != nil && ex.sent && !repeatable:
		return nil, nil, &OutcomeUnknownError{Call: endpoint, Err: err}
	case err != nil:
		return nil, &retryable{failure: fmt.Errorf("digicert: %s: %w", endpoint, err)}, nil
	case status >= 200 && status < 300:
		// An answer read in full counts even if ctx ended meanwhile:
		// it is the proof of what happened.
		return &answer{status: status, contentType: ex.header.Get("Content-Type"), body: ex.body}, nil, nil
	case status >= 300 && status < 400:
		rerr := c.redirectError(path, status, ex.header.Get("Location"))
		if !repeatable {
			return nil, nil, &OutcomeUnknownError{Call: endpoint, Err: rerr}
		}
		return nil, nil, fmt.Errorf("digicert: %s: %w", endpoint, rerr)
	default:
		return c.judgeAPIError(endpoint, repeatable, ex)
	}
}

// judgeAPIError classifies a 4xx or 5xx answer: a 429 pauses the key; an
// answer that is not transient ends the call, and so does a 5xx to a call
// that is not repeatable (an OutcomeUnknownError); the rest are retried.
func (c *Client) judgeAPIError(endpoint string, repeatable bool, ex exchange) (*answer, *retryable, error) {
	apiErr := c.decodeAPIError(ex.status, ex.body)
	if ex.status == http.StatusTooManyRequests {
		c.pause.block(c.now().Add(max(RateLimitPause, parseRetryAfter(ex.header.Get("Retry-After"), c.now()))))
	}
	if !apiErr.Transient() {
		return nil, nil, apiErr
	}
	if ex.status >= 500 && !repeatable {
		return nil, nil, &OutcomeUnknownError{Call: endpoint, Err: apiErr}
	}
	return nil, &retryable{failure: apiErr, retryAfter: parseRetryAfter(ex.header.Get("Retry-After"), c.now())}, nil
}

// waitRetry sleeps before the next attempt: Retry-After when the server
// sent one, else the backoff, and at least the key's pause. It returns the
// failure, with the attempts made, when that wait would pass the retry
// budget (Retry.MaxElapsed since clockStart), and when ctx ends first.
func (c *Client) waitRetry(ctx context.Context, endpoint string, attempt int, clockStart time.Time, r *retryable) error {
	wait := r.retryAfter
	if wait <= 0 {
		wait = c.backoff(attempt)
	}
	wait = max(wait, c.pause.left(c.now()))
	elapsed := c.now().Sub(clockStart)
	if c.retry.MaxElapsed <= 0 || elapsed+wait > c.retry.MaxElapsed {
		if attempt > 1 {
			return fmt.Errorf("%w (gave up after %d attempts in %s)", r.failure, attempt, elapsed.Round(time.Millisecond))
		}
		return r.failure
	}
	c.log.Warn("digicert call failed, retrying", "endpoint", endpoint, "attempt", attempt, "wait", wait.Round(time.Millisecond), "error", r.failure.Error())
	if err := c.sleep(ctx, wait); err != nil {
		return fmt.Errorf("%w (retry cancelled: %w)", r.failure, err)
	}
	return nil
}

// redirectError describes a 3xx answer to path. The Location is resolved
// against the request's URL and shown as scheme, host and path only: its
// query may carry a token.
func (c *Client) redirectError(path string, status int, location string) error {
	what := fmt.Sprintf("%d %s", status, strings.ToLower(http.StatusText(status)))
	to := "without a Location"
	if location != "" {
		to = "to an unreadable Location"
		if loc, err := url.Parse(location); err == nil {
			if reqURL, err := url.Parse(c.base.String() + path); err == nil {
				loc = reqURL.ResolveReference(loc)
			}
			to = "to " + c.scrub((&url.URL{Scheme: loc.Scheme, Host: loc.Host, Path: loc.Path, RawPath: loc.RawPath}).String())
		}
	}
	return fmt.Errorf("the answer was a redirect, %s %s; certform never follows redirects: check --api-url", what, to)
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

// exchange is the outcome of one HTTP exchange. sent reports whether the
// request may have reached the server: false only when the connection
// could not be made.
type exchange struct {
	status int
	header http.Header
	body   []byte
	sent   bool
	err    error
}

// send makes one HTTP exchange.
func (c *Client) send(ctx context.Context, method, path, accept string, payload []byte) exchange {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, rd)
	if err != nil {
		return exchange{err: err}
	}
	req.Header.Set("X-DC-DEVKEY", string(*c.key))
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", c.ua)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return exchange{sent: !notSent(err), err: scrubURLError(err)}
	}
	defer resp.Body.Close()
	c.clock.record(resp.Header.Get("Date"))
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err == nil && len(body) > maxBody {
		err = fmt.Errorf("the answer is larger than %d MiB, the most certform reads", maxBody>>20)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4*maxBody)) // drain for connection reuse
	if err != nil {
		return exchange{sent: true, err: fmt.Errorf("reading the %d answer: %w", resp.StatusCode, err)}
	}
	return exchange{status: resp.StatusCode, header: resp.Header, body: body, sent: true}
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

// decodeAPIError reads DigiCert's error document from a non-2xx answer:
// {"errors": [{"code", "message"}, ...]}, or {"errors": {"code",
// "message"}} with one object, as some of its answers have it
// (shared/realdata/ribose_errors.json). A body that is neither leaves
// Errors empty. Codes and messages are scrubbed of the API key.
func (c *Client) decodeAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var doc struct {
		Errors json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return e
	}
	raw := bytes.TrimSpace(doc.Errors)
	switch {
	case len(raw) > 0 && raw[0] == '[':
		var list []ErrorDetail
		if json.Unmarshal(raw, &list) == nil {
			e.Errors = list
		}
	case len(raw) > 0 && raw[0] == '{':
		var one ErrorDetail
		if json.Unmarshal(raw, &one) == nil {
			e.Errors = []ErrorDetail{one}
		}
	}
	for i := range e.Errors {
		e.Errors[i].Code, e.Errors[i].Message = c.scrub(e.Errors[i].Code), c.scrub(e.Errors[i].Message)
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
