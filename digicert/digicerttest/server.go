// Package digicerttest is an in-memory fake of DigiCert CertCentral's
// Services API v2 over real HTTP, for certform's tests and its demo. It
// serves the calls package digicert makes, validates them as CertCentral
// does (key, content type, field types, required fields), keeps orders and
// revoke requests, lists them page by page, enforces rolling rate limits,
// records every request, and lets a test inject faults (lost answers,
// redirects, garbled 2xx answers, look-up lag) and make out-of-band changes
// as if someone used the CertCentral console.
//
// Calls served, below BasePath: POST /order/certificate/ssl (renewals
// too, with renewal_of_order_id), GET /order/certificate (list),
// GET /order/certificate/{id}, PUT /order/certificate/{id}/ct-status,
// .../auto-reissue and .../revoke, POST and GET
// /order/certificate/{id}/reissue, GET /order/alternate/{id},
// GET /order/certificate/status-changes, GET /request (revoke requests
// only), GET /request/{id} and
// GET /certificate/download/order/{id}/format/pem_all.
//
// Issued orders carry real certificates: each Server has its own test CA,
// an ECDSA P-256 root (RootPEM) and an intermediate it signed, which signs
// a TLS server certificate for the CSR's key and the order's names whenever
// an order is issued (at once with skip_approval, by AddOrder, or later by
// Approve), reissued (through the API, at once or by ApproveReissue) or its
// certificate is replaced (Reissue, IssueWrongKey, ExpireSoon). The CA is
// not trusted anywhere and its keys live only in memory.
//
// A reissue through the API follows CertCentral: the order must be issued;
// it takes the requested names, CSR key and signature hash at once, and
// either gets its new certificate at once (skip_approval, unless
// WithReissueHold) and stays issued, or waits as reissue_pending until
// ApproveReissue or RejectReissue. A renewal is an order with
// renewal_of_order_id; the renewed order reports is_renewed and
// renewed_order_id, and cannot be renewed again. RenewOutside and
// OrderEndsIn make the same changes out of band.
//
// It is not a test-only file: certform's --dev mode serves it on a loopback
// port. It never listens on anything but 127.0.0.1.
package digicerttest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certform/certform/digicert"
)

// Order is one order the fake holds.
type Order struct {
	ID                 int
	Status             string // needs_approval, issued, revoked, ...
	CommonName         string
	DNSNames           []string
	SignatureHash      string
	ProductType        string
	OrganizationID     int
	DisableCT          bool
	AutoReissue        bool
	AlternativeOrderID string
	// CertificateID is the current certificate's id, 0 before one is
	// issued. The first certificate of an order keeps an id given to
	// AddOrder, or gets the order id + 900000; each later one (a reissue,
	// Reissue, IssueWrongKey, ExpireSoon) gets the next id from 5000001
	// up, a reissue through the API when it is requested.
	CertificateID int
	// SerialNumber is the current certificate's serial number as DigiCert
	// shows it: 32 upper-case hexadecimal digits. Thumbprint is its SHA-1
	// fingerprint, 40 upper-case hexadecimal digits.
	SerialNumber string
	Thumbprint   string
	// NotBefore and NotAfter are the current certificate's validity, to
	// the second: NotBefore is a minute before it was issued by the fake's
	// clock, NotAfter the lifetime later (WithCertificateLifetime), but
	// never after OrderValidTill.
	NotBefore time.Time
	NotAfter  time.Time
	// CertificatePEM is the current certificate alone, PEM-encoded; nil
	// before one is issued. GET .../pem_all answers it with the
	// intermediate and the root. The fake replaces it rather than changing
	// it: treat it as read-only.
	CertificatePEM []byte
	// PublicKey is the key certificates are issued for: the CSR's for an
	// order placed or reissued through the API (from the reissue request
	// on, even while it waits). AddOrder and Approve give an order without
	// one a fresh P-256 key whose private key nobody has, as for an order
	// placed in the console with a CSR made elsewhere.
	PublicKey crypto.PublicKey
	// OrderValidTill is when the order ends: its creation plus the
	// order_validity asked (years or days). AddOrder sets it to Created
	// plus a year when zero.
	OrderValidTill time.Time
	// DCVMethod is the order's dcv_method, "" when none was sent.
	// DCVRandomValue is the token the fake made for dns-txt-token,
	// dns-cname-token and http-token: 32 lower-case hexadecimal digits.
	DCVMethod      string
	DCVRandomValue string
	// IsRenewed and RenewedOrderID are answered as is_renewed and
	// renewed_order_id (the latter when not 0). A renewal (an order with
	// renewal_of_order_id, or RenewOutside) sets them on the order it
	// renews, which then cannot be renewed again.
	IsRenewed      bool
	RenewedOrderID int
	// RenewalOfOrderID is the order this one renews, 0 for none; it is
	// answered as renewal_of_order_id when not 0.
	RenewalOfOrderID int
	// Reissues are the order's reissues, oldest first: those asked for
	// through the API and those Reissue made. GET .../reissue lists them
	// newest first. The fake replaces the slice rather than changing it or
	// its entries, so a copy stays as it was.
	Reissues []Reissue
	// RevokesPrevious reports whether a reissue of the order, issued or
	// waiting, changed the common name or dropped a name the order had
	// before it: DigiCert then revokes the order's earlier certificates 48
	// to 72 hours after the new one is issued. The fake revokes nothing;
	// tests assert on this field. Adding names leaves it as it was, and
	// RejectReissue clears it unless another reissue still sets it.
	RevokesPrevious bool
	// Revoke is the latest revoke request on the order, if any. The fake
	// replaces it rather than changing it, so a copy stays as it was.
	Revoke *digicert.RevokeRequest
	// Created is when the order was placed, by the fake's clock; AddOrder
	// sets it to now when zero. See WithLookupLag.
	Created time.Time
	// Changed is when the status or the current certificate last changed;
	// GET /order/certificate/status-changes reports orders by it.
	Changed time.Time
	// Body is the order request as received.
	Body []byte
}

// Reissue is one reissue of an order, as GET
// /order/certificate/{id}/reissue lists it.
type Reissue struct {
	// CertificateID is the reissued certificate's id, given when the
	// reissue is requested: the order's CertificateID once it is issued.
	CertificateID int
	// RequestID is the id of the reissue's request in the POST answer, 0
	// for one made by Reissue.
	RequestID int
	// Status is pending, issued or rejected.
	Status        string
	CommonName    string
	DNSNames      []string
	SignatureHash string
	// CSR is the PEM CSR as sent, "" for one made by Reissue; PublicKey is
	// the key the certificate is for.
	CSR       string
	PublicKey crypto.PublicKey
	// Created is when the reissue was requested, Issued when its
	// certificate was issued (zero while pending or rejected), by the
	// fake's clock.
	Created time.Time
	Issued  time.Time
	// SerialNumber, Thumbprint and NotAfter describe the certificate once
	// issued, as Order's fields of those names do.
	SerialNumber string
	Thumbprint   string
	NotAfter     time.Time
	// RevokesPrevious reports whether this reissue changed the order's
	// common name or dropped one of its names; see Order.RevokesPrevious.
	RevokesPrevious bool
}

// reissueBefore is what a waiting reissue changed on its order, which
// RejectReissue puts back.
type reissueBefore struct {
	commonName    string
	dnsNames      []string
	signatureHash string
	publicKey     crypto.PublicKey
}

// Request is one request the fake received, recorded before it is
// processed (a dropped request is recorded too).
type Request struct {
	Method string
	Path   string // path below the API base, such as /order/certificate/ssl
	Query  string
	Header http.Header
	Body   []byte
}

// Fault is a scripted misbehaviour for requests that match Method and Path
// ("" matches any; Path may end in * to match a prefix). It applies Times
// times (0: until cleared).
//
// Precedence, after Latency (always served in full): DropBefore, then
// Redirect, then a raw answer that is not processed (Body or a 2xx Status,
// Process false), then Status as a DigiCert error; then the fake's rate
// limits and key check; then DropAfter, then a raw answer sent after
// processing (Process true).
type Fault struct {
	Method string
	Path   string
	Times  int
	// Latency delays the answer.
	Latency time.Duration
	// Status answers with this status and a DigiCert error body
	// ({"errors":[{"code": Code, "message": ...}]}) without processing.
	// With Redirect it is the redirect's status; with Body, Process or a
	// 2xx value it is the raw answer's status (see Body).
	Status int
	Code   string
	// Message is the error's message, "Injected fault: STATUS TEXT." when
	// empty; a test makes it echo what a real server might, such as the
	// API key.
	Message    string
	RetryAfter string
	// DropBefore closes the connection without processing the request.
	DropBefore bool
	// DropAfter processes the request, then closes the connection without
	// answering: the lost-response case.
	DropAfter bool
	// Redirect answers with a redirect to this Location without processing:
	// Status when it is 301, 302, 303, 307 or 308, else 307. The answer has
	// no body.
	Redirect string
	// Body answers with exactly this raw body, under ContentType (default
	// application/json), and Status (default 201 for POST, 200 otherwise).
	// A Status of 200-299 without Body, or Process without Body, answers
	// an empty body the same way.
	Body        string
	ContentType string
	// Process carries the request out first (the order is placed, the
	// reissue or revoke made, whatever the real answer would have been)
	// and then sends the raw answer instead of the real one: the garbled
	// 2xx after success. Without it a raw answer is sent and nothing is
	// carried out.
	Process bool
}

