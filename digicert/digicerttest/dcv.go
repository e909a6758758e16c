package digicerttest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dcvState is what the fake knows of domain control validation: where it
// looks for published values, and the account's domains.
type dcvState struct {
	// resolver is the DNS server (host:port) check-dcv and validate-token
	// query; "" when the fake does not validate by DNS.
	resolver string
	// web maps a name to the base URL (http://127.0.0.1:PORT) that serves
	// http://NAME/ for http-token; nil when the fake does not fetch.
	web func(name string) string
	// validated are the names validated per order id.
	validated map[int]map[string]bool
	domains   map[int]*Domain
	nextID    int
}

// Domain is one domain of the fake's account.
type Domain struct {
	ID   int
	Name string
	// ValidatedUntil is when the domain's validation ends; zero when it
	// has none.
	ValidatedUntil time.Time
	// Token is the domain's DCV token and TokenExpires its end; "" until
	// POST /domain/{id}/dcv/token makes one (or AddDomain is given one).
	Token        string
	TokenExpires time.Time
	// Validations counts the successful PUT .../dcv/validate-token calls.
	Validations int
}

// DomainValidationPeriod is how long a domain validation the fake accepts
// is reused: 200 days, the SC-081 period from 2026-03-15 to 2027-03-15
// (shared/digicert-api.md).
const DomainValidationPeriod = 200 * 24 * time.Hour

// WithDNSResolver makes the fake validate dns-txt-token and
// dns-cname-token by querying the DNS server at addr (host:port, UDP then
// TCP): an order placed with such a method then waits in pending (even
// with skip_approval) until PUT .../check-dcv finds every name's value,
// and PUT /domain/{id}/dcv/validate-token checks a domain's token there.
// TXT values are looked for at NAME and at _dnsauth.NAME, the CNAME at
// _dnsauth.NAME pointing to VALUE.dcv.digicert.com.
func WithDNSResolver(addr string) Option { return func(s *Server) { s.dcv.resolver = addr } }

// WithHTTPValidation makes the fake validate http-token by fetching
// base(NAME)/.well-known/pki-validation/fileauth.txt with Host: NAME, where
// base returns a URL such as http://127.0.0.1:PORT ("" for a name it does
// not serve): an order placed with http-token then waits in pending until
// PUT .../check-dcv finds the value in that file.
func WithHTTPValidation(base func(name string) string) Option {
	return func(s *Server) { s.dcv.web = base }
}

// reissueValidated reports whether a reissue of o to n's names needs no
// validation: the fake does not validate o's method, or every name of n is
// validated. The names o was issued for count as validated from now on.
// Called with s.mu held.
func (s *Server) reissueValidated(o, n *Order) bool {
	if !s.validatesDCV(o.DCVMethod) {
		return true
	}
	if s.dcv.validated == nil {
		s.dcv.validated = map[int]map[string]bool{}
	}
	if s.dcv.validated[o.ID] == nil {
		s.dcv.validated[o.ID] = map[string]bool{}
	}
	for _, name := range orderNames(o) {
		s.dcv.validated[o.ID][name] = true
	}
	for _, name := range orderNames(n) {
		if !s.validatedName(o.ID, name) {
			return false
		}
	}
	return true
}

// validatesDCV reports whether the fake validates orders placed with
// method itself (see WithDNSResolver, WithHTTPValidation).
func (s *Server) validatesDCV(method string) bool {
	switch method {
	case "dns-txt-token", "dns-cname-token":
		return s.dcv.resolver != ""
	case "http-token":
		return s.dcv.web != nil
	}
	return false
}

// AddDomain adds a domain to the account, validated until until (zero for
// none), and returns its id.
func (s *Server) AddDomain(name string, until time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dcv.domains == nil {
		s.dcv.domains = map[int]*Domain{}
		s.dcv.nextID = 7001
	}
	d := &Domain{ID: s.dcv.nextID, Name: strings.ToLower(name), ValidatedUntil: until}
	s.dcv.nextID++
	s.dcv.domains[d.ID] = d
	return d.ID
}

// DomainByID returns a copy of a domain of the account.
func (s *Server) DomainByID(id int) (Domain, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dcv.domains[id]
	if d == nil {
		return Domain{}, false
	}
	return *d, true
}

