// Package dcv publishes the values CertCentral's domain control validation
// asks for (a DNS TXT or CNAME record, or an HTTP file) through the team's
// own DNS or web server, waits until the authoritative servers answer them,
// and removes them again. It owns the server-side DCV configuration
// (--dcv-config), the Provider interface and its providers (rfc2136,
// route53, cloudflare, exec, webroot) and the propagation check. It makes
// no CertCentral call and decides nothing about orders: package reconcile
// does.
//
// The configuration is the server's, never the spec directory's: whoever
// can commit a spec must not be able to name a command or a credential, so
// a name is served by the provider of its longest matching zone.
package dcv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// TXTNameDNSAuth is the zone setting txt_name: _dnsauth: TXT values are
// published at _dnsauth.NAME instead of on the name itself.
const TXTNameDNSAuth = "_dnsauth"

// Provider types, as the config's type: key names them.
const (
	TypeRFC2136    = "rfc2136"
	TypeRoute53    = "route53"
	TypeCloudflare = "cloudflare"
	TypeExec       = "exec"
	TypeWebroot    = "webroot"
)

// Config is a loaded --dcv-config file: the providers and the zones they
// serve. It is safe for concurrent use once loaded.
type Config struct {
	// Path is the file it was loaded from.
	Path string
	// Providers are the providers by name.
	Providers map[string]*ProviderConfig
	// Zones are the zones by name (lower case, no trailing dot).
	Zones map[string]Zone
}

// Zone is one entry of zones: a DNS zone (or, for webroot, a name and its
// subdomains) and the provider that serves it.
type Zone struct {
	Name     string
	Provider string
	// TXTName is "" (TXT on the name itself) or TXTNameDNSAuth.
	TXTName string
	// Line is the zone's line in the config file.
	Line int
}

// ProviderConfig is one entry of providers, checked, with its secrets read.
type ProviderConfig struct {
	Name string
	Type string
	Line int
	// Nameservers (host:port) are asked for propagation instead of the
	// zone's NS records.
	Nameservers []string
	// Server is rfc2136's server (host:port).
	Server string
	// TSIGKey, TSIGAlgorithm and TSIGSecret are rfc2136's TSIG key name
	// (a FQDN), algorithm (hmac-sha256 by default) and base64 secret.
	TSIGKey       string
	TSIGAlgorithm string
	TSIGSecret    Secret
	// HostedZoneID, Region and Endpoint are route53's; Endpoint is also
	// cloudflare's API base URL.
	HostedZoneID string
	Region       string
	Endpoint     string
	// ZoneID and APIToken are cloudflare's.
	ZoneID   string
	APIToken Secret
	// Command is exec's command (an absolute path).
	Command string
	// Path is webroot's document root.
	Path string

	provider Provider
}

// String returns `provider NAME (TYPE)`: a ProviderConfig holds secrets, so
// it never prints its fields.
func (pc ProviderConfig) String() string { return fmt.Sprintf("provider %s (%s)", pc.Name, pc.Type) }

// GoString is String.
func (pc ProviderConfig) GoString() string { return pc.String() }

// Format prints String in every verb.
func (pc ProviderConfig) Format(f fmt.State, _ rune) { io.WriteString(f, pc.String()) }

// Secret is a credential read from a file. It prints as [redacted] in
// every format and log, so it never reaches a log, an error or a plan.
type Secret string

// String returns "[redacted]".
func (Secret) String() string { return "[redacted]" }

// GoString returns "[redacted]" quoted.
func (Secret) GoString() string { return `"[redacted]"` }

// MarshalText returns "[redacted]".
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// ConfigError is one problem in a config file, at file:line.
type ConfigError struct {
	File string
	Line int
	Msg  string
	Hint string
}

func (e *ConfigError) Error() string {
	s := fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	if e.Hint != "" {
		s += "\nhint: " + e.Hint
	}
	return s
}

// ErrReadableByOthers is matched by the error of a config or secret file
// that users other than its owner and group may read or write.
var ErrReadableByOthers = errors.New("readable by others")

