package cli

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/keys"
)

// keyFiles lists a key folder's files with their modes.
func keyFiles(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		fi, _ := e.Info()
		out = append(out, fmt.Sprintf("%s %o", e.Name(), fi.Mode().Perm()))
	}
	return out
}

// deliveredPair reads CERT_DIR/NAME's cert.pem and privkey.pem, checks
// that they match and that the key is 0600, and returns the leaf.
func deliveredPair(t *testing.T, certDir, name string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(certDir, name, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	kp := filepath.Join(certDir, name, "privkey.pem")
	kdata, err := os.ReadFile(kp)
	if err != nil {
		t.Fatal(err)
	}
	k, err := keys.ParsePEM(kdata)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Matches(leaf) {
		t.Fatal("privkey.pem does not match cert.pem")
	}
	if fi, err := os.Stat(kp); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("privkey.pem: %v %v", fi.Mode(), err)
	}
	return leaf
}

// orderCSRs returns the CSRs the fake was sent (orders and reissues).
func orderCSRs(t *testing.T, srv *digicerttest.Server) []*x509.CertificateRequest {
	t.Helper()
	var out []*x509.CertificateRequest
	for _, q := range srv.Requests() {
		var body struct {
			Certificate struct {
				CSR string `json:"csr"`
			} `json:"certificate"`
		}
		if (q.Method == "POST" || q.Method == "PUT") && json.Unmarshal(q.Body, &body) == nil && body.Certificate.CSR != "" {
			b, _ := pem.Decode([]byte(body.Certificate.CSR))
			req, err := x509.ParseCertificateRequest(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, req)
		}
	}
	return out
}

// TestE2E_keyType: with the binary against the fake, a spec that is only
// names (key_type from a defaults.yaml) is ordered with a CSR of exactly
// its names; privkey.pem is delivered, matching cert.pem, 0600; the key
// lives in keys/ beside the state (0700, 0600); a names change reissues
// with a new key, and the old one is gone once the new certificate is
// delivered. No output and no state holds a private key.
func TestE2E_keyType(t *testing.T) {
	srv, env := startFake(t)
	dir := t.TempDir()
	stDir := t.TempDir()
	st := filepath.Join(stDir, "s.json")
	certDir := filepath.Join(t.TempDir(), "certs")
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("defaults.yaml", "organization_id: 1\nkey_type: ecdsa-p256\nskip_approval: true\n")
	write("shop.yaml", "name: shop\ncommon_name: shop.example.com\ndns_names: [www.shop.example.com]\n")
	var outputs []string
	apply := func() {
		t.Helper()
		code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--cert-dir", certDir, "--quiet-period", "0s")
		outputs = append(outputs, stdout, stderr)
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
	}
	apply()
	csrs := orderCSRs(t, srv)
	if len(csrs) != 1 || csrs[0].Subject.CommonName != "shop.example.com" || !slices.Equal(csrs[0].DNSNames, []string{"shop.example.com", "www.shop.example.com"}) {
		t.Fatalf("CSRs sent: %+v", csrs)
	}
	leaf := deliveredPair(t, certDir, "shop")
	if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(csrs[0].PublicKey) {
		t.Fatal("the certificate is not for the CSR's key")
	}
	keyDir := filepath.Join(stDir, "keys")
	if fi, err := os.Stat(keyDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("key folder: %v %v", fi, err)
	}
	first := keyFiles(t, keyDir)
	if len(first) != 1 || !strings.HasSuffix(first[0], " 600") || !strings.HasPrefix(first[0], "shop") {
		t.Fatalf("key files: %v", first)
	}

	// Names change: a reissue with a new key; the old key goes once the
	// new certificate is delivered.
	write("shop.yaml", "name: shop\ncommon_name: shop.example.com\ndns_names: [www.shop.example.com, api.shop.example.com]\n")
	apply()
	apply() // the reissued certificate is delivered once CertCentral shows it
	csrs = orderCSRs(t, srv)
	if len(csrs) != 2 || !slices.Equal(csrs[1].DNSNames, []string{"shop.example.com", "www.shop.example.com", "api.shop.example.com"}) {
		t.Fatalf("CSRs sent: %d", len(csrs))
	}
	if csrs[1].PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(csrs[0].PublicKey) {
		t.Fatal("the reissue kept the key (key_rotation: always)")
	}
	leaf = deliveredPair(t, certDir, "shop")
	if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(csrs[1].PublicKey) {
		t.Fatal("the delivered certificate is not the reissue's")
	}
	second := keyFiles(t, keyDir)
	if len(second) != 1 || second[0] == first[0] {
		t.Fatalf("key files after the reissue's delivery: %v (before %v)", second, first)
	}

	data, _ := os.ReadFile(st)
	outputs = append(outputs, string(data))
	code, stdout, stderr := runBinary(t, env, "status", "--state", st, "--json")
	outputs = append(outputs, stdout, stderr)
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, stderr)
	}
	var rows []struct {
		KeyType         string `json:"key_type"`
		KeyCreatedAt    string `json:"key_created_at"`
		PublicKeySHA256 string `json:"public_key_sha256"`
	}
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("status --json: %v\n%s", err, stdout)
	}
	sum, _ := keys.PublicKeySHA256(leaf.PublicKey)
	if rows[0].KeyType != "ecdsa-p256" || rows[0].KeyCreatedAt == "" || rows[0].PublicKeySHA256 != sum {
		t.Fatalf("status --json key: %+v, want public_key_sha256 %s", rows[0], sum)
	}
	code, stdout, stderr = runBinary(t, env, "status", "--state", st)
	outputs = append(outputs, stdout, stderr)
	made, _ := time.Parse(time.RFC3339Nano, rows[0].KeyCreatedAt)
	if code != 0 || !strings.Contains(stdout, "key ecdsa-p256 made "+made.UTC().Format(time.RFC3339)) {
		t.Fatalf("status: exit %d, no key note\n%s%s", code, stdout, stderr)
	}
	for _, o := range outputs {
		if strings.Contains(o, "PRIVATE KEY") {
			t.Fatalf("an output holds a private key:\n%s", o)
		}
	}
}

