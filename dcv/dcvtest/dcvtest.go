// Package dcvtest holds local stand-ins of the DNS provider APIs that
// package dcv talks to (Route 53, Cloudflare), for tests: each is an
// httptest server on 127.0.0.1 that keeps record sets in memory, records
// every request, and can be told to fail. It implements only what dcv
// calls.
package dcvtest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Request is one request a stand-in received.
type Request struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// Line returns "METHOD PATH[?QUERY]".
func (r Request) Line() string {
	if r.Query != "" {
		return r.Method + " " + r.Path + "?" + r.Query
	}
	return r.Method + " " + r.Path
}

type base struct {
	mu       sync.Mutex
	requests []Request
	http     *httptest.Server
	// fail, when set, answers the next request with this status and body.
	failStatus int
	failBody   string
}

// start records r and, when FailNext set a failure, answers it with that
// (as ctype) and reports false; true leaves the request to serve. Callers
// hold b.mu.
func (b *base) start(w http.ResponseWriter, r *http.Request, ctype string) (Request, bool) {
	body, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)}
	b.requests = append(b.requests, req)
	if b.failStatus == 0 {
		return req, true
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(b.failStatus)
	io.WriteString(w, b.failBody)
	b.failStatus, b.failBody = 0, ""
	return req, false
}

// Requests returns the requests received, oldest first.
func (b *base) Requests() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.requests)
}

// Lines returns Line of each request received.
func (b *base) Lines() []string {
	var out []string
	for _, r := range b.Requests() {
		out = append(out, r.Line())
	}
	return out
}

// URL is the stand-in's base URL.
func (b *base) URL() string { return b.http.URL }

// Close stops the stand-in.
func (b *base) Close() { b.http.Close() }

// FailNext answers the next request with status and body (once).
func (b *base) FailNext(status int, body string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failStatus, b.failBody = status, body
}

// Route53 is a stand-in of Amazon Route 53's REST API for one hosted
// zone: ListResourceRecordSets and ChangeResourceRecordSets (CREATE and
// DELETE, which must match the set exactly, as Route 53's do).
type Route53 struct {
	base
	ZoneID string
	sets   map[string]*r53Set // by "name type", name with its trailing dot
}

type r53Set struct {
	Name   string
	Type   string
	TTL    int64
	Values []string
}

// NewRoute53 starts a Route 53 stand-in for hosted zone id.
func NewRoute53(zoneID string) *Route53 {
	s := &Route53{ZoneID: zoneID, sets: map[string]*r53Set{}}
	s.http = httptest.NewServer(s)
	return s
}

// Set puts a record set as another tool would (values as Route 53 holds
// them: TXT values quoted).
func (s *Route53) Set(name, typ string, ttl int64, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sets[name+" "+typ] = &r53Set{Name: name, Type: typ, TTL: ttl, Values: values}
}

// Values returns the values of a record set, nil when there is none.
func (s *Route53) Values(name, typ string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if set := s.sets[name+" "+typ]; set != nil {
		return slices.Clone(set.Values)
	}
	return nil
}

type xmlRRSet struct {
	Name            string     `xml:"Name"`
	Type            string     `xml:"Type"`
	TTL             int64      `xml:"TTL"`
	ResourceRecords []xmlValue `xml:"ResourceRecords>ResourceRecord"`
}

type xmlValue struct {
	Value string `xml:"Value"`
}

func (x xmlRRSet) values() []string {
	var out []string
	for _, v := range x.ResourceRecords {
		out = append(out, v.Value)
	}
	return out
}

func xmlValues(values []string) []xmlValue {
	var out []xmlValue
	for _, v := range values {
		out = append(out, xmlValue{v})
	}
	return out
}

type xmlChangeRequest struct {
	Changes []struct {
		Action string   `xml:"Action"`
		Set    xmlRRSet `xml:"ResourceRecordSet"`
	} `xml:"ChangeBatch>Changes>Change"`
}

// ServeHTTP serves ListResourceRecordSets and ChangeResourceRecordSets of
// the hosted zone; anything else is NoSuchHostedZone.
func (s *Route53) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.start(w, r, "text/xml")
	if !ok {
		return
	}
	prefix := "/2013-04-01/hostedzone/" + s.ZoneID + "/rrset"
	switch {
	case r.Method == http.MethodGet && r.URL.Path == prefix:
		s.list(w, r.URL.Query())
	case r.Method == http.MethodPost && strings.TrimSuffix(r.URL.Path, "/") == prefix:
		s.change(w, req.Body)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, xml.Header+`<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>NoSuchHostedZone</Code><Message>No hosted zone found with ID: `+r.URL.Path+`</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`)
	}
}