// maxConfigSize bounds the config file: it lists providers and zones.
const maxConfigSize = 1 << 20

// allowed keys per provider type (besides type).
var providerKeys = map[string][]string{
	TypeRFC2136:    {"server", "tsig_key", "tsig_algorithm", "tsig_secret_file", "nameservers"},
	TypeRoute53:    {"hosted_zone_id", "region", "endpoint", "nameservers"},
	TypeCloudflare: {"zone_id", "api_token_file", "endpoint", "nameservers"},
	TypeExec:       {"command", "nameservers"},
	TypeWebroot:    {"path"},
}

// inlineSecrets are keys that would hold a secret inline, with the key to
// use instead.
var inlineSecrets = map[string]string{"tsig_secret": "tsig_secret_file", "api_token": "api_token_file",
	"secret": "tsig_secret_file", "token": "api_token_file", "password": "a *_file key"}

// tsigAlgorithms are the TSIG algorithms rfc2136 takes, by config name.
var tsigAlgorithms = map[string]string{
	"hmac-sha1": "hmac-sha1.", "hmac-sha224": "hmac-sha224.", "hmac-sha256": "hmac-sha256.",
	"hmac-sha384": "hmac-sha384.", "hmac-sha512": "hmac-sha512.",
}

// Load reads and checks a --dcv-config file. Every problem is reported (a
// joined error of *ConfigError, each at file:line): unknown keys, missing
// or unreadable secrets, secrets written inline, zones without a provider.
// A config file (or secret file) that others may read or write is refused
// with an error matching ErrReadableByOthers. Relative secret file names are
// read from $CREDENTIALS_DIRECTORY when it is set, else next to the config
// file. Providers are made ready but connect to nothing.
func Load(path string) (*Config, error) {
	if err := checkPrivate(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the dcv config: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%s: the dcv config is larger than %d bytes", path, maxConfigSize)
	}
	return parse(path, data)
}

// checkPrivate refuses a file whose mode lets others read or write it.
func checkPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("reading the dcv config: %w", err)
	}
	if fi.Mode().Perm()&0o006 != 0 {
		return fmt.Errorf("%s: mode %04o: %w\nhint: it may name commands and secret files: chmod o-rwx %s", path, fi.Mode().Perm(), ErrReadableByOthers, path)
	}
	return nil
}

type parser struct {
	file string
	dir  string
	errs []error
}

func (p *parser) errf(line int, hint, format string, args ...any) {
	p.errs = append(p.errs, &ConfigError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

func parse(path string, data []byte) (*Config, error) {
	p := &parser{file: path, dir: filepath.Dir(path)}
	cfg := &Config{Path: path, Providers: map[string]*ProviderConfig{}, Zones: map[string]Zone{}}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &ConfigError{File: path, Line: max(doc.Line, 1), Msg: "the dcv config must be a mapping with providers: and zones:"}
	}
	root := doc.Content[0]
	var zonesNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "providers":
			p.providers(cfg, v)
		case "zones":
			zonesNode = v
		default:
			p.errf(k.Line, "the dcv config has providers: and zones: only", "unknown key %q", k.Value)
		}
	}
	if zonesNode != nil {
		p.zones(cfg, zonesNode)
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	for _, pc := range cfg.Providers {
		pc.provider = newProvider(pc)
	}
	return cfg, nil
}

func (p *parser) providers(cfg *Config, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		p.errf(n.Line, "", "providers must be a mapping of names to providers")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.MappingNode {
			p.errf(v.Line, "", "provider %q must be a mapping with a type:", k.Value)
			continue
		}
		pn := p.providerNode(k, v)
		if pn == nil {
			continue
		}
		pn.nameservers()
		pn.settings()
		cfg.Providers[pn.pc.Name] = pn.pc
	}
}