// TestE2E_keyDirRefused: --key-dir inside the spec directory is refused
// before anything is done.
func TestE2E_keyDirRefused(t *testing.T) {
	_, env := startFake(t)
	dir := t.TempDir()
	st := filepath.Join(t.TempDir(), "s.json")
	code, _, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--key-dir", filepath.Join(dir, "keys"))
	want := fmt.Sprintf("certform apply: --key-dir %s is inside the spec directory %s; private keys never go into the specs' tree\nhint: keep them beside the state, such as /var/lib/certform/keys\n", filepath.Join(dir, "keys"), dir)
	if code != 1 || stderr != want {
		t.Fatalf("exit %d\n%q\nwant %q", code, stderr, want)
	}
}

// TestE2E_keyRotationReplaceImported: key_rotation: never keeps the key
// through a names change; --replace reissues once (reason replace) with a
// new key; an order adopted with order_id, whose certificate is for a key
// certform does not hold, is reissued (reason key) and then delivered.
func TestE2E_keyRotationReplaceImported(t *testing.T) {
	srv, env := startFake(t)
	dir := t.TempDir()
	st := filepath.Join(t.TempDir(), "s.json")
	certDir := filepath.Join(t.TempDir(), "certs")
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("defaults.yaml", "organization_id: 1\nkey_type: ecdsa-p256\nskip_approval: true\n")
	write("shop.yaml", "name: shop\ncommon_name: shop.example.com\nkey_rotation: never\n")
	apply := func(wantCode int, extra ...string) string {
		t.Helper()
		code, stdout, stderr := runBinary(t, env, append([]string{"apply", "--dir", dir, "--state", st, "--cert-dir", certDir, "--quiet-period", "0s"}, extra...)...)
		if code != wantCode {
			t.Fatalf("exit %d, want %d\n%s%s", code, wantCode, stdout, stderr)
		}
		return stdout
	}
	pub := func() string {
		t.Helper()
		sum, err := keys.PublicKeySHA256(deliveredPair(t, certDir, "shop").PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	apply(0)
	first := pub()
	// key_rotation: never: a names change keeps the key.
	write("shop.yaml", "name: shop\ncommon_name: shop.example.com\ndns_names: [www.shop.example.com]\nkey_rotation: never\n")
	apply(0)
	apply(0)
	if got := pub(); got != first {
		t.Fatalf("key_rotation: never changed the key: %s -> %s", first, got)
	}
	reissues := func() int {
		n := 0
		for _, c := range srv.Calls() {
			if strings.HasSuffix(c, "/reissue") && strings.HasPrefix(c, "POST ") {
				n++
			}
		}
		return n
	}
	before := reissues()
	// --replace: once, with a new key; the plan says reason: replace.
	code, stdout, stderr := runBinary(t, env, "plan", "--dir", dir, "--state", st, "--replace", "shop")
	if code != 0 || !strings.Contains(stdout, "        reason: replace (--replace): a new certificate now, with a new key\n") {
		t.Fatalf("plan --replace: exit %d\n%s%s", code, stdout, stderr)
	}
	apply(0, "--replace", "shop")
	apply(0)
	if n := reissues() - before; n != 1 {
		t.Fatalf("%d reissues after --replace, want 1", n)
	}
	if got := pub(); got == first {
		t.Fatal("--replace kept the key")
	}
	code, _, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st, "--replace", "nosuch")
	if want := "certform apply: --replace nosuch: no valid spec has this name; nothing was done\nhint: give the name: of a spec below --dir (certform validate lists the errors)\n"; code != 1 || stderr != want {
		t.Fatalf("--replace nosuch: exit %d\n%q\nwant %q", code, stderr, want)
	}

	// An adopted order with another key: delivery refuses it, the plan
	// reissues it with a key certform makes (reason key), then delivers.
	id := srv.AddOrder(digicerttest.Order{CommonName: "api.example.com", OrganizationID: 1, ProductType: "ov"})
	write("api.yaml", fmt.Sprintf("name: api\ncommon_name: api.example.com\norder_id: %d\n", id))
	apply(1) // adopted; its certificate is refused (not a key certform holds)
	code, stdout, stderr = runBinary(t, env, "plan", "--dir", dir, "--state", st, "--json")
	if code != 0 || !strings.Contains(stdout, `"reason": "key"`) && !strings.Contains(stdout, `"reason":"key"`) {
		t.Fatalf("plan: exit %d\n%s%s", code, stdout, stderr)
	}
	apply(0)
	if _, err := os.Stat(filepath.Join(certDir, "api", "privkey.pem")); err != nil {
		apply(0)
	}
	deliveredPair(t, certDir, "api")
}

// TestPG_keyTypeRefused: a shared (PostgreSQL) state without an age
// identity has no key store: a spec with key_type is not ordered (no order
// call, the note names the flag, apply exits 1 as for any blocked call), a
// spec with a CSR beside it is, and --key-dir is refused.
func TestPG_keyTypeRefused(t *testing.T) {
	fake, env, url, dir := pgKeyTypeSpecs(t)
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", url)
	if code != 1 || !strings.Contains(stdout, "the spec has key_type, but this state has no key store to keep the key certform would make; it is not ordered") ||
		!strings.Contains(stdout, "--key-identity-file") ||
		!strings.HasSuffix(stderr, "certform apply: 1 order blocked because this state has no key store for specs with key_type: shop (see the notes)\n") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if n := len(fake.Orders()); n != 1 || fake.Orders()[0].CommonName == "shop.example.com" {
		t.Fatalf("orders: %+v", fake.Orders())
	}
	for _, c := range fake.Calls() {
		if strings.Contains(c, "shop.example.com") {
			t.Errorf("a call for the refused spec: %s", c)
		}
	}
	code, _, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", url, "--key-dir", t.TempDir())
	if want := "certform apply: --key-dir is for a state file; a shared (PostgreSQL) state keeps its keys in the database\n"; code != 1 || stderr != want {
		t.Fatalf("--key-dir with PostgreSQL: exit %d\n%q\nwant %q", code, stderr, want)
	}
}
