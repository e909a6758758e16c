package cli

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/certform/certform/digicert/digicerttest"
)

// ageIdentityFile writes a new age identity to a 0600 file, as age-keygen
// -o does, and returns its path.
func ageIdentityFile(t *testing.T) (string, *age.X25519Identity) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "identity.txt")
	data := "# public key: " + id.Recipient().String() + "\n" + id.String() + "\n"
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, id
}

// holdFirstReissue is a fake's hook that holds the first reissue request
// until release is closed; arrived is closed when it comes.
type holdFirstReissue struct {
	once    sync.Once
	arrived chan struct{}
	release chan struct{}
}

func (h *holdFirstReissue) hook(q digicerttest.Request) {
	if q.Method != "POST" || !strings.HasSuffix(q.Path, "/reissue") {
		return
	}
	first := false
	h.once.Do(func() { first = true; close(h.arrived) })
	if first {
		<-h.release
	}
}

// keyForms are the ways a private key's bytes could show in an output: its
// PEM body, and its DER bytes raw, in hex (a bytea in a dump) and base64.
func keyForms(t *testing.T, privPEM []byte) [][]byte {
	t.Helper()
	b, _ := pem.Decode(privPEM)
	if b == nil {
		t.Fatal("privkey.pem is not PEM")
	}
	return [][]byte{[]byte("PRIVATE KEY"), b.Bytes, []byte(hex.EncodeToString(b.Bytes)), []byte(base64.StdEncoding.EncodeToString(b.Bytes)[:40])}
}

// TestPG_keysTakeover: a spec with key_type on a shared (PostgreSQL)
// state, two daemons with the same age identity. The leader is killed
// (kill -9) while its reissue with a new key is at CertCentral, its answer
// lost; the standby takes over, reads the key from the database (the
// intent's CSR is the one sent), and once CertCentral issues, delivers a
// privkey.pem that matches cert.pem. pg_dump of the database and every
// output of the run hold no private key.
func TestPG_keysTakeover(t *testing.T) {
	h := &holdFirstReissue{arrived: make(chan struct{}), release: make(chan struct{})}
	fake, env := startFake(t, digicerttest.WithReissueHold(), digicerttest.WithHook(h.hook))
	srv, url, env := pgState(t, env)
	idFile, _ := ageIdentityFile(t)
	dir := t.TempDir()
	spec := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(spec, []byte("name: shop\ncommon_name: shop.example.com\norganization_id: 1\nkey_type: ecdsa-p256\nskip_approval: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certA, certB := filepath.Join(t.TempDir(), "certs"), filepath.Join(t.TempDir(), "certs")
	var outputs []string
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", url, "--cert-dir", certA, "--key-identity-file", idFile, "--quiet-period", "0s")
	outputs = append(outputs, stdout, stderr)
	if code != 0 {
		t.Fatalf("first apply: exit %d\n%s%s", code, stdout, stderr)
	}
	deliveredPair(t, certA, "shop")
	firstKey, _ := os.ReadFile(filepath.Join(certA, "shop", "privkey.pem"))
	orderID := fake.Orders()[0].ID

	// The names change: the leader reissues with a new key and is killed
	// while CertCentral has the request.
	editFile(t, spec, "common_name: shop.example.com\n", "common_name: shop.example.com\ndns_names: [www.shop.example.com]\n")
	args := func(certDir string) []string {
		return []string{"--dir", dir, "--state", url, "--schedule", "@every 1h", "--listen", "127.0.0.1:0", "--resend-after", "1s",
			"--retry-backoff", "1s", "--cert-dir", certDir, "--key-identity-file", idFile}
	}
	a := startDaemon(t, env, args(certA)...)
	select {
	case <-h.arrived:
	case <-time.After(30 * time.Second):
		t.Fatalf("no reissue request:\n%s", a.logs())
	}
	b := startDaemon(t, env, args(certB)...)
	b.waitFor("the second daemon to stand by", 1, msg("standing by"))
	a.cmd.Process.Kill()
	<-a.exited
	close(h.release) // CertCentral carries the request out; its answer is lost
	fake.WaitIdle(10 * time.Second)
	b.waitFor("the standby to take over", 1, msg("took over"))
	b.waitFor("the takeover cycle", 1, cycleDoneWith("takeover"))
	fake.ApproveReissue(orderID)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(certB, "shop", "privkey.pem")); err == nil {
			break
		}
		b.signal(syscall.SIGHUP)
		time.Sleep(time.Second)
	}
	leaf := deliveredPair(t, certB, "shop")
	if !slices.Equal(leaf.DNSNames, []string{"shop.example.com", "www.shop.example.com"}) {
		t.Fatalf("the delivered certificate's names: %v", leaf.DNSNames)
	}
	csrs := orderCSRs(t, fake)
	if len(csrs) != 2 || !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(csrs[1].PublicKey) {
		t.Fatalf("%d CSRs sent (want the order's and one reissue's), or the certificate is not the reissue's key\n%s", len(csrs), b.logs())
	}
	newKey, _ := os.ReadFile(filepath.Join(certB, "shop", "privkey.pem"))
	if bytes.Equal(newKey, firstKey) {
		t.Fatal("the reissue kept the key")
	}
	// The first key is removed once the certificate of the new one is
	// delivered: one sealed key is left.
	var rows int
	if err := srv.Conn(t, dbName(url)).QueryRow(context.Background(), `SELECT count(*) FROM certform.keys`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("%d key rows after the delivery (%v), want 1", rows, err)
	}

	outputs = append(outputs, a.logs(), b.logs())
	for _, cmd := range [][]string{{"plan", "--dir", dir, "--state", url}, {"status", "--state", url}, {"status", "--state", url, "--json"}, {"state", "pull", "--state", url}} {
		code, stdout, stderr := runBinary(t, env, cmd...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", cmd, code, stderr)
		}
		outputs = append(outputs, stdout, stderr)
	}
	dump := srv.Dump(t, dbName(url))
	if !bytes.Contains(dump, []byte("COPY certform.keys")) {
		t.Fatalf("the dump has no keys table:\n%s", dump)
	}
	outputs = append(outputs, string(dump))
	for _, k := range [][]byte{firstKey, newKey} {
		for _, form := range keyForms(t, k) {
			for _, o := range outputs {
				if bytes.Contains([]byte(o), form) {
					t.Fatalf("an output or the dump holds a private key (%.20q...):\n%.2000s", form, o)
				}
			}
		}
	}
}