// raw reports whether the fault answers with a raw body.
func (f *Fault) raw() bool {
	return f.Body != "" || f.Process || (f.Status >= 200 && f.Status < 300)
}

// Server is a fake CertCentral. Its methods are safe for concurrent use.
type Server struct {
	// BasePath is the path prefix of the API, "/services/v2".
	BasePath string

	mu          sync.Mutex
	key         string
	orders      map[int]*Order
	revokes     []*digicert.Request // every revoke request, by id
	nextOrder   int
	nextRequest int
	nextCert    int
	requests    []Request
	faults      []*Fault
	now         func() time.Time
	http        *httptest.Server
	hook        func(Request)
	ca          *testCA
	before      map[int]reissueBefore // by the certificate id of a waiting reissue
	dcv         dcvState              // WithDNSResolver, WithHTTPValidation, AddDomain
	rates                             // the rate windows and their 429s
	behaviour                         // how the fake answers, as its Options set it
}

// rates are the fake's rate windows (WithLimits, WithPenalty) and what
// they counted. The Server's mu guards them.
type rates struct {
	limits       []digicert.Limit
	hits         []time.Time // arrival times of recent requests, in order, for limits
	penaltyUntil time.Time
	penalty      time.Duration
	rateLimited  int
	latency      time.Duration
	inflight     int // requests being served
}

// behaviour is how the fake answers, as its Options set it.
type behaviour struct {
	lookupLag     time.Duration
	maxPage       int
	uniqueAltIDs  bool
	autoApprove   bool
	ctUnsupported bool
	lifetime      time.Duration
	holdReissues  bool
	sendCT        bool // WithDisableCTField
}

// DefaultCertificateLifetime is how long the fake's certificates are valid
// unless WithCertificateLifetime says otherwise: 199 days, the most
// DigiCert issues for from 2026-02-24 (shared/digicert-api.md).
const DefaultCertificateLifetime = 199 * 24 * time.Hour

// Option configures a Server.
type Option func(*Server)

// WithLimits enforces rolling windows per key with 429
// request_limit_exceeded (none by default).
func WithLimits(limits ...digicert.Limit) Option {
	return func(s *Server) { s.limits = limits }
}

// WithPenalty blocks the key for d after a limit is exceeded, as
// CertCentral does.
func WithPenalty(d time.Duration) Option { return func(s *Server) { s.penalty = d } }

// WithHook calls f with every request as it arrives, before the fake
// processes it (tests use it to act at an exact step, such as killing the
// client). f must not call the Server's methods that take its lock
// synchronously; it runs outside the lock.
func WithHook(f func(Request)) Option { return func(s *Server) { s.hook = f } }

// WithLatency delays every answer by d.
func WithLatency(d time.Duration) Option { return func(s *Server) { s.latency = d } }

// WithUniqueAlternativeIDs rejects an order whose alternative_order_id an
// existing order already carries, as the account setting "Require unique
// alternative order IDs" does.
func WithUniqueAlternativeIDs() Option { return func(s *Server) { s.uniqueAltIDs = true } }

// WithInstantRevoke carries revoke requests out at once, answering 204, as
// CertCentral does when approval is skipped. Without it a revoke request is
// answered 201 and stays pending until ApproveRevoke or RejectRevoke.
func WithInstantRevoke() Option { return func(s *Server) { s.autoApprove = true } }

// WithLookupLag makes an order visible to GET /order/alternate/{id} and to
// the list GET /order/certificate only d after it was created, by the
// fake's clock: the look-up lag of a search index. GET
// /order/certificate/{id} sees it at once.
func WithLookupLag(d time.Duration) Option { return func(s *Server) { s.lookupLag = d } }

// WithClock replaces the fake's clock (time.Now), which dates orders and
// requests, drives status changes, look-up lag and rate limits, and gives
// every answer's Date header (a clock ahead of or behind the real one is
// a CertCentral whose clock differs from the local one). now is
// called with the fake's lock held and must be safe for concurrent use.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithMaxPageSize makes the list calls answer at most n entries a page,
// whatever limit asks (default and most: 1000), so that tests can page
// through many entries with few orders.
func WithMaxPageSize(n int) Option { return func(s *Server) { s.maxPage = n } }

// WithoutCTOptOut makes CT status changes fail with
// cert_transparency_turned_off_for_account, as on accounts without the
// per-certificate CT option.
func WithoutCTOptOut() Option { return func(s *Server) { s.ctUnsupported = true } }

// WithReissueHold makes every reissue requested through the API wait, as
// reissue_pending, for ApproveReissue or RejectReissue, even with
// skip_approval: as when DigiCert must validate a new name first. Without
// it a reissue with skip_approval is issued at once and one without waits.
func WithReissueHold() Option { return func(s *Server) { s.holdReissues = true } }

// WithDisableCTField makes GET /order/certificate/{id} report disable_ct.
// By default it does not: DigiCert's order-info page does not show the
// field, and a sanitized real answer lacks it (shared/realdata), so a
// client must take its absence as unknown.
func WithDisableCTField() Option { return func(s *Server) { s.sendCT = true } }

// WithCertificateLifetime sets how long certificates are valid from issue
// (default DefaultCertificateLifetime); an order's end still caps it.
func WithCertificateLifetime(d time.Duration) Option { return func(s *Server) { s.lifetime = d } }

// New returns a fake that accepts only key. It does not listen; see Start,
// or use it as an http.Handler.
func New(key string, opts ...Option) *Server {
	s := &Server{
		BasePath:    "/services/v2",
		key:         key,
		orders:      map[int]*Order{},
		nextOrder:   100001,
		nextRequest: 500001,
		now:         time.Now,
		nextCert:    5000001,
		before:      map[int]reissueBefore{},
		behaviour:   behaviour{maxPage: maxPageSize, lifetime: DefaultCertificateLifetime},
	}
	for _, o := range opts {
		o(s)
	}
	ca, err := newTestCA(s.now())
	if err != nil {
		panic("digicerttest: making the test CA: " + err.Error())
	}
	s.ca = ca
	return s
}

// RootPEM returns the PEM-encoded root certificate of the fake's test CA:
// every certificate the fake issues chains to it through the intermediate
// that GET .../pem_all answers with.
func (s *Server) RootPEM() []byte { return bytes.Clone(s.ca.rootPEM) }

// Start serves the fake on a new 127.0.0.1 port and returns the API base
// URL, such as http://127.0.0.1:41234/services/v2.
func (s *Server) Start() string {
	s.http = httptest.NewServer(s)
	return s.URL()
}

// URL returns the API base URL of a started server.
func (s *Server) URL() string { return s.http.URL + s.BasePath }

// Close stops a started server.
func (s *Server) Close() {
	if s.http != nil {
		s.http.CloseClientConnections()
		s.http.Close()
	}
}

// Inject adds a fault; later faults are checked after earlier ones.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fc := f
	s.faults = append(s.faults, &fc)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Requests returns a copy of every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Calls returns "METHOD path" for every request received so far, the query
// included, for compact assertions.
func (s *Server) Calls() []string {
	var out []string
	for _, r := range s.Requests() {
		c := r.Method + " " + r.Path
		if r.Query != "" {
			c += "?" + r.Query
		}
		out = append(out, c)
	}
	return out
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// RateLimited returns how many requests were answered 429 by the limits.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateLimited
}

// Order returns a copy of an order.
func (s *Server) Order(id int) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return Order{}, false
	}
	return *o, true
}

// Orders returns copies of every order, by id.
func (s *Server) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Order
	for _, o := range s.orders {
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// AddOrder creates an order out of band (as if ordered in the console)
// and returns its id. Status defaults to issued; an issued order without
// CertificatePEM gets a certificate at once, for PublicKey or else a fresh
// key (see Order). OrderValidTill defaults to Created plus a year, and a
// token DCVMethod gets a DCVRandomValue when it has none.
func (s *Server) AddOrder(o Order) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addOrder(o)
}

// addOrder is AddOrder for callers that hold s.mu.
func (s *Server) addOrder(o Order) int {
	o.ID = s.nextOrder
	s.nextOrder++
	if o.Status == "" {
		o.Status = "issued"
	}
	o.Changed = s.now()
	if o.Created.IsZero() {
		o.Created = o.Changed
	}
	if o.OrderValidTill.IsZero() {
		o.OrderValidTill = o.Created.AddDate(1, 0, 0)
	}
	if tokenDCV[o.DCVMethod] && o.DCVRandomValue == "" {
		o.DCVRandomValue = randomToken()
	}
	if o.Status == "issued" && o.CertificatePEM == nil {
		s.mustIssue(&o, s.orderKey(&o), time.Time{})
	}
	s.orders[o.ID] = &o
	return o.ID
}

// tokenDCV are the DCV methods that DigiCert answers a random value for.
var tokenDCV = map[string]bool{"dns-txt-token": true, "dns-cname-token": true, "http-token": true}

// orderKey returns the key o's certificates are for, giving o a fresh one
// if it has none. Callers hold s.mu.
func (s *Server) orderKey(o *Order) crypto.PublicKey {
	if o.PublicKey == nil {
		o.PublicKey = newKey()
	}
	return o.PublicKey
}