// providerNode is one provider of the config being read: its name's node
// k, its mapping v, v's keys and the ProviderConfig being filled.
type providerNode struct {
	p       *parser
	k, v    *yaml.Node
	fields  map[string]*yaml.Node
	allowed []string
	pc      *ProviderConfig
}

// providerNode reads a provider's type and checks its keys: known to the
// type, and no secret written inline. It returns nil, with the error
// recorded, when the type is missing or unknown.
func (p *parser) providerNode(k, v *yaml.Node) *providerNode {
	pn := &providerNode{p: p, k: k, v: v, fields: map[string]*yaml.Node{}, pc: &ProviderConfig{Name: k.Value, Line: k.Line}}
	for j := 0; j+1 < len(v.Content); j += 2 {
		pn.fields[v.Content[j].Value] = v.Content[j+1]
	}
	t := pn.fields["type"]
	if t == nil {
		p.errf(v.Line, "one of rfc2136, route53, cloudflare, exec, webroot", "provider %q has no type", k.Value)
		return nil
	}
	pn.pc.Type = t.Value
	var ok bool
	if pn.allowed, ok = providerKeys[pn.pc.Type]; !ok {
		p.errf(t.Line, "one of rfc2136, route53, cloudflare, exec, webroot", "provider %q: unknown type %q", k.Value, t.Value)
		return nil
	}
	for j := 0; j+1 < len(v.Content); j += 2 {
		key := v.Content[j]
		if key.Value == "type" {
			continue
		}
		if instead, ok := inlineSecrets[key.Value]; ok {
			p.errf(key.Line, fmt.Sprintf("put the secret in a file readable only by certform and name it with %s", instead), "provider %q: %s: secrets are never written in the config", k.Value, key.Value)
			continue
		}
		if !slices.Contains(pn.allowed, key.Value) {
			p.errf(key.Line, "keys of "+pn.pc.Type+": "+strings.Join(pn.allowed, ", "), "provider %q: unknown key %q", k.Value, key.Value)
		}
	}
	return pn
}

// str returns the non-empty string under key, or "" with an error
// recorded when it is not one, or when it is required and missing.
func (pn *providerNode) str(key string, required bool) string {
	n := pn.fields[key]
	if n == nil {
		if required {
			pn.p.errf(pn.v.Line, "", "provider %q (%s) needs %s", pn.k.Value, pn.pc.Type, key)
		}
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		pn.p.errf(n.Line, "", "provider %q: %s must be a non-empty string", pn.k.Value, key)
		return ""
	}
	return n.Value
}

// nameservers reads the provider's nameservers, a list of host:port, when
// its type has them.
func (pn *providerNode) nameservers() {
	ns := pn.fields["nameservers"]
	if ns == nil || !slices.Contains(pn.allowed, "nameservers") {
		return
	}
	if ns.Kind != yaml.SequenceNode {
		pn.p.errf(ns.Line, "such as [\"192.0.2.53:53\"]", "provider %q: nameservers must be a list of host:port", pn.k.Value)
	}
	for _, s := range ns.Content {
		if !hostPort(s.Value) {
			pn.p.errf(s.Line, "such as 192.0.2.53:53", "provider %q: nameserver %q is not host:port", pn.k.Value, s.Value)
			continue
		}
		pn.pc.Nameservers = append(pn.pc.Nameservers, s.Value)
	}
}

