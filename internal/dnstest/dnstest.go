// Package dnstest starts throwaway Knot DNS servers for tests, the way
// internal/pgtest starts PostgreSQL: an authoritative server on a free
// 127.0.0.1 port serving test zones that accept RFC 2136 updates signed with
// a TSIG key of the test's own. It owns the server's folder (config, zone
// files, journal), its process and the key; it does not own the records
// tests add.
//
// knotd comes from $PATH, else /usr/sbin (the Debian package knot). Without
// it a test is skipped, or fails when $CI is non-empty, so CI never passes by
// skipping.
package dnstest

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// SPF is the TXT record every test zone has at its apex: tests check that
// certform leaves it as it was.
const SPF = "v=spf1 -all"

// DefaultZones are the zones Start serves when given none.
var DefaultZones = []string{"example.com", "example.net", "example.org"}

// Server is a running Knot DNS server that listens on Addr (UDP and TCP)
// only. Its methods may be called from parallel tests.
type Server struct {
	// Addr is "127.0.0.1:PORT".
	Addr string
	// Zones are the zones it serves, each with an SOA, an NS, and the SPF
	// TXT record at the apex.
	Zones []string
	// KeyName, Algorithm and Secret are the TSIG key that may update
	// every zone: "certform.", "hmac-sha256" and 32 random bytes in base64.
	KeyName   string
	Algorithm string
	Secret    string
	// SecretFile holds Secret on one line, mode 0600, as tsig-keygen and
	// keymgr print it; Dir is the server's folder.
	SecretFile string
	Dir        string

	cmd *exec.Cmd
}

var errNoBinary = errors.New("dnstest: knotd is in neither $PATH nor /usr/sbin\n" +
	"hint: install the Debian package knot: apt-get install --no-install-recommends knot")