// issue gives o a new current certificate for pub, with its names and
// signature hash, ending at notAfter or, when that is zero, the lifetime
// from now capped by the order's end, and marks o changed. The first
// certificate keeps a CertificateID o already has or gets o.ID + 900000;
// a later one gets the next id from 5000001 up. Callers hold s.mu.
func (s *Server) issue(o *Order, pub crypto.PublicKey, notAfter time.Time) error {
	certID, fresh := o.CertificateID, false
	switch {
	case o.CertificatePEM == nil && o.CertificateID != 0:
	case o.CertificatePEM == nil:
		certID = o.ID + 900000
	default:
		certID, fresh = s.nextCert, true
	}
	if err := s.issueAs(o, pub, notAfter, certID); err != nil {
		return err
	}
	if fresh {
		s.nextCert++
	}
	return nil
}

// issueAs is issue with the new certificate's id given. It changes o only
// when it succeeds. Callers hold s.mu.
func (s *Server) issueAs(o *Order, pub crypto.PublicKey, notAfter time.Time, certID int) error {
	now := s.now()
	if notAfter.IsZero() {
		notAfter = now.Add(s.lifetime)
		if !o.OrderValidTill.IsZero() && o.OrderValidTill.After(now) && o.OrderValidTill.Before(notAfter) {
			notAfter = o.OrderValidTill
		}
	}
	notBefore := now.Add(-time.Minute)
	if !notBefore.Before(notAfter) {
		notBefore = notAfter.Add(-time.Hour) // ExpireSoon with no time left: already expired
	}
	names := []string{o.CommonName}
	for _, n := range o.DNSNames {
		if !containsFold(names, n) {
			names = append(names, n)
		}
	}
	l, err := s.ca.issue(pub, o.CommonName, names, o.SignatureHash, notBefore, notAfter)
	if err != nil {
		return err
	}
	o.CertificateID = certID
	o.SerialNumber, o.Thumbprint = l.serial, l.thumbprint
	o.NotBefore, o.NotAfter = l.cert.NotBefore, l.cert.NotAfter
	o.CertificatePEM = l.pem
	o.Changed = now
	return nil
}

// mustIssue is issue for the out-of-band methods, which have no answer to
// fail: an error (a key the CA cannot sign for) panics. Callers hold s.mu.
func (s *Server) mustIssue(o *Order, pub crypto.PublicKey, notAfter time.Time) {
	if err := s.issue(o, pub, notAfter); err != nil {
		panic(fmt.Sprintf("digicerttest: issuing a certificate for order %d: %v", o.ID, err))
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// Approve issues an order that waits for approval or validation (status
// needs_approval or pending), as an administrator approving it or DigiCert
// completing validation would: the status becomes issued and the order gets
// its first certificate. It does nothing to an unknown order or one in
// another status.
func (s *Server) Approve(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[id]
	if o == nil || (o.Status != "needs_approval" && o.Status != "pending") {
		return
	}
	o.Status = "issued"
	s.mustIssue(o, s.orderKey(o), time.Time{})
}

// SetPending sets an order's status to pending (waiting for domain
// validation) out of band; it is SetStatus(id, "pending").
func (s *Server) SetPending(id int) { s.SetStatus(id, "pending") }

// Reissue replaces an order's certificate with a new one for the same key
// and names, as DigiCert does for an auto-reissue or a reissue asked for in
// the console: a new CertificateID, serial number and validity from now,
// and an issued entry in the order's Reissues. The status is left as it
// is, and so is a reissue waiting for ApproveReissue. It does nothing to
// an unknown order or one without a certificate.
func (s *Server) Reissue(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.certified(id)
	if o == nil {
		return
	}
	s.mustIssue(o, s.orderKey(o), time.Time{})
	s.addReissue(o, Reissue{
		CertificateID: o.CertificateID, Status: "issued", CommonName: o.CommonName, DNSNames: o.DNSNames,
		SignatureHash: o.SignatureHash, PublicKey: o.PublicKey, Created: o.Changed,
	}.issued(o))
}

// ReissueNames reissues an order with other names, as a person doing it
// in the console would: the order takes the common name cn and the DNS
// names dns, and otherwise changes as with Reissue (a new current
// certificate, an issued entry in Reissues); RevokesPrevious is set when
// the common name changed or a name was dropped. It does nothing to an
// unknown order or one without a certificate.
func (s *Server) ReissueNames(id int, cn string, dns []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.certified(id)
	if o == nil {
		return
	}
	revokes := revokesPrevious(o, cn, dns)
	o.CommonName, o.DNSNames = cn, append([]string(nil), dns...)
	o.RevokesPrevious = o.RevokesPrevious || revokes
	s.mustIssue(o, s.orderKey(o), time.Time{})
	s.addReissue(o, Reissue{
		CertificateID: o.CertificateID, Status: "issued", CommonName: o.CommonName, DNSNames: o.DNSNames,
		SignatureHash: o.SignatureHash, PublicKey: o.PublicKey, Created: o.Changed, RevokesPrevious: revokes,
	}.issued(o))
}

// ApproveReissue issues an order's reissue that waits (the latest pending
// one), as an administrator approving it or DigiCert completing validation
// would: the order gets the new certificate, with the reissue's
// certificate id, names and key, and its status becomes issued again. It
// does nothing to an unknown order or one without a pending reissue.
func (s *Server) ApproveReissue(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.approveReissue(id)
}

// approveReissue is ApproveReissue with s.mu held.
func (s *Server) approveReissue(id int) {
	o, i := s.pendingReissue(id)
	if o == nil {
		return
	}
	rr := o.Reissues[i]
	if err := s.issueAs(o, rr.PublicKey, time.Time{}, rr.CertificateID); err != nil {
		panic(fmt.Sprintf("digicerttest: issuing the reissue of order %d: %v", o.ID, err))
	}
	o.Status = "issued"
	s.setReissue(o, i, rr.issued(o))
	delete(s.before, rr.CertificateID)
}

// RejectReissue rejects an order's reissue that waits (the latest pending
// one): the reissue becomes rejected, the order's status issued again,
// and its common name, DNS names, signature hash and key those it had
// before the reissue; its certificate never changed. RevokesPrevious is
// worked out again from the reissues that are not rejected. It does
// nothing to an unknown order or one without a pending reissue.
func (s *Server) RejectReissue(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, i := s.pendingReissue(id)
	if o == nil {
		return
	}
	rr := o.Reissues[i]
	rr.Status = "rejected"
	s.setReissue(o, i, rr)
	b := s.before[rr.CertificateID]
	delete(s.before, rr.CertificateID)
	o.CommonName, o.DNSNames, o.SignatureHash, o.PublicKey = b.commonName, b.dnsNames, b.signatureHash, b.publicKey
	o.Status = "issued"
	o.Changed = s.now()
	o.RevokesPrevious = false
	for _, x := range o.Reissues {
		if x.Status != "rejected" && x.RevokesPrevious {
			o.RevokesPrevious = true
		}
	}
}

// pendingReissue returns the order and the index of its latest pending
// reissue, or nil. Callers hold s.mu.
func (s *Server) pendingReissue(id int) (*Order, int) {
	o := s.orders[id]
	if o == nil {
		return nil, 0
	}
	for i := len(o.Reissues) - 1; i >= 0; i-- {
		if o.Reissues[i].Status == "pending" {
			return o, i
		}
	}
	return nil, 0
}

// issued returns r as issued with o's current certificate, now by the
// order's Changed time.
func (r Reissue) issued(o *Order) Reissue {
	r.Status = "issued"
	r.Issued = o.Changed
	r.SerialNumber, r.Thumbprint, r.NotAfter = o.SerialNumber, o.Thumbprint, o.NotAfter
	return r
}

// addReissue appends r to o's reissues, in a new slice. Callers hold s.mu.
func (s *Server) addReissue(o *Order, r Reissue) {
	o.Reissues = append(o.Reissues[:len(o.Reissues):len(o.Reissues)], r)
}

// setReissue replaces o's reissue i with r, in a new slice. Callers hold
// s.mu.
func (s *Server) setReissue(o *Order, i int, r Reissue) {
	rs := append([]Reissue(nil), o.Reissues...)
	rs[i] = r
	o.Reissues = rs
}

// revokesPrevious reports whether a reissue to the common name cn and the
// DNS names dns makes DigiCert revoke o's earlier certificates: cn is not
// o's common name, or a name o has (its common name or a DNS name) is
// neither cn nor among dns. Case does not matter.
func revokesPrevious(o *Order, cn string, dns []string) bool {
	if !strings.EqualFold(o.CommonName, cn) {
		return true
	}
	after := append([]string{cn}, dns...)
	for _, n := range o.DNSNames {
		if !containsFold(after, n) {
			return true
		}
	}
	return false
}

// RenewOutside renews an order out of band, as CertCentral's auto_renew or
// a person in the console would, and returns the new order's id: a new
// issued order for the same names, key, signature hash, product,
// organization, CT and auto-reissue settings and DCV method, created now,
// ending a year later, with RenewalOfOrderID set and no alternative order
// id. The old order gets IsRenewed, RenewedOrderID and Changed now; its
// status and certificate stay as they are. It does nothing and returns 0
// for an unknown order or one already renewed.
func (s *Server) RenewOutside(id int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.orders[id]
	if old == nil || old.IsRenewed {
		return 0
	}
	newID := s.addOrder(Order{
		CommonName: old.CommonName, DNSNames: append([]string(nil), old.DNSNames...), SignatureHash: old.SignatureHash,
		ProductType: old.ProductType, OrganizationID: old.OrganizationID, DisableCT: old.DisableCT, AutoReissue: old.AutoReissue,
		PublicKey: s.orderKey(old), DCVMethod: old.DCVMethod, RenewalOfOrderID: old.ID,
	})
	s.markRenewed(old, newID)
	return newID
}

// markRenewed records on old that the order newID renews it. Callers hold
// s.mu.
func (s *Server) markRenewed(old *Order, newID int) {
	old.IsRenewed = true
	old.RenewedOrderID = newID
	old.Changed = s.now()
}

// OrderEndsIn makes an order end left after now by the fake's clock
// (left <= 0: an order that has ended), as an order near the end of its
// plan: OrderValidTill becomes now + left and Changed now. The current
// certificate is left as it is, even when it now outlives the order
// (ExpireSoon replaces it); one issued later ends no later than the order
// unless the order has already ended. It does nothing to an unknown order.
func (s *Server) OrderEndsIn(id int, left time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.orders[id]; o != nil {
		now := s.now()
		o.OrderValidTill = now.Add(left)
		o.Changed = now
	}
}

// IssueWrongKey replaces an order's certificate with one for a fresh key
// that is not the order's: a bad certificate, for testing that a client
// checks the key before installing. The order's PublicKey is kept, so a
// later Reissue puts things right. Like Reissue, it does nothing to an
// order without a certificate.
func (s *Server) IssueWrongKey(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.certified(id); o != nil {
		s.mustIssue(o, newKey(), time.Time{})
	}
}

// ExpireSoon replaces an order's certificate with one that ends left after
// now by the fake's clock (left <= 0: one that has already ended), for the
// same key and names; otherwise it is Reissue, but without an entry in the
// order's Reissues.
func (s *Server) ExpireSoon(id int, left time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.certified(id); o != nil {
		s.mustIssue(o, s.orderKey(o), s.now().Add(left))
	}
}

// certified returns the order if it has a certificate, else nil. Callers
// hold s.mu.
func (s *Server) certified(id int) *Order {
	if o := s.orders[id]; o != nil && o.CertificatePEM != nil {
		return o
	}
	return nil
}

// RevokeRequests returns copies of every revoke request the fake created,
// by id: through the API, out of band (Revoke) or approved at once
// (WithInstantRevoke).
func (s *Server) RevokeRequests() []digicert.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]digicert.Request, 0, len(s.revokes))
	for _, r := range s.revokes {
		out = append(out, *r)
	}
	return out
}

