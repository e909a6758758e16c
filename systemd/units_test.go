// Package systemd holds the systemd units certform ships (installed by make
// install and the .deb). It has no Go code; its tests check the deploy
// units: certform-deploy@.path and certform-deploy@.service, which run a
// deploy hook with the privileges a deploy needs while certform.service
// keeps none, and the example hooks in examples/deploy-hooks.
package systemd

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/deliver"
)

// deployUnits are the files the deploy set-up adds.
var deployUnits = []string{"certform-deploy@.path", "certform-deploy@.service"}

// need returns the path of a program the test needs, skipping with a hint
// when it is missing, except under CI=true, where it fails.
func need(t *testing.T, prog, hint string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err == nil {
		return p
	}
	msg := prog + " is not installed; hint: " + hint
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// installed writes the deploy units into a temporary folder with the
// placeholders make install fills in, and returns their paths.
func installed(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, u := range deployUnits {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("@DOCDIR@"), []byte("/usr/share/doc/certform"))
		b = bytes.ReplaceAll(b, []byte("@BINDIR@"), []byte("/usr/bin"))
		p := filepath.Join(dir, u)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// TestDeployUnits_verify: systemd-analyze verify finds nothing to say about
// the path unit and the service it starts.
func TestDeployUnits_verify(t *testing.T) {
	sa := need(t, "systemd-analyze", "apt-get install systemd")
	out, err := exec.Command(sa, append([]string{"verify"}, installed(t)...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestDeployUnits_security: systemd-analyze security --offline rates the
// deploy service 1.5 or better, the target certform.service meets, although
// it runs as root: the sandbox leaves it one capability, one writable folder
// and no network.
func TestDeployUnits_security(t *testing.T) {
	sa := need(t, "systemd-analyze", "apt-get install systemd")
	svc := installed(t)[1]
	out, err := exec.Command(sa, "security", "--offline=yes", "--threshold=15", svc).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	level, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("certform-deploy@.service: exposure %.1f", level)
	if level > 1.5 {
		t.Errorf("exposure %.1f, want 1.5 or better:\n%s", level, out)
	}
}

// directives returns every value of key= in a unit file.
func directives(t *testing.T, file, key string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			vals = append(vals, v)
		}
	}
	return vals
}

// TestDeployUnits_contract: the path unit watches the spec's folder in the
// folder certform.service delivers into (its StateDirectory below
// /var/lib/private, since it runs with DynamicUser=), where each delivery
// adds a version folder and swaps ..data,
// and starts the service of the same spec; the service may read that
// folder, write only below /etc/ssl/certform, and passes the hook the
// environment certform's own --deploy-hook gets.
func TestDeployUnits_contract(t *testing.T) {
	main := "certform.service"
	if got := directives(t, main, "DynamicUser"); len(got) != 1 || got[0] != "yes" {
		t.Fatalf("%s: DynamicUser=%q; the deploy path unit watches /var/lib/private, which only a dynamic user's StateDirectory uses", main, got)
	}
	if exec := directives(t, main, "ExecStart"); len(exec) != 1 || !strings.Contains(exec[0], " --cert-dir %S/certform/certs ") {
		t.Fatalf("%s: ExecStart=%q does not deliver into %%S/certform/certs", main, exec)
	}
	if got, want := directives(t, "certform-deploy@.path", "PathChanged"), []string{"/var/lib/private/certform/certs/%i"}; !equal(got, want) {
		t.Errorf("PathChanged=%q, want %q", got, want)
	}
	if got, want := directives(t, "certform-deploy@.path", "Unit"), []string{"certform-deploy@%i.service"}; !equal(got, want) {
		t.Errorf("Unit=%q, want %q", got, want)
	}
	svc := "certform-deploy@.service"
	for key, want := range map[string][]string{
		"CapabilityBoundingSet": {"CAP_DAC_READ_SEARCH"},
		"ReadWritePaths":        {"-/etc/ssl/certform"},
		"ProtectSystem":         {"strict"},
		"NoNewPrivileges":       {"yes"},
		"PrivateUsers":          nil, // root's own identity: it reloads a web server and writes root's files
		"ExecStart":             {"/bin/sh -eu /etc/certform/deploy-hook"},
		"Environment":           {"CERTFORM_NAME=%i", "CERTFORM_CERT_DIR=/var/lib/private/certform/certs/%i"},
	} {
		if got := directives(t, svc, key); !equal(got, want) {
			t.Errorf("%s: %s=%q, want %q", svc, key, got, want)
		}
	}

	// The link the path unit watches is the one certform's writer swaps.
	certs := t.TempDir()
	chain, _ := newChain(t, "shop.example.com")
	b, err := deliver.Parse(chain)
	if err != nil {
		t.Fatal(err)
	}
	w := &deliver.Writer{Dir: certs}
	if _, _, err := w.Write("shop-example-com", b); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(certs, "shop-example-com", "..data"))
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("after a delivery, shop-example-com/..data is not a symlink: %v %v", fi, err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// newChain makes a root, an intermediate and a leaf for name, and returns
// them as DigiCert's pem_all (leaf, intermediate, root) and the leaf's key
// in PKCS#8 PEM.
func newChain(t *testing.T, name string) (pemAll, keyPEM []byte) {
	t.Helper()
	now := time.Now()
	mk := func(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ca := func(serial int64, cn string) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), IsCA: true,
			BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	rootKey, interKey, leafKey := key(), key(), key()
	rootTmpl := ca(1, "test root")
	root := mk(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	inter := mk(ca(2, "test intermediate"), root, &interKey.PublicKey, rootKey)
	leaf := mk(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}, inter, &leafKey.PublicKey, interKey)
	for _, c := range []*x509.Certificate{leaf, inter, root} {
		pemAll = append(pemAll, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	der, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	return pemAll, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// hookRig is an example hook's world: a certificate for shop-example-com
// delivered with certform's writer, the key the hook should find (or
// another key, with wrongKey), a deploy folder, and a systemctl on PATH that
// records its arguments. newHookRigFrom (hooks_test.go) builds it.
type hookRig struct {
	env      []string
	deploy   string // CERTFORM_DEPLOY_DIR
	calls    string // file the fake systemctl appends to
	delivery string // CERTFORM_CERT_DIR
	key      []byte // the key the hook should pair with the certificate
	keyPath  string // where the hook finds that key
}

// newHookRig is the rig of a spec with a CSR: the server's own key in
// CERTFORM_DEPLOY_KEY_DIR.
func newHookRig(t *testing.T, wrongKey bool) *hookRig {
	t.Helper()
	return newHookRigFrom(t, wrongKey, fromServer)
}

// run runs an example hook the way certform-deploy@.service does.
func (r *hookRig) run(t *testing.T, hook string) (string, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-eu", filepath.Join("..", "examples", "deploy-hooks", hook))
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (r *hookRig) systemctlCalls(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(r.calls)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func readMode(t *testing.T, path string) ([]byte, os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return b, fi.Mode().Perm()
}

// TestDeployHook_nginx: the nginx example copies the three files certform
// delivered to CERTFORM_DEPLOY_DIR/NAME (0644) and reloads nginx once; run
// again for the same delivery, it does nothing.
func TestDeployHook_nginx(t *testing.T) {
	r := newHookRig(t, false)
	for range 2 { // one delivery may start the deploy unit twice
		if out, err := r.run(t, "nginx"); err != nil {
			t.Fatalf("hook: %v\n%s", err, out)
		}
	}
	for _, f := range []string{"cert.pem", "chain.pem", "fullchain.pem"} {
		want, _ := readMode(t, filepath.Join(r.delivery, f))
		got, mode := readMode(t, filepath.Join(r.deploy, "shop-example-com", f))
		if !bytes.Equal(got, want) || mode != 0o644 {
			t.Errorf("%s: mode %v, same as delivered: %v", f, mode, bytes.Equal(got, want))
		}
	}
	if got := r.systemctlCalls(t); got != "reload nginx\n" {
		t.Errorf("systemctl calls %q, want %q", got, "reload nginx\n")
	}
}

// TestDeployHook_haproxy: the HAProxy example writes NAME.pem, the full
// chain then the key, 0600, and reloads HAProxy once; run again for the same
// delivery, it does nothing.
func TestDeployHook_haproxy(t *testing.T) {
	r := newHookRig(t, false)
	for range 2 { // one delivery may start the deploy unit twice
		if out, err := r.run(t, "haproxy"); err != nil {
			t.Fatalf("hook: %v\n%s", err, out)
		}
	}
	full, _ := readMode(t, filepath.Join(r.delivery, "fullchain.pem"))
	got, mode := readMode(t, filepath.Join(r.deploy, "haproxy", "shop-example-com.pem"))
	if want := append(append([]byte{}, full...), r.key...); !bytes.Equal(got, want) || mode != 0o600 {
		t.Errorf("shop-example-com.pem: mode %v, full chain then key: %v", mode, bytes.Equal(got, want))
	}
	if got := r.systemctlCalls(t); got != "reload haproxy\n" {
		t.Errorf("systemctl calls %q, want %q", got, "reload haproxy\n")
	}
}

// TestDeployHook_wrongKey: a certificate that is not for the server's key is
// not installed and nothing is reloaded; the hook fails saying why.
func TestDeployHook_wrongKey(t *testing.T) {
	for _, hook := range []string{"nginx", "haproxy"} {
		t.Run(hook, func(t *testing.T) {
			r := newHookRig(t, true)
			out, err := r.run(t, hook)
			if err == nil || !strings.Contains(out, "is not for the key") || !strings.Contains(out, "nothing installed") {
				t.Errorf("hook: %v\n%s", err, out)
			}
			if _, err := os.Stat(r.deploy); !os.IsNotExist(err) {
				t.Errorf("%s exists after a refused deploy: %v", r.deploy, err)
			}
			if got := r.systemctlCalls(t); got != "" {
				t.Errorf("systemctl calls %q, want none", got)
			}
		})
	}
}

// waitScript returns the deploy service's ExecStartPre as the shell runs it
// ($$ unescaped), with its limit of 600 tries of 0.1 s set to tries.
func waitScript(t *testing.T, tries string) string {
	t.Helper()
	pre := directives(t, "certform-deploy@.service", "ExecStartPre")
	if len(pre) != 1 || !strings.HasPrefix(pre[0], "/bin/sh -c '") || !strings.HasSuffix(pre[0], "'") || strings.Contains(pre[0], "%") {
		t.Fatalf("ExecStartPre=%q: want one /bin/sh -c '...' without specifiers", pre)
	}
	script := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(pre[0], "/bin/sh -c '"), "'"), "$$", "$")
	if !strings.Contains(script, "-gt 600 ") {
		t.Fatalf("no limit of 600 tries in %s", script)
	}
	return strings.Replace(script, "-gt 600 ", "-gt "+tries+" ", 1)
}

// TestDeployUnits_waitsForTheSwap: the deploy service's ExecStartPre, run
// when the path unit saw a delivery's first change, returns once ..data
// points at the newest version folder, not before; after a delivery that
// completed it returns at once, and when the newest folder is never swapped
// in (a crashed delivery) it gives up after its limit, saying so, and lets
// the hook deploy what ..data points at.
func TestDeployUnits_waitsForTheSwap(t *testing.T) {
	certs := t.TempDir()
	chain, _ := newChain(t, "shop.example.com")
	b, err := deliver.Parse(chain)
	if err != nil {
		t.Fatal(err)
	}
	dir, _, err := (&deliver.Writer{Dir: certs}).Write("shop-example-com", b)
	if err != nil {
		t.Fatal(err)
	}
	run := func(script string) *exec.Cmd {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Env = append(os.Environ(), "CERTFORM_CERT_DIR="+dir)
		return cmd
	}

	// A completed delivery: nothing to wait for.
	if out, err := run(waitScript(t, "600")).CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("after a completed delivery: %v %q", err, out)
	}

	// A delivery under way: its version folder is there, ..data not swapped.
	next := "..2999_01_01_00_00_00.000000000"
	if err := os.Mkdir(filepath.Join(dir, next), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(waitScript(t, "2")).CombinedOutput(); err != nil || !strings.Contains(string(out), "does not point at the newest version folder "+next) {
		t.Fatalf("with the newest folder never swapped in: %v %q", err, out)
	}
	cmd := run(waitScript(t, "600"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("returned before the swap: %v %q", err, out.String())
	default:
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(next, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || out.Len() > 0 {
		t.Fatalf("after the swap: %v %q", err, out.String())
	}
}
