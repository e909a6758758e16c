package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/dcv"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/internal/dnstest"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
	"github.com/google/go-cmp/cmp"
)

// dcvRig is a rig whose fake validates by querying a real Knot DNS, and a
// DCV config whose provider updates it over RFC 2136.
type dcvRig struct {
	*rig
	ns   *dnstest.Server
	cfg  *dcv.Config
	last *Reconciler // the last dcvCycle's
}

func newDCVRig(t *testing.T, zones string) *dcvRig {
	t.Helper()
	ns := dnstest.Start(t)
	r := newRig(t, digicerttest.WithDNSResolver(ns.Addr))
	dir := t.TempDir()
	path := filepath.Join(dir, "dcv.yaml")
	conf := fmt.Sprintf("providers:\n  corp: {type: rfc2136, server: %q, tsig_key: %s, tsig_secret_file: %s, nameservers: [%q]}\nzones:\n%s",
		ns.Addr, ns.KeyName, ns.SecretFile, ns.Addr, zones)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := dcv.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return &dcvRig{rig: r, ns: ns, cfg: cfg}
}

// dcvCycle runs one cycle with domain validation and returns the plan's
// text and the results.
func (r *dcvRig) dcvCycle() (string, []string) {
	r.t.Helper()
	// One Reconciler for all cycles, as the daemon's.
	rec := r.last
	if rec == nil {
		rec = r.reconciler(-1)
		rec.DCV = &Validation{Waiter: &dcv.Waiter{Timeout: time.Minute, Now: r.clock.Now,
			Sleep: func(context.Context, time.Duration) error {
				r.t.Fatal("the propagation wait slept: Knot answers at once")
				return nil
			}}}
		r.last = rec
	}
	rec.DCV.Config = r.cfg
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range c.Errors {
		r.t.Fatalf("cycle error: %v", e)
	}
	var text bytes.Buffer
	c.Plan.WriteText(&text, false)
	return text.String(), resultLines(rec.Apply(context.Background(), c))
}

func TestDCV_orderValidatedOverRFC2136(t *testing.T) {
	r := newDCVRig(t, "  example.com: corp\n")
	r.spec("a", "dcv_method: dns-txt-token", "dns_names: [www.a.example.com]")
	r.cycle(-1)
	id := r.entry("a").OrderID
	if o, _ := r.srv.Order(id); o.Status != "pending" {
		t.Fatalf("order status %q, want pending", o.Status)
	}
	r.calls()
	text, results := r.dcvCycle()
	if _, waiting := r.last.DomainValidation(); waiting != 2 {
		t.Fatalf("%d names waiting, want 2", waiting)
	}
	for _, want := range []string{"  ~ validate a: a.example.com via corp (dns-txt-token)\n", "  ~ validate a: www.a.example.com via corp (dns-txt-token)\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("the plan lacks %q:\n%s", want, text)
		}
	}
	want := []string{
		"validate a: validated a.example.com (order 100001: issued)",
		"validate a: validated www.a.example.com (order 100001: issued)",
	}
	if diff := cmp.Diff(want, results); diff != "" {
		t.Fatalf("results (-want +got):\n%s", diff)
	}
	wantCalls := []string{"GET /order/certificate/100001/validation", "GET /domain?include_validation=true&limit=1000&offset=0",
		"PUT /order/certificate/100001/dcv-random-value", "PUT /order/certificate/100001/check-dcv"}
	if diff := cmp.Diff(wantCalls, r.calls()); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
	if o, _ := r.srv.Order(id); o.Status != "issued" {
		t.Fatalf("order status %q, want issued", o.Status)
	}
	// The records are gone, the SPF record is as it was, the state holds none.
	if got := r.ns.TXT(t, "a.example.com"); got != nil {
		t.Fatalf("TXT left at a.example.com: %q", got)
	}
	if got := r.ns.TXT(t, "www.a.example.com"); got != nil {
		t.Fatalf("TXT left at www.a.example.com: %q", got)
	}
	if got := r.ns.TXT(t, "example.com"); !cmp.Equal(got, []string{dnstest.SPF}) {
		t.Fatalf("apex TXT %q", got)
	}
	if recs := r.entry("a").DCVRecords; recs != nil {
		t.Fatalf("state records %+v", recs)
	}
}