// SetCT changes an order's CT setting out of band.
func (s *Server) SetCT(id int, disable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.orders[id]; o != nil {
		o.DisableCT = disable
	}
}

// SetAutoReissue changes an order's auto-reissue setting out of band.
func (s *Server) SetAutoReissue(id int, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.orders[id]; o != nil {
		o.AutoReissue = on
	}
}

// SetStatus changes an order's status out of band (revoked, canceled...).
// It leaves the certificate as it is: to issue one, use Approve.
func (s *Server) SetStatus(id int, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.orders[id]; o != nil {
		o.Status = status
		o.Changed = s.now()
	}
}

// Revoke revokes an order out of band, as an administrator would in the
// console: an approved revoke request and the status revoked.
func (s *Server) Revoke(id int, comments string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[id]
	if o == nil {
		return
	}
	s.newRevoke(o, "approved", comments)
	o.Status = "revoked"
	o.Changed = s.now()
}

// ApproveRevoke approves an order's pending revoke request: the order is
// revoked.
func (s *Server) ApproveRevoke(id int) {
	s.decideRevoke(id, "approved", "revoked")
}

// RejectRevoke rejects an order's pending revoke request.
func (s *Server) RejectRevoke(id int) {
	s.decideRevoke(id, "rejected", "")
}

func (s *Server) decideRevoke(id int, reqStatus, orderStatus string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[id]
	if o == nil || o.Revoke == nil {
		return
	}
	s.setRevokeStatus(o, reqStatus)
	if orderStatus != "" {
		o.Status = orderStatus
		o.Changed = s.now()
	}
}

// newRevoke records a new revoke request on o and returns it. Callers hold
// s.mu.
func (s *Server) newRevoke(o *Order, status, comments string) *digicert.RevokeRequest {
	r := &digicert.Request{ID: s.nextRequest, Date: s.now().UTC().Format(time.RFC3339), Type: "revoke", Status: status,
		Comments: comments, Order: digicert.RequestOrder{ID: o.ID}}
	s.nextRequest++
	s.revokes = append(s.revokes, r)
	o.Revoke = &digicert.RevokeRequest{ID: r.ID, Date: r.Date, Type: r.Type, Status: r.Status, Comments: r.Comments}
	return o.Revoke
}

// setRevokeStatus changes the status of o's latest revoke request, in the
// order and in the list. Callers hold s.mu.
func (s *Server) setRevokeStatus(o *Order, status string) {
	rr := *o.Revoke
	rr.Status = status
	o.Revoke = &rr
	for _, r := range s.revokes {
		if r.ID == rr.ID {
			r.Status = status
		}
	}
}

type apiErr struct {
	status int
	code   string
	msg    string
}