// settings reads the keys of the provider's type.
func (pn *providerNode) settings() {
	p, pc, name := pn.p, pn.pc, pn.k.Value
	switch pc.Type {
	case TypeRFC2136:
		pn.rfc2136()
	case TypeRoute53:
		pc.HostedZoneID = pn.str("hosted_zone_id", true)
		pc.Region = pn.str("region", false)
		pc.Endpoint = p.endpoint(pn.fields["endpoint"], name)
	case TypeCloudflare:
		pc.ZoneID = pn.str("zone_id", true)
		if file := pn.str("api_token_file", true); file != "" {
			pc.APIToken = p.secret(pn.fields["api_token_file"].Line, name, file)
		}
		pc.Endpoint = p.endpoint(pn.fields["endpoint"], name)
	case TypeExec:
		pc.Command = pn.str("command", true)
		if pc.Command != "" && !filepath.IsAbs(pc.Command) {
			p.errf(pn.fields["command"].Line, "name the program by its absolute path; it is run without a shell as COMMAND present|cleanup FQDN VALUE", "provider %q: command %q is not an absolute path", name, pc.Command)
		}
	case TypeWebroot:
		pc.Path = pn.str("path", true)
		if pc.Path != "" && !filepath.IsAbs(pc.Path) {
			p.errf(pn.fields["path"].Line, "the web server's document root, such as /var/www/html", "provider %q: path %q is not an absolute path", name, pc.Path)
		}
	}
}

// rfc2136 reads an rfc2136 provider's server (host:port), TSIG key,
// algorithm (default hmac-sha256) and secret file, key and file together.
func (pn *providerNode) rfc2136() {
	p, pc, name := pn.p, pn.pc, pn.k.Value
	pc.Server = pn.str("server", true)
	if pc.Server != "" && !hostPort(pc.Server) {
		p.errf(pn.fields["server"].Line, "such as 192.0.2.53:53", "provider %q: server %q is not host:port", name, pc.Server)
	}
	pc.TSIGKey = pn.str("tsig_key", false)
	pc.TSIGAlgorithm = pn.str("tsig_algorithm", false)
	if pc.TSIGAlgorithm == "" {
		pc.TSIGAlgorithm = "hmac-sha256"
	} else if _, ok := tsigAlgorithms[pc.TSIGAlgorithm]; !ok {
		p.errf(pn.fields["tsig_algorithm"].Line, "one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512", "provider %q: unknown tsig_algorithm %q", name, pc.TSIGAlgorithm)
	}
	file := pn.str("tsig_secret_file", false)
	switch {
	case (pc.TSIGKey == "") != (file == ""):
		p.errf(pn.v.Line, "give both tsig_key and tsig_secret_file, or neither for a server that takes unsigned updates", "provider %q: tsig_key and tsig_secret_file go together", name)
	case file != "":
		pc.TSIGSecret = p.secret(pn.fields["tsig_secret_file"].Line, name, file)
	}
}

func (p *parser) endpoint(n *yaml.Node, provider string) string {
	if n == nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode || !(strings.HasPrefix(n.Value, "https://") || strings.HasPrefix(n.Value, "http://")) {
		p.errf(n.Line, "the API's base URL, such as https://api.cloudflare.com/client/v4", "provider %q: endpoint %q is not an http(s) URL", provider, n.Value)
		return ""
	}
	return strings.TrimSuffix(n.Value, "/")
}

// secret reads a secret file: relative names from $CREDENTIALS_DIRECTORY
// when set, else next to the config. Its first line, trimmed, is the
// secret.
func (p *parser) secret(line int, provider, name string) Secret {
	path := name
	if !filepath.IsAbs(name) {
		if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
			path = filepath.Join(dir, name)
		} else {
			path = filepath.Join(p.dir, name)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		hint := "create it (mode 0600) or correct the name"
		if errors.Is(err, fs.ErrPermission) {
			hint = "let the user certform runs as read it"
		}
		p.errf(line, hint, "provider %q: secret file %s: %v", provider, path, errors.Unwrap(err))
		return ""
	}
	if fi.Mode().Perm()&0o006 != 0 {
		p.errf(line, "chmod o-rwx "+path, "provider %q: secret file %s (mode %04o) is %v", provider, path, fi.Mode().Perm(), ErrReadableByOthers)
		return ""
	}
	data, err := os.ReadFile(path)
	if err != nil {
		p.errf(line, "let the user certform runs as read it", "provider %q: secret file %s: %v", provider, path, errors.Unwrap(err))
		return ""
	}
	s, _, _ := strings.Cut(string(data), "\n")
	s = strings.TrimSpace(s)
	if s == "" {
		p.errf(line, "the file holds the secret on its first line", "provider %q: secret file %s is empty", provider, path)
	}
	return Secret(s)
}

