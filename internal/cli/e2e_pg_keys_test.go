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
