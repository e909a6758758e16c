package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert/digicerttest"
)

// sentRequest is an order or reissue request the fake got: where it went,
// the alternative order id (orders) and the CSR.
type sentRequest struct {
	path, altID, csr string
	names            []string
}

func keyRequests(t *testing.T, srv *digicerttest.Server) []sentRequest {
	t.Helper()
	var out []sentRequest
	for _, q := range srv.Requests() {
		if q.Method != "POST" && q.Method != "PUT" {
			continue
		}
		var body struct {
			AltID       string `json:"alternative_order_id"`
			Certificate struct {
				CommonName string   `json:"common_name"`
				DNSNames   []string `json:"dns_names"`
				CSR        string   `json:"csr"`
			} `json:"certificate"`
		}
		if json.Unmarshal(q.Body, &body) != nil || body.Certificate.CSR == "" {
			continue
		}
		out = append(out, sentRequest{path: q.Path, altID: body.AltID, csr: body.Certificate.CSR,
			names: append([]string{body.Certificate.CommonName}, body.Certificate.DNSNames...)})
	}
	return out
}

// TestApply_killLoopKeys: apply with generated keys is killed at random
// moments (100 kills, restarted at once) while it orders new specs and
// reissues a changed one, against a slow CertCentral that carries out
// every request it got. No spec is ordered twice, and every re-send (of an
// order: the same alternative order id; of a reissue: the same order and
// names) carries the CSR of the first attempt.
func TestApply_killLoopKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("kill loop")
	}
	const kills = 100
	// Every answer is slow, so that kills land with calls in flight (a
	// Latency fault would shadow the drops below).
	srv, env := startFake(t, digicerttest.WithLatency(120*time.Millisecond))
	dir := t.TempDir()
	st := filepath.Join(t.TempDir(), "s.json")
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("defaults.yaml", "organization_id: 1\nkey_type: ecdsa-p256\nskip_approval: true\n")
	specs, runs := 0, 0
	var extra []string // the changing spec's dns_names
	args := []string{"apply", "--dir", dir, "--state", st, "--quiet-period", "0s", "--resend-after", "1s", "--max-purchases", "1000"}
	check := func(killed int) {
		t.Helper()
		if n := maxOrdersPerName(srv); n > 1 {
			t.Fatalf("after %d kills: a spec was ordered %d times", killed, n)
		}
		first := map[string]sentRequest{}
		for _, q := range keyRequests(t, srv) {
			key := q.path + " " + q.altID
			if q.altID == "" {
				key = q.path + " " + strings.Join(q.names, ",")
			}
			if f, ok := first[key]; ok && f.csr != q.csr {
				t.Fatalf("after %d kills: a re-send (%s, names %v) carried another CSR than the first attempt (names %v)", killed, key, q.names, f.names)
			}
			if _, ok := first[key]; !ok {
				first[key] = q
			}
		}
	}
	killed, inFlight := killLoop(t, env, args, st, kills, 400*time.Millisecond, func() {
		runs++
		if runs%4 == 0 {
			// A request lost before CertCentral saw it: the intent
			// stays, the look-up misses, and the next run re-sends.
			srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/*", Times: 1, DropBefore: true})
		}
		if runs%3 == 0 && specs > 0 {
			// host00's names grow: a reissue, with a new key.
			extra = append(extra, fmt.Sprintf("n%d.host00.example.com", runs))
			write("host00.yaml", fmt.Sprintf("name: host00\ncommon_name: host00.example.com\ndns_names: [%s]\n", strings.Join(extra, ", ")))
			return
		}
		write(fmt.Sprintf("host%02d.yaml", specs), fmt.Sprintf("name: host%02d\ncommon_name: host%02d.example.com\n", specs, specs))
		specs++
	}, check)
	srv.ClearFaults()
	finalApply(t, srv, env, dir, st)
	check(killed)
	reqs := keyRequests(t, srv)
	resent := len(reqs)
	distinct := map[string]bool{}
	for _, q := range reqs {
		distinct[q.csr] = true
	}
	resent -= len(distinct)
	t.Logf("%d kills (%d with a call in flight), %d specs, %d orders, %d requests with a CSR, %d of them re-sends with the first CSR",
		killed, inFlight, specs, len(srv.Orders()), len(reqs), resent)
	if len(srv.Orders()) != specs {
		t.Errorf("%d orders for %d specs", len(srv.Orders()), specs)
	}
	f := loadStateFile(t, st)
	for n, e := range f.Entries {
		if e.Intent != nil || e.Key == nil {
			t.Errorf("%s: intent %+v, key %+v", n, e.Intent, e.Key)
		}
	}
}