// list answers ListResourceRecordSets: the sets from name and type on, in
// order, at most maxitems.
func (s *Route53) list(w http.ResponseWriter, q url.Values) {
	var names []string
	for k := range s.sets {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []xmlRRSet
	max, _ := strconv.Atoi(q.Get("maxitems"))
	for _, k := range names {
		set := s.sets[k]
		if k < q.Get("name")+" "+q.Get("type") {
			continue
		}
		out = append(out, xmlRRSet{Name: set.Name, Type: set.Type, TTL: set.TTL, ResourceRecords: xmlValues(set.Values)})
		if max > 0 && len(out) == max {
			break
		}
	}
	doc := struct {
		XMLName     xml.Name   `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ListResourceRecordSetsResponse"`
		Sets        []xmlRRSet `xml:"ResourceRecordSets>ResourceRecordSet"`
		IsTruncated bool       `xml:"IsTruncated"`
		MaxItems    string     `xml:"MaxItems"`
	}{Sets: out, MaxItems: q.Get("maxitems")}
	w.Header().Set("Content-Type", "text/xml")
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(doc)
}

// change answers ChangeResourceRecordSets: the batch in body applies as a
// whole or not at all; a DELETE must match the set exactly and a CREATE
// must not find one.
func (s *Route53) change(w http.ResponseWriter, body string) {
	var cr xmlChangeRequest
	if err := xml.Unmarshal([]byte(body), &cr); err != nil {
		r53Error(w, "InvalidInput", err.Error())
		return
	}
	next := maps.Clone(s.sets)
	for _, c := range cr.Changes {
		k := c.Set.Name + " " + c.Set.Type
		cur := next[k]
		switch c.Action {
		case "DELETE":
			if cur == nil || cur.TTL != c.Set.TTL || !slices.Equal(cur.Values, c.Set.values()) {
				r53Error(w, "InvalidChangeBatch", fmt.Sprintf("[Tried to delete resource record set [name='%s', type='%s'] but the values provided do not match the current values]", c.Set.Name, c.Set.Type))
				return
			}
			delete(next, k)
		case "CREATE":
			if cur != nil {
				r53Error(w, "InvalidChangeBatch", fmt.Sprintf("[Tried to create resource record set [name='%s', type='%s'] but it already exists]", c.Set.Name, c.Set.Type))
				return
			}
			next[k] = &r53Set{Name: c.Set.Name, Type: c.Set.Type, TTL: c.Set.TTL, Values: c.Set.values()}
		default:
			r53Error(w, "InvalidInput", "unsupported action "+c.Action)
			return
		}
	}
	s.sets = next
	w.Header().Set("Content-Type", "text/xml")
	io.WriteString(w, xml.Header+`<ChangeResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo><Id>/change/C0001</Id><Status>PENDING</Status><SubmittedAt>2026-12-07T00:00:00Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>`)
}

func r53Error(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusBadRequest)
	var b strings.Builder
	xml.EscapeText(&b, []byte(msg))
	io.WriteString(w, xml.Header+`<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>`+code+`</Code><Message>`+b.String()+`</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`)
}

// Cloudflare is a stand-in of Cloudflare's v4 API for one zone: create,
// list (by type and name) and delete DNS records, with a bearer token.
type Cloudflare struct {
	base
	ZoneID string
	Token  string
	recs   []CFRecord
	nextID int
}

// CFRecord is one record of the Cloudflare stand-in.
type CFRecord struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Content string `json:"content"`
	TTL     int    `json:"ttl"`
}

// NewCloudflare starts a Cloudflare stand-in for zone id, accepting token.
// Its API base URL is URL() + "/client/v4".
func NewCloudflare(zoneID, token string) *Cloudflare {
	s := &Cloudflare{ZoneID: zoneID, Token: token, nextID: 1}
	s.http = httptest.NewServer(s)
	return s
}

// Endpoint is the API base URL to configure.
func (s *Cloudflare) Endpoint() string { return s.URL() + "/client/v4" }

// Add adds a record as another tool would.
func (s *Cloudflare) Add(typ, name, content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, CFRecord{ID: fmt.Sprintf("rec%d", s.nextID), Type: typ, Name: name, Content: content, TTL: 1})
	s.nextID++
}

// Records returns the zone's records.
func (s *Cloudflare) Records() []CFRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recs)
}