func TestDCV_dnsauthAndUnconfigured(t *testing.T) {
	r := newDCVRig(t, "  example.net: corp\n")
	r.spec("a", "dcv_method: dns-txt-token")
	r.cycle(-1)
	r.calls()
	text, results := r.dcvCycle()
	if len(results) != 0 {
		t.Fatalf("results %v", results)
	}
	want := "  dcv_unconfigured a (order 100001): a.example.com waits on validation (dns-txt-token) and no zone of the DCV config serves it\n" +
		"                  hint: add \"example.com: corp\" under zones: in " + r.cfg.Path + " (a provider that can publish dns-txt-token); until then, publish the value by hand\n"
	if !strings.Contains(text, want) {
		t.Fatalf("the plan lacks\n%s\nin\n%s", want, text)
	}
	// Configured with txt_name: _dnsauth, the value goes to _dnsauth.NAME.
	os.WriteFile(r.cfg.Path, []byte(strings.Replace(mustRead(t, r.cfg.Path), "example.net: corp", "example.com: {provider: corp, txt_name: _dnsauth}", 1)), 0o600)
	cfg, err := dcv.Load(r.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	r.cfg = cfg
	var seen []string
	cfg.SetProvider("corp", spy{cfg.Provider("corp"), &seen})
	_, results = r.dcvCycle()
	if diff := cmp.Diff([]string{"validate a: validated a.example.com (order 100001: issued)"}, results); diff != "" {
		t.Fatalf("results (-want +got):\n%s", diff)
	}
	o, _ := r.srv.Order(100001)
	wantSeen := []string{"present TXT _dnsauth.a.example.com " + o.DCVRandomValue, "cleanup TXT _dnsauth.a.example.com " + o.DCVRandomValue}
	if diff := cmp.Diff(wantSeen, seen); diff != "" {
		t.Fatalf("provider calls (-want +got):\n%s", diff)
	}
}

type spy struct {
	dcv.Provider
	seen *[]string
}

func (s spy) Present(ctx context.Context, r dcv.Record) error {
	*s.seen = append(*s.seen, "present "+r.Type+" "+r.Name+" "+r.Value)
	return s.Provider.Present(ctx, r)
}

func (s spy) CleanUp(ctx context.Context, r dcv.Record) error {
	*s.seen = append(*s.seen, "cleanup "+r.Type+" "+r.Name+" "+r.Value)
	return s.Provider.CleanUp(ctx, r)
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDCV_leftoverRecordRemoved: a run killed between publish and clean-up
// leaves its record logged in the state; the next run removes it first.
func TestDCV_leftoverRecordRemoved(t *testing.T) {
	r := newDCVRig(t, "  example.com: corp\n")
	r.spec("a")
	r.cycle(-1)
	rec := state.DCVRecord{Provider: "corp", Type: "TXT", Zone: "example.com", Name: "a.example.com", Value: "left-over", Since: r.clock.Now()}
	r.store.Update("a", func(e *state.Entry) bool { e.DCVRecords = append(e.DCVRecords, rec); return true })
	r.ns.Add(t, "example.com", `a.example.com. 60 IN TXT "left-over"`)
	r.ns.Add(t, "example.com", `a.example.com. 60 IN TXT "someone-elses"`)
	// Its provider gone from the config, the record stays logged and the
	// run fails saying so.
	good := r.cfg
	path := filepath.Join(t.TempDir(), "other.yaml")
	os.WriteFile(path, []byte("providers:\n  hook: {type: exec, command: /bin/true}\nzones:\n  example.com: hook\n"), 0o600)
	other, err := dcv.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	r.cfg = other
	_, results := r.dcvCycle()
	want := `validate a: error: removing a.example.com TXT, left by an interrupted run: removing a.example.com TXT: no provider "corp" in ` + path + ` any more` +
		"\nhint: put provider corp back in the DCV config: certform then removes the record and forgets it"
	if !cmp.Equal(results, []string{want}) {
		t.Fatalf("results %q\nwant %q", results, want)
	}
	if recs := r.entry("a").DCVRecords; len(recs) != 1 {
		t.Fatalf("state records %+v", recs)
	}
	r.cfg = good
	r.dcvCycle()
	if got := r.ns.TXT(t, "a.example.com"); !cmp.Equal(got, []string{"someone-elses"}) {
		t.Fatalf("TXT at a.example.com: %q", got)
	}
	if recs := r.entry("a").DCVRecords; recs != nil {
		t.Fatalf("state records %+v", recs)
	}
}

func TestDCV_domainRevalidatedOnce(t *testing.T) {
	r := newDCVRig(t, "  example.com: corp\n")
	r.spec("a")
	r.cycle(-1) // issued at once: no dcv_method
	id := r.srv.AddDomain("example.com", r.clock.Now().Add(10*24*time.Hour))
	r.srv.AddDomain("example.org", r.clock.Now().Add(5*24*time.Hour)) // no spec uses it
	r.calls()
	text, results := r.dcvCycle()
	if want := "  ~ revalidate example.com (ends in 10 days)\n"; !strings.Contains(text, want) {
		t.Fatalf("the plan lacks %q:\n%s", want, text)
	}
	if ends, waiting := r.last.DomainValidation(); waiting != 0 || !cmp.Equal(ends, map[string]time.Time{"example.com": r.clock.Now().Add(10 * 24 * time.Hour)}) {
		t.Fatalf("DomainValidation() = %v, %d", ends, waiting)
	}
	if diff := cmp.Diff([]string{"revalidate a: revalidated domain example.com"}, results); diff != "" {
		t.Fatalf("results (-want +got):\n%s", diff)
	}
	wantCalls := []string{"GET /domain?include_validation=true&limit=1000&offset=0", "GET /domain/7001?include_dcv=true&include_validation=true",
		"POST /domain/7001/dcv/token", "PUT /domain/7001/dcv/validate-token"}
	if diff := cmp.Diff(wantCalls, r.calls()); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
	d, _ := r.srv.DomainByID(id)
	if d.Validations != 1 {
		t.Fatalf("validations %d", d.Validations)
	}
	if got := r.ns.TXT(t, "example.com"); !cmp.Equal(got, []string{dnstest.SPF}) {
		t.Fatalf("apex TXT %q", got)
	}
	// Revalidated: the next cycle has nothing to do.
	text, results = r.dcvCycle()
	if len(results) != 0 || strings.Contains(text, "revalidate") {
		t.Fatalf("second cycle: %v\n%s", results, text)
	}
	if d, _ := r.srv.DomainByID(id); d.Validations != 1 {
		t.Fatalf("validations %d after the second cycle", d.Validations)
	}
}

// TestDCV_reissueValidated: a reissue that adds a name waits in
// reissue_pending until the new name is validated; only that name is
// published.
func TestDCV_reissueValidated(t *testing.T) {
	r := newDCVRig(t, "  example.com: corp\n")
	r.spec("a", "dcv_method: dns-txt-token")
	r.cycle(-1)
	if _, results := r.dcvCycle(); len(results) != 1 {
		t.Fatalf("first validation: %v", results)
	}
	r.observeCycle(-1)
	if st := r.entry("a").Status; st != "issued" {
		t.Fatalf("status %q", st)
	}
	before := r.entry("a").CertificateID
	r.spec("a", "dcv_method: dns-txt-token", "dns_names: [www.a.example.com]")
	if _, results := r.cycle(-1); len(results) != 1 || !strings.HasPrefix(results[0], "reissue a:") {
		t.Fatalf("reissue: %v", results)
	}
	o, _ := r.srv.Order(100001)
	if o.Status != "reissue_pending" {
		t.Fatalf("order %s, want reissue_pending", o.Status)
	}
	r.calls()
	text, results := r.dcvCycle()
	if strings.Contains(text, "validate a: a.example.com") || !strings.Contains(text, "  ~ validate a: www.a.example.com via corp (dns-txt-token)\n") {
		t.Fatalf("plan:\n%s", text)
	}
	if diff := cmp.Diff([]string{"validate a: validated www.a.example.com (order 100001: issued)"}, results); diff != "" {
		t.Fatalf("results (-want +got):\n%s", diff)
	}
	o, _ = r.srv.Order(100001)
	if o.Status != "issued" || o.CertificateID == before || !cmp.Equal(o.DNSNames, []string{"www.a.example.com"}) {
		t.Fatalf("order after validation: %s, certificate %d (was %d), names %v", o.Status, o.CertificateID, before, o.DNSNames)
	}
	if got := r.ns.TXT(t, "www.a.example.com"); got != nil {
		t.Fatalf("TXT left %q", got)
	}
}

type failFor struct {
	dcv.Provider
	name string
}

func (f failFor) Present(ctx context.Context, r dcv.Record) error {
	if r.Name == f.name {
		return fmt.Errorf("rfc2136: adding %s at 192.0.2.53:53: the server answered REFUSED", r)
	}
	return f.Provider.Present(ctx, r)
}

// TestDCV_failureBacksOff: a provider's failure fails that step with the
// provider's error, the other specs go on, the record is not left logged,
// and the step is tried again only after a backoff that doubles.
func TestDCV_failureBacksOff(t *testing.T) {
	r := newDCVRig(t, "  example.com: corp\n")
	r.spec("a", "dcv_method: dns-txt-token")
	r.spec("b", "dcv_method: dns-txt-token")
	r.cycle(-1)
	r.cfg.SetProvider("corp", failFor{r.cfg.Provider("corp"), "a.example.com"})
	idA, idB := r.entry("a").OrderID, r.entry("b").OrderID // placed in parallel: either may be first
	_, results := r.dcvCycle()
	want := []string{
		"validate a: error: publishing through provider corp: rfc2136: adding a.example.com TXT at 192.0.2.53:53: the server answered REFUSED",
		fmt.Sprintf("validate b: validated b.example.com (order %d: issued)", idB),
	}
	if diff := cmp.Diff(want, results); diff != "" {
		t.Fatalf("results (-want +got):\n%s", diff)
	}
	if recs := r.entry("a").DCVRecords; recs != nil {
		t.Fatalf("state records %+v", recs)
	}
	// Backing off: a note, no step.
	text, results := r.dcvCycle()
	wantNote := fmt.Sprintf("a (order %d): the validation", idA) + " of a.example.com failed 1 times in a row; it is tried again after 2026-11-25T10:01:00Z"
	if len(results) != 0 || !strings.Contains(text, wantNote) {
		t.Fatalf("second cycle: %v\n%s", results, text)
	}
	r.clock.Add(time.Minute)
	if _, results = r.dcvCycle(); len(results) != 1 || !strings.Contains(results[0], "REFUSED") {
		t.Fatalf("third cycle: %v", results)
	}
	text, _ = r.dcvCycle()
	if !strings.Contains(text, "failed 2 times in a row; it is tried again after 2026-11-25T10:03:00Z") {
		t.Fatalf("after the second failure:\n%s", text)
	}
	r.clock.Add(2 * time.Minute)
	r.cfg.SetProvider("corp", &dcv.RFC2136{Server: r.ns.Addr, Key: r.ns.KeyName, Algorithm: r.ns.Algorithm, Secret: dcv.Secret(r.ns.Secret)})
	if _, results = r.dcvCycle(); !cmp.Equal(results, []string{fmt.Sprintf("validate a: validated a.example.com (order %d: issued)", idA)}) {
		t.Fatalf("after the backoff: %v", results)
	}
}

// TestDCV_summaryCountsSteps: the summary line counts validate and
// revalidate steps, and a plan without them keeps its line as it was.
func TestDCV_summaryCountsSteps(t *testing.T) {
	validate := Action{Kind: KindValidate, Name: "d-example-org", OrderID: 100001,
		Validation: &ValidationStep{DNSName: "shop.example.org", Method: "http-token", Zone: "example.org", Provider: "web"}}
	for _, tc := range []struct {
		actions  []Action
		want     string
		wantJSON string
	}{
		{nil, "Plan: 0 to order, 0 to update, 0 to revoke.", `{"order":0,"update":0,"revoke":0,"adopt":0}`},
		{[]Action{validate}, "Plan: 0 to order, 0 to update, 0 to revoke, 1 to validate.",
			`{"order":0,"update":0,"revoke":0,"adopt":0,"validate":1}`},
		{[]Action{{Kind: KindOrder, Name: "a"}, validate, validate, {Kind: KindRevalidate, Name: "a"}},
			"Plan: 1 to order, 0 to update, 0 to revoke, 2 to validate, 1 to revalidate.",
			`{"order":1,"update":0,"revoke":0,"adopt":0,"validate":2,"revalidate":1}`},
	} {
		p := &Plan{Actions: tc.actions}
		if got := p.Summary(); got != tc.want {
			t.Errorf("Summary() = %q, want %q", got, tc.want)
		}
		var out bytes.Buffer
		if err := p.WriteJSON(&out, nil); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Summary json.RawMessage `json:"summary"`
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, doc.Summary); err != nil {
			t.Fatal(err)
		}
		if compact.String() != tc.wantJSON {
			t.Errorf("JSON summary %s, want %s", compact.String(), tc.wantJSON)
		}
	}
}

// TestDCV_waitingHintHTTPToken: an http-token order that certform
// validates through the DCV config (a webroot provider) gets the hint that
// certform serves the token; without validate steps the note keeps the
// person's instructions.
func TestDCV_waitingHintHTTPToken(t *testing.T) {
	e := &state.Entry{OrderID: 100001, DCVToken: "tok", DCVMethod: "http-token"}
	d := &spec.Order{Name: "d-example-org", CommonName: "shop.example.org"}
	plan := func(steps bool) *Plan {
		msg, hint := waitingNote(e, d, "pending", waitingFor["pending"])
		p := &Plan{Notes: []Note{{Kind: NoteWaiting, Name: "d-example-org", OrderID: 100001, Message: msg, Hint: hint}}}
		if steps {
			p.Actions = []Action{{Kind: KindValidate, Name: "d-example-org", OrderID: 100001,
				Validation: &ValidationStep{DNSName: "shop.example.org", Method: "http-token", Zone: "example.org", Provider: "web"}}}
		}
		validatedNotes(p)
		return p
	}
	const automated = "certform publishes the value through the DCV config (the validate steps above), asks CertCentral to check it, and removes it"
	if got := plan(true).Notes[0].Hint; got != automated {
		t.Errorf("hint with validate steps:\n%s\nwant\n%s", got, automated)
	}
	const manual = "serve the token at http://NAME/.well-known/pki-validation/fileauth.txt for each name; CertCentral then validates, and certform reads the order again every cycle"
	if got := plan(false).Notes[0].Hint; got != manual {
		t.Errorf("hint without validate steps:\n%s\nwant\n%s", got, manual)
	}
}
