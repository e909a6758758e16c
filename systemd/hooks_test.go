package systemd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/certform/certform/deliver"
)

// keyFrom is where an example hook finds the key of the certificate.
type keyFrom int

const (
	// fromServer: a spec with a CSR; the operator's key NAME.key in
	// CERTFORM_DEPLOY_KEY_DIR.
	fromServer keyFrom = iota
	// fromHook: a spec with key_type run by certform's --deploy-hook;
	// privkey.pem delivered, and CERTFORM_KEY_FILE set.
	fromHook
	// fromUnit: a spec with key_type run by certform-deploy@.service,
	// which sets no CERTFORM_KEY_FILE; privkey.pem delivered.
	fromUnit
)

func (k keyFrom) String() string {
	return [...]string{"csr", "key_type", "key_type_unit"}[k]
}

// newHookRigFrom delivers a certificate for shop-example-com with
// certform's writer, with its key as privkey.pem unless from is fromServer,
// where the key goes in the key folder instead. With wrongKey, that key is
// another one. Decoys make a hook that looks in the wrong place fail: the
// key folder holds another key when certform delivered the key, and
// CERTFORM_KEY_DIR (certform's own --key-dir, never the hooks') names a
// folder holding another key.
func newHookRigFrom(t *testing.T, wrongKey bool, from keyFrom) *hookRig {
	t.Helper()
	need(t, "openssl", "apt-get install openssl")
	const name = "shop-example-com"
	root := t.TempDir()
	chain, key := newChain(t, "shop.example.com")
	_, other := newChain(t, "shop.example.com")
	if wrongKey {
		key, other = other, key
	}
	b, err := deliver.Parse(chain)
	if err != nil {
		t.Fatal(err)
	}
	keys, decoys, bin := filepath.Join(root, "private"), filepath.Join(root, "certform-keys"), filepath.Join(root, "bin")
	for _, d := range []string{keys, decoys, bin} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path string, b []byte, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path, b, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(decoys, name+".key"), other, 0o600)
	w := &deliver.Writer{Dir: filepath.Join(root, "certs")}
	r := &hookRig{deploy: filepath.Join(root, "ssl"), calls: filepath.Join(root, "systemctl.calls"), key: key}
	if from == fromServer {
		r.keyPath = filepath.Join(keys, name+".key")
		write(r.keyPath, key, 0o600)
		r.delivery, _, err = w.Write(name, b)
	} else {
		write(filepath.Join(keys, name+".key"), other, 0o600)
		r.delivery, _, err = w.WriteWithKey(name, b, key)
	}
	if err != nil {
		t.Fatal(err)
	}
	if from != fromServer {
		// The hook reads the key from the version folder ..data points at.
		v, err := os.Readlink(filepath.Join(r.delivery, "..data"))
		if err != nil {
			t.Fatal(err)
		}
		r.keyPath = filepath.Join(r.delivery, v, deliver.KeyFile)
	}
	write(filepath.Join(bin, "systemctl"), []byte("#!/bin/sh\necho \"$*\" >> "+r.calls+"\n"), 0o755)
	r.env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"),
		"CERTFORM_NAME="+name, "CERTFORM_CERT_DIR="+r.delivery, "CERTFORM_DEPLOY_DIR="+r.deploy,
		"CERTFORM_DEPLOY_KEY_DIR="+keys, "CERTFORM_KEY_DIR="+decoys, "CERTFORM_KEY_FILE=")
	if from == fromHook {
		r.env = append(r.env, "CERTFORM_KEY_FILE="+filepath.Join(r.delivery, deliver.KeyFile))
	}
	return r
}

// hookFile is an installed file the test expects, or expects absent (want
// nil).
type hookFile struct {
	path string
	want []byte
	mode os.FileMode
}