func cfAnswer(w http.ResponseWriter, status int, result any, errs ...string) {
	var list []map[string]any
	for _, e := range errs {
		code, msg, _ := strings.Cut(e, " ")
		n, _ := strconv.Atoi(code)
		list = append(list, map[string]any{"code": n, "message": msg})
	}
	if list == nil {
		list = []map[string]any{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"success": len(errs) == 0, "errors": list, "messages": []any{}, "result": result})
}

// ServeHTTP serves creating, listing and deleting the zone's DNS records
// for the bearer token; anything else is a 404.
func (s *Cloudflare) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.start(w, r, "application/json")
	if !ok {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		cfAnswer(w, http.StatusForbidden, nil, "10000 Authentication error")
		return
	}
	prefix := "/client/v4/zones/" + s.ZoneID + "/dns_records"
	switch {
	case r.Method == http.MethodPost && r.URL.Path == prefix:
		s.create(w, req.Body)
	case r.Method == http.MethodGet && r.URL.Path == prefix:
		q := r.URL.Query()
		out := []CFRecord{}
		for _, x := range s.recs {
			if (q.Get("type") == "" || x.Type == q.Get("type")) && (q.Get("name") == "" || x.Name == q.Get("name")) {
				out = append(out, x)
			}
		}
		cfAnswer(w, http.StatusOK, out)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, prefix+"/"):
		id := strings.TrimPrefix(r.URL.Path, prefix+"/")
		i := slices.IndexFunc(s.recs, func(x CFRecord) bool { return x.ID == id })
		if i < 0 {
			cfAnswer(w, http.StatusNotFound, nil, "81044 Record does not exist.")
			return
		}
		s.recs = slices.Delete(s.recs, i, i+1)
		cfAnswer(w, http.StatusOK, map[string]string{"id": id})
	default:
		cfAnswer(w, http.StatusNotFound, nil, "7003 Could not route to "+r.URL.Path)
	}
}

// create adds the record in body with the next id; an identical one is
// Cloudflare's 81058.
func (s *Cloudflare) create(w http.ResponseWriter, body string) {
	var rec CFRecord
	if err := json.Unmarshal([]byte(body), &rec); err != nil {
		cfAnswer(w, http.StatusBadRequest, nil, "9207 Request body is invalid.")
		return
	}
	for _, x := range s.recs {
		if x.Type == rec.Type && x.Name == rec.Name && x.Content == rec.Content {
			cfAnswer(w, http.StatusBadRequest, nil, "81058 An identical record already exists.")
			return
		}
	}
	rec.ID = fmt.Sprintf("rec%d", s.nextID)
	s.nextID++
	s.recs = append(s.recs, rec)
	cfAnswer(w, http.StatusOK, rec)
}

// ServeDNS serves DNS on a new 127.0.0.1 UDP port, answering each question
// with what answer returns, and returns the address (host:port) and a
// function that stops it. Tests point the fake CertCentral
// (digicerttest.WithDNSResolver) and a provider's nameservers: at it, so
// records published through a stand-in API can be seen.
func ServeDNS(answer func(q dns.Question) []dns.RR) (addr string, stop func(), err error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		if len(r.Question) == 1 {
			m.Answer = answer(r.Question[0])
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	return pc.LocalAddr().String(), func() { srv.Shutdown() }, nil
}

// TXTOrCNAME returns the records of name and qtype given as values: TXT
// strings (quotes trimmed) or CNAME targets.
func TXTOrCNAME(q dns.Question, values []string) []dns.RR {
	var out []dns.RR
	hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET, Ttl: 60}
	for _, v := range values {
		switch q.Qtype {
		case dns.TypeTXT:
			out = append(out, &dns.TXT{Hdr: hdr, Txt: []string{strings.Trim(v, `"`)}})
		case dns.TypeCNAME:
			out = append(out, &dns.CNAME{Hdr: hdr, Target: dns.Fqdn(v)})
		}
	}
	return out
}

// ServeDNS serves the stand-in's record sets over DNS (see the package
// function ServeDNS).
func (s *Route53) ServeDNS() (addr string, stop func(), err error) {
	return ServeDNS(func(q dns.Question) []dns.RR {
		return TXTOrCNAME(q, s.Values(strings.ToLower(q.Name), dns.TypeToString[q.Qtype]))
	})
}

// ServeDNS serves the stand-in's records over DNS (see the package
// function ServeDNS).
func (s *Cloudflare) ServeDNS() (addr string, stop func(), err error) {
	return ServeDNS(func(q dns.Question) []dns.RR {
		var values []string
		for _, r := range s.Records() {
			if strings.EqualFold(r.Name+".", q.Name) && r.Type == dns.TypeToString[q.Qtype] {
				values = append(values, r.Content)
			}
		}
		return TXTOrCNAME(q, values)
	})
}