// Validated returns the names of an order the fake has validated, sorted.
func (s *Server) Validated(id int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.dcv.validated[id] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

var (
	dcvOrderPath  = regexp.MustCompile(`^/order/certificate/(\d+)/(validation|dcv-random-value|check-dcv)$`)
	domainPath    = regexp.MustCompile(`^/domain/(\d+)$`)
	domainDCVPath = regexp.MustCompile(`^/domain/(\d+)/dcv/(token|validate-token)$`)
)

// dcvCall is a DCV call on an order or a domain: its method and what
// serves it for the id in the path.
type dcvCall struct {
	method string
	serve  func(s *Server, w http.ResponseWriter, r *http.Request, id int)
}

// dcvOrderCalls are the DCV calls on an order, by dcvOrderPath's action.
var dcvOrderCalls = map[string]dcvCall{
	"validation":       {http.MethodGet, func(s *Server, w http.ResponseWriter, _ *http.Request, id int) { s.orderValidation(w, id) }},
	"dcv-random-value": {http.MethodPut, func(s *Server, w http.ResponseWriter, _ *http.Request, id int) { s.randomValue(w, id) }},
	"check-dcv":        {http.MethodPut, func(s *Server, w http.ResponseWriter, r *http.Request, id int) { s.checkDCV(w, r.Context(), id) }},
}

// domainDCVCalls are the DCV calls on a domain, by domainDCVPath's action.
var domainDCVCalls = map[string]dcvCall{
	"token": {http.MethodPost, func(s *Server, w http.ResponseWriter, _ *http.Request, id int) { s.newDomainToken(w, id) }},
	"validate-token": {http.MethodPut, func(s *Server, w http.ResponseWriter, r *http.Request, id int) {
		s.validateDomainToken(w, r.Context(), id)
	}},
}

// routeDCV serves the DCV calls and reports whether path was one.
func (s *Server) routeDCV(w http.ResponseWriter, r *http.Request, path string) bool {
	switch {
	case dcvOrderPath.MatchString(path):
		s.serveDCVCall(w, r, dcvOrderPath.FindStringSubmatch(path), dcvOrderCalls)
	case path == "/domain" && r.Method == http.MethodGet:
		s.listDomains(w, r)
	case domainPath.MatchString(path) && r.Method == http.MethodGet:
		id, _ := strconv.Atoi(domainPath.FindStringSubmatch(path)[1])
		s.getDomain(w, id)
	case domainDCVPath.MatchString(path):
		s.serveDCVCall(w, r, domainDCVPath.FindStringSubmatch(path), domainDCVCalls)
	default:
		return false
	}
	return true
}

// serveDCVCall serves the call of calls named by the path's match m (id,
// action), or a 405 when the method is not the call's.
func (s *Server) serveDCVCall(w http.ResponseWriter, r *http.Request, m []string, calls map[string]dcvCall) {
	id, _ := strconv.Atoi(m[1])
	call, ok := calls[m[2]]
	if !ok || r.Method != call.method {
		s.fail(w, apiErr{405, "method_not_allowed", "Method not allowed."})
		return
	}
	call.serve(s, w, r, id)
}

// names returns an order's common name and DNS names, lower case, once.
func orderNames(o *Order) []string {
	var out []string
	for _, n := range append([]string{o.CommonName}, o.DNSNames...) {
		n = strings.ToLower(n)
		if n != "" && !containsFold(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// nameValidated reports whether name of order id is validated: checked by
// check-dcv, covered by a domain whose validation has not ended, or the
// order is issued. Called with s.mu held.
func (s *Server) nameValidated(o *Order, name string) bool {
	return o.Status == "issued" || s.validatedName(o.ID, name)
}

// validatedName reports whether name was validated for order id by
// check-dcv, or is covered by a domain whose validation has not ended.
// Called with s.mu held.
func (s *Server) validatedName(id int, name string) bool {
	if s.dcv.validated[id][name] {
		return true
	}
	now := s.now()
	for _, d := range s.dcv.domains {
		if (name == d.Name || strings.HasSuffix(name, "."+d.Name)) && d.ValidatedUntil.After(now) {
			return true
		}
	}
	return false
}

func (s *Server) validationJSON(o *Order) map[string]any {
	var names []map[string]any
	for _, n := range orderNames(o) {
		st := "pending"
		if s.nameValidated(o, n) {
			st = "approved"
		}
		names = append(names, map[string]any{"dns_name": n, "status": st, "dcv_method": o.DCVMethod})
	}
	return map[string]any{"order_dcv_method": o.DCVMethod, "dns_name_validations": names}
}

func (s *Server) orderValidation(w http.ResponseWriter, id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderOr404(w, id)
	if o == nil {
		return
	}
	writeJSON(w, http.StatusOK, s.validationJSON(o))
}

func (s *Server) randomValue(w http.ResponseWriter, id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderOr404(w, id)
	if o == nil {
		return
	}
	if o.DCVRandomValue == "" {
		o.DCVRandomValue = randomToken()
	}
	writeJSON(w, http.StatusOK, map[string]any{"dcv_random_value": o.DCVRandomValue,
		"expiration_date": s.now().Add(30 * 24 * time.Hour).UTC().Format(timestampLayout)})
}

// checkDCV looks for the value of each pending name of the order (outside
// the lock: DNS and HTTP may be slow) and issues the order once every name
// is validated.
func (s *Server) checkDCV(w http.ResponseWriter, ctx context.Context, id int) {
	s.mu.Lock()
	o := s.orderOr404(w, id)
	if o == nil {
		s.mu.Unlock()
		return
	}
	method, value := o.DCVMethod, o.DCVRandomValue
	var pending []string
	for _, n := range orderNames(o) {
		if !s.nameValidated(o, n) {
			pending = append(pending, n)
		}
	}
	s.mu.Unlock()
	found, httpMissing := s.lookUpDCV(ctx, method, value, pending)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(httpMissing) > 0 {
		s.fail(w, apiErr{400, "file_random_value_not_found", fmt.Sprintf("The random value was not found at http://%s/.well-known/pki-validation/fileauth.txt.", httpMissing[0])})
		return
	}
	all := s.markValidated(o, found)
	resp := map[string]any{}
	if all && o.Status == "reissue_pending" {
		s.approveReissue(o.ID)
		resp["certificate_id"] = o.CertificateID
	}
	if all && o.Status == "pending" {
		o.Status = "issued"
		o.Changed = s.now()
		if err := s.issue(o, s.orderKey(o), time.Time{}); err != nil {
			s.fail(w, apiErr{500, "internal_error", "The certificate could not be issued: " + err.Error()})
			return
		}
		resp["certificate_id"] = o.CertificateID
	}
	resp["order_status"] = o.Status
	resp["dcv_status"] = map[bool]string{true: "complete", false: "pending"}[all]
	resp["dns_name_validations"] = s.validationJSON(o)["dns_name_validations"]
	writeJSON(w, http.StatusOK, resp)
}

// lookUpDCV looks for value, published for method, at each of names,
// without the lock: found tells which names have it, httpMissing which
// lack the HTTP file.
func (s *Server) lookUpDCV(ctx context.Context, method, value string, names []string) (found map[string]bool, httpMissing []string) {
	found = map[string]bool{}
	for _, n := range names {
		ok := false
		switch method {
		case "dns-txt-token", "dns-cname-token":
			ok = s.dnsHas(ctx, method, n, value)
		case "http-token":
			ok = s.webHas(ctx, n, value)
			if !ok {
				httpMissing = append(httpMissing, n)
			}
		}
		found[n] = ok
	}
	return found, httpMissing
}

// markValidated records the names of o found validated and reports
// whether every name of o is. Callers hold s.mu.
func (s *Server) markValidated(o *Order, found map[string]bool) bool {
	if s.dcv.validated == nil {
		s.dcv.validated = map[int]map[string]bool{}
	}
	if s.dcv.validated[o.ID] == nil {
		s.dcv.validated[o.ID] = map[string]bool{}
	}
	all := true
	for _, n := range orderNames(o) {
		if found[n] {
			s.dcv.validated[o.ID][n] = true
		}
		all = all && s.nameValidated(o, n)
	}
	return all
}

// dnsHas reports whether the fake's DNS server answers value for name: a
// TXT record at name or _dnsauth.name, or for dns-cname-token a CNAME at
// _dnsauth.name to value.dcv.digicert.com.
func (s *Server) dnsHas(ctx context.Context, method, name, value string) bool {
	if s.dcv.resolver == "" {
		return false
	}
	if method == "dns-cname-token" {
		for _, rr := range s.query(ctx, "_dnsauth."+name, dns.TypeCNAME) {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Target, value+".dcv.digicert.com.") {
				return true
			}
		}
		return false
	}
	for _, q := range []string{name, "_dnsauth." + name} {
		for _, rr := range s.query(ctx, q, dns.TypeTXT) {
			if t, ok := rr.(*dns.TXT); ok && strings.Join(t.Txt, "") == value {
				return true
			}
		}
	}
	return false
}

// query asks the fake's DNS server for name's records of type t: nil on any
// failure (DigiCert simply does not find the value).
func (s *Server) query(ctx context.Context, name string, t uint16) []dns.RR {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), t)
	c := &dns.Client{Timeout: 2 * time.Second}
	in, _, err := c.ExchangeContext(ctx, m, s.dcv.resolver)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, _, err = c.ExchangeContext(ctx, m, s.dcv.resolver)
	}
	if err != nil || in.Rcode != dns.RcodeSuccess {
		return nil
	}
	return in.Answer
}

