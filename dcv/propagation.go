package dcv

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/certform/certform/internal/wait"
)

// Waiter waits until every authoritative server answers a published record,
// like lego's challenge/dns01 does before it asks the CA to check: DigiCert
// may ask any of them. A TypeHTTP record is not checked: the name may not
// resolve from this server (the issue says check-dcv is asked at once).
type Waiter struct {
	// Timeout bounds the wait (--dcv-propagation-timeout);
	// DefaultPropagationTimeout when zero.
	Timeout time.Duration
	// Interval is the pause between rounds of queries; 2s when zero.
	Interval time.Duration
	// Now and Sleep are the clock; time.Now and a timer when nil.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// LookupNS finds a zone's authoritative servers (host:port) when the
	// provider lists no nameservers; the system resolver's NS and address
	// look-ups when nil.
	LookupNS func(ctx context.Context, zone string) ([]string, error)
}

// PropagationError is returned when some servers did not answer the record
// within the timeout.
type PropagationError struct {
	Record  Record
	Missing []string // the servers that did not answer it
	Timeout time.Duration
}

func (e *PropagationError) Error() string {
	return fmt.Sprintf("%s: not answered by %s within %s", e.Record, strings.Join(e.Missing, ", "), e.Timeout)
}

// Wait returns once every server in nameservers (or, when it is empty, the
// zone's NS records) answers r, or a *PropagationError after the timeout.
func (w *Waiter) Wait(ctx context.Context, r Record, nameservers []string) error {
	if r.Type == TypeHTTP {
		return nil
	}
	servers := nameservers
	if len(servers) == 0 {
		look := w.LookupNS
		if look == nil {
			look = systemNS
		}
		var err error
		if servers, err = look(ctx, r.Zone); err != nil {
			return fmt.Errorf("finding the name servers of %s: %w", r.Zone, err)
		}
		if len(servers) == 0 {
			return fmt.Errorf("finding the name servers of %s: none found\nhint: list them with nameservers: [host:port] on the provider", r.Zone)
		}
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = DefaultPropagationTimeout
	}
	interval := w.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	now := w.Now
	if now == nil {
		now = time.Now
	}
	deadline := now().Add(timeout)
	for {
		var missing []string
		for _, s := range servers {
			if !answers(ctx, s, r) {
				missing = append(missing, s)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if !now().Add(interval).Before(deadline) {
			return &PropagationError{Record: r, Missing: missing, Timeout: timeout}
		}
		if err := w.sleep(ctx, interval); err != nil {
			return err
		}
	}
}

func (w *Waiter) sleep(ctx context.Context, d time.Duration) error {
	if w.Sleep != nil {
		return w.Sleep(ctx, d)
	}
	return wait.Sleep(ctx, d)
}

// answers reports whether server answers r, without recursion.
func answers(ctx context.Context, server string, r Record) bool {
	m := new(dns.Msg)
	qtype := dns.TypeTXT
	if r.Type == TypeCNAME {
		qtype = dns.TypeCNAME
	}
	m.SetQuestion(dns.Fqdn(r.Name), qtype)
	m.RecursionDesired = false
	c := &dns.Client{Timeout: 3 * time.Second}
	in, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, _, err = c.ExchangeContext(ctx, m, server)
	}
	if err != nil || in.Rcode != dns.RcodeSuccess {
		return false
	}
	for _, rr := range in.Answer {
		switch v := rr.(type) {
		case *dns.TXT:
			if r.Type == TypeTXT && strings.Join(v.Txt, "") == r.Value {
				return true
			}
		case *dns.CNAME:
			if r.Type == TypeCNAME && strings.EqualFold(v.Target, dns.Fqdn(r.Value)) {
				return true
			}
		}
	}
	return false
}

// systemNS finds a zone's name servers with the system resolver: each NS
// host's addresses, port 53.
func systemNS(ctx context.Context, zone string) ([]string, error) {
	ns, err := net.DefaultResolver.LookupNS(ctx, zone)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range ns {
		addrs, err := net.DefaultResolver.LookupHost(ctx, n.Host)
		if err != nil {
			return nil, fmt.Errorf("name server %s: %w", n.Host, err)
		}
		for _, a := range addrs {
			out = append(out, net.JoinHostPort(a, "53"))
		}
	}
	sort.Strings(out)
	return out, nil
}
