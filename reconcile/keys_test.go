package reconcile

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/deliver"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/keys"
)

// keyRig is a rig whose specs have key_type, with a key store and a
// certificate folder.
type keyRig struct {
	*rig
	keys    *keys.Store
	certDir string
}

func newKeyRig(t *testing.T, opts ...digicerttest.Option) *keyRig {
	t.Helper()
	ks, err := keys.OpenStore(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	return &keyRig{rig: newRig(t, opts...), keys: ks, certDir: filepath.Join(t.TempDir(), "certs")}
}

// keySpec writes NAME.yaml for NAME.example.com with key_type and no CSR.
func (r *keyRig) keySpec(name string, extra ...string) {
	r.t.Helper()
	body := fmt.Sprintf("name: %s\ncommon_name: %s.example.com\norganization_id: 1\nskip_approval: true\nkey_type: ecdsa-p256\n%s", name, name, lines(extra))
	if err := os.WriteFile(filepath.Join(r.dir, name+".yaml"), []byte(body), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// run is one cycle with delivery: results, then deliveries.
func (r *keyRig) run(withKeys bool) ([]string, []Delivery) {
	r.t.Helper()
	rec := r.reconciler(1)
	rec.Observe, rec.CertDir = true, r.certDir
	if withKeys {
		rec.Keys = r.keys
	}
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	return resultLines(rec.Apply(context.Background(), c)), rec.Deliver(context.Background(), c)
}

// sentCSRs returns the CSRs of the order and reissue requests the fake
// got, in order.
func (r *rig) sentCSRs() []string {
	r.t.Helper()
	var out []string
	for _, q := range r.srv.Requests() {
		if q.Method != "POST" && q.Method != "PUT" {
			continue
		}
		var body struct {
			Certificate struct {
				CSR string `json:"csr"`
			} `json:"certificate"`
		}
		if json.Unmarshal(q.Body, &body) == nil && body.Certificate.CSR != "" {
			out = append(out, body.Certificate.CSR)
		}
	}
	return out
}

// storedKeys lists the key store's files as NAME/FINGERPRINT.
func (r *keyRig) storedKeys() []string {
	r.t.Helper()
	es, err := r.keys.List()
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name+"/"+e.Fingerprint)
	}
	return out
}

func parseCSR(t *testing.T, s string) *x509.CertificateRequest {
	t.Helper()
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		t.Fatalf("not a PEM CSR: %q", s)
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// delivered reads the delivered cert.pem and privkey.pem and checks they
// match, the key 0600 and the folder 0750; it returns the key.
func (r *keyRig) delivered(name string) keys.Key {
	r.t.Helper()
	dir := filepath.Join(r.certDir, name)
	certPEM, err := os.ReadFile(filepath.Join(dir, "cert.pem"))
	if err != nil {
		r.t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		r.t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "privkey.pem")
	data, err := os.ReadFile(keyPath)
	if err != nil {
		r.t.Fatal(err)
	}
	k, err := keys.ParsePEM(data)
	if err != nil {
		r.t.Fatal(err)
	}
	if !k.Matches(cert) {
		r.t.Fatal("privkey.pem does not match cert.pem")
	}
	real, err := filepath.EvalSymlinks(keyPath)
	if err != nil {
		r.t.Fatal(err)
	}
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o600 {
		r.t.Errorf("privkey.pem mode %o, want 600", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Dir(real)); fi.Mode().Perm() != 0o750 {
		r.t.Errorf("version folder mode %o, want 750", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Join(filepath.Dir(real), "cert.pem")); fi.Mode().Perm() != 0o644 {
		r.t.Errorf("cert.pem mode %o, want 644", fi.Mode().Perm())
	}
	return k
}

// TestKeys_order: a spec with key_type and no CSR is ordered with a CSR of
// exactly its names, made with a key stored (under the CSR's fingerprint)
// before the request; the key is recorded in the state (never the key
// itself) and delivered as privkey.pem with the certificate.
func TestKeys_order(t *testing.T) {
	r := newKeyRig(t)
	r.keySpec("shop", "dns_names: [www.shop.example.com]")
	res, ds := r.run(true)
	if len(res) != 1 || !strings.HasPrefix(res[0], "order shop: ordered ") {
		t.Fatalf("results: %q", res)
	}
	csrs := r.sentCSRs()
	if len(csrs) != 1 {
		t.Fatalf("%d CSRs sent", len(csrs))
	}
	req := parseCSR(t, csrs[0])
	if req.Subject.CommonName != "shop.example.com" || !slices.Equal(req.DNSNames, []string{"shop.example.com", "www.shop.example.com"}) || len(req.Subject.Names) != 1 {
		t.Fatalf("CSR subject %v, names %v", req.Subject, req.DNSNames)
	}
	fp := keys.CSRFingerprint(csrs[0])
	wantLines(t, "stored keys", r.storedKeys(), []string{"shop/" + fp})
	e := r.entry("shop")
	sum, _ := keys.PublicKeySHA256(req.PublicKey)
	if e.Key == nil || e.Key.Type != "ecdsa-p256" || e.Key.CSRFingerprint != fp || e.Key.PublicKeySHA256 != sum || !e.Key.CreatedAt.Equal(r.clock.Now()) || e.Intent != nil {
		t.Fatalf("entry key: %+v", e.Key)
	}
	if len(ds) != 1 || ds[0].Err != nil || !ds[0].Delivered {
		t.Fatalf("deliveries: %+v", ds)
	}
	if k := r.delivered("shop"); !k.MatchesPublic(req.PublicKey) {
		t.Fatal("the delivered key is not the CSR's")
	}
	// The state holds no private key.
	data, _ := json.Marshal(r.store.Snapshot())
	if strings.Contains(string(data), "PRIVATE KEY") {
		t.Fatal("the state holds a private key")
	}
}

// TestKeys_noStore: without a key store a spec with key_type is not
// ordered, and no call is made to order it.
func TestKeys_noStore(t *testing.T) {
	r := newKeyRig(t)
	r.keySpec("shop")
	res, _ := r.run(false)
	if len(res) != 1 || !strings.HasPrefix(res[0], "order shop: error: the spec has key_type, but certform has no key store") {
		t.Fatalf("results: %q", res)
	}
	for _, c := range r.calls() {
		if strings.HasPrefix(c, "POST") {
			t.Fatalf("call made: %s", c)
		}
	}
	if e := r.store.Entry("shop"); e != nil && e.Intent != nil {
		t.Fatalf("intent saved: %+v", e.Intent)
	}
}

// TestKeys_noKeyStoreBlocked: on a state that can keep no keys (a shared
// state without an age identity), a new spec with key_type is a blocked
// order (BlockedKeyStore, so the run fails) with a note naming
// --key-identity-file; nothing is called for it, not even the names check.
func TestKeys_noKeyStoreBlocked(t *testing.T) {
	r := newKeyRig(t)
	r.keySpec("shop")
	rec := r.reconciler(1)
	rec.NoKeyStore = true
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Plan
	if len(p.Actions) != 0 || len(p.Blocked) != 1 || p.Blocked[0].Kind != KindOrder || p.Blocked[0].Name != "shop" || p.Blocked[0].BlockedBy != BlockedKeyStore {
		t.Fatalf("actions %+v, blocked %+v", p.Actions, p.Blocked)
	}
	if len(p.Notes) != 1 || p.Notes[0].Kind != NoteBlocked || !strings.Contains(p.Notes[0].Hint, "--key-identity-file") {
		t.Fatalf("notes: %+v", p.Notes)
	}
	if res := rec.Apply(context.Background(), c); len(res) != 0 {
		t.Fatalf("results: %+v", res)
	}
	if calls := r.calls(); len(calls) != 0 {
		t.Fatalf("calls: %v", calls)
	}
}

// TestKeys_noKeyStoreBlocksReissue: on a state that can keep no keys, a
// names change of a tracked spec with key_type is a blocked reissue
// (BlockedKeyStore) with a note naming --key-identity-file, as apply would
// refuse it; nothing is called for it.
func TestKeys_noKeyStoreBlocksReissue(t *testing.T) {
	r := newKeyRig(t)
	r.keySpec("shop")
	r.run(true)
	r.keySpec("shop", "dns_names: [www.shop.example.com]")
	rec := r.reconciler(1)
	rec.NoKeyStore = true
	r.calls() // forget the first run's calls
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Plan
	if len(p.Actions) != 0 || len(p.Blocked) != 1 || p.Blocked[0].Kind != KindReissue || p.Blocked[0].BlockedBy != BlockedKeyStore {
		t.Fatalf("actions %+v, blocked %+v", p.Actions, p.Blocked)
	}
	want := "the spec has key_type, but this state has no key store to keep the key certform would make; it is not reissued"
	if len(p.Notes) != 1 || p.Notes[0].Kind != NoteBlocked || p.Notes[0].Message != want || !strings.Contains(p.Notes[0].Hint, "--key-identity-file") {
		t.Fatalf("notes: %+v", p.Notes)
	}
	if res := rec.Apply(context.Background(), c); len(res) != 0 {
		t.Fatalf("results: %+v", res)
	}
	if calls := r.calls(); len(calls) != 0 {
		t.Fatalf("calls: %v", calls)
	}
}

// TestKeys_lostAnswer: the order's request is lost; the re-send carries
// the first attempt's CSR, and no second key is made.
func TestKeys_lostAnswer(t *testing.T) {
	r := newKeyRig(t)
	r.keySpec("shop")
	r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, DropBefore: true})
	res, _ := r.run(true)
	if len(res) != 1 || !strings.Contains(res[0], "outcome unknown") {
		t.Fatalf("results: %q", res)
	}
	in := r.entry("shop").Intent
	if in == nil || in.CSR == "" || in.Key == nil {
		t.Fatalf("intent: %+v", in)
	}
	wantLines(t, "stored keys", r.storedKeys(), []string{"shop/" + in.Key.CSRFingerprint})
	r.clock.Add(6 * time.Minute)
	res, ds := r.run(true)
	if len(res) != 1 || !strings.HasPrefix(res[0], "order shop: ordered ") {
		t.Fatalf("results: %q", res)
	}
	csrs := r.sentCSRs()
	if len(csrs) != 2 || csrs[0] != csrs[1] || csrs[0] != in.CSR {
		t.Fatalf("the re-send did not carry the first CSR: %d CSRs", len(csrs))
	}
	wantLines(t, "stored keys", r.storedKeys(), []string{"shop/" + in.Key.CSRFingerprint})
	if len(ds) != 1 || ds[0].Err != nil {
		t.Fatalf("deliveries: %+v", ds)
	}
	r.delivered("shop")
}

// TestKeys_lostAnswerNamesChanged: the spec's names change while an order
// whose answer was lost is pending. The re-send (the same alternative
// order id) carries the first attempt's CSR and names, never a CSR made
// for the new names (issue 23: "any re-send use the same CSR"); once the
// order is found, the names change is a reissue with a new key.
func TestKeys_lostAnswerNamesChanged(t *testing.T) {
	r := newKeyRig(t, digicerttest.WithReissueHold())
	r.keySpec("shop")
	r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, DropBefore: true})
	if res, _ := r.run(true); len(res) != 1 || !strings.Contains(res[0], "outcome unknown") {
		t.Fatalf("results: %q", res)
	}
	in := r.entry("shop").Intent
	if in == nil || in.CSR == "" || in.Key == nil {
		t.Fatalf("intent: %+v", in)
	}
	r.keySpec("shop", "dns_names: [www.shop.example.com]")
	r.clock.Add(6 * time.Minute)
	if res, _ := r.run(true); len(res) < 1 || !strings.HasPrefix(res[0], "order shop: ordered ") {
		t.Fatalf("results: %q", res)
	}
	type sent struct {
		AltID       string `json:"alternative_order_id"`
		Certificate struct {
			CommonName string   `json:"common_name"`
			DNSNames   []string `json:"dns_names"`
			CSR        string   `json:"csr"`
		} `json:"certificate"`
	}
	var orders []sent
	for _, q := range r.srv.Requests() {
		if q.Method == "POST" && q.Path == "/order/certificate/ssl" {
			var b sent
			if err := json.Unmarshal(q.Body, &b); err != nil {
				t.Fatal(err)
			}
			orders = append(orders, b)
		}
	}
	if len(orders) != 2 || orders[0].AltID != orders[1].AltID {
		t.Fatalf("order requests: %+v", orders)
	}
	if orders[1].Certificate.CSR != in.CSR {
		t.Fatalf("the re-send carried another CSR (%s) than the first attempt (%s)", keys.CSRFingerprint(orders[1].Certificate.CSR), in.Key.CSRFingerprint)
	}
	if orders[1].Certificate.CommonName != "shop.example.com" || len(orders[1].Certificate.DNSNames) != 0 {
		t.Fatalf("the re-send's names: %q %q, want the first request's (shop.example.com only)", orders[1].Certificate.CommonName, orders[1].Certificate.DNSNames)
	}
	// The order is found: the new names are a reissue, with a new key.
	r.clock.Add(time.Minute)
	res, _ := r.run(true)
	if !slices.ContainsFunc(res, func(s string) bool { return strings.HasPrefix(s, "reissue shop: reissue requested") }) {
		t.Fatalf("results: %q", res)
	}
	csrs := r.sentCSRs()
	req := parseCSR(t, csrs[len(csrs)-1])
	if !slices.Equal(req.DNSNames, []string{"shop.example.com", "www.shop.example.com"}) {
		t.Fatalf("reissue CSR names %v", req.DNSNames)
	}
	if e := r.entry("shop"); e.Key == nil || e.Key.PublicKeySHA256 == in.Key.PublicKeySHA256 {
		t.Fatalf("the reissue's key: %+v, the order's %+v", e.Key, in.Key)
	}
}

