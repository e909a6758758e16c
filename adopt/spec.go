package adopt

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/nameset"
	"github.com/certform/certform/spec"
)

// draft is the spec adopt writes for one order.
type draft struct {
	Name       string
	CommonName string
	// DNSNames are the order's other names: lower case, sorted, without
	// the common name or repeats.
	DNSNames       []string
	OrganizationID int
	Product        string
	// ValidityYears or ValidityDays, or neither when ValidityNote says
	// why the order's validity is unknown.
	ValidityYears, ValidityDays int
	ValidityNote                string
	// SignatureHash is the order's, one of those a spec takes; "" when
	// CertCentral reported none, or, with SignatureNote, one certform
	// does not take.
	SignatureHash, SignatureNote string
	DisableCT, AutoReissue       bool
	// DisableCTUnknown and AutoReissueUnknown say that CertCentral's
	// answer left the setting out (disable_ct is not on DigiCert's
	// order-info page): the spec leaves it out too, with a comment, and
	// the spec's value (its default) is then taken as the order's, so
	// certform changes nothing on a guess.
	DisableCTUnknown, AutoReissueUnknown bool
	OrderID                              int
	// Status and Date (YYYY-MM-DD) are for the header comment.
	Status, Date string
}

// specFor derives a spec from a CertCentral order (without Name
// and Date), or returns why the order cannot be adopted.
func specFor(o *digicert.Order) (draft, string) {
	if digicert.IsClosed(o.Status) {
		return draft{}, fmt.Sprintf("not live (%s)", o.Status)
	}
	cn := nameset.Normal(o.Certificate.CommonName)
	if cn == "" {
		return draft{}, "CertCentral reports no common name; write its spec by hand"
	}
	if err := spec.CheckDNSName(cn); err != nil {
		return draft{}, fmt.Sprintf("common name %v; write its spec by hand", err)
	}
	dns := dnsNames(cn, o.Certificate.DNSNames)
	for _, n := range dns {
		if err := spec.CheckDNSName(n); err != nil {
			return draft{}, fmt.Sprintf("DNS name %v; write its spec by hand", err)
		}
	}
	p, ok := product(o.Product.NameID)
	if !ok {
		return draft{}, unknownProduct(o.Product.NameID)
	}
	if o.OrganizationID() <= 0 {
		return draft{}, "CertCentral reports no organization id; write its spec by hand"
	}
	s := draft{CommonName: cn, DNSNames: dns, OrganizationID: o.OrganizationID(), Product: p,
		DisableCT: o.DisableCT.Or(false), AutoReissue: o.AutoReissue.Or(false), OrderID: o.ID, Status: o.Status,
		DisableCTUnknown: o.DisableCT == nil, AutoReissueUnknown: o.AutoReissue == nil}
	s.ValidityYears, s.ValidityDays, s.ValidityNote = validity(o.DateCreated, o.OrderValidTill)
	switch h := strings.ToLower(strings.TrimSpace(o.Certificate.SignatureHash)); h {
	case "":
	case "sha256", "sha384", "sha512":
		s.SignatureHash = h
	default:
		s.SignatureNote = fmt.Sprintf("CertCentral reports %s, which a spec cannot ask for", h)
	}
	return s, ""
}

func unknownProduct(nameID string) string {
	if nameID == "" {
		return "CertCentral reports no product; write its spec by hand"
	}
	return fmt.Sprintf("product %s is not one certform knows (ov, ev, grid, private); write its spec by hand", nameID)
}

// dnsNames returns an order's DNS names for a spec: trimmed, lower
// case, sorted, without blanks (DigiCert has been seen to send an empty
// list as [" "]), repeats or the common name cn.
func dnsNames(cn string, dns []string) []string {
	if names := nameset.List(cn, dns)[1:]; len(names) > 0 {
		return names
	}
	return nil
}