// installedFiles is what hook installs below r.deploy from r's delivery.
func (r *hookRig) installedFiles(t *testing.T, hook string, from keyFrom) []hookFile {
	t.Helper()
	delivered := func(f string) []byte {
		b, _ := readMode(t, filepath.Join(r.delivery, f))
		return b
	}
	if hook == "haproxy" {
		return []hookFile{{filepath.Join(r.deploy, "haproxy", "shop-example-com.pem"),
			append(delivered(deliver.FullchainFile), r.key...), 0o600}}
	}
	dir := filepath.Join(r.deploy, "shop-example-com")
	files := []hookFile{
		{filepath.Join(dir, deliver.CertFile), delivered(deliver.CertFile), 0o644},
		{filepath.Join(dir, deliver.ChainFile), delivered(deliver.ChainFile), 0o644},
		{filepath.Join(dir, deliver.FullchainFile), delivered(deliver.FullchainFile), 0o644},
		{filepath.Join(dir, deliver.KeyFile), nil, 0},
	}
	if from != fromServer {
		files[3].want, files[3].mode = r.key, 0o600
	}
	return files
}

// TestDeployHooks_keySources: each example hook installs a certificate
// whose key certform made and delivered (key_type; run by certform's
// --deploy-hook and by certform-deploy@.service) with that key, and one
// whose key the operator made with the CSR with the key from
// CERTFORM_DEPLOY_KEY_DIR; the files have the delivered content and their
// modes (nginx installs privkey.pem 0600 beside the certificates only when
// certform delivered it), and the server is reloaded once. Run again for
// the same delivery, the hook changes nothing.
func TestDeployHooks_keySources(t *testing.T) {
	for _, hook := range []string{"nginx", "haproxy"} {
		for _, from := range []keyFrom{fromServer, fromHook, fromUnit} {
			t.Run(hook+"/"+from.String(), func(t *testing.T) {
				r := newHookRigFrom(t, false, from)
				for range 2 { // one delivery may start the deploy unit twice
					if out, err := r.run(t, hook); err != nil || out != "" {
						t.Fatalf("hook: %v\n%s", err, out)
					}
				}
				for _, f := range r.installedFiles(t, hook, from) {
					if f.want == nil {
						if _, err := os.Lstat(f.path); !errors.Is(err, os.ErrNotExist) {
							t.Errorf("%s: installed (%v); certform delivered no key", f.path, err)
						}
						continue
					}
					got, mode := readMode(t, f.path)
					if !bytes.Equal(got, f.want) || mode != f.mode {
						t.Errorf("%s: mode %v (want %v), content as expected: %v", f.path, mode, f.mode, bytes.Equal(got, f.want))
					}
				}
				if got, want := r.systemctlCalls(t), "reload "+hook+"\n"; got != want {
					t.Errorf("systemctl calls %q, want %q", got, want)
				}
			})
		}
	}
}

// TestDeployHooks_refused: a certificate that is not for the key the hook
// uses (the delivered privkey.pem, or the operator's key for a spec with a
// CSR), or a key the hook cannot find, installs nothing and reloads
// nothing; the hook exits 1 saying why.
func TestDeployHooks_refused(t *testing.T) {
	for _, hook := range []string{"nginx", "haproxy"} {
		for _, tc := range []struct {
			name    string
			from    keyFrom
			noKey   bool
			message string // %c is the delivered cert.pem, %k the key
		}{
			{"csr", fromServer, false, "certform deploy hook: %c is not for the key %k; nothing installed\n"},
			{"key_type", fromHook, false, "certform deploy hook: %c is not for the key %k; nothing installed\n"},
			{"key_type_unit", fromUnit, false, "certform deploy hook: %c is not for the key %k; nothing installed\n"},
			{"csr_no_key", fromServer, true, "certform deploy hook: cannot read the key %k; nothing installed" +
				" (hint: for a spec with a CSR, put its key there or set CERTFORM_DEPLOY_KEY_DIR to its folder)\n"},
		} {
			t.Run(hook+"/"+tc.name, func(t *testing.T) {
				r := newHookRigFrom(t, !tc.noKey, tc.from)
				if tc.noKey {
					if err := os.Remove(r.keyPath); err != nil {
						t.Fatal(err)
					}
				}
				out, err := r.run(t, hook)
				want := strings.NewReplacer("%c", filepath.Join(r.delivery, deliver.CertFile), "%k", r.keyPath).Replace(tc.message)
				var exit interface{ ExitCode() int } // *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 1 || out != want {
					t.Errorf("hook: %v\n%s\nwant exit 1 and\n%s", err, out, want)
				}
				if _, err := os.Stat(r.deploy); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s exists after a refused deploy: %v", r.deploy, err)
				}
				if got := r.systemctlCalls(t); got != "" {
					t.Errorf("systemctl calls %q, want none", got)
				}
			})
		}
	}
}