// TestKeys_refused: a first request CertCentral refuses removes the key
// made for it with the intent.
func TestKeys_refused(t *testing.T) {
	r := newKeyRig(t)
	r.keySpec("shop")
	r.srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Times: 1, Status: 400, Code: "bad_request_format"})
	res, _ := r.run(true)
	if len(res) != 1 || !strings.Contains(res[0], "CertCentral refused the order") {
		t.Fatalf("results: %q", res)
	}
	if got := r.storedKeys(); len(got) != 0 {
		t.Fatalf("keys left: %v", got)
	}
	if e := r.store.Entry("shop"); e != nil {
		t.Fatalf("entry left: %+v", e)
	}
}

// TestKeys_reissueRotation: a names change reissues with a new key
// (key_rotation: always); the old key stays until the new certificate is
// delivered, then goes. With key_rotation: never the key is kept.
func TestKeys_reissueRotation(t *testing.T) {
	for _, rotation := range []string{"always", "never"} {
		t.Run(rotation, func(t *testing.T) {
			r := newKeyRig(t, digicerttest.WithReissueHold())
			r.keySpec("shop", "key_rotation: "+rotation)
			r.run(true)
			first := *r.entry("shop").Key
			r.keySpec("shop", "key_rotation: "+rotation, "dns_names: [www.shop.example.com]")
			r.clock.Add(time.Minute)
			res, _ := r.run(true)
			if len(res) != 1 || !strings.HasPrefix(res[0], "reissue shop: reissue requested") {
				t.Fatalf("results: %q", res)
			}
			csrs := r.sentCSRs()
			if len(csrs) != 2 {
				t.Fatalf("%d CSRs sent", len(csrs))
			}
			req := parseCSR(t, csrs[1])
			if !slices.Equal(req.DNSNames, []string{"shop.example.com", "www.shop.example.com"}) {
				t.Fatalf("reissue CSR names %v", req.DNSNames)
			}
			second := *r.entry("shop").Key
			sameKey := second.PublicKeySHA256 == first.PublicKeySHA256
			if sameKey != (rotation == "never") || second.CSRFingerprint != keys.CSRFingerprint(csrs[1]) {
				t.Fatalf("key after the reissue: %+v, before %+v", second, first)
			}
			// Pending: both keys kept.
			wantLines(t, "stored keys while pending", r.storedKeys(), sortedStrings("shop/"+first.CSRFingerprint, "shop/"+second.CSRFingerprint))
			r.srv.ApproveReissue(r.entry("shop").OrderID)
			r.clock.Add(time.Minute)
			_, ds := r.run(true)
			if len(ds) != 1 || ds[0].Err != nil || !ds[0].Delivered {
				t.Fatalf("deliveries: %+v", ds)
			}
			k := r.delivered("shop")
			if !k.MatchesPublic(req.PublicKey) {
				t.Fatal("the delivered key is not the reissue's")
			}
			wantLines(t, "stored keys after delivery", r.storedKeys(), []string{"shop/" + second.CSRFingerprint})
			if e := r.entry("shop"); len(e.PreviousKeys) != 0 {
				t.Fatalf("previous keys left: %+v", e.PreviousKeys)
			}
		})
	}
}