// products maps CertCentral's product name_id to certform's product
// (its type_hint). The fake answers "ssl_" and the type hint; the others
// are DigiCert's OV and EV SSL products. Names containing "private" or
// "grid" are those families; anything else is unknown, never guessed.
var products = map[string]string{
	"ssl_ov": "ov", "ssl_ev": "ev", "ssl_grid": "grid", "ssl_private": "private",
	"ssl_plus": "ov", "ssl_multi_domain": "ov", "ssl_wildcard": "ov", "ssl_cloud_wildcard": "ov",
	"ssl_basic": "ov", "ssl_securesite_pro": "ov", "ssl_securesite_flex": "ov",
	"ssl_ev_plus": "ev", "ssl_ev_multi_domain": "ev", "ssl_ev_basic": "ev", "ssl_ev_securesite_pro": "ev", "ssl_ev_securesite_flex": "ev",
}

// product returns certform's product for a name_id, and false when
// certform does not know it.
func product(nameID string) (string, bool) {
	id := strings.ToLower(strings.TrimSpace(nameID))
	if p, ok := products[id]; ok {
		return p, true
	}
	switch {
	case strings.Contains(id, "private"):
		return "private", true
	case strings.Contains(id, "grid"):
		return "grid", true
	}
	return "", false
}

// validity derives an order's validity from its date_created and
// order_valid_till (compared as days, UTC): whole years, 1 to 3, when the
// end is within 31 days of that many years after the start, else days, 1
// to 1095. When neither fits or a date is missing, both are 0 and why
// says so.
func validity(created, validTill string) (years, days int, why string) {
	start, ok := digicert.ParseDate(created)
	if !ok {
		return 0, 0, "CertCentral reported no date_created"
	}
	end, ok := digicert.ParseDate(validTill)
	if !ok {
		return 0, 0, "CertCentral reported no order_valid_till"
	}
	day := func(t time.Time) time.Time {
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	start, end = day(start), day(end)
	const slack = 31 * 24 * time.Hour
	for y := 1; y <= 3; y++ {
		if d := end.Sub(start.AddDate(y, 0, 0)); d >= -slack && d <= slack {
			return y, 0, ""
		}
	}
	n := int(end.Sub(start).Hours() / 24)
	if n < 1 || n > 1095 {
		return 0, 0, fmt.Sprintf("the order runs %d days, from %s to %s, which is not 1 to 1095 days", n, start.Format("2006-01-02"), end.Format("2006-01-02"))
	}
	return 0, n, ""
}

// nameLimit is the longest spec name (spec's name rule: 1 to 63
// characters).
const nameLimit = 63

var specNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// specName derives a spec name from a common name: lower case, "*."
// becomes "wildcard-", every character but a-z, 0-9, '_' and '-' becomes
// '-' (www.example.com -> www-example-com), at most 63 characters. It
// falls back to "order-ID" when nothing usable is left.
func specName(cn string, orderID int) string {
	cn = nameset.Normal(cn)
	if rest, ok := strings.CutPrefix(cn, "*."); ok {
		cn = "wildcard-" + rest
	}
	b := []byte(cn)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	name := strings.TrimLeft(string(b), "-_")
	if len(name) > nameLimit {
		name = name[:nameLimit]
	}
	name = strings.TrimRight(name, "-_.")
	if !specNameRE.MatchString(name) {
		return fmt.Sprintf("order-%d", orderID)
	}
	return name
}

// uniqueName returns base, or base with -2, -3, ... appended (shortened
// to stay within 63 characters), whichever taken does not hold first.
func uniqueName(base string, taken map[string]bool) string {
	if !taken[base] {
		return base
	}
	for i := 2; ; i++ {
		suffix := "-" + strconv.Itoa(i)
		b := base
		if len(b)+len(suffix) > nameLimit {
			b = strings.TrimRight(b[:nameLimit-len(suffix)], "-_.")
		}
		if n := b + suffix; !taken[n] {
			return n
		}
	}
}
