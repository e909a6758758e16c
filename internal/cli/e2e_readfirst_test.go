package cli

// End-to-end tests of "read before acting" (issue 21, items 1-3): the
// built binary against the fake CertCentral.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert/digicerttest"
)

// revokePuts returns, by order path, how many revoke requests the fake
// received.
func revokePuts(srv *digicerttest.Server) map[string]int {
	out := map[string]int{}
	for _, r := range srv.Requests() {
		if r.Method == "PUT" && strings.HasSuffix(r.Path, "/revoke") {
			out[r.Path]++
		}
	}
	return out
}

// TestApply_revokeNamesChangedInConsole (issue 21, item 1, end to end):
// order host00 is reissued in the console with one more name; a plain
// apply reads the change (and, with --max-revocations 0, does not yet
// reissue it back); the spec then asks for revocation: apply must not
// send it, since CertCentral's names are not the spec's.
func TestApply_revokeNamesChangedInConsole(t *testing.T) {
	srv, env, dir, st := appliedSpecs(t, 1, digicerttest.WithInstantRevoke())
	id := loadStateFile(t, st).Entries["host00"].OrderID
	srv.ReissueNames(id, "host00.example.com", []string{"api.host00.example.com"})
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--max-revocations", "0")
	if len(writes(srv)) != 0 {
		t.Fatalf("apply after the console change: exit %d, writes %v\n%s%s", code, writes(srv), stdout, stderr)
	}
	writeSpecNames(t, dir, 0, nil, "revoke: true", "revoke_comments: retired")
	srv.ResetRequests()
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st)
	if code != 1 || len(writes(srv)) != 0 || len(srv.RevokeRequests()) != 0 {
		t.Fatalf("revoke: exit %d, writes %v, %d revoke requests\n%s%s", code, writes(srv), len(srv.RevokeRequests()), stdout, stderr)
	}
	if want := "certform apply: 1 revocation blocked because the order's names are not the spec's: host00 (see the notes)\n"; !strings.HasSuffix(stderr, want) {
		t.Errorf("stderr:\n%s\nwant the end:\n%s", stderr, want)
	}
	if want := fmt.Sprintf("the spec asks to revoke order %d, but the order's names (host00.example.com, api.host00.example.com) are not the spec's (host00.example.com); nothing is revoked", id); !strings.Contains(stdout, want) {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	if o, _ := srv.Order(id); o.Status != "issued" {
		t.Errorf("order %d is %s", id, o.Status)
	}
}

// TestApply_killLoopRevokeReissue changes one more spec before every
// start of apply, every other one to revoke: true and the others to one
// more name (a reissue), kills apply at random moments while a slow
// CertCentral carries out every request it got (a revoke or reissue takes
// 150 ms, and each is now preceded by a read of the order), and restarts
// it at once, 100 times: no order may ever get a second revoke request or
// a second reissue request, and in the end every changed spec has exactly
// one, settled in the state.
func TestApply_killLoopRevokeReissue(t *testing.T) {
	if testing.Short() {
		t.Skip("kill loop")
	}
	t.Parallel()
	const specs, kills = 150, 100
	srv, env, dir, st := appliedSpecs(t, specs, digicerttest.WithInstantRevoke())
	srv.Inject(digicerttest.Fault{Method: "PUT", Path: "/order/certificate/*", Latency: 150 * time.Millisecond})
	srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/*", Latency: 150 * time.Millisecond})
	changed := 0
	args := []string{"apply", "--dir", dir, "--state", st, "--quiet-period", "0s", "--resend-after", "2s", "--max-revocations", "1000"}
	killed, inFlight := killLoop(t, env, args, st, kills, 250*time.Millisecond, func() {
		if changed < specs {
			if changed%2 == 0 {
				writeSpecNames(t, dir, changed, nil, "revoke: true", "revoke_comments: retired")
			} else {
				writeSpecNames(t, dir, changed, []string{fmt.Sprintf("www.host%02d.example.com", changed)})
			}
			changed++
		}
	}, func(killed int) {
		for path, n := range revokePuts(srv) {
			if n > 1 {
				t.Fatalf("after %d kills: %d revoke requests for %s", killed, n, path)
			}
		}
		for path, n := range reissuePosts(srv) {
			if n > 1 {
				t.Fatalf("after %d kills: %d reissue requests for %s", killed, n, path)
			}
		}
	})
	srv.WaitIdle(10 * time.Second)
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--resend-after", "0s", "--quiet-period", "0s", "--max-revocations", "1000")
	if code != 0 {
		t.Fatalf("final apply: exit %d\n%s%s", code, stdout, stderr)
	}
	revokes, reissues := revokePuts(srv), reissuePosts(srv)
	t.Logf("%d kills (%d with a call in flight), %d specs changed, %d revoke requests, %d reissue requests", killed, inFlight, changed, len(revokes), len(reissues))
	f := loadStateFile(t, st)
	for i := range changed {
		name := fmt.Sprintf("host%02d", i)
		e := f.Entries[name]
		o, _ := srv.Order(e.OrderID)
		if i%2 == 0 {
			path := fmt.Sprintf("/order/certificate/%d/revoke", e.OrderID)
			if revokes[path] != 1 || o.Status != "revoked" || e.Revoke == nil || e.Revoke.Status != "approved" || e.Intent != nil {
				t.Errorf("%s: %d revoke requests, order %s, revoke record %+v, intent %+v", name, revokes[path], o.Status, e.Revoke, e.Intent)
			}
			continue
		}
		path := fmt.Sprintf("/order/certificate/%d/reissue", e.OrderID)
		if reissues[path] != 1 || len(o.Reissues) != 1 || e.Intent != nil || !strings.Contains(e.Fixed["dns_names"], "www."+name) {
			t.Errorf("%s: %d reissue requests, %d reissues, intent %+v, fixed %v", name, reissues[path], len(o.Reissues), e.Intent, e.Fixed)
		}
	}
	if n := len(srv.RevokeRequests()); n != (changed+1)/2 {
		t.Errorf("%d revoke requests in CertCentral for %d revoked specs", n, (changed+1)/2)
	}
	if len(srv.Orders()) != specs {
		t.Errorf("%d orders for %d specs", len(srv.Orders()), specs)
	}
}
