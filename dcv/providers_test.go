package dcv_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/dcv"
	"github.com/certform/certform/dcv/dcvtest"
	"github.com/certform/certform/internal/dnstest"
	"github.com/google/go-cmp/cmp"
)

func TestRFC2136_appendAndDeleteByValue(t *testing.T) {
	ctx := context.Background()
	ns := dnstest.Start(t)
	p := &dcv.RFC2136{Server: ns.Addr, Key: ns.KeyName, Algorithm: ns.Algorithm, Secret: dcv.Secret(ns.Secret)}
	a := dcv.Record{Type: dcv.TypeTXT, Zone: "example.com", Name: "example.com", Value: "value-a"}
	b := a
	b.Value = "value-b"
	for _, r := range []dcv.Record{a, b, a} { // a twice: presenting again changes nothing
		if err := p.Present(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := ns.TXT(t, "example.com"); !cmp.Equal(got, []string{dnstest.SPF, "value-a", "value-b"}) {
		t.Fatalf("TXT after present: %q", got)
	}
	if err := p.CleanUp(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := p.CleanUp(ctx, a); err != nil { // already gone
		t.Fatal(err)
	}
	if got := ns.TXT(t, "example.com"); !cmp.Equal(got, []string{dnstest.SPF, "value-b"}) {
		t.Fatalf("TXT after clean-up: %q", got)
	}
	c := dcv.Record{Type: dcv.TypeCNAME, Zone: "example.com", Name: "_dnsauth.www.example.com", Value: "v1.dcv.digicert.com"}
	if err := p.Present(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := ns.CNAME(t, "_dnsauth.www.example.com"); got != "v1.dcv.digicert.com." {
		t.Fatalf("CNAME %q", got)
	}
	if err := p.Present(ctx, c); err != nil { // ours already: done
		t.Fatal(err)
	}
	if err := p.CleanUp(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := ns.CNAME(t, "_dnsauth.www.example.com"); got != "" {
		t.Fatalf("CNAME left: %q", got)
	}
	// A CNAME certform did not write is never replaced (RFC 2136 would).
	ns.Add(t, "example.com", "_dnsauth.shop.example.com. 60 IN CNAME other.dcv.digicert.com.")
	err := p.Present(ctx, dcv.Record{Type: dcv.TypeCNAME, Zone: "example.com", Name: "_dnsauth.shop.example.com", Value: "v2.dcv.digicert.com"})
	if want := "rfc2136: adding _dnsauth.shop.example.com CNAME at " + ns.Addr + ": a CNAME to another target is there; certform never replaces a record it did not write"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if got := ns.CNAME(t, "_dnsauth.shop.example.com"); got != "other.dcv.digicert.com." {
		t.Fatalf("the CNAME was replaced: %q", got)
	}
}

func TestRFC2136_badKey(t *testing.T) {
	ns := dnstest.Start(t)
	p := &dcv.RFC2136{Server: ns.Addr, Key: ns.KeyName, Algorithm: ns.Algorithm, Secret: "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="}
	err := p.Present(context.Background(), dcv.Record{Type: dcv.TypeTXT, Zone: "example.com", Name: "example.com", Value: "x"})
	if err == nil {
		t.Fatal("an update signed with a wrong key succeeded")
	}
	if strings.Contains(err.Error(), "d3Jvbmct") || strings.Contains(err.Error(), ns.Secret) {
		t.Fatalf("the error shows a secret: %v", err)
	}
	if got := ns.TXT(t, "example.com"); !cmp.Equal(got, []string{dnstest.SPF}) {
		t.Fatalf("TXT %q", got)
	}
}

func TestWaiter(t *testing.T) {
	ctx := context.Background()
	ns := dnstest.Start(t)
	r := dcv.Record{Type: dcv.TypeTXT, Zone: "example.com", Name: "a.example.com", Value: "v"}
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	var slept []time.Duration
	w := &dcv.Waiter{Timeout: 10 * time.Second, Interval: 2 * time.Second, Now: func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); now = now.Add(d); return nil }}
	err := w.Wait(ctx, r, []string{ns.Addr})
	var pe *dcv.PropagationError
	if !errors.As(err, &pe) || !cmp.Equal(pe.Missing, []string{ns.Addr}) {
		t.Fatalf("err = %v, want a PropagationError naming %s", err, ns.Addr)
	}
	if want := "a.example.com TXT: not answered by " + ns.Addr + " within 10s"; err.Error() != want {
		t.Fatalf("err = %q, want %q", err, want)
	}
	if len(slept) != 4 {
		t.Fatalf("slept %v, want 4 pauses of 2s", slept)
	}
	ns.Add(t, "example.com", `a.example.com. 60 IN TXT "v"`)
	slept = nil
	if err := w.Wait(ctx, r, []string{ns.Addr}); err != nil || len(slept) != 0 {
		t.Fatalf("with the record: %v, slept %v", err, slept)
	}
	// Without nameservers, the zone's NS records are asked.
	w.LookupNS = func(_ context.Context, zone string) ([]string, error) {
		if zone != "example.com" {
			t.Errorf("NS of %q", zone)
		}
		return []string{ns.Addr}, nil
	}
	if err := w.Wait(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
}

func TestExec(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	script := filepath.Join(dir, "hook.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho \"$@ $CERTFORM_DCV_TYPE $CERTFORM_DCV_ZONE\" >> "+log+"\n[ \"$3\" != fail ] || { echo 'nsupdate: REFUSED' >&2; exit 3; }\n"), 0o700)
	p := &dcv.Exec{Command: script}
	ctx := context.Background()
	r := dcv.Record{Type: dcv.TypeTXT, Zone: "example.org", Name: "_dnsauth.a.example.org", Value: "v1"}
	if err := p.Present(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := p.CleanUp(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.Value = "fail"
	err := p.Present(ctx, r)
	if want := "exec: " + script + " present _dnsauth.a.example.org.: exit status 3: nsupdate: REFUSED"; err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	got, _ := os.ReadFile(log)
	want := "present _dnsauth.a.example.org. v1 TXT example.org\ncleanup _dnsauth.a.example.org. v1 TXT example.org\npresent _dnsauth.a.example.org. fail TXT example.org\n"
	if string(got) != want {
		t.Fatalf("the hook ran as:\n%s\nwant:\n%s", got, want)
	}
}

func TestWebroot(t *testing.T) {
	dir := t.TempDir()
	p := &dcv.Webroot{Path: dir}
	ctx := context.Background()
	file := filepath.Join(dir, ".well-known", "pki-validation", "fileauth.txt")
	a := dcv.Record{Type: dcv.TypeHTTP, Zone: "shop.example.org", Name: "shop.example.org", Value: "va"}
	b := a
	b.Value = "vb"
	for _, r := range []dcv.Record{a, b, a} {
		if err := p.Present(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := os.ReadFile(file); string(got) != "va\nvb\n" {
		t.Fatalf("file %q", got)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode())
	}
	p.CleanUp(ctx, a)
	if got, _ := os.ReadFile(file); string(got) != "vb\n" {
		t.Fatalf("file after one clean-up %q", got)
	}
	p.CleanUp(ctx, b)
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("the file is left: %v", err)
	}
}

func TestCloudflare(t *testing.T) {
	ctx := context.Background()
	cf := dcvtest.NewCloudflare("zone1", "tok-123")
	defer cf.Close()
	cf.Add("TXT", "example.com", "v=spf1 -all")
	p := &dcv.Cloudflare{ZoneID: "zone1", Token: "tok-123", Endpoint: cf.Endpoint()}
	r := dcv.Record{Type: dcv.TypeTXT, Zone: "example.com", Name: "example.com", Value: "v1"}
	if err := p.Present(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := p.Present(ctx, r); err != nil { // identical record: done
		t.Fatal(err)
	}
	if err := p.CleanUp(ctx, r); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"POST /client/v4/zones/zone1/dns_records",
		"POST /client/v4/zones/zone1/dns_records",
		"GET /client/v4/zones/zone1/dns_records?name=example.com&type=TXT",
		"DELETE /client/v4/zones/zone1/dns_records/rec2",
	}
	if diff := cmp.Diff(want, cf.Lines()); diff != "" {
		t.Fatalf("requests (-want +got):\n%s", diff)
	}
	reqs := cf.Requests()
	if reqs[0].Body != `{"type":"TXT","name":"example.com","content":"v1","ttl":60}` || reqs[0].Header.Get("Authorization") != "Bearer tok-123" {
		t.Fatalf("create: %s %v", reqs[0].Body, reqs[0].Header)
	}
	if got := cf.Records(); len(got) != 1 || got[0].Content != "v=spf1 -all" {
		t.Fatalf("records left %+v", got)
	}
	cf.FailNext(403, `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}`)
	err := p.Present(ctx, r)
	if want := "cloudflare: adding example.com TXT: HTTP 403: 10000 Authentication error"; err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if strings.Contains(err.Error(), "tok-123") {
		t.Fatal("the token is in the error")
	}
}

func TestRoute53(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	ctx := context.Background()
	r53 := dcvtest.NewRoute53("Z0123")
	defer r53.Close()
	r53.Set("example.net.", "TXT", 300, `"v=spf1 -all"`)
	p := &dcv.Route53{HostedZoneID: "Z0123", Endpoint: r53.URL()}
	apex := dcv.Record{Type: dcv.TypeTXT, Zone: "example.net", Name: "example.net", Value: "v1"}
	auth := dcv.Record{Type: dcv.TypeTXT, Zone: "example.net", Name: "_dnsauth.example.net", Value: "v1"}
	for _, r := range []dcv.Record{apex, auth, apex} {
		if err := p.Present(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := r53.Values("example.net.", "TXT"); !slices.Equal(got, []string{`"v=spf1 -all"`, `"v1"`}) {
		t.Fatalf("apex %q", got)
	}
	for _, r := range []dcv.Record{apex, auth} {
		if err := p.CleanUp(ctx, r); err != nil {
			for _, q := range r53.Requests() {
				t.Log(q.Line(), q.Body)
			}
			t.Fatal(err)
		}
	}
	if got := r53.Values("example.net.", "TXT"); !slices.Equal(got, []string{`"v=spf1 -all"`}) {
		t.Fatalf("apex after clean-up %q", got)
	}
	if got := r53.Values("_dnsauth.example.net.", "TXT"); got != nil {
		t.Fatalf("_dnsauth left %q", got)
	}
	list := func(name string) string {
		return "GET /2013-04-01/hostedzone/Z0123/rrset?maxitems=1&name=" + name + "&type=TXT"
	}
	change := "POST /2013-04-01/hostedzone/Z0123/rrset"
	want := []string{list("example.net."), change, list("_dnsauth.example.net."), change, list("example.net."),
		list("example.net."), change, list("_dnsauth.example.net."), change}
	if diff := cmp.Diff(want, r53.Lines()); diff != "" {
		t.Fatalf("requests (-want +got):\n%s", diff)
	}
	body := r53.Requests()[1].Body
	for _, part := range []string{`<Action>DELETE</Action><ResourceRecordSet><Name>example.net.</Name><ResourceRecords><ResourceRecord><Value>&#34;v=spf1 -all&#34;</Value></ResourceRecord></ResourceRecords><TTL>300</TTL><Type>TXT</Type>`,
		`<Action>CREATE</Action><ResourceRecordSet><Name>example.net.</Name><ResourceRecords><ResourceRecord><Value>&#34;v=spf1 -all&#34;</Value></ResourceRecord><ResourceRecord><Value>&#34;v1&#34;</Value></ResourceRecord></ResourceRecords><TTL>300</TTL><Type>TXT</Type>`} {
		if !strings.Contains(body, part) {
			t.Fatalf("the change batch lacks %s:\n%s", part, body)
		}
	}
	r53.FailNext(400, `<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type><Code>InvalidChangeBatch</Code><Message>values do not match</Message></Error><RequestId>r-9</RequestId></ErrorResponse>`)
	err := p.Present(ctx, apex)
	if err == nil || !strings.Contains(err.Error(), "route53: adding example.net TXT: reading the record set:") || !strings.Contains(err.Error(), "InvalidChangeBatch: values do not match") {
		t.Fatalf("err = %v", err)
	}
}