// Start starts a server of the test's own serving zones (DefaultZones when
// none), stopped and removed when the test finishes. It takes well under a
// second.
func Start(tb testing.TB, zones ...string) *Server {
	tb.Helper()
	if len(zones) == 0 {
		zones = DefaultZones
	}
	bin, err := findKnotd()
	if err != nil {
		if os.Getenv("CI") == "" {
			tb.Skip(err)
		}
		tb.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	s := &Server{Zones: zones, KeyName: "certform.", Algorithm: "hmac-sha256", Secret: base64.StdEncoding.EncodeToString(key), Dir: tb.TempDir()}
	s.SecretFile = filepath.Join(s.Dir, "tsig.key")
	if err := os.Mkdir(filepath.Join(s.Dir, "db"), 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(s.SecretFile, []byte(s.Secret+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	for _, z := range zones {
		zone := fmt.Sprintf("$ORIGIN %s.\n$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n@ TXT %q\nwww A 127.0.0.1\n", z, SPF)
		if err := os.WriteFile(filepath.Join(s.Dir, z+".zone"), []byte(zone), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	// Another process may take the free port before knotd binds it.
	for attempt := 1; attempt <= 3; attempt++ {
		if err = s.start(bin); err == nil {
			tb.Cleanup(s.stop)
			return s
		}
	}
	tb.Fatal(err)
	return nil
}

func findKnotd() (string, error) {
	if p, err := exec.LookPath("knotd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/knotd"); err == nil {
		return "/usr/sbin/knotd", nil
	}
	return "", errNoBinary
}

func (s *Server) start(bin string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	confPath := filepath.Join(s.Dir, "knot.conf")
	if err := os.WriteFile(confPath, []byte(s.knotConf(port)), 0o600); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(s.Dir, "knotd.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	s.cmd = exec.Command(bin, "-c", confPath)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("dnstest: starting knotd: %w", err)
	}
	exited := make(chan struct{})
	go func() { s.cmd.Wait(); close(exited) }()
	return s.waitReady(exited, logFile.Name(), port)
}

// knotConf is knotd's configuration: listening on 127.0.0.1 at port, with
// the TSIG key allowed to update each zone, zone files in s.Dir.
func (s *Server) knotConf(port int) string {
	var zones strings.Builder
	for _, z := range s.Zones {
		fmt.Fprintf(&zones, "  - domain: %s\n    file: %s\n    acl: update\n", z, filepath.Join(s.Dir, z+".zone"))
	}
	return fmt.Sprintf(`server:
    rundir: %[1]s
    listen: 127.0.0.1@%[2]d
log:
  - target: stderr
    any: info
database:
    storage: %[1]s/db
key:
  - id: %[3]s
    algorithm: %[4]s
    secret: %[5]s
acl:
  - id: update
    key: %[3]s
    action: update
template:
  - id: default
    storage: %[1]s
    zonefile-sync: -1
    journal-content: changes
zone:
%[6]s`, s.Dir, port, s.KeyName, s.Algorithm, s.Secret, zones.String())
}

// waitReady waits up to 15s for knotd to serve the zones, failing with
// the tail of its log at logPath when it exits (exited closes) or the
// time runs out (then it is stopped).
func (s *Server) waitReady(exited <-chan struct{}, logPath string, port int) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		if s.ready() {
			return nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("dnstest: knotd on port %d exited: %s\n%s", port, s.cmd.ProcessState, tail(log))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("dnstest: knotd did not serve %s within 15s\n%s", s.Zones[0], tail(log))
		}
	}
}

func tail(b []byte) []byte { return b[max(0, len(b)-4096):] }

// ready reports whether every zone answers its SOA.
func (s *Server) ready() bool {
	for _, z := range s.Zones {
		in, err := s.query(z, dns.TypeSOA)
		if err != nil || in.Rcode != dns.RcodeSuccess || len(in.Answer) == 0 {
			return false
		}
	}
	return true
}

func (s *Server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
	}
}

func (s *Server) query(name string, t uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), t)
	m.RecursionDesired = false
	c := &dns.Client{Timeout: time.Second}
	in, _, err := c.Exchange(m, s.Addr)
	return in, err
}

// TXT returns the TXT strings at name, sorted; nil when there are none.
func (s *Server) TXT(tb testing.TB, name string) []string {
	tb.Helper()
	in, err := s.query(name, dns.TypeTXT)
	if err != nil {
		tb.Fatalf("dnstest: TXT %s: %v", name, err)
	}
	var out []string
	for _, rr := range in.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	sort.Strings(out)
	return out
}

// CNAME returns the CNAME target at name (with its trailing dot), "" when
// there is none.
func (s *Server) CNAME(tb testing.TB, name string) string {
	tb.Helper()
	in, err := s.query(name, dns.TypeCNAME)
	if err != nil {
		tb.Fatalf("dnstest: CNAME %s: %v", name, err)
	}
	for _, rr := range in.Answer {
		if c, ok := rr.(*dns.CNAME); ok {
			return c.Target
		}
	}
	return ""
}

// Add adds a record, given in zone-file syntax, by a signed update, as
// another tool would (an existing TXT of another CA, say).
func (s *Server) Add(tb testing.TB, zone, record string) {
	tb.Helper()
	rr, err := dns.NewRR(record)
	if err != nil {
		tb.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zone))
	m.Insert([]dns.RR{rr})
	m.SetTsig(s.KeyName, dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", TsigSecret: map[string]string{s.KeyName: s.Secret}, Timeout: 5 * time.Second}
	in, _, err := c.Exchange(m, s.Addr)
	if err != nil || in.Rcode != dns.RcodeSuccess {
		log, _ := os.ReadFile(filepath.Join(s.Dir, "knotd.log"))
		tb.Fatalf("dnstest: adding %s: %v %v\n%s", record, err, in, tail(log))
	}
}

func freePort() (int, error) {
	// A port free for TCP and UDP alike.
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("dnstest: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", l.Addr().String())
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, errors.New("dnstest: no port free for both TCP and UDP")
}