func sortedStrings(s ...string) []string {
	slices.Sort(s)
	return s
}

// TestKeys_hookEnv: the deploy hook gets the key's path and the names,
// never the key.
func TestKeys_hookEnv(t *testing.T) {
	r := newKeyRig(t)
	r.keySpec("shop", "dns_names: [www.shop.example.com]")
	out := filepath.Join(t.TempDir(), "env")
	rec := r.reconciler(1)
	rec.Observe, rec.CertDir, rec.Keys = true, r.certDir, r.keys
	rec.Hook = &deliver.Hook{Command: `env > ` + out}
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec.Apply(context.Background(), c)
	if ds := rec.Deliver(context.Background(), c); len(ds) != 1 || ds[0].Hook != "ok" {
		t.Fatalf("deliveries: %+v", ds)
	}
	data, _ := os.ReadFile(out)
	env := string(data)
	for _, want := range []string{"CERTFORM_KEY_FILE=" + filepath.Join(r.certDir, "shop", "privkey.pem") + "\n", "CERTFORM_DNS_NAMES=shop.example.com www.shop.example.com\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("hook env lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "PRIVATE KEY") {
		t.Error("the hook's environment holds the key")
	}
}

// TestKeys_replace: --replace reissues once, with a new key even with
// key_rotation: never; the plan says reason replace; the next cycle
// without it plans nothing.
func TestKeys_replace(t *testing.T) {
	r := newKeyRig(t)
	r.keySpec("shop", "key_rotation: never")
	r.run(true)
	first := *r.entry("shop").Key
	r.clock.Add(time.Minute)
	rec := r.reconciler(1)
	rec.Observe, rec.CertDir, rec.Keys, rec.Replace = true, r.certDir, r.keys, []string{"shop"}
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Plan.Actions) != 1 || c.Plan.Actions[0].Kind != KindReissue || c.Plan.Actions[0].Reason != ReissueReplace {
		t.Fatalf("plan: %+v", c.Plan.Actions)
	}
	var text strings.Builder
	if err := c.Plan.WriteText(&text, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "        reason: replace (--replace): a new certificate now, with a new key\n") {
		t.Errorf("plan text:\n%s", text.String())
	}
	res := rec.Apply(context.Background(), c)
	if len(res) != 1 || res[0].Err != nil {
		t.Fatalf("results: %+v", res)
	}
	if k := r.entry("shop").Key; k.PublicKeySHA256 == first.PublicKeySHA256 {
		t.Fatal("--replace kept the key")
	}
	r.clock.Add(time.Minute)
	_, ds := r.run(true)
	if len(ds) != 1 || ds[0].Err != nil {
		t.Fatalf("deliveries: %+v", ds)
	}
	r.delivered("shop")
	r.clock.Add(time.Minute)
	if res, _ := r.run(true); len(res) != 0 {
		t.Fatalf("a second reissue without --replace: %q", res)
	}
	if n := len(r.sentCSRs()); n != 2 {
		t.Fatalf("%d requests with a CSR, want the order and one reissue", n)
	}
}