func (s *Server) fail(w http.ResponseWriter, e apiErr) {
	writeJSON(w, e.status, map[string]any{"errors": []map[string]string{{"code": e.code, "message": e.msg}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WaitIdle waits until no request is being served, at most d, and reports
// whether that happened. Tests use it after killing a client mid-call: the
// fake still carries the call out.
func (s *Server) WaitIdle(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		s.mu.Lock()
		n := s.inflight
		s.mu.Unlock()
		if n == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ServeHTTP serves the API below BasePath.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The rate windows count a request when it arrives, as CertCentral's
	// do: not after its body was read and the fake's one lock, which
	// serialises every request, was had.
	arrived := s.now()
	s.addInflight(1)
	defer s.addInflight(-1)
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	path := strings.TrimPrefix(r.URL.Path, s.BasePath)

	a := s.arrive(w, r, path, body, arrived)
	if a.hook != nil {
		a.hook(Request{Method: r.Method, Path: path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	}
	if a.fault != nil && a.fault.Latency > 0 {
		a.latency += a.fault.Latency
	}
	// Latency is served in full even if the client goes away: like a real
	// server, the fake carries out a request it has received, so a client
	// killed mid-call leaves the order placed and the answer lost.
	if a.latency > 0 {
		time.Sleep(a.latency)
	}
	if s.answerFault(w, r, a.fault) {
		return
	}
	if a.limited {
		s.fail(w, apiErr{429, "request_limit_exceeded", "Request limit exceeded. Please wait before making additional requests."})
		return
	}
	if r.Header.Get("X-DC-DEVKEY") != s.key || s.key == "" {
		s.fail(w, apiErr{401, "access_denied|invalid_api_key", "Missing or invalid API key."})
		return
	}
	switch f := a.fault; {
	case f != nil && f.DropAfter:
		s.route(httptest.NewRecorder(), r, path, body)
		hangUp(w)
	case f != nil && f.raw():
		s.route(httptest.NewRecorder(), r, path, body)
		writeRaw(w, r, f)
	default:
		s.route(w, r, path, body)
	}
}

// addInflight counts a request in (1) or out (-1) of the server.
func (s *Server) addInflight(n int) {
	s.mu.Lock()
	s.inflight += n
	s.mu.Unlock()
}

// arrival is what a request meets when it arrives: the fault it uses up,
// whether it is over the rate limit, the latency and the hook.
type arrival struct {
	fault   *Fault
	limited bool
	latency time.Duration
	hook    func(Request)
}

// arrive records the request, matches its fault and counts it against the
// rate windows as of arrived, under the lock.
func (s *Server) arrive(w http.ResponseWriter, r *http.Request, path string, body []byte, arrived time.Time) arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	a := arrival{fault: s.matchFault(r.Method, path), limited: s.overLimit(arrived), latency: s.latency, hook: s.hook}
	// The Date header is the fake's clock (WithClock), as CertCentral's
	// is its own: tests skew the two apart to try certform's clock check.
	w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	return a
}

// answerFault answers the faults that stand in for the server before the
// rate limit and the key are checked: a hang-up, a redirect, a raw answer
// that is not processed, an API error. It reports whether it answered.
func (s *Server) answerFault(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	switch {
	case f == nil:
		return false
	case f.DropBefore:
		hangUp(w)
	case f.Redirect != "":
		status := f.Status
		switch status {
		case 301, 302, 303, 307, 308:
		default:
			status = http.StatusTemporaryRedirect
		}
		w.Header().Set("Location", f.Redirect)
		w.WriteHeader(status)
	case f.raw() && !f.Process:
		writeRaw(w, r, f)
	case f.Status != 0 && !f.raw():
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		code := f.Code
		if code == "" {
			code = strings.ToLower(strings.ReplaceAll(http.StatusText(f.Status), " ", "_"))
		}
		msg := f.Message
		if msg == "" {
			msg = "Injected fault: " + http.StatusText(f.Status) + "."
		}
		s.fail(w, apiErr{f.Status, code, msg})
	default:
		return false
	}
	return true
}

// writeRaw sends a fault's raw answer.
func writeRaw(w http.ResponseWriter, r *http.Request, f *Fault) {
	status := f.Status
	if status == 0 {
		status = http.StatusOK
		if r.Method == http.MethodPost {
			status = http.StatusCreated
		}
	}
	ct := f.ContentType
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	io.WriteString(w, f.Body)
}

// hangUp closes the client's connection without an answer.
func hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("digicerttest: connection cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		conn.Close()
	}
}

// matchFault returns the first live fault for the request and uses it up.
// Callers hold s.mu.
func (s *Server) matchFault(method, path string) *Fault {
	for _, f := range s.faults {
		if f.Times < 0 {
			continue
		}
		if f.Method != "" && f.Method != method {
			continue
		}
		if f.Path != "" && f.Path != path && !(strings.HasSuffix(f.Path, "*") && strings.HasPrefix(path, strings.TrimSuffix(f.Path, "*"))) {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				f.Times = -1 // used up
			}
		}
		fc := *f
		return &fc
	}
	return nil
}

// overLimit counts a request that arrived at now against the rolling
// windows and reports whether it exceeds one. Requests are counted in the
// order they get the lock, which may differ slightly from the order they
// arrived: one that arrived later but was counted first counts against
// this one too. Callers hold s.mu.
func (s *Server) overLimit(now time.Time) bool {
	if len(s.limits) == 0 {
		return false
	}
	if now.Before(s.penaltyUntil) {
		s.rateLimited++
		return true
	}
	var longest time.Duration
	for _, l := range s.limits {
		longest = max(longest, l.Per)
	}
	// Drop what no window can see any more, even from a request that
	// arrived a little earlier but is counted later.
	i := 0
	for i < len(s.hits) && now.Sub(s.hits[i]) >= 2*longest {
		i++
	}
	s.hits = s.hits[i:]
	for _, l := range s.limits {
		n := 0
		for j := len(s.hits) - 1; j >= 0 && now.Sub(s.hits[j]) < l.Per; j-- {
			n++
		}
		if n >= l.N {
			s.rateLimited++
			if s.penalty > 0 {
				s.penaltyUntil = now.Add(s.penalty)
			}
			return true
		}
	}
	// Keep hits in time order.
	i = len(s.hits)
	for i > 0 && s.hits[i-1].After(now) {
		i--
	}
	s.hits = slices.Insert(s.hits, i, now)
	return false
}

var (
	orderPath   = regexp.MustCompile(`^/order/certificate/(\d+)(/ct-status|/auto-reissue|/revoke)?$`)
	requestPath = regexp.MustCompile(`^/request/(\d+)$`)
	altPath     = regexp.MustCompile(`^/order/alternate/([^/]+)$`)
	altIDRE     = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	pemAllPath  = regexp.MustCompile(`^/certificate/download/order/(\d+)/format/pem_all$`)
	reissuePath = regexp.MustCompile(`^/order/certificate/(\d+)/reissue$`)
)

func (s *Server) route(w http.ResponseWriter, r *http.Request, path string, body []byte) {
	if s.routeDCV(w, r, path) {
		return
	}
	switch {
	case path == "/order/certificate/ssl":
		if r.Method != http.MethodPost {
			s.fail(w, apiErr{405, "method_not_allowed", "Method not allowed."})
			return
		}
		s.placeOrder(w, r, body)
	case path == "/order/certificate/status-changes" && r.Method == http.MethodGet:
		s.statusChanges(w, r)
	case path == "/order/certificate" && r.Method == http.MethodGet:
		s.listOrders(w, r)
	case path == "/request" && r.Method == http.MethodGet:
		s.listRequests(w, r)
	case requestPath.MatchString(path) && r.Method == http.MethodGet:
		id, _ := strconv.Atoi(requestPath.FindStringSubmatch(path)[1])
		s.getRequest(w, id)
	case pemAllPath.MatchString(path) && r.Method == http.MethodGet:
		id, _ := strconv.Atoi(pemAllPath.FindStringSubmatch(path)[1])
		s.downloadCertificate(w, id)
	case altPath.MatchString(path) && r.Method == http.MethodGet:
		s.findAlternate(w, altPath.FindStringSubmatch(path)[1])
	case reissuePath.MatchString(path):
		id, _ := strconv.Atoi(reissuePath.FindStringSubmatch(path)[1])
		switch r.Method {
		case http.MethodPost:
			s.reissue(w, r, id, body)
		case http.MethodGet:
			s.listReissues(w, id)
		default:
			s.fail(w, apiErr{405, "method_not_allowed", "Method not allowed."})
		}
	case orderPath.MatchString(path):
		m := orderPath.FindStringSubmatch(path)
		id, _ := strconv.Atoi(m[1])
		s.orderCall(w, r, id, m[2], body)
	default:
		s.fail(w, apiErr{404, "not_found", "The requested resource was not found."})
	}
}

// decodeBody checks the content type and decodes a JSON object.
func decodeBody(r *http.Request, body []byte) (map[string]json.RawMessage, *apiErr) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, &apiErr{415, "unsupported_media_type", "Content-Type must be application/json."}
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, &apiErr{400, "bad_request_format", "The request body is not a JSON object."}
	}
	return m, nil
}

// want decodes the field key of m into a T: DigiCert's missing_field
// error when it is required and absent, its invalid_type error naming kind
// ("a boolean") when it does not decode. found reports whether m has key.
func want[T any](m map[string]json.RawMessage, key string, required bool, kind string) (v T, found bool, e *apiErr) {
	raw, ok := m[key]
	if !ok {
		if required {
			return v, false, &apiErr{400, "missing_field", fmt.Sprintf("Missing required field: %s.", key)}
		}
		return v, false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, false, &apiErr{400, "invalid_type", fmt.Sprintf("Field %s must be %s.", key, kind)}
	}
	return v, true, nil
}

// wantBool decodes a boolean field (see want).
func wantBool(m map[string]json.RawMessage, key string, required bool) (bool, *apiErr) {
	b, _, e := want[bool](m, key, required, "a boolean")
	return b, e
}

// wantInt decodes an integer field and reports whether it is there.
func wantInt(m map[string]json.RawMessage, key string, required bool) (int, bool, *apiErr) {
	return want[int](m, key, required, "an integer")
}

// wantString decodes a string field (see want).
func wantString(m map[string]json.RawMessage, key string, required bool) (string, *apiErr) {
	str, _, e := want[string](m, key, required, "a string")
	return str, e
}

// wantObject decodes an object field; JSON null is not an object.
func wantObject(m map[string]json.RawMessage, key string, required bool) (map[string]json.RawMessage, *apiErr) {
	o, found, e := want[map[string]json.RawMessage](m, key, required, "an object")
	if e == nil && found && o == nil {
		return nil, &apiErr{400, "invalid_type", fmt.Sprintf("Field %s must be an object.", key)}
	}
	return o, e
}

var dnsName = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// knownOrderFields are the top-level order fields the fake accepts; others
// are rejected, so that a typo in certform's request body cannot pass.
var knownOrderFields = map[string]bool{
	"certificate": true, "order_validity": true, "container": true, "product": true, "auto_renew": true,
	"auto_reissue": true, "disable_renewal_notifications": true, "additional_emails": true, "disable_ct": true,
	"skip_approval": true, "organization": true, "dcv_method": true, "comments": true, "alternative_order_id": true,
	"renewal_of_order_id": true,
}

// knownReissueFields are the top-level reissue fields the fake accepts.
var knownReissueFields = map[string]bool{"certificate": true, "skip_approval": true, "comments": true}

// placeOrder serves POST /order/certificate/ssl: the order is recorded
// with the next order and request ids, issued at once when it skips
// approval and needs no DCV check, and the answer is 201 {"id",
// "requests", ...}. An order CertCentral would refuse gets its error.
func (s *Server) placeOrder(w http.ResponseWriter, r *http.Request, body []byte) {
	var validity digicert.Validity
	o, e := s.parseOrder(r, body, &validity)
	if e != nil {
		s.fail(w, *e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, e := s.checkPlacement(o)
	if e != nil {
		s.fail(w, *e)
		return
	}
	o.ID = s.nextOrder
	s.nextOrder++
	reqID := s.nextRequest
	s.nextRequest++
	o.Changed = s.now()
	o.Created = o.Changed
	o.OrderValidTill = o.Created.AddDate(validity.Years, 0, validity.Days)
	if o.Status == "issued" && s.validatesDCV(o.DCVMethod) {
		o.Status = "pending" // until check-dcv finds the value (dcv.go)
	}
	resp := map[string]any{"id": o.ID}
	if o.DCVRandomValue != "" {
		resp["dcv_random_value"] = o.DCVRandomValue
	}
	if o.Status == "issued" {
		if err := s.issue(o, o.PublicKey, time.Time{}); err != nil {
			s.fail(w, apiErr{500, "internal_error", "The certificate could not be issued: " + err.Error()})
			return
		}
		resp["requests"] = []map[string]any{{"id": reqID, "status": "approved"}}
		resp["certificate_id"] = o.CertificateID
		var domains []map[string]any
		for i, n := range append([]string{o.CommonName}, o.DNSNames...) {
			domains = append(domains, map[string]any{"id": 1000 + i, "name": n, "dns_name": n})
		}
		resp["domains"] = domains
	} else {
		resp["requests"] = []map[string]any{{"id": reqID, "status": "pending"}}
	}
	s.orders[o.ID] = o
	if old != nil {
		s.markRenewed(old, o.ID)
	}
	writeJSON(w, http.StatusCreated, resp)
}

// checkPlacement checks a new order against the account: an alternative
// order id already used (WithUniqueAlternativeIDs), and the order it
// renews, which it returns, must exist and not be renewed already.
// Callers hold s.mu.
func (s *Server) checkPlacement(o *Order) (old *Order, e *apiErr) {
	if s.uniqueAltIDs && o.AlternativeOrderID != "" {
		for _, x := range s.orders {
			if x.AlternativeOrderID == o.AlternativeOrderID {
				return nil, &apiErr{400, "duplicate_alternative_order_id", "An order with this alternative order ID already exists."}
			}
		}
	}
	if o.RenewalOfOrderID == 0 {
		return nil, nil
	}
	if old = s.orders[o.RenewalOfOrderID]; old == nil {
		return nil, &apiErr{400, "invalid_renewal_of_order_id", fmt.Sprintf("Order %d does not exist; renewal_of_order_id must name an order of this account.", o.RenewalOfOrderID)}
	}
	if old.IsRenewed {
		return nil, &apiErr{400, "order_already_renewed", fmt.Sprintf("Order %d has already been renewed by order %d; it cannot be renewed again.", old.ID, old.RenewedOrderID)}
	}
	return old, nil
}

// parseCertificate checks the "certificate" object of an order's or a
// reissue's body m as CertCentral does: a valid common name and DNS names,
// a CSR that parses, for a key the test CA can sign for, a signature hash
// of sha256, sha384 or sha512, and a server_platform with an id if any.
// It sets o's CommonName, DNSNames, PublicKey and SignatureHash and
// returns the CSR as sent. The CSR's own names are not checked against
// the request's: CertCentral takes the names from the request.
func parseCertificate(m map[string]json.RawMessage, o *Order) (string, *apiErr) {
	cert, e := wantObject(m, "certificate", true)
	if e != nil {
		return "", e
	}
	if o.CommonName, e = wantString(cert, "common_name", true); e != nil {
		return "", e
	}
	if !dnsName.MatchString(o.CommonName) {
		return "", &apiErr{400, "invalid_dns_name", fmt.Sprintf("Invalid domain name: %s.", o.CommonName)}
	}
	if o.DNSNames, e = parseDNSNames(cert); e != nil {
		return "", e
	}
	csr, e := wantString(cert, "csr", true)
	if e != nil {
		return "", e
	}
	if o.PublicKey, e = csrPublicKey(csr); e != nil {
		return "", e
	}
	if o.SignatureHash, e = wantString(cert, "signature_hash", true); e != nil {
		return "", e
	}
	switch o.SignatureHash {
	case "sha256", "sha384", "sha512":
	default:
		return "", &apiErr{400, "invalid_signature_hash", "Invalid signature hash."}
	}
	if sp, e := wantObject(cert, "server_platform", false); e != nil {
		return "", e
	} else if sp != nil {
		if _, _, e := wantInt(sp, "id", true); e != nil {
			return "", e
		}
	}
	return csr, nil
}

// parseDNSNames checks a certificate object's dns_names, if any: an array
// of valid DNS names.
func parseDNSNames(cert map[string]json.RawMessage) ([]string, *apiErr) {
	raw, ok := cert["dns_names"]
	if !ok {
		return nil, nil
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		return nil, &apiErr{400, "invalid_type", "Field dns_names must be an array of strings."}
	}
	for _, n := range names {
		if !dnsName.MatchString(n) {
			return nil, &apiErr{400, "invalid_dns_name", fmt.Sprintf("Invalid domain name: %s.", n)}
		}
	}
	return names, nil
}

// csrPublicKey returns the public key of a PEM CSR, one the test CA can sign
// for (RSA, ECDSA, Ed25519); anything else is DigiCert's
// csr_invalid_cannot_parse.
func csrPublicKey(csr string) (crypto.PublicKey, *apiErr) {
	bad := &apiErr{400, "csr_invalid_cannot_parse", "Unable to parse the CSR."}
	block, _ := pem.Decode([]byte(csr))
	if block == nil {
		return nil, bad
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, bad
	}
	switch req.PublicKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return req.PublicKey, nil
	default: // a key algorithm Go does not know: no certificate could be made for it
		return nil, bad
	}
}

// parseOrder checks an order's body as CertCentral does and returns the
// order it asks for, its order_validity in *validity.
func (s *Server) parseOrder(r *http.Request, body []byte, validity *digicert.Validity) (*Order, *apiErr) {
	m, e := decodeBody(r, body)
	if e != nil {
		return nil, e
	}
	for k := range m {
		if !knownOrderFields[k] {
			return nil, &apiErr{400, "bad_request_format", fmt.Sprintf("Unknown field: %s.", k)}
		}
	}
	o := &Order{Body: body}
	if _, e := parseCertificate(m, o); e != nil {
		return nil, e
	}
	if *validity, e = parseValidity(m); e != nil {
		return nil, e
	}
	if e := parseAccount(m, o); e != nil {
		return nil, e
	}
	skip, e := parseOrderFlags(m, o)
	if e != nil {
		return nil, e
	}
	if o.DCVMethod, e = wantString(m, "dcv_method", false); e != nil {
		return nil, e
	}
	if _, e := wantString(m, "comments", false); e != nil {
		return nil, e
	}
	if tokenDCV[o.DCVMethod] {
		o.DCVRandomValue = randomToken()
	}
	if e := parseOrderLinks(m, o); e != nil {
		return nil, e
	}
	o.Status = "needs_approval"
	if skip {
		o.Status = "issued"
	}
	return o, nil
}

// parseValidity checks an order's order_validity: 1 to 3 years or 1 to
// 1095 days.
func parseValidity(m map[string]json.RawMessage) (digicert.Validity, *apiErr) {
	ov, e := wantObject(m, "order_validity", true)
	if e != nil {
		return digicert.Validity{}, e
	}
	years, hasYears, e := wantInt(ov, "years", false)
	if e != nil {
		return digicert.Validity{}, e
	}
	days, hasDays, e := wantInt(ov, "days", false)
	if e != nil {
		return digicert.Validity{}, e
	}
	if (!hasYears && !hasDays) || (hasYears && (years < 1 || years > 3)) || (hasDays && (days < 1 || days > 1095)) {
		return digicert.Validity{}, &apiErr{400, "invalid_order_validity", "Order validity must be 1-3 years or 1-1095 days."}
	}
	return digicert.Validity{Years: years, Days: days}, nil
}

// parseAccount checks an order's organization (required, with an id),
// container (an id if any) and product (a known type_hint if any), and
// sets o's OrganizationID and ProductType.
func parseAccount(m map[string]json.RawMessage, o *Order) *apiErr {
	org, e := wantObject(m, "organization", true)
	if e != nil {
		return e
	}
	if o.OrganizationID, _, e = wantInt(org, "id", true); e != nil {
		return e
	}
	if c, e := wantObject(m, "container", false); e != nil {
		return e
	} else if c != nil {
		if _, _, e := wantInt(c, "id", true); e != nil {
			return e
		}
	}
	product, e := wantObject(m, "product", false)
	if e != nil {
		return e
	}
	if o.ProductType, e = wantString(product, "type_hint", false); e != nil {
		return e
	}
	switch o.ProductType {
	case "", "ov", "ev", "grid", "private":
	default:
		return &apiErr{400, "ambiguous_product", "Unable to determine the product from type_hint."}
	}
	return nil
}

// parseOrderFlags checks an order's switches (auto_renew and auto_reissue
// 0 or 1, the booleans, additional_emails), sets o's AutoReissue and
// DisableCT and returns skip_approval.
func parseOrderFlags(m map[string]json.RawMessage, o *Order) (skip bool, e *apiErr) {
	for _, k := range []string{"auto_renew", "auto_reissue"} {
		v, _, e := wantInt(m, k, false)
		if e != nil {
			return false, e
		}
		if v != 0 && v != 1 {
			return false, &apiErr{400, "invalid_type", fmt.Sprintf("Field %s must be 0 or 1.", k)}
		}
		if k == "auto_reissue" {
			o.AutoReissue = v == 1
		}
	}
	for _, k := range []string{"disable_renewal_notifications", "skip_approval", "disable_ct"} {
		if _, e := wantBool(m, k, false); e != nil {
			return false, e
		}
	}
	o.DisableCT, _ = wantBool(m, "disable_ct", false)
	skip, _ = wantBool(m, "skip_approval", false)
	if raw, ok := m["additional_emails"]; ok {
		var emails []string
		if err := json.Unmarshal(raw, &emails); err != nil {
			return false, &apiErr{400, "invalid_type", "Field additional_emails must be an array of strings."}
		}
	}
	return skip, nil
}

// parseOrderLinks checks an order's alternative_order_id and
// renewal_of_order_id and sets them on o.
func parseOrderLinks(m map[string]json.RawMessage, o *Order) *apiErr {
	var e *apiErr
	if o.AlternativeOrderID, e = wantString(m, "alternative_order_id", false); e != nil {
		return e
	}
	if _, ok := m["alternative_order_id"]; ok && !altIDRE.MatchString(o.AlternativeOrderID) {
		return &apiErr{400, "invalid_alternative_order_id", "Alternative order ID must be alphanumeric, at most 64 characters."}
	}
	renewal, hasRenewal, e := wantInt(m, "renewal_of_order_id", false)
	if e != nil {
		return e
	}
	if hasRenewal && renewal <= 0 {
		return &apiErr{400, "invalid_renewal_of_order_id", fmt.Sprintf("Order %d does not exist; renewal_of_order_id must name an order of this account.", renewal)}
	}
	o.RenewalOfOrderID = renewal
	return nil
}

// orderOr404 returns the order id, or answers DigiCert's 404 for an
// unknown order and returns nil. Callers hold s.mu.
func (s *Server) orderOr404(w http.ResponseWriter, id int) *Order {
	o := s.orders[id]
	if o == nil {
		s.fail(w, apiErr{404, "not_found|order", "Order not found."})
	}
	return o
}

// orderCall serves GET /order/certificate/{id} and the PUTs on an order
// (action: /ct-status, /auto-reissue, /revoke). An unknown order is a 404
// not_found|order.
func (s *Server) orderCall(w http.ResponseWriter, r *http.Request, id int, action string, body []byte) {
	var m map[string]json.RawMessage
	if r.Method == http.MethodPut {
		var e *apiErr
		if m, e = decodeBody(r, body); e != nil {
			s.fail(w, *e)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderOr404(w, id)
	if o == nil {
		return
	}
	var e *apiErr
	switch {
	case action == "" && r.Method == http.MethodGet:
		writeJSON(w, 200, s.orderJSON(o, false))
		return
	case action == "/ct-status" && r.Method == http.MethodPut:
		e = s.putCT(o, m)
	case action == "/auto-reissue" && r.Method == http.MethodPut:
		e = s.putAutoReissue(o, m)
	case action == "/revoke" && r.Method == http.MethodPut:
		s.putRevoke(w, o, m)
		return
	default:
		e = &apiErr{405, "method_not_allowed", "Method not allowed."}
	}
	if e != nil {
		s.fail(w, *e)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// putCT sets the order's CT logging from {"disable_ct": bool}: refused for
// an account without the CT opt-out and for an order that cannot change.
func (s *Server) putCT(o *Order, m map[string]json.RawMessage) *apiErr {
	v, e := wantBool(m, "disable_ct", true)
	if e == nil && s.ctUnsupported {
		e = &apiErr{400, "cert_transparency_turned_off_for_account", "CT logging options are not enabled for this account."}
	}
	if e == nil {
		e = s.changeable(o)
	}
	if e == nil {
		o.DisableCT = v
	}
	return e
}

// putAutoReissue sets the order's auto-reissue from {"auto_reissue": 0 or
// 1}: refused for an order that cannot change.
func (s *Server) putAutoReissue(o *Order, m map[string]json.RawMessage) *apiErr {
	v, _, e := wantInt(m, "auto_reissue", true)
	if e == nil && v != 0 && v != 1 {
		e = &apiErr{400, "invalid_type", "Field auto_reissue must be 0 or 1."}
	}
	if e == nil {
		e = s.changeable(o)
	}
	if e == nil {
		o.AutoReissue = v == 1
	}
	return e
}

// putRevoke asks to revoke the order with {"comments"}: a pending revoke
// request (201 with the request), or with WithInstantRevoke the order
// revoked at once (204). A revoked order, or one with a revoke request
// that was not rejected, is a 400 revoke_request_exists.
func (s *Server) putRevoke(w http.ResponseWriter, o *Order, m map[string]json.RawMessage) {
	comments, e := wantString(m, "comments", true)
	if e == nil && strings.TrimSpace(comments) == "" {
		e = &apiErr{400, "missing_field", "Missing required field: comments."}
	}
	if e == nil && (o.Status == "revoked" || (o.Revoke != nil && o.Revoke.Status != "rejected")) {
		e = &apiErr{400, "revoke_request_exists", "A revoke request already exists for this order."}
	}
	if e != nil {
		s.fail(w, *e)
		return
	}
	if s.autoApprove {
		s.newRevoke(o, "approved", comments)
		o.Status = "revoked"
		o.Changed = s.now()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusCreated, s.newRevoke(o, "pending", comments))
}

// reissue serves POST /order/certificate/{id}/reissue. An unknown order
// is a 404 not_found|order; a body CertCentral would refuse, the error it
// gives (see parseCertificate; unknown fields are bad_request_format); an
// order that is not issued a 400 order_not_issued. Otherwise the order
// takes the requested names, key and signature hash, the reissue is
// recorded with the next certificate id, and the answer is 201 {"id",
// "requests": [{"id", "status"}]}: approved when the certificate is issued
// at once (skip_approval without WithReissueHold; the order stays issued),
// pending when it waits (the order becomes reissue_pending).
func (s *Server) reissue(w http.ResponseWriter, r *http.Request, id int, body []byte) {
	m, e := decodeBody(r, body)
	if e != nil {
		s.fail(w, *e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderOr404(w, id)
	if o == nil {
		return
	}
	want, csr, skip, e := parseReissue(m, o)
	if e != nil {
		s.fail(w, *e)
		return
	}
	now := s.now()
	rr := s.newReissue(o, &want, csr, now)
	// Work on a copy, so that an order whose certificate cannot be made
	// is left as it was.
	n := *o
	n.CommonName, n.DNSNames, n.SignatureHash, n.PublicKey = want.CommonName, want.DNSNames, want.SignatureHash, want.PublicKey
	n.RevokesPrevious = o.RevokesPrevious || rr.RevokesPrevious
	status := "pending"
	if skip && !s.holdReissues && !s.reissueValidated(o, &n) {
		skip = false // waits in reissue_pending until check-dcv (dcv.go)
	}
	if skip && !s.holdReissues {
		if err := s.issueAs(&n, rr.PublicKey, time.Time{}, rr.CertificateID); err != nil {
			s.fail(w, apiErr{500, "internal_error", "The certificate could not be issued: " + err.Error()})
			return
		}
		rr = rr.issued(&n)
		status = "approved"
	} else {
		n.Status = "reissue_pending"
		n.Changed = now
		s.before[rr.CertificateID] = reissueBefore{o.CommonName, o.DNSNames, o.SignatureHash, o.PublicKey}
	}
	s.addReissue(&n, rr)
	*o = n
	s.nextCert++
	s.nextRequest++
	writeJSON(w, http.StatusCreated, map[string]any{"id": o.ID, "requests": []map[string]any{{"id": rr.RequestID, "status": status}}})
}

// newReissue is the pending reissue of order o to the names, key and hash
// of want, with the next certificate and request ids. Callers hold s.mu.
func (s *Server) newReissue(o, want *Order, csr string, now time.Time) Reissue {
	return Reissue{
		CertificateID: s.nextCert, RequestID: s.nextRequest, Status: "pending",
		CommonName: want.CommonName, DNSNames: want.DNSNames, SignatureHash: want.SignatureHash,
		CSR: csr, PublicKey: want.PublicKey, Created: now,
		RevokesPrevious: revokesPrevious(o, want.CommonName, want.DNSNames),
	}
}

// parseReissue checks a reissue's body m for order o as CertCentral does
// and returns the names, key and hash asked for, the CSR as sent and
// skip_approval. Only an issued order can be reissued.
func parseReissue(m map[string]json.RawMessage, o *Order) (want Order, csr string, skip bool, e *apiErr) {
	for k := range m {
		if !knownReissueFields[k] {
			return want, "", false, &apiErr{400, "bad_request_format", fmt.Sprintf("Unknown field: %s.", k)}
		}
	}
	if csr, e = parseCertificate(m, &want); e != nil {
		return want, "", false, e
	}
	skip, e = wantBool(m, "skip_approval", false)
	if e == nil {
		_, e = wantString(m, "comments", false)
	}
	if e == nil && o.Status != "issued" {
		e = &apiErr{400, "order_not_issued", fmt.Sprintf("The order is %s; only an issued order can be reissued.", o.Status)}
	}
	return want, csr, skip, e
}

// timestampLayout is how DigiCert writes date_created and date_issued of a
// reissue and the expirations of DCV values and validations: ISO 8601 in
// UTC with a numeric offset, such as 2019-04-08T17:33:26+00:00.
const timestampLayout = "2006-01-02T15:04:05-07:00"

// listReissues serves GET /order/certificate/{id}/reissue: {"certificates":
// [...]}, the order's reissues newest first, an empty array for none. An
// entry has id, status, common_name, dns_names ([" "] when empty, as for an
// order), date_created and csr when one was sent; an issued one also
// date_issued, valid_till, serial_number and thumbprint. An unknown order
// is a 404 not_found|order.
func (s *Server) listReissues(w http.ResponseWriter, id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderOr404(w, id)
	if o == nil {
		return
	}
	certs := []map[string]any{}
	for i := len(o.Reissues) - 1; i >= 0; i-- {
		rr := o.Reissues[i]
		names := rr.DNSNames
		if len(names) == 0 {
			names = []string{" "}
		}
		c := map[string]any{
			"id":           rr.CertificateID,
			"status":       rr.Status,
			"common_name":  rr.CommonName,
			"dns_names":    names,
			"date_created": rr.Created.UTC().Format(timestampLayout),
		}
		if rr.CSR != "" {
			c["csr"] = rr.CSR
		}
		if rr.Status == "issued" {
			c["date_issued"] = rr.Issued.UTC().Format(timestampLayout)
			c["valid_till"] = rr.NotAfter.UTC().Format(dateLayout)
			c["serial_number"] = rr.SerialNumber
			c["thumbprint"] = rr.Thumbprint
		}
		certs = append(certs, c)
	}
	writeJSON(w, 200, map[string]any{"certificates": certs})
}

// changeable refuses settings changes on a revoked or revoking order.
func (s *Server) changeable(o *Order) *apiErr {
	if digicert.IsClosed(o.Status) {
		return &apiErr{400, "invalid_order_status", fmt.Sprintf("The order is %s; its settings cannot change.", o.Status)}
	}
	return nil
}

// productNames are the product name_ids the fake reports for a type_hint:
// DigiCert's Secure Site products, as real answers name them
// (shared/digicert-api.md, interop). grid and private keep the fake's
// "ssl_" form, which certform reads by family; "" (no type_hint) too.
var productNames = map[string]string{"ov": "ssl_securesite_flex", "ev": "ssl_ev_securesite_flex", "private": "private_ssl_plus"}

// productNameID returns the name_id the fake reports for a type_hint.
func productNameID(typeHint string) string {
	if n, ok := productNames[typeHint]; ok {
		return n
	}
	return "ssl_" + typeHint
}

// orderJSON is the order as GET /order/certificate/{id} answers it, or,
// with listEntry, as an entry of GET /order/certificate. Callers hold
// s.mu.
func (s *Server) orderJSON(o *Order, listEntry bool) map[string]any {
	out := map[string]any{
		"id":           o.ID,
		"status":       o.Status,
		"date_created": o.Created.UTC().Format(time.RFC3339),
		"certificate":  s.certificateJSON(o),
		"product":      map[string]any{"name_id": productNameID(o.ProductType), "type": "ssl_certificate"},
		"organization": map[string]any{"id": o.OrganizationID},
	}
	if !listEntry {
		// A list entry lacks the settings and the alternative order id,
		// as in a sanitized real listing (shared/realdata).
		if s.sendCT {
			out["disable_ct"] = o.DisableCT
		}
		out["auto_reissue"] = digicert.Bool01(o.AutoReissue)
		if o.AlternativeOrderID != "" {
			out["alternative_order_id"] = o.AlternativeOrderID
		}
	}
	if !o.OrderValidTill.IsZero() {
		out["order_valid_till"] = o.OrderValidTill.UTC().Format(dateLayout)
	}
	addOrderLinks(out, o)
	return out
}

// addOrderLinks adds to an order's JSON its renewal links and its DCV
// method and random value, each when set (is_renewed always).
func addOrderLinks(out map[string]any, o *Order) {
	out["is_renewed"] = o.IsRenewed
	if o.RenewedOrderID != 0 {
		out["renewed_order_id"] = o.RenewedOrderID
	}
	if o.RenewalOfOrderID != 0 {
		out["renewal_of_order_id"] = o.RenewalOfOrderID
	}
	if o.DCVMethod != "" {
		out["dcv_method"] = o.DCVMethod
	}
	if o.DCVRandomValue != "" {
		out["dcv_random_value"] = o.DCVRandomValue
	}
}

// certificateJSON is the certificate object of an order's JSON: names and
// hash, the certificate id once there is one, and the issued
// certificate's serial, thumbprint, dates and days remaining.
func (s *Server) certificateJSON(o *Order) map[string]any {
	names := o.DNSNames
	if len(names) == 0 {
		names = []string{" "} // as CertCentral has been seen to report an empty list
	}
	cert := map[string]any{
		"common_name":    o.CommonName,
		"dns_names":      names,
		"signature_hash": o.SignatureHash,
	}
	if o.CertificateID != 0 {
		cert["id"] = o.CertificateID
	}
	if o.CertificatePEM != nil {
		cert["serial_number"] = o.SerialNumber
		cert["thumbprint"] = o.Thumbprint
		cert["valid_from"] = o.NotBefore.UTC().Format(dateLayout)
		cert["valid_till"] = o.NotAfter.UTC().Format(dateLayout)
		cert["days_remaining"] = max(0, int(o.NotAfter.Sub(s.now())/(24*time.Hour)))
	}
	return cert
}

// dateLayout is how DigiCert writes the dates of an order: valid_from,
// valid_till and order_valid_till, such as "2026-11-25" (UTC).
const dateLayout = "2006-01-02"

// downloadCertificate serves GET /certificate/download/order/{id}/format/pem_all:
// the order's current certificate, the intermediate and the root, PEM, as
// application/x-pem-file. An unknown order is a 404 not_found|order; an
// order without a certificate, or a revoked one, a 400
// certificate_not_issued (DigiCert does not document this code).
func (s *Server) downloadCertificate(w http.ResponseWriter, id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderOr404(w, id)
	switch {
	case o == nil:
		return
	case o.CertificatePEM == nil:
		s.fail(w, apiErr{400, "certificate_not_issued", "The order has no issued certificate."})
		return
	case o.Status == "revoked":
		s.fail(w, apiErr{400, "certificate_not_issued", "The order's certificate is revoked."})
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.WriteHeader(http.StatusOK)
	w.Write(bytes.Join([][]byte{o.CertificatePEM, s.ca.interPEM, s.ca.rootPEM}, nil))
}

func (s *Server) findAlternate(w http.ResponseWriter, altID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var refs []digicert.OrderRef
	for _, o := range s.orders {
		if o.AlternativeOrderID == altID && s.visible(o) {
			refs = append(refs, digicert.OrderRef{OrderID: o.ID, CertificateID: o.CertificateID, Status: o.Status})
		}
	}
	if len(refs) == 0 {
		s.fail(w, apiErr{404, "not_found", "No orders found with this alternative order ID."})
		return
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].OrderID < refs[j].OrderID })
	writeJSON(w, 200, map[string]any{"orders": refs, "page": map[string]int{"total": len(refs), "limit": 1000, "offset": 0}})
}

// statusChanges serves GET /order/certificate/status-changes?minutes=N:
// the orders that changed in the last N minutes, by order id, one page of
// limit and offset as the other lists (WithMaxPageSize caps it), with a
// page object: {"orders": [...], "page": {"total", "limit", "offset"}}.
// DigiCert documents the list as paged; its example shows no page
// object, which digicert.Client reads too.
func (s *Server) statusChanges(w http.ResponseWriter, r *http.Request) {
	minutes, err := strconv.Atoi(r.URL.Query().Get("minutes"))
	if err != nil || minutes < 1 || minutes > 10080 {
		s.fail(w, apiErr{400, "invalid_minutes", "minutes must be between 1 and 10080."})
		return
	}
	limit, offset, ok := s.page(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	since := s.now().Add(-time.Duration(minutes) * time.Minute)
	refs := []digicert.OrderRef{}
	for _, o := range s.orders {
		if o.Changed.After(since) {
			refs = append(refs, digicert.OrderRef{OrderID: o.ID, CertificateID: o.CertificateID, Status: o.Status})
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].OrderID < refs[j].OrderID })
	writePage(w, "orders", refs, limit, offset)
}

// maxPageSize is the most entries a list page holds, and the default.
const maxPageSize = 1000

// visible reports whether look-ups and lists see o yet (WithLookupLag).
// Callers hold s.mu.
func (s *Server) visible(o *Order) bool {
	return !s.now().Before(o.Created.Add(s.lookupLag))
}

// page reads limit and offset from a list call's query: limit defaults to
// and is capped at the server's page size. A bad limit or offset is
// answered with a 400 on w, and ok is false.
func (s *Server) page(w http.ResponseWriter, r *http.Request) (limit, offset int, ok bool) {
	q := r.URL.Query()
	limit = s.maxPage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.fail(w, apiErr{400, "invalid_limit", "limit must be a positive integer."})
			return 0, 0, false
		}
		limit = min(n, s.maxPage)
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.fail(w, apiErr{400, "invalid_offset", "offset must be an integer of at least 0."})
			return 0, 0, false
		}
		offset = n
	}
	return limit, offset, true
}

// writePage answers one page of a list: {field: entries[offset:offset+limit],
// "page": {"total", "limit", "offset"}}.
func writePage[T any](w http.ResponseWriter, field string, entries []T, limit, offset int) {
	start := min(offset, len(entries))
	end := min(start+limit, len(entries))
	writeJSON(w, 200, map[string]any{
		field:  append([]T{}, entries[start:end]...),
		"page": map[string]int{"total": len(entries), "limit": limit, "offset": offset},
	})
}

// listOrders serves GET /order/certificate: the orders that match
// filters[status] and filters[common_name] (whole, without regard to
// case) and that look-ups see yet, by id, one page.
func (s *Server) listOrders(w http.ResponseWriter, r *http.Request) {
	limit, offset, ok := s.page(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	status, cn := q.Get("filters[status]"), q.Get("filters[common_name]")
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int
	for id, o := range s.orders {
		if s.visible(o) && (status == "" || o.Status == status) && (cn == "" || strings.EqualFold(o.CommonName, cn)) {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	entries := make([]map[string]any, len(ids))
	for i, id := range ids {
		entries[i] = s.orderJSON(s.orders[id], true)
	}
	writePage(w, "orders", entries, limit, offset)
}

// listRequests serves GET /request: the revoke requests that match
// filters[status], by id, one page.
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) {
	limit, offset, ok := s.page(w, r)
	if !ok {
		return
	}
	status := r.URL.Query().Get("filters[status]")
	s.mu.Lock()
	defer s.mu.Unlock()
	var entries []digicert.Request
	for _, rr := range s.revokes {
		if status == "" || rr.Status == status {
			entries = append(entries, *rr)
		}
	}
	writePage(w, "requests", entries, limit, offset)
}

// getRequest serves GET /request/{id}.
func (s *Server) getRequest(w http.ResponseWriter, id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rr := range s.revokes {
		if rr.ID == id {
			writeJSON(w, 200, rr)
			return
		}
	}
	s.fail(w, apiErr{404, "not_found", "Request not found."})
}