// webHas reports whether http://name/.well-known/pki-validation/fileauth.txt,
// fetched through the base URL WithHTTPValidation gives, holds value.
func (s *Server) webHas(ctx context.Context, name, value string) bool {
	if s.dcv.web == nil {
		return false
	}
	base := s.dcv.web(name)
	if base == "" {
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/.well-known/pki-validation/fileauth.txt", nil)
	if err != nil {
		return false
	}
	req.Host = name
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == http.StatusOK && strings.Contains(string(b), value)
}

func (s *Server) domainJSON(d *Domain, withToken bool) map[string]any {
	out := map[string]any{"id": d.ID, "name": d.Name, "is_active": true, "dcv_method": "dns-txt-token"}
	if !d.ValidatedUntil.IsZero() {
		until := d.ValidatedUntil.UTC().Format(timestampLayout)
		out["dcv_expiration"] = map[string]string{"ov": until}
		out["validations"] = []map[string]any{{"type": "ov", "status": "active", "validated_until": until}}
	}
	if withToken && d.Token != "" {
		out["dcv_token"] = map[string]any{"token": d.Token, "status": "pending",
			"expiration_date": d.TokenExpires.UTC().Format(timestampLayout)}
	}
	return out
}

func (s *Server) listDomains(w http.ResponseWriter, r *http.Request) {
	limit, offset, ok := s.page(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int
	for id := range s.dcv.domains {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var all []map[string]any
	for _, id := range ids {
		all = append(all, s.domainJSON(s.dcv.domains[id], false))
	}
	writePage(w, "domains", all, limit, offset)
}

func (s *Server) domainOr404(w http.ResponseWriter, id int) *Domain {
	d := s.dcv.domains[id]
	if d == nil {
		s.fail(w, apiErr{404, "not_found|domain", "Domain not found."})
	}
	return d
}

func (s *Server) getDomain(w http.ResponseWriter, id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.domainOr404(w, id); d != nil {
		writeJSON(w, http.StatusOK, s.domainJSON(d, true))
	}
}

func (s *Server) newDomainToken(w http.ResponseWriter, id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.domainOr404(w, id)
	if d == nil {
		return
	}
	d.Token = randomToken()
	d.TokenExpires = s.now().Add(30 * 24 * time.Hour)
	writeJSON(w, http.StatusCreated, map[string]any{"token": d.Token,
		"expiration_date": d.TokenExpires.UTC().Format(timestampLayout)})
}

func (s *Server) validateDomainToken(w http.ResponseWriter, ctx context.Context, id int) {
	s.mu.Lock()
	d := s.domainOr404(w, id)
	if d == nil {
		s.mu.Unlock()
		return
	}
	name, token := d.Name, d.Token
	s.mu.Unlock()
	if token == "" || !s.dnsHas(ctx, "dns-txt-token", name, token) {
		s.fail(w, apiErr{400, "invalid_dns_txt", "Could not find a valid TXT record."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d.ValidatedUntil = s.now().Add(DomainValidationPeriod)
	d.Validations++
	writeJSON(w, http.StatusOK, map[string]any{"token": token, "status": "validated"})
}
