package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestE2E_deployHooks_keyType: the example hooks of examples/deploy-hooks
// run by `certform apply --deploy-hook` for a spec with key_type (certform
// makes the key and delivers privkey.pem) pair the certificate with that key
// and install both; the server is reloaded once. The hooks' key folder
// (CERTFORM_DEPLOY_KEY_DIR, for specs with a CSR) is not certform's key
// store: setting it leaves the store in keys/ beside the state.
func TestE2E_deployHooks_keyType(t *testing.T) {
	if openssl, _ := exec.LookPath("openssl"); openssl == "" {
		t.Skip("the hooks need openssl, which is not installed; hint: apt-get install openssl")
	}
	for _, hook := range []string{"nginx", "haproxy"} {
		t.Run(hook, func(t *testing.T) {
			_, env := startFake(t)
			dir, stDir, root := t.TempDir(), t.TempDir(), t.TempDir()
			st := filepath.Join(stDir, "st.json")
			certDir, deploy, bin, hookKeys := filepath.Join(root, "certs"), filepath.Join(root, "x"), filepath.Join(root, "bin"), filepath.Join(root, "hook-keys")
			for _, d := range []string{bin, hookKeys} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			calls := filepath.Join(root, "systemctl.calls")
			files := map[string]string{
				filepath.Join(dir, "hk.yaml"):   "name: hk\norganization_id: 1\nkey_type: ecdsa-p256\nskip_approval: true\ncommon_name: hk.example.com\n",
				filepath.Join(bin, "systemctl"): "#!/bin/sh\necho \"$*\" >> " + calls + "\n",
			}
			for p, body := range files {
				if err := os.WriteFile(p, []byte(body), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			script, err := filepath.Abs(filepath.Join("examples", "deploy-hooks", hook)) // TestMain runs from the repository root
			if err != nil {
				t.Fatal(err)
			}
			// certform passes a hook PATH and its own variables only: the
			// hook's settings go in the command, as docs/delivery.md says.
			env = append(env, "PATH="+bin+":"+os.Getenv("PATH"), "CERTFORM_DEPLOY_KEY_DIR="+hookKeys)
			code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--cert-dir", certDir,
				"--deploy-hook", "CERTFORM_DEPLOY_DIR="+deploy+" CERTFORM_DEPLOY_KEY_DIR="+hookKeys+" "+script, "--quiet-period", "0s")
			if code != 0 {
				t.Fatalf("apply: exit %d\n%s%s", code, stdout, stderr)
			}
			deliveredPair(t, certDir, "hk")
			read := func(p string) ([]byte, os.FileMode) {
				t.Helper()
				b, err := os.ReadFile(p)
				fi, serr := os.Stat(p)
				if err != nil || serr != nil {
					t.Fatalf("%v %v", err, serr)
				}
				return b, fi.Mode().Perm()
			}
			key, _ := read(filepath.Join(certDir, "hk", "privkey.pem"))
			full, _ := read(filepath.Join(certDir, "hk", "fullchain.pem"))
			want := map[string][]byte{filepath.Join(deploy, "haproxy", "hk.pem"): append(append([]byte{}, full...), key...)}
			if hook == "nginx" {
				want = map[string][]byte{filepath.Join(deploy, "hk", "fullchain.pem"): full, filepath.Join(deploy, "hk", "privkey.pem"): key}
			}
			for p, w := range want {
				got, mode := read(p)
				wantMode := os.FileMode(0o600)
				if filepath.Base(p) == "fullchain.pem" {
					wantMode = 0o644
				}
				if !bytes.Equal(got, w) || mode != wantMode {
					t.Errorf("%s: mode %v (want %v), content as delivered: %v", p, mode, wantMode, bytes.Equal(got, w))
				}
			}
			if got, _ := os.ReadFile(calls); string(got) != "reload "+hook+"\n" {
				t.Errorf("systemctl calls %q, want %q", got, "reload "+hook+"\n")
			}
			if n := len(keyFiles(t, filepath.Join(stDir, "keys"))); n != 1 {
				t.Errorf("key store beside the state holds %d keys, want 1", n)
			}
			if n := len(keyFiles(t, hookKeys)); n != 0 {
				t.Errorf("CERTFORM_DEPLOY_KEY_DIR holds %d files; certform's key store moved there", n)
			}
		})
	}
}
