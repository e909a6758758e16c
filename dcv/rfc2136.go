package dcv

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// RecordTTL is the TTL of the records certform publishes, in seconds: short,
// since they live for minutes.
const RecordTTL = 60

// RFC2136 publishes records by DNS dynamic update (RFC 2136), signed with
// TSIG when Key is set: BIND, Knot, PowerDNS, Windows DNS and Infoblox take
// it. Present sends one update that adds the record (class IN: an RRset
// keeps its other records); CleanUp one that deletes that record by value
// (class NONE), so an SPF string or another CA's token at the same name
// stays as it was.
type RFC2136 struct {
	// Server is the primary's host:port.
	Server string
	// Key is the TSIG key's name; "" sends unsigned updates.
	Key       string
	Algorithm string // hmac-sha256 by default
	Secret    Secret // base64, as tsig-keygen and keymgr print it
	// Timeout bounds each exchange; 10s when zero.
	Timeout time.Duration
}

// Present adds r to its zone.
func (p *RFC2136) Present(ctx context.Context, r Record) error {
	return p.update(ctx, r, true)
}

// CleanUp deletes r from its zone by value.
func (p *RFC2136) CleanUp(ctx context.Context, r Record) error {
	return p.update(ctx, r, false)
}

// update sends one dynamic update that adds r (add) or deletes it by
// value. Adding a CNAME where one to the same target is counts as done.
func (p *RFC2136) update(ctx context.Context, r Record, add bool) error {
	rr, err := dnsRR(r)
	if err != nil {
		return err
	}
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(r.Zone))
	if add {
		if r.Type == TypeCNAME {
			// RFC 2136 replaces a CNAME at the name: certform adds one
			// only where none is (a prerequisite the server checks).
			m.RRsetNotUsed([]dns.RR{&dns.CNAME{Hdr: dns.RR_Header{Name: rr.Header().Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET}}})
		}
		m.Insert([]dns.RR{rr})
	} else {
		m.Remove([]dns.RR{rr})
	}
	in, _, err := p.client(m).ExchangeContext(ctx, m, p.Server)
	if err != nil {
		return fmt.Errorf("rfc2136: %s %s at %s: %w", verb(add), r, p.Server, err)
	}
	if add && r.Type == TypeCNAME && in.Rcode == dns.RcodeYXRrset {
		if target, ok := p.cname(ctx, r); ok && strings.EqualFold(target, dns.Fqdn(r.Value)) {
			return nil // ours already
		}
		return fmt.Errorf("rfc2136: adding %s at %s: a CNAME to another target is there; certform never replaces a record it did not write", r, p.Server)
	}
	if in.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("rfc2136: %s %s at %s: the server answered %s%s", verb(add), r, p.Server, dns.RcodeToString[in.Rcode], rcodeHint(in.Rcode))
	}
	return nil
}

// client is the TCP client for an update, with the timeout, and signs m
// with TSIG when a key is set.
func (p *RFC2136) client(m *dns.Msg) *dns.Client {
	c := &dns.Client{Net: "tcp", Timeout: p.Timeout}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if p.Key != "" {
		alg := tsigAlgorithms[p.Algorithm]
		if alg == "" {
			alg = dns.HmacSHA256
		}
		key := dns.Fqdn(p.Key)
		c.TsigSecret = map[string]string{key: string(p.Secret)}
		m.SetTsig(key, alg, 300, time.Now().Unix())
	}
	return c
}

// rcodeHint says what a refusing answer to an update likely means.
func rcodeHint(rcode int) string {
	switch rcode {
	case dns.RcodeRefused, dns.RcodeNotAuth:
		return " (the server does not let this key update the zone: check its update policy and the TSIG key)"
	case dns.RcodeNotZone:
		return " (the name is not in the zone the server has)"
	}
	return ""
}

// cname asks the server for the CNAME at r's name.
func (p *RFC2136) cname(ctx context.Context, r Record) (string, bool) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(r.Name), dns.TypeCNAME)
	m.RecursionDesired = false
	c := &dns.Client{Net: "tcp", Timeout: 10 * time.Second}
	in, _, err := c.ExchangeContext(ctx, m, p.Server)
	if err != nil {
		return "", false
	}
	for _, rr := range in.Answer {
		if c, ok := rr.(*dns.CNAME); ok {
			return c.Target, true
		}
	}
	return "", false
}

// dnsRR builds r's resource record.
func dnsRR(r Record) (dns.RR, error) {
	hdr := dns.RR_Header{Name: dns.Fqdn(r.Name), Class: dns.ClassINET, Ttl: RecordTTL}
	switch r.Type {
	case TypeTXT:
		hdr.Rrtype = dns.TypeTXT
		return &dns.TXT{Hdr: hdr, Txt: []string{r.Value}}, nil
	case TypeCNAME:
		hdr.Rrtype = dns.TypeCNAME
		return &dns.CNAME{Hdr: hdr, Target: dns.Fqdn(r.Value)}, nil
	}
	return nil, fmt.Errorf("a DNS provider cannot publish a %s record (%s)", r.Type, r)
}