// TestKeys_foreignKey: an order adopted (order_id) for a spec with
// key_type has a certificate for a key certform does not hold: it is
// reissued with a key certform makes (reason key), then delivered with it.
func TestKeys_foreignKey(t *testing.T) {
	r := newKeyRig(t)
	id := r.srv.AddOrder(digicerttest.Order{CommonName: "shop.example.com", OrganizationID: 1, ProductType: "ov"})
	r.keySpec("shop", fmt.Sprintf("order_id: %d", id))
	res, ds := r.run(true)
	if len(res) != 1 || !strings.HasPrefix(res[0], "adopt shop: adopted") {
		t.Fatalf("results: %q", res)
	}
	if len(ds) != 1 || ds[0].Err == nil || !strings.Contains(ds[0].Err.Error(), "it is not the key of a key certform holds") {
		t.Fatalf("deliveries: %+v", ds)
	}
	r.clock.Add(time.Minute)
	rec := r.reconciler(1)
	rec.Observe, rec.Keys = true, r.keys
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Plan.Actions) != 1 || c.Plan.Actions[0].Kind != KindReissue || c.Plan.Actions[0].Reason != ReissueKey {
		t.Fatalf("plan: %+v", c.Plan.Actions)
	}
	res, ds = r.run(true)
	if len(res) != 1 || !strings.HasPrefix(res[0], "reissue shop: reissue requested") {
		t.Fatalf("results: %q", res)
	}
	if len(ds) == 0 {
		r.clock.Add(time.Minute)
		_, ds = r.run(true)
	}
	if len(ds) != 1 || ds[0].Err != nil || !ds[0].Delivered {
		t.Fatalf("deliveries: %+v", ds)
	}
	r.delivered("shop")
	r.clock.Add(time.Minute)
	if res, _ := r.run(true); len(res) != 0 {
		t.Fatalf("after delivery: %q", res)
	}
}