// TestDeployHooks_settings: the variables the example hooks read as their
// own settings (those with a default) are no certform flag's variable
// (CERTFORM_<FLAG>, docs/commands.md): setting one for the hook must not
// move certform's folders, as CERTFORM_KEY_DIR, certform's --key-dir, did.
func TestDeployHooks_settings(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "commands.md"))
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z][a-z0-9-]*)`).FindAllSubmatch(doc, -1) {
		flags["CERTFORM_"+strings.ToUpper(strings.ReplaceAll(string(m[1]), "-", "_"))] = "--" + string(m[1])
	}
	if flags["CERTFORM_KEY_DIR"] != "--key-dir" {
		t.Fatalf("docs/commands.md names no --key-dir; found %d flags", len(flags))
	}
	for _, hook := range []string{"nginx", "haproxy"} {
		b, err := os.ReadFile(filepath.Join("..", "examples", "deploy-hooks", hook))
		if err != nil {
			t.Fatal(err)
		}
		settings := regexp.MustCompile(`\$\{(CERTFORM_[A-Z_]+):-[^}]`).FindAllSubmatch(b, -1)
		if len(settings) == 0 {
			t.Fatalf("%s: no settings found", hook)
		}
		for _, m := range settings {
			if flag, ok := flags[string(m[1])]; ok {
				t.Errorf("%s reads %s, which is certform's %s too", hook, m[1], flag)
			}
		}
	}
}

// TestDeployHooks_reloadRetried: a reload that fails after the files were
// installed fails the hook, and the next run (certform's retry) reloads
// although it finds the files installed; a run after that reload reloads
// nothing. The marker that owes the reload is gone after it succeeded.
func TestDeployHooks_reloadRetried(t *testing.T) {
	for _, hook := range []string{"nginx", "haproxy"} {
		t.Run(hook, func(t *testing.T) {
			r := newHookRigFrom(t, false, fromServer)
			// systemctl fails its first call, then succeeds.
			failed := filepath.Join(filepath.Dir(r.calls), "systemctl.failed")
			stub := "#!/bin/sh\necho \"$*\" >> " + r.calls + "\n" +
				"if [ ! -e " + failed + " ]; then : > " + failed + "; exit 1; fi\n"
			if err := os.WriteFile(filepath.Join(filepath.Dir(r.calls), "bin", "systemctl"), []byte(stub), 0o755); err != nil {
				t.Fatal(err)
			}
			reload := "reload " + hook + "\n"
			out, err := r.run(t, hook)
			var exit interface{ ExitCode() int } // *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 || out != "" {
				t.Fatalf("first run: %v\n%s\nwant exit 1 and no output", err, out)
			}
			if got := r.systemctlCalls(t); got != reload {
				t.Fatalf("first run: systemctl calls %q, want %q", got, reload)
			}
			for i, want := range []string{reload + reload, reload + reload} {
				if out, err := r.run(t, hook); err != nil || out != "" {
					t.Fatalf("run %d: %v\n%s", i+2, err, out)
				}
				if got := r.systemctlCalls(t); got != want {
					t.Errorf("after run %d: systemctl calls %q, want %q", i+2, got, want)
				}
			}
			for _, f := range r.installedFiles(t, hook, fromServer) {
				if f.want == nil {
					continue
				}
				if got, _ := readMode(t, f.path); !bytes.Equal(got, f.want) {
					t.Errorf("%s: not the delivered content", f.path)
				}
			}
			marks, err := filepath.Glob(filepath.Join(r.deploy, "*reload-needed*"))
			more, err2 := filepath.Glob(filepath.Join(r.deploy, "*", "*reload-needed*"))
			if err != nil || err2 != nil {
				t.Fatal(err, err2)
			}
			if all := append(marks, more...); len(all) != 0 {
				t.Errorf("reload markers left after the reload: %q", all)
			}
		})
	}
}
