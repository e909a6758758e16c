package reconcile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/spec/spectest"
)

// observeCycle runs one cycle that starts by observing CertCentral, as
// apply and the daemon do, and returns the plan and the results.
func (r *rig) observeCycle(maxRevocations int) (*Plan, []string) {
	r.t.Helper()
	return r.runCycle(maxRevocations, true)
}

// specWithNames writes the spec NAME for NAME.example.com with more DNS
// names and a new CSR for all of them.
func (r *rig) specWithNames(name string, dns ...string) {
	r.t.Helper()
	cn := name + ".example.com"
	csr, err := spectest.CSR(cn, dns...)
	if err != nil {
		r.t.Fatal(err)
	}
	r.csrs[name] = csr
	body := fmt.Sprintf("name: %s\ncommon_name: %s\ndns_names: [%s]\norganization_id: 1\nskip_approval: true\ncsr: |\n%s", name, cn, strings.Join(dns, ", "), spectest.Indent(csr))
	if len(dns) == 0 {
		body = strings.Replace(body, "dns_names: []\n", "", 1)
	}
	if err := os.WriteFile(filepath.Join(r.dir, name+".yaml"), []byte(body), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func reissueCalls(calls []string) (n int) {
	for _, c := range calls {
		if strings.HasPrefix(c, "POST ") && strings.HasSuffix(c, "/reissue") {
			n++
		}
	}
	return n
}

// TestReissue_changedNames: a name and a new CSR added to an issued order
// are one reissue call with the spec's names and CSR, no new order; the
// state holds the new fingerprint; the next cycles make no call but the
// feed once the new certificate shows.
func TestReissue_changedNames(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.observeCycle(1)
	old := r.entry("shop")
	r.specWithNames("shop", "www.shop.example.com")
	r.calls()
	r.clock.Add(time.Minute)
	p, res := r.observeCycle(1)
	if len(p.Actions) != 1 || p.Actions[0].Kind != KindReissue || p.Actions[0].Reason != ReissueChanged ||
		strings.Join(p.Actions[0].Changed, ",") != "csr,dns_names" || p.Actions[0].RevokesPrevious {
		t.Fatalf("plan: %+v", p.Actions)
	}
	wantLines(t, "results", res, []string{"reissue shop: reissue requested (accepted)"})
	var body struct {
		Certificate struct {
			CommonName string   `json:"common_name"`
			DNSNames   []string `json:"dns_names"`
			CSR        string   `json:"csr"`
		}
	}
	var posts int
	for _, q := range r.srv.Requests() {
		if q.Method == "POST" {
			posts++
			if q.Path != fmt.Sprintf("/order/certificate/%d/reissue", old.OrderID) {
				t.Errorf("POST %s", q.Path)
			}
			if err := json.Unmarshal(q.Body, &body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if posts != 1 || body.Certificate.CommonName != "shop.example.com" || strings.Join(body.Certificate.DNSNames, ",") != "www.shop.example.com" || body.Certificate.CSR != r.csrs["shop"] {
		t.Fatalf("%d POSTs, body %+v", posts, body.Certificate)
	}
	r.calls()
	e := r.entry("shop")
	if e.Intent != nil || e.ReissuedFrom != old.CertificateID || e.Fixed["dns_names"] != "www.shop.example.com" || len(r.srv.Orders()) != 1 {
		t.Fatalf("entry after the reissue: %+v", e)
	}
	// The new certificate shows: recorded; nothing more to do.
	r.clock.Add(time.Minute)
	p, _ = r.observeCycle(1)
	o, _ := r.srv.Order(old.OrderID)
	if e := r.entry("shop"); len(p.Actions) != 0 || e.CertificateID != o.CertificateID || e.CertificateID == old.CertificateID || e.ReissuedFrom != 0 || e.Status != "issued" {
		t.Fatalf("after the new certificate: %+v / %+v", p.Actions, e)
	}
	r.calls()
	r.clock.Add(time.Minute)
	if p, _ := r.observeCycle(1); len(p.Actions) != 0 || len(p.Notes) != 0 {
		t.Fatalf("plan: %+v", p)
	}
	wantLines(t, "calls", r.calls(), []string{"GET /order/certificate/status-changes?minutes=2"})
}

// TestReissue_unknownOutcome: a reissue whose answer is lost or garbled
// lands once: the order is read for proof before anything is sent again,
// and a reissue that did not land is sent again only after --resend-after.
func TestReissue_unknownOutcome(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault digicerttest.Fault
		want  string
	}{
		{"lost answer", digicerttest.Fault{DropAfter: true}, "reissue found: the earlier request landed"},
		{"garbled 2xx", digicerttest.Fault{Status: 201, Body: "<html>", Process: true}, "reissue found: the earlier request landed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.spec("shop")
			r.observeCycle(1)
			id := r.entry("shop").OrderID
			f := tt.fault
			f.Method, f.Path, f.Times = "POST", fmt.Sprintf("/order/certificate/%d/reissue", id), 1
			r.srv.Inject(f)
			r.specWithNames("shop", "www.shop.example.com")
			_, res := r.observeCycle(1)
			if len(res) != 1 || !strings.HasPrefix(res[0], "reissue shop: "+tt.want) {
				t.Fatalf("results: %v", res)
			}
			if n := reissueCalls(r.calls()); n != 1 {
				t.Fatalf("%d reissue calls", n)
			}
			if e := r.entry("shop"); e.Intent != nil || e.ReissuedFrom == 0 {
				t.Fatalf("entry: %+v", e)
			}
		})
	}
	t.Run("not landed", func(t *testing.T) {
		r := newRig(t)
		r.spec("shop")
		r.observeCycle(1)
		id := r.entry("shop").OrderID
		r.srv.Inject(digicerttest.Fault{Method: "POST", Path: fmt.Sprintf("/order/certificate/%d/reissue", id), Times: 1, Status: 503, Code: "service_unavailable"})
		r.specWithNames("shop", "www.shop.example.com")
		_, res := r.observeCycle(1)
		if len(res) != 1 || !strings.Contains(res[0], "the intent stays") {
			t.Fatalf("results: %v", res)
		}
		if e := r.entry("shop"); e.Intent == nil || e.Intent.Action != "reissue" {
			t.Fatalf("entry: %+v", e)
		}
		r.calls()
		r.clock.Add(time.Minute)
		p, res := r.observeCycle(1)
		if len(p.Actions) != 1 || p.Actions[0].Reason != ReissueResume || len(res) != 1 || !strings.Contains(res[0], "is not sent again before") {
			t.Fatalf("before --resend-after: %+v %v", p.Actions, res)
		}
		if n := reissueCalls(r.calls()); n != 0 {
			t.Fatalf("%d reissue calls before --resend-after", n)
		}
		r.clock.Add(5 * time.Minute)
		_, res = r.observeCycle(1)
		wantLines(t, "results", res, []string{"reissue shop: reissue requested (accepted)"})
		if n := reissueCalls(r.calls()); n != 1 {
			t.Fatalf("%d reissue calls", n)
		}
	})
}

// TestReissue_removedNameBudget: removing a name makes DigiCert revoke
// the earlier certificates, so the reissue counts against
// --max-revocations: blocked with 0, made with 1 and recorded.
func TestReissue_removedNameBudget(t *testing.T) {
	r := newRig(t)
	r.specWithNames("shop", "www.shop.example.com")
	r.observeCycle(1)
	r.specWithNames("shop")
	r.calls()
	p, res := r.observeCycle(0)
	if len(p.Actions) != 0 || len(p.Blocked) != 1 || p.Blocked[0].Kind != KindReissue || !p.Blocked[0].RevokesPrevious || p.Blocked[0].BlockedBy != BlockedMaxRevocations || len(res) != 0 {
		t.Fatalf("with --max-revocations 0: %+v %v", p, res)
	}
	if n := reissueCalls(r.calls()); n != 0 {
		t.Fatalf("%d reissue calls", n)
	}
	_, res = r.observeCycle(1)
	wantLines(t, "results", res, []string{"reissue shop: reissue requested (accepted)"})
	if revs := r.store.Snapshot().Revocations; len(revs) != 1 || revs[0].Name != "shop" {
		t.Fatalf("revocations: %+v", revs)
	}
	var text strings.Builder
	p.WriteText(&text, false)
	if !strings.Contains(text.String(), "! blocked reissue shop order") || !strings.Contains(text.String(), "! revokes earlier certificates") {
		t.Errorf("text plan:\n%s", text.String())
	}
}

// TestReissue_ctAndExpiring: a disable_ct change on an issued order is the
// CT call, then one reissue; a certificate 10 days from its end with
// auto_reissue false is reissued once; with auto_reissue true, certform
// warns within 7 days and calls nothing.
func TestReissue_ctAndExpiring(t *testing.T) {
	r := newRig(t)
	r.spec("shop")
	r.observeCycle(1)
	r.spec("shop", "disable_ct: true")
	r.calls()
	p, res := r.observeCycle(1)
	if len(p.Actions) != 2 || p.Actions[0].Kind != KindSetCT || p.Actions[1].Kind != KindReissue || p.Actions[1].Reason != ReissueCT {
		t.Fatalf("plan: %+v", p.Actions)
	}
	wantLines(t, "results", res, []string{"set_ct shop: disable_ct is true", "reissue shop: reissue requested (accepted)"})
	id := r.entry("shop").OrderID
	calls := r.calls()
	if n := reissueCalls(calls); n != 1 || !strings.HasPrefix(calls[len(calls)-1], "POST") {
		t.Fatalf("calls: %v", calls)
	}
	r.clock.Add(time.Minute)
	r.observeCycle(1) // the reissued certificate shows
	// A certificate of 20 days is not reissued before it lived 10 of them
	// (half its lifetime), then once, ten days from its end.
	r.srv.ExpireSoon(id, 20*24*time.Hour)
	r.clock.Add(time.Minute)
	p, _ = r.observeCycle(1)
	if len(p.Actions) != 0 || len(p.Notes) != 1 || p.Notes[0].Kind != NoteWarning || !strings.Contains(p.Notes[0].Message, "but it has not lived half its lifetime") {
		t.Fatalf("plan for a new certificate of 20 days: %+v", p)
	}
	r.clock.Add(10 * 24 * time.Hour)
	p, res = r.observeCycle(1)
	if len(p.Actions) != 1 || p.Actions[0].Reason != ReissueExpiring {
		t.Fatalf("plan for an ending certificate: %+v", p.Actions)
	}
	wantLines(t, "results", res, []string{"reissue shop: reissue requested (accepted)"})
	r.clock.Add(time.Minute)
	if p, _ := r.observeCycle(1); len(p.Actions) != 0 {
		t.Fatalf("plan after the reissue: %+v", p.Actions)
	}
	// auto_reissue on: DigiCert's job; a warning within 7 days only.
	r.spec("shop", "disable_ct: true", "auto_reissue: true")
	r.observeCycle(1) // the toggle
	r.srv.ExpireSoon(id, 10*24*time.Hour)
	r.clock.Add(time.Minute)
	if p, _ := r.observeCycle(1); len(p.Actions) != 0 || len(p.Notes) != 0 {
		t.Fatalf("10 days left with auto_reissue: %+v", p)
	}
	r.srv.ExpireSoon(id, 5*24*time.Hour)
	r.clock.Add(time.Minute)
	p, _ = r.observeCycle(1)
	if len(p.Actions) != 0 || len(p.Notes) != 1 || p.Notes[0].Kind != NoteWarning || !strings.Contains(p.Notes[0].Message, "DigiCert has not reissued it") {
		t.Fatalf("5 days left with auto_reissue: %+v", p)
	}
}

// TestReissue_lostAnswerFoundLaterRejected: a reissue whose answer is lost
// and whose order cannot be read then either is found only a cycle later
// (minutes after it was sent); CertCentral's rejection of it is still
// recognised as the rejection of certform's reissue, and the entry waits
// for nothing more. ReissuedAt is when the request was first sent.
func TestReissue_lostAnswerFoundLaterRejected(t *testing.T) {
	r := newRig(t, digicerttest.WithReissueHold())
	r.spec("shop")
	r.observeCycle(1)
	id := r.entry("shop").OrderID
	sent := r.clock.Now()
	r.srv.Inject(digicerttest.Fault{Method: "POST", Path: fmt.Sprintf("/order/certificate/%d/reissue", id), Times: 1, DropAfter: true})
	// The read before the reissue goes through (a fault that only delays
	// it); the reads after the lost answer fail.
	r.srv.Inject(digicerttest.Fault{Method: "GET", Path: fmt.Sprintf("/order/certificate/%d", id), Times: 1, Latency: time.Nanosecond})
	r.srv.Inject(digicerttest.Fault{Method: "GET", Path: fmt.Sprintf("/order/certificate/%d", id), Times: 100, Status: 503, Code: "service_unavailable"})
	r.specWithNames("shop", "www.shop.example.com")
	if _, res := r.cycle(1); len(res) != 1 || !strings.Contains(res[0], "the intent stays") {
		t.Fatalf("after the lost answer: %v", res)
	}
	if e := r.entry("shop"); e.Intent == nil || e.Intent.Action != "reissue" {
		t.Fatalf("after the lost answer: intent %+v", e.Intent)
	}
	r.srv.ClearFaults()
	r.clock.Add(5 * time.Minute)
	_, res := r.observeCycle(1)
	if len(res) != 1 || !strings.HasPrefix(res[0], "reissue shop: reissue found: the earlier request landed") {
		t.Fatalf("results: %v", res)
	}
	if e := r.entry("shop"); !e.ReissuedAt.Equal(sent) {
		t.Fatalf("reissued_at %s, want the first attempt's %s", e.ReissuedAt, sent)
	}
	r.srv.RejectReissue(id)
	r.clock.Add(time.Minute)
	r.observeCycle(1)
	if e := r.entry("shop"); e.ReissueRejected == nil || e.ReissuedFrom != 0 {
		t.Fatalf("the rejection was not seen: rejected %+v, reissued_from %d, status %s", e.ReissueRejected, e.ReissuedFrom, e.Status)
	}
}
