package dcv

import (
	"context"
	"fmt"
	"strings"
)

// Record types a Provider publishes.
const (
	// TypeTXT is a TXT record holding Value at Name (dns-txt-token).
	TypeTXT = "TXT"
	// TypeCNAME is a CNAME record at Name pointing to Value
	// (dns-cname-token: _dnsauth.NAME CNAME VALUE.dcv.digicert.com).
	TypeCNAME = "CNAME"
	// TypeHTTP is Value in http://Name/.well-known/pki-validation/fileauth.txt
	// (http-token).
	TypeHTTP = "HTTP"
)

// Record is one value certform publishes for a validation.
type Record struct {
	// Type is TypeTXT, TypeCNAME or TypeHTTP.
	Type string `json:"type"`
	// Zone is the configured zone the record is in (lower case, no
	// trailing dot).
	Zone string `json:"zone"`
	// Name is the record's owner name (or, for TypeHTTP, the host name):
	// lower case, no trailing dot.
	Name string `json:"name"`
	// Value is the TXT string, the CNAME target (no trailing dot) or the
	// file's line. It is not a secret: DigiCert publishes it for anyone to
	// check.
	Value string `json:"value"`
}

func (r Record) String() string {
	if r.Type == TypeHTTP {
		return fmt.Sprintf("http://%s/.well-known/pki-validation/fileauth.txt", r.Name)
	}
	return fmt.Sprintf("%s %s", r.Name, r.Type)
}

// Provider publishes and removes validation records in one DNS or web
// service. Present adds the record beside any other at the same name (never
// replacing a record set); CleanUp removes exactly that value and nothing
// else, and succeeds when it is already gone. Both may be called again
// after a failure or a crash. Errors name the provider's own answer and
// never carry a secret. Adding a provider is one file with a type that
// implements this, and one line in newProvider.
type Provider interface {
	Present(ctx context.Context, r Record) error
	CleanUp(ctx context.Context, r Record) error
}

// String returns "rfc2136 SERVER": never the secret.
func (p *RFC2136) String() string { return "rfc2136 " + p.Server }

// GoString is String.
func (p *RFC2136) GoString() string { return p.String() }

// Format prints String in every verb.
func (p *RFC2136) Format(f fmt.State, _ rune) { fmt.Fprint(f, p.String()) }

// String returns "cloudflare ZONE": never the token.
func (p *Cloudflare) String() string { return "cloudflare " + p.ZoneID }

// GoString is String.
func (p *Cloudflare) GoString() string { return p.String() }

// Format prints String in every verb.
func (p *Cloudflare) Format(f fmt.State, _ rune) { fmt.Fprint(f, p.String()) }

// newProvider makes the provider a checked config describes.
func newProvider(pc *ProviderConfig) Provider {
	switch pc.Type {
	case TypeRFC2136:
		return &RFC2136{Server: pc.Server, Key: pc.TSIGKey, Algorithm: pc.TSIGAlgorithm, Secret: pc.TSIGSecret}
	case TypeRoute53:
		return &Route53{HostedZoneID: pc.HostedZoneID, Region: pc.Region, Endpoint: pc.Endpoint}
	case TypeCloudflare:
		return &Cloudflare{ZoneID: pc.ZoneID, Token: pc.APIToken, Endpoint: pc.Endpoint}
	case TypeExec:
		return &Exec{Command: pc.Command}
	case TypeWebroot:
		return &Webroot{Path: pc.Path}
	}
	return nil
}

// ForName returns the record that validates name with method for value,
// where zone serves it: a TXT at the name (or at _dnsauth.NAME when the
// zone says txt_name: _dnsauth), a CNAME at _dnsauth.NAME, or the HTTP file.
// False for a method certform cannot publish (email), or a webroot zone
// asked for DNS (and the other way round).
func ForName(cfg *Config, z Zone, method, name, value string) (Record, bool) {
	name = strings.TrimPrefix(strings.TrimSuffix(strings.ToLower(name), "."), "*.")
	pc := cfg.Providers[z.Provider]
	if pc == nil {
		return Record{}, false
	}
	web := pc.Type == TypeWebroot
	switch {
	case method == "dns-txt-token" && !web:
		n := name
		if z.TXTName == TXTNameDNSAuth {
			n = "_dnsauth." + name
		}
		return Record{Type: TypeTXT, Zone: z.Name, Name: n, Value: value}, true
	case method == "dns-cname-token" && !web:
		return Record{Type: TypeCNAME, Zone: z.Name, Name: "_dnsauth." + name, Value: value + ".dcv.digicert.com"}, true
	case method == "http-token" && web:
		return Record{Type: TypeHTTP, Zone: z.Name, Name: name, Value: value}, true
	}
	return Record{}, false
}

// verb names a change in errors: adding a record (add) or deleting it.
func verb(add bool) string {
	if add {
		return "adding"
	}
	return "deleting"
}
