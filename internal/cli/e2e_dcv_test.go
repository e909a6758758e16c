package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certform/certform/dcv/dcvtest"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/internal/dnstest"
	"github.com/certform/certform/spec/spectest"
	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// dcvSpec writes spec NAME for cn with dcv_method method into dir.
func dcvSpec(t *testing.T, dir, name, cn, method string) {
	t.Helper()
	csr, err := spectest.CSR(cn)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("name: %s\ncommon_name: %s\norganization_id: 1\nskip_approval: true\ndcv_method: %s\ncsr: |\n%s", name, cn, method, spectest.Indent(csr))
	if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// dcvConfig writes a DCV config (mode 0600) and returns its path.
func dcvConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dcv.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func compactJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// dcvCalls returns the DCV calls among the fake's.
func dcvCalls(srv *digicerttest.Server) []string {
	var out []string
	for _, c := range srv.Calls() {
		if strings.Contains(c, "/validation") || strings.Contains(c, "dcv") || strings.HasPrefix(c, "GET /domain") {
			out = append(out, c)
		}
	}
	return out
}

// TestE2E_DCV_rfc2136: an order waits in pending; certform publishes the TXT
// record over RFC 2136 to a real Knot DNS; the fake, querying that server,
// finds it and issues; the record is then gone and the apex SPF record is
// as it was. The TSIG secret appears nowhere.
func TestE2E_DCV_rfc2136(t *testing.T) {
	ns := dnstest.Start(t)
	srv, env := startFake(t, digicerttest.WithDNSResolver(ns.Addr))
	dir, st := t.TempDir(), filepath.Join(t.TempDir(), "s.json")
	dcvSpec(t, dir, "shop", "shop.example.com", "dns-txt-token")
	conf := dcvConfig(t, fmt.Sprintf("providers:\n  corp: {type: rfc2136, server: %q, tsig_key: %q, tsig_algorithm: hmac-sha256, tsig_secret_file: %s, nameservers: [%q]}\nzones:\n  example.com: corp\n",
		ns.Addr, ns.KeyName, ns.SecretFile, ns.Addr))
	args := []string{"apply", "--dir", dir, "--state", st, "--dcv-config", conf, "--dcv-propagation-timeout", "20s"}
	code, stdout, stderr := runBinary(t, env, args...)
	if code != 0 {
		t.Fatalf("first apply: exit %d\n%s\n%s", code, stdout, stderr)
	}
	id := loadStateFile(t, st).Entries["shop"].OrderID
	if o, _ := srv.Order(id); o.Status != "pending" {
		t.Fatalf("order %d is %s, want pending", id, o.Status)
	}
	// plan --refresh reads the validation status (GET only) and shows the
	// step as JSON kind validate; plan without --refresh makes no call.
	srv.ResetRequests()
	code, stdout, stderr = runBinary(t, env, "plan", "--dir", dir, "--state", st, "--dcv-config", conf, "--refresh", "--json")
	var doc struct {
		Actions []json.RawMessage `json:"actions"`
	}
	json.Unmarshal([]byte(stdout), &doc)
	wantAction := `{"kind":"validate","name":"shop","file":"shop.yaml","line":1,"order_id":100001,"validation":{"dns_name":"shop.example.com","dcv_method":"dns-txt-token","zone":"example.com","provider":"corp"}}`
	if code != 0 || len(doc.Actions) != 1 || compactJSON(t, doc.Actions[0]) != wantAction {
		t.Fatalf("plan --refresh --json: exit %d, want the action\n%s\n%s\n%s", code, wantAction, stdout, stderr)
	}
	if strings.Contains(stdout, "publish a TXT record") || !strings.Contains(stdout, "certform publishes the value through the DCV config") {
		t.Fatalf("the waiting note still asks a person to publish:\n%s", stdout)
	}
	for _, c := range srv.Calls() {
		if !strings.HasPrefix(c, "GET ") {
			t.Fatalf("plan --refresh made %s", c)
		}
	}
	srv.ResetRequests()
	if code, stdout, _ = runBinary(t, env, "plan", "--dir", dir, "--state", st, "--dcv-config", conf); code != 0 || len(srv.Calls()) != 0 || strings.Contains(stdout, "validate") {
		t.Fatalf("plan without --refresh: exit %d, calls %v\n%s", code, srv.Calls(), stdout)
	}
	pendingAt := time.Now()
	srv.ResetRequests()
	code, stdout, stderr = runBinary(t, env, args...)
	if code != 0 {
		t.Fatalf("second apply: exit %d\n%s\n%s", code, stdout, stderr)
	}
	took := time.Since(pendingAt)
	if !strings.Contains(stdout, "  ~ validate shop: shop.example.com via corp (dns-txt-token)\n") {
		t.Fatalf("the plan does not show the validation:\n%s", stdout)
	}
	if o, _ := srv.Order(id); o.Status != "issued" {
		t.Fatalf("order %d is %s after validation, want issued\n%s\n%s", id, o.Status, stdout, stderr)
	}
	want := []string{
		fmt.Sprintf("GET /order/certificate/%d/validation", id),
		"GET /domain?include_validation=true&limit=1000&offset=0",
		fmt.Sprintf("PUT /order/certificate/%d/dcv-random-value", id),
		fmt.Sprintf("PUT /order/certificate/%d/check-dcv", id),
	}
	if diff := cmp.Diff(want, dcvCalls(srv)); diff != "" {
		t.Fatalf("DCV calls (-want +got):\n%s", diff)
	}
	t.Logf("pending to issued: %s (one apply); CertCentral calls for the validated name: %d (%v)", took.Round(time.Millisecond), len(want), want)
	if got := ns.TXT(t, "shop.example.com"); got != nil {
		t.Fatalf("TXT left at shop.example.com: %q", got)
	}
	if got := ns.TXT(t, "example.com"); !slices.Equal(got, []string{dnstest.SPF}) {
		t.Fatalf("apex TXT %q, want the SPF record alone", got)
	}
	data, _ := os.ReadFile(st)
	if strings.Contains(string(data), "dcv_records") {
		t.Fatalf("the state still logs records:\n%s", data)
	}
	for what, s := range map[string]string{"stdout": stdout, "stderr": stderr, "state": string(data)} {
		if strings.Contains(s, ns.Secret) {
			t.Fatalf("the TSIG secret is in the %s", what)
		}
	}
	// With --dcv-revalidate-before 0 the domains are not read.
	srv.ResetRequests()
	if code, _, _ = runBinary(t, env, append(args, "--dcv-revalidate-before", "0")...); code != 0 || slices.ContainsFunc(srv.Calls(), func(c string) bool { return strings.HasPrefix(c, "GET /domain") }) {
		t.Fatalf("with --dcv-revalidate-before 0: exit %d, calls %v", code, srv.Calls())
	}
	// The next run sees the order issued and has nothing to validate.
	srv.ResetRequests()
	code, stdout, _ = runBinary(t, env, args...)
	if code != 0 || strings.Contains(stdout, "validate") {
		t.Fatalf("third apply: exit %d\n%s", code, stdout)
	}
}

func TestE2E_DCV_route53(t *testing.T) {
	r53 := dcvtest.NewRoute53("Z0123")
	defer r53.Close()
	r53.Set("example.net.", "TXT", 300, `"v=spf1 -all"`)
	addr, stop, err := r53.ServeDNS()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	srv, env := startFake(t, digicerttest.WithDNSResolver(addr))
	env = append(env, "AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=e2e-secret-key", "AWS_EC2_METADATA_DISABLED=true")
	dir, st := t.TempDir(), filepath.Join(t.TempDir(), "s.json")
	dcvSpec(t, dir, "api", "example.net", "dns-txt-token")
	conf := dcvConfig(t, fmt.Sprintf("providers:\n  aws: {type: route53, hosted_zone_id: Z0123, endpoint: %q, nameservers: [%q]}\nzones:\n  example.net: {provider: aws, txt_name: _dnsauth}\n", r53.URL(), addr))
	args := []string{"apply", "--dir", dir, "--state", st, "--dcv-config", conf}
	if code, stdout, stderr := runBinary(t, env, args...); code != 0 {
		t.Fatalf("first apply: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr := runBinary(t, env, args...)
	if code != 0 {
		t.Fatalf("second apply: exit %d\n%s\n%s", code, stdout, stderr)
	}
	id := loadStateFile(t, st).Entries["api"].OrderID
	if o, _ := srv.Order(id); o.Status != "issued" {
		t.Fatalf("order %d is %s, want issued\n%s\n%s", id, o.Status, stdout, stderr)
	}
	list := "GET /2013-04-01/hostedzone/Z0123/rrset?maxitems=1&name=_dnsauth.example.net.&type=TXT"
	change := "POST /2013-04-01/hostedzone/Z0123/rrset"
	if diff := cmp.Diff([]string{list, change, list, change}, r53.Lines()); diff != "" {
		t.Fatalf("Route 53 requests (-want +got):\n%s", diff)
	}
	if got := r53.Values("_dnsauth.example.net.", "TXT"); got != nil {
		t.Fatalf("left %q", got)
	}
	if got := r53.Values("example.net.", "TXT"); !slices.Equal(got, []string{`"v=spf1 -all"`}) {
		t.Fatalf("apex %q", got)
	}
	// A Route 53 error is reported with its code, and the run fails.
	srv2, env2 := startFake(t, digicerttest.WithDNSResolver(addr))
	env2 = append(env2, "AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=e2e-secret-key", "AWS_EC2_METADATA_DISABLED=true")
	st2 := filepath.Join(t.TempDir(), "s.json")
	args2 := []string{"apply", "--dir", dir, "--state", st2, "--dcv-config", conf}
	runBinary(t, env2, args2...)
	r53.FailNext(403, `<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: route53:ListResourceRecordSets</Message></Error><RequestId>r-2</RequestId></ErrorResponse>`)
	code, stdout, stderr = runBinary(t, env2, args2...)
	if code == 0 || !strings.Contains(stdout+stderr, "AccessDenied: User is not authorized to perform: route53:ListResourceRecordSets") {
		t.Fatalf("with a Route 53 error: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "e2e-secret-key") {
		t.Fatal("the AWS secret key was printed")
	}
	if o, _ := srv2.Order(loadStateFile(t, st2).Entries["api"].OrderID); o.Status != "pending" {
		t.Fatalf("order is %s", o.Status)
	}
}

func TestE2E_DCV_cloudflare(t *testing.T) {
	cf := dcvtest.NewCloudflare("zone9", "cf-e2e-token")
	defer cf.Close()
	addr, stop, err := cf.ServeDNS()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	srv, env := startFake(t, digicerttest.WithDNSResolver(addr))
	dir, st := t.TempDir(), filepath.Join(t.TempDir(), "s.json")
	dcvSpec(t, dir, "www", "www.example.org", "dns-cname-token")
	confDir := t.TempDir()
	os.WriteFile(filepath.Join(confDir, "cf.token"), []byte("cf-e2e-token\n"), 0o600)
	conf := filepath.Join(confDir, "dcv.yaml")
	os.WriteFile(conf, []byte(fmt.Sprintf("providers:\n  cf: {type: cloudflare, zone_id: zone9, api_token_file: cf.token, endpoint: %q, nameservers: [%q]}\nzones:\n  example.org: cf\n", cf.Endpoint(), addr)), 0o600)
	args := []string{"apply", "--dir", dir, "--state", st, "--dcv-config", conf}
	runBinary(t, env, args...)
	code, stdout, stderr := runBinary(t, env, args...)
	id := loadStateFile(t, st).Entries["www"].OrderID
	o, _ := srv.Order(id)
	if code != 0 || o.Status != "issued" {
		t.Fatalf("exit %d, order %s\n%s\n%s", code, o.Status, stdout, stderr)
	}
	want := []string{"POST /client/v4/zones/zone9/dns_records", "GET /client/v4/zones/zone9/dns_records?name=_dnsauth.www.example.org&type=CNAME",
		"DELETE /client/v4/zones/zone9/dns_records/rec1"}
	if diff := cmp.Diff(want, cf.Lines()); diff != "" {
		t.Fatalf("Cloudflare requests (-want +got):\n%s", diff)
	}
	if body := cf.Requests()[0].Body; body != `{"type":"CNAME","name":"_dnsauth.www.example.org","content":"`+o.DCVRandomValue+`.dcv.digicert.com","ttl":60}` {
		t.Fatalf("create body %s", body)
	}
	if strings.Contains(stdout+stderr, "cf-e2e-token") {
		t.Fatal("the Cloudflare token was printed")
	}
}

// execHook is a provider script keeping "FQDN VALUE" lines in a file; with
// the file HANG present it hangs after presenting, until killed.
const execHook = `#!/bin/sh
db="$(dirname "$0")/records"
case "$1" in
present) echo "$2 $3" >> "$db"; if [ -e "$(dirname "$0")/HANG" ]; then touch "$(dirname "$0")/PRESENTED"; sleep 60; fi ;;
cleanup) grep -v -x -F "$2 $3" "$db" > "$db.new"; mv "$db.new" "$db" ;;
esac
`

// execRecords serves the exec hook's records over DNS.
func execRecords(t *testing.T, hookDir string) string {
	t.Helper()
	addr, stop, err := dcvtest.ServeDNS(func(q dns.Question) []dns.RR {
		b, _ := os.ReadFile(filepath.Join(hookDir, "records"))
		var values []string
		for _, l := range strings.Split(string(b), "\n") {
			if n, v, ok := strings.Cut(l, " "); ok && strings.EqualFold(n, q.Name) {
				values = append(values, v)
			}
		}
		return dcvtest.TXTOrCNAME(q, values)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr
}

func records(t *testing.T, hookDir string) string {
	b, _ := os.ReadFile(filepath.Join(hookDir, "records"))
	return string(b)
}

// TestE2E_DCV_execAndKill: the exec provider publishes through a script;
// a certform killed with SIGKILL between publish and clean-up leaves the
// record logged in the state, and the next run removes it.
func TestE2E_DCV_execAndKill(t *testing.T) {
	hookDir := t.TempDir()
	hook := filepath.Join(hookDir, "hook.sh")
	os.WriteFile(hook, []byte(execHook), 0o700)
	addr := execRecords(t, hookDir)
	srv, env := startFake(t, digicerttest.WithDNSResolver(addr))
	dir, st := t.TempDir(), filepath.Join(t.TempDir(), "s.json")
	dcvSpec(t, dir, "mail", "mail.example.com", "dns-txt-token")
	conf := dcvConfig(t, fmt.Sprintf("providers:\n  hook: {type: exec, command: %s, nameservers: [%q]}\nzones:\n  example.com: hook\n", hook, addr))
	args := []string{"apply", "--dir", dir, "--state", st, "--dcv-config", conf}
	runBinary(t, env, args...) // orders: pending
	os.WriteFile(filepath.Join(hookDir, "HANG"), nil, 0o600)
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(hookDir, "PRESENTED")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatal("the hook never presented")
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // certform and its hook
	cmd.Wait()
	o, _ := srv.Order(loadStateFile(t, st).Entries["mail"].OrderID)
	want := "mail.example.com. " + o.DCVRandomValue + "\n"
	if got := records(t, hookDir); got != want {
		t.Fatalf("records after the kill %q, want %q", got, want)
	}
	if recs := loadStateFile(t, st).Entries["mail"].DCVRecords; len(recs) != 1 || recs[0].Value != o.DCVRandomValue {
		t.Fatalf("the state does not log the record: %+v", recs)
	}
	os.Remove(filepath.Join(hookDir, "HANG"))
	code, stdout, stderr := runBinary(t, env, args...)
	if code != 0 {
		t.Fatalf("apply after the kill: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if got := strings.TrimSpace(records(t, hookDir)); got != "" {
		t.Fatalf("records after the next run %q", got)
	}
	if recs := loadStateFile(t, st).Entries["mail"].DCVRecords; recs != nil {
		t.Fatalf("state records %+v", recs)
	}
	if o, _ := srv.Order(o.ID); o.Status != "issued" {
		t.Fatalf("order %s", o.Status)
	}
}

// TestE2E_DCV_webroot: http-token through a document root served by a
// local HTTP server that the fake fetches.
func TestE2E_DCV_webroot(t *testing.T) {
	root := t.TempDir()
	var hosts []string
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts = append(hosts, r.Host+r.URL.Path)
		http.FileServer(http.Dir(root)).ServeHTTP(w, r)
	}))
	defer web.Close()
	srv, env := startFake(t, digicerttest.WithHTTPValidation(func(string) string { return web.URL }))
	dir, st := t.TempDir(), filepath.Join(t.TempDir(), "s.json")
	dcvSpec(t, dir, "shop", "shop.example.org", "http-token")
	conf := dcvConfig(t, fmt.Sprintf("providers:\n  web: {type: webroot, path: %s}\nzones:\n  shop.example.org: web\n", root))
	args := []string{"apply", "--dir", dir, "--state", st, "--dcv-config", conf}
	runBinary(t, env, args...)
	code, stdout, stderr := runBinary(t, env, args...)
	o, _ := srv.Order(loadStateFile(t, st).Entries["shop"].OrderID)
	if code != 0 || o.Status != "issued" {
		t.Fatalf("exit %d, order %s\n%s\n%s", code, o.Status, stdout, stderr)
	}
	if !strings.Contains(stdout, "~ validate shop: shop.example.org via web (http-token)") {
		t.Fatalf("plan:\n%s", stdout)
	}
	if !slices.Equal(hosts, []string{"shop.example.org/.well-known/pki-validation/fileauth.txt"}) {
		t.Fatalf("fetches %v", hosts)
	}
	if _, err := os.Stat(filepath.Join(root, ".well-known", "pki-validation", "fileauth.txt")); !os.IsNotExist(err) {
		t.Fatalf("fileauth.txt left: %v", err)
	}
}

// TestE2E_DCV_domainRevalidated: a domain 10 days from its validation end
// is revalidated once, with no order involved.
func TestE2E_DCV_domainRevalidated(t *testing.T) {
	ns := dnstest.Start(t)
	srv, env := startFake(t, digicerttest.WithDNSResolver(ns.Addr))
	dir, st := t.TempDir(), filepath.Join(t.TempDir(), "s.json")
	writeSpecs(t, dir, 1) // host00.example.com, issued at once
	conf := dcvConfig(t, fmt.Sprintf("providers:\n  corp: {type: rfc2136, server: %q, tsig_key: %q, tsig_secret_file: %s, nameservers: [%q]}\nzones:\n  example.com: corp\n",
		ns.Addr, ns.KeyName, ns.SecretFile, ns.Addr))
	args := []string{"apply", "--dir", dir, "--state", st, "--dcv-config", conf}
	if code, stdout, stderr := runBinary(t, env, args...); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	id := srv.AddDomain("example.com", time.Now().Add(10*24*time.Hour+time.Hour))
	code, stdout, stderr := runBinary(t, env, args...)
	if code != 0 || !strings.Contains(stdout, "  ~ revalidate example.com (ends in 10 days)\n") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	runBinary(t, env, args...)
	d, _ := srv.DomainByID(id)
	if d.Validations != 1 {
		t.Fatalf("revalidated %d times, want once", d.Validations)
	}
	// status shows when the domain's validation ends, as last read.
	code, stdout, stderr = runBinary(t, nil, "status", "--state", st)
	wantNote := "domain example.com validated until " + d.ValidatedUntil.UTC().Format("2006-01-02") + " (199 days)"
	if code != 0 || !strings.Contains(stdout, wantNote) {
		t.Fatalf("status: exit %d, want %q\n%s\n%s", code, wantNote, stdout, stderr)
	}
	code, stdout, _ = runBinary(t, nil, "status", "--state", st, "--json")
	if code != 0 || !strings.Contains(compactJSON(t, []byte(stdout)), `"domain_validation_ends":{"example.com":"`+d.ValidatedUntil.UTC().Truncate(time.Second).Format(time.RFC3339)+`"}`) {
		t.Fatalf("status --json:\n%s", stdout)
	}
	if got := ns.TXT(t, "example.com"); !slices.Equal(got, []string{dnstest.SPF}) {
		t.Fatalf("apex %q", got)
	}
}

func TestValidate_dcvConfig(t *testing.T) {
	conf := dcvConfig(t, "providers:\n  corp: {type: rfc2136, server: \"127.0.0.1:53\", tsig_key: k., tsig_secret_file: missing.key}\nzones:\n  example.com: crop\n")
	code, stdout, stderr := runBinary(t, nil, "validate", "--dcv-config", conf)
	want := "certform validate: " + conf + ":2: provider \"corp\": secret file " + filepath.Join(filepath.Dir(conf), "missing.key") + ": no such file or directory\nhint: create it (mode 0600) or correct the name\n" +
		conf + ":4: zone \"example.com\": no provider \"crop\"\nhint: providers: corp\n"
	if code != 1 || stderr != want || stdout != "" {
		t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant   %q", code, stdout, stderr, want)
	}
	os.Chmod(conf, 0o644)
	code, _, stderr = runBinary(t, []string{"CERTFORM_DCV_CONFIG=" + conf}, "validate")
	if code != 1 || !strings.Contains(stderr, "mode 0644: readable by others") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// TestApply_dcvConfigInSpecDir: a DCV config inside the spec directory is
// refused before any call.
func TestApply_dcvConfigInSpecDir(t *testing.T) {
	srv, env := startFake(t)
	dir := t.TempDir()
	writeSpecs(t, dir, 1)
	conf := filepath.Join(dir, "ops", "dcv.yaml")
	os.Mkdir(filepath.Dir(conf), 0o700)
	os.WriteFile(conf, []byte("providers:\n  hook: {type: exec, command: /bin/true}\nzones:\n  example.com: hook\n"), 0o600)
	code, _, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", filepath.Join(t.TempDir(), "s.json"), "--dcv-config", conf)
	want := "certform apply: the DCV config " + conf + " is inside the spec directory " + dir + ": whoever can commit a spec could name a command or a credential\nhint: keep it on the server, such as /etc/certform/dcv.yaml\n"
	if code != 1 || stderr != want {
		t.Fatalf("exit %d\n%q\nwant %q", code, stderr, want)
	}
	if calls := srv.Calls(); len(calls) != 0 {
		t.Fatalf("calls were made: %v", calls)
	}
}