func (p *parser) zones(cfg *Config, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		p.errf(n.Line, "", "zones must be a mapping of zone names to provider names")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := strings.TrimSuffix(strings.ToLower(k.Value), ".")
		z := Zone{Name: name, Line: k.Line}
		switch v.Kind {
		case yaml.ScalarNode:
			z.Provider = v.Value
		case yaml.MappingNode:
			p.zoneKeys(&z, k, v)
		default:
			p.errf(v.Line, "", "zone %q must name a provider", k.Value)
			continue
		}
		if name == "" || strings.ContainsAny(name, " */") {
			p.errf(k.Line, "", "zone %q is not a DNS name", k.Value)
			continue
		}
		pc := cfg.Providers[z.Provider]
		switch {
		case z.Provider == "":
			p.errf(k.Line, "name one of the providers:", "zone %q has no provider", k.Value)
		case pc == nil && len(cfg.Providers) > 0:
			p.errf(v.Line, "providers: "+strings.Join(slices.Sorted(maps.Keys(cfg.Providers)), ", "), "zone %q: no provider %q", k.Value, z.Provider)
		case pc == nil:
			p.errf(v.Line, "add it under providers:", "zone %q: no provider %q", k.Value, z.Provider)
		case pc.Type == TypeWebroot && z.TXTName != "":
			p.errf(v.Line, "txt_name is for DNS providers", "zone %q: provider %q is a webroot", k.Value, z.Provider)
		}
		if _, dup := cfg.Zones[name]; dup {
			p.errf(k.Line, "", "zone %q is listed twice", k.Value)
		}
		cfg.Zones[name] = z
	}
}

// zoneKeys reads the keys of zone z written as a mapping v: provider and
// txt_name (only _dnsauth).
func (p *parser) zoneKeys(z *Zone, k, v *yaml.Node) {
	for j := 0; j+1 < len(v.Content); j += 2 {
		key, val := v.Content[j], v.Content[j+1]
		switch key.Value {
		case "provider":
			z.Provider = val.Value
		case "txt_name":
			if val.Value != TXTNameDNSAuth {
				p.errf(val.Line, "txt_name: _dnsauth publishes TXT values at _dnsauth.NAME; leave it out to publish on the name", "zone %q: txt_name %q is not _dnsauth", k.Value, val.Value)
			}
			z.TXTName = val.Value
		default:
			p.errf(key.Line, "a zone takes provider: and txt_name:", "zone %q: unknown key %q", k.Value, key.Value)
		}
	}
}

// Match returns the zone serving name: the longest zone that is name or a
// parent of it. False when none is configured.
func (c *Config) Match(name string) (Zone, bool) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	name = strings.TrimPrefix(name, "*.")
	for n := name; n != ""; {
		if z, ok := c.Zones[n]; ok {
			return z, true
		}
		_, rest, found := strings.Cut(n, ".")
		if !found {
			break
		}
		n = rest
	}
	return Zone{}, false
}

// Provider returns the provider named name, nil when there is none.
func (c *Config) Provider(name string) Provider {
	if pc := c.Providers[name]; pc != nil {
		return pc.provider
	}
	return nil
}

// SetProvider replaces a provider's implementation (tests use it to count
// or fail calls).
func (c *Config) SetProvider(name string, p Provider) {
	if pc := c.Providers[name]; pc != nil {
		pc.provider = p
	}
}

func hostPort(s string) bool {
	h, port, ok := strings.Cut(s, ":")
	if i := strings.LastIndex(s, ":"); i > 0 {
		h, port, ok = s[:i], s[i+1:], true
	}
	return ok && h != "" && port != "" && strings.Trim(port, "0123456789") == ""
}

// DefaultPropagationTimeout bounds the wait for the authoritative servers
// (--dcv-propagation-timeout).
const DefaultPropagationTimeout = 5 * time.Minute