// TestPG_keyFlags: --key-recipient and --key-identity-file are checked
// before anything is ordered, with errors that say what to do; the
// identity also comes from the systemd credential certform-key-identity.
func TestPG_keyFlags(t *testing.T) {
	fake, env := startFake(t)
	srv, url, env := pgState(t, env)
	idFile, id := ageIdentityFile(t)
	_, other := ageIdentityFile(t)
	bad := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(bad, []byte("# made by hand\nAGE-SECRET-KEY-1 is not here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shop.yaml"), []byte("name: shop\ncommon_name: shop.example.com\norganization_id: 1\nkey_type: ecdsa-p256\nskip_approval: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Join(t.TempDir(), "certs")
	apply := func(env []string, extra ...string) (int, string, string) {
		return runBinary(t, env, append([]string{"apply", "--dir", dir, "--state", url, "--cert-dir", certDir, "--quiet-period", "0s"}, extra...)...)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--key-recipient", id.Recipient().String()},
			"certform apply: --key-recipient seals keys that certform must open again: no age identity to open the keys of the shared state\n" +
				"hint: give --key-identity-file FILE (made with age-keygen) or the systemd credential certform-key-identity\n"},
		{[]string{"--key-identity-file", idFile, "--key-recipient", other.Recipient().String()},
			"certform apply: " + idFile + ": the age identity (--key-identity-file or the credential certform-key-identity) is not one of the --key-recipient public keys, so this server could not open the keys it seals\n" +
				"hint: add the identity's public key (age-keygen -y FILE prints it) as a --key-recipient\n"},
		{[]string{"--key-identity-file", idFile, "--key-recipient", "AGE-SECRET-KEY-1XYZ"},
			"certform apply: --key-recipient 1: not an age X25519 public key; give the age1... line age-keygen prints as \"Public key\" (never the AGE-SECRET-KEY)\n"},
		{[]string{"--key-identity-file", bad},
			"certform apply: " + bad + ":2: malformed age identity\n"},
	} {
		code, stdout, stderr := apply(env, c.args...)
		if code != 1 || stderr != c.want {
			t.Errorf("%v: exit %d\n%s%s\nwant: %s", c.args, code, stdout, stderr, c.want)
		}
	}
	code, _, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", filepath.Join(t.TempDir(), "s.json"), "--key-identity-file", idFile)
	if want := "certform apply: --key-recipient and --key-identity-file are for a shared (PostgreSQL) state; a state file keeps its keys in --key-dir\n"; code != 1 || stderr != want {
		t.Errorf("--key-identity-file with a state file: exit %d\n%q\nwant %q", code, stderr, want)
	}
	if n := len(fake.Orders()); n != 0 {
		t.Fatalf("%d orders after refused flags", n)
	}
	// The identity as a systemd credential, keys sealed to it and to a
	// backup recipient; --key-dir= (empty, as docs/keys.md has it for the
	// installed unit's --key-dir) is no key directory.
	credDir := t.TempDir()
	data, _ := os.ReadFile(idFile)
	if err := os.WriteFile(filepath.Join(credDir, "certform-key-identity"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := apply(append(env, "CREDENTIALS_DIRECTORY="+credDir), "--key-dir=", "--key-recipient", other.Recipient().String(), "--key-recipient", id.Recipient().String())
	if code != 0 || len(fake.Orders()) != 1 {
		t.Fatalf("with the credential: exit %d, %d orders\n%s%s", code, len(fake.Orders()), stdout, stderr)
	}
	deliveredPair(t, certDir, "shop")

	// forget removes the spec's rows; --key-dir is for a state file.
	if code, _, stderr := runBinary(t, env, "forget", "--state", url, "--key-dir", t.TempDir(), "shop"); code != 2 ||
		stderr != "certform forget: --key-dir is for a state file; a shared (PostgreSQL) state keeps its keys in the database\n" {
		t.Errorf("forget --key-dir: exit %d %q", code, stderr)
	}
	code, stdout, stderr = runBinary(t, env, "forget", "--state", url, "shop")
	if code != 0 || !strings.HasSuffix(stdout, "\nRemoved 1 private key of shop from the key store.\n") {
		t.Fatalf("forget: exit %d\n%s%s", code, stdout, stderr)
	}
	var rows int
	if err := srv.Conn(t, dbName(url)).QueryRow(context.Background(), `SELECT count(*) FROM certform.keys`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("%d key rows after forget (%v)", rows, err)
	}
}