// TestKeys_foreignKeyCSR: a certificate for another key than the spec's
// CSR (changed by hand in CertCentral) is refused at delivery, then
// reissued with the spec's CSR (reason key).
func TestKeys_foreignKeyCSR(t *testing.T) {
	r := newKeyRig(t)
	r.spec("shop")
	r.run(false)
	e := r.entry("shop")
	r.srv.IssueWrongKey(e.OrderID)
	r.clock.Add(time.Minute)
	_, ds := r.run(false)
	if len(ds) != 1 || ds[0].Err == nil {
		t.Fatalf("deliveries: %+v", ds)
	}
	r.clock.Add(time.Minute)
	p, res := r.cycle(1)
	if len(p.Actions) != 1 || p.Actions[0].Reason != ReissueKey || len(res) != 1 || !strings.HasPrefix(res[0], "reissue shop: reissue requested") {
		t.Fatalf("plan %+v, results %q", p.Actions, res)
	}
	r.clock.Add(time.Minute)
	_, ds = r.run(false)
	if len(ds) != 1 || ds[0].Err != nil || !ds[0].Delivered {
		t.Fatalf("deliveries: %+v", ds)
	}
}

// TestKeys_switch: another key_type is a reissue (not a new order), and
// so is a move from key_type to the spec's own CSR; each is reissued once,
// then nothing more is planned.
func TestKeys_switch(t *testing.T) {
	r := newKeyRig(t)
	r.keySpec("shop")
	r.run(true)
	settled := func(what string) {
		t.Helper()
		r.clock.Add(time.Minute)
		r.run(true) // delivers the reissued certificate
		r.clock.Add(time.Minute)
		if res, _ := r.run(true); len(res) != 0 {
			t.Fatalf("%s: planned again: %q", what, res)
		}
	}
	// ecdsa-p256 -> ecdsa-p384.
	body := "name: shop\ncommon_name: shop.example.com\norganization_id: 1\nskip_approval: true\nkey_type: ecdsa-p384\n"
	if err := os.WriteFile(filepath.Join(r.dir, "shop.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r.clock.Add(time.Minute)
	res, _ := r.run(true)
	if len(res) != 1 || !strings.HasPrefix(res[0], "reissue shop: reissue requested") {
		t.Fatalf("results: %q", res)
	}
	if k := r.entry("shop").Key; k.Type != "ecdsa-p384" {
		t.Fatalf("key: %+v", k)
	}
	settled("ecdsa-p384")
	// key_type -> the spec's own CSR.
	r.spec("shop")
	r.clock.Add(time.Minute)
	res, _ = r.run(true)
	if len(res) != 1 || !strings.HasPrefix(res[0], "reissue shop: reissue requested") {
		t.Fatalf("results: %q", res)
	}
	settled("own CSR")
	if _, err := os.Lstat(filepath.Join(r.certDir, "shop", "privkey.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("privkey.pem left beside a certificate of the spec's own CSR: %v", err)
	}
}

// TestKeys_renewal: a renewal of a spec with key_type is ordered with a
// new key (key_rotation: always) or the order's (never); the old key goes
// once the renewal's certificate is delivered.
func TestKeys_renewal(t *testing.T) {
	for _, rotation := range []string{"always", "never"} {
		t.Run(rotation, func(t *testing.T) {
			r := newKeyRig(t)
			r.keySpec("shop", "key_rotation: "+rotation)
			r.run(true)
			first := *r.entry("shop").Key
			old := r.entry("shop").OrderID
			r.endsIn("shop", 10*24*time.Hour)
			r.clock.Add(time.Minute)
			res, _ := r.run(true)
			if len(res) != 1 || !strings.HasPrefix(res[0], "renew shop: renewed as order ") {
				t.Fatalf("results: %q", res)
			}
			e := r.entry("shop")
			if e.OrderID == old || e.Key == nil {
				t.Fatalf("entry: %+v", e)
			}
			if same := e.Key.PublicKeySHA256 == first.PublicKeySHA256; same != (rotation == "never") {
				t.Fatalf("key %+v after renewal, before %+v", e.Key, first)
			}
			csrs := r.sentCSRs()
			if len(csrs) != 2 || keys.CSRFingerprint(csrs[1]) != e.Key.CSRFingerprint {
				t.Fatalf("%d CSRs sent", len(csrs))
			}
			r.clock.Add(time.Minute)
			r.run(true)
			r.delivered("shop")
			wantLines(t, "stored keys", r.storedKeys(), []string{"shop/" + e.Key.CSRFingerprint})
		})
	}
}

// reissueRotated runs a spec with key_type through a reissue with a new
// key (held until approved), and returns the first key and the reissue's.
func (r *keyRig) reissueRotated() (first, second string) {
	r.t.Helper()
	r.keySpec("shop")
	r.run(true)
	first = r.entry("shop").Key.CSRFingerprint
	r.keySpec("shop", "dns_names: [www.shop.example.com]")
	r.clock.Add(time.Minute)
	if res, _ := r.run(true); len(res) != 1 || !strings.HasPrefix(res[0], "reissue shop: reissue requested") {
		r.t.Fatalf("results: %q", res)
	}
	second = r.entry("shop").Key.CSRFingerprint
	wantLines(r.t, "stored keys while pending", r.storedKeys(), sortedStrings("shop/"+first, "shop/"+second))
	return first, second
}

// TestKeys_rotationWithoutCertDir: without a certificate folder nothing
// is delivered, so the previous key goes once the certificate of the new
// key is issued and recorded; the new key stays.
func TestKeys_rotationWithoutCertDir(t *testing.T) {
	r := newKeyRig(t, digicerttest.WithReissueHold())
	r.certDir = ""
	first, second := r.reissueRotated()
	// Still pending: the first key's certificate is the order's.
	r.clock.Add(time.Minute)
	r.run(true)
	wantLines(t, "stored keys while still pending", r.storedKeys(), sortedStrings("shop/"+first, "shop/"+second))
	r.srv.ApproveReissue(r.entry("shop").OrderID)
	r.clock.Add(time.Minute)
	if res, ds := r.run(true); len(res) != 0 || len(ds) != 0 {
		t.Fatalf("results %q, deliveries %+v", res, ds)
	}
	wantLines(t, "stored keys once issued", r.storedKeys(), []string{"shop/" + second})
	if e := r.entry("shop"); len(e.PreviousKeys) != 0 || e.Key.CSRFingerprint != second {
		t.Fatalf("entry keys: %+v, previous %+v", e.Key, e.PreviousKeys)
	}
}

// TestKeys_rotationWithoutCertDirRejected: a reissue CertCentral rejected
// leaves the first key's certificate in place: without a certificate
// folder the first key stays, the rejected reissue's key goes.
func TestKeys_rotationWithoutCertDirRejected(t *testing.T) {
	r := newKeyRig(t, digicerttest.WithReissueHold())
	r.certDir = ""
	first, _ := r.reissueRotated()
	r.srv.RejectReissue(r.entry("shop").OrderID)
	r.clock.Add(time.Minute)
	r.run(true)
	if e := r.entry("shop"); e.ReissueRejected == nil || e.Status != "issued" {
		t.Fatalf("entry: %+v", e)
	}
	wantLines(t, "stored keys", r.storedKeys(), []string{"shop/" + first})
}

// TestKeys_rotationWithoutCertDirRenewal: a renewal with a new key, issued
// at once, removes the previous key in the same cycle when nothing is
// delivered.
func TestKeys_rotationWithoutCertDirRenewal(t *testing.T) {
	r := newKeyRig(t)
	r.certDir = ""
	r.keySpec("shop")
	r.run(true)
	r.endsIn("shop", 10*24*time.Hour)
	r.clock.Add(time.Minute)
	if res, _ := r.run(true); len(res) != 1 || !strings.HasPrefix(res[0], "renew shop: renewed as order ") {
		t.Fatalf("results: %q", res)
	}
	e := r.entry("shop")
	wantLines(t, "stored keys", r.storedKeys(), []string{"shop/" + e.Key.CSRFingerprint})
	if len(e.PreviousKeys) != 0 {
		t.Fatalf("previous keys left: %+v", e.PreviousKeys)
	}
}

// TestKeys_rotationCertDirKeepsUntilDelivery: with a certificate folder,
// the previous key stays after the new key's certificate is issued until
// that certificate is delivered.
func TestKeys_rotationCertDirKeepsUntilDelivery(t *testing.T) {
	r := newKeyRig(t, digicerttest.WithReissueHold())
	first, second := r.reissueRotated()
	r.srv.ApproveReissue(r.entry("shop").OrderID)
	// The certificate folder is a file: the delivery fails.
	if err := os.RemoveAll(r.certDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.certDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r.clock.Add(time.Minute)
	if _, ds := r.run(true); len(ds) != 1 || ds[0].Err == nil {
		t.Fatalf("deliveries: %+v", ds)
	}
	if e := r.entry("shop"); e.Status != "issued" || e.ReissuedFrom != 0 {
		t.Fatalf("entry: %+v", e)
	}
	wantLines(t, "stored keys before delivery", r.storedKeys(), sortedStrings("shop/"+first, "shop/"+second))
	if err := os.Remove(r.certDir); err != nil {
		t.Fatal(err)
	}
	r.clock.Add(time.Minute)
	if _, ds := r.run(true); len(ds) != 1 || !ds[0].Delivered {
		t.Fatalf("deliveries: %+v", ds)
	}
	wantLines(t, "stored keys after delivery", r.storedKeys(), []string{"shop/" + second})
}
