package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certform/certform/digicert/digicerttest"
)

// oneSpecFake starts a fake and writes one spec (host00) to a new folder:
// it returns the fake, the environment that points at it, the spec folder
// and a state file path not created yet.
func oneSpecFake(t *testing.T) (*digicerttest.Server, []string, string, string) {
	t.Helper()
	dir := t.TempDir()
	writeSpecs(t, dir, 1)
	srv, env := startFake(t)
	return srv, env, dir, filepath.Join(t.TempDir(), "s.json")
}

// TestApply_certDirPreflight: a --cert-dir that cannot be created (below
// a regular file: refused as root too) stops apply and run --once before
// any call, with the message and exit 1, instead of after the order.
func TestApply_certDirPreflight(t *testing.T) {
	t.Parallel()
	srv, env, dir, _ := oneSpecFake(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Join(file, "certs")
	for _, cmd := range [][]string{{"apply"}, {"run", "--once"}} {
		st := filepath.Join(t.TempDir(), "s.json")
		args := append(cmd, "--dir", dir, "--state", st, "--cert-dir", certDir)
		code, stdout, stderr := runBinary(t, env, args...)
		want := "certform " + cmd[0] + ": --cert-dir " + certDir + " cannot be created: " + file + " is not a folder; nothing was sent\n" +
			"hint: give --cert-dir a folder certform's user may write (created when missing), such as /var/lib/certform/certs\n"
		if code != 1 || stdout != "" || stderr != want || len(srv.Calls()) != 0 {
			t.Errorf("%s: exit %d, calls %v\nstdout %q\nstderr %q\nwant   %q", cmd[0], code, srv.Calls(), stdout, stderr, want)
		}
	}
}

// TestApplyRun_flagUsage: flags that do not go together, a --listen
// without a port (also with --once, which serves nothing) and run --dev
// with a state (from --state or CERTFORM_STATE) are usage errors, exit 2,
// said in one message before anything starts (no dev fake, no state, no
// call), without the full help.
func TestApplyRun_flagUsage(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := oneSpecFake(t)
	listen := "certform run: --listen \"127.0.0.1\" is not HOST:PORT: missing port in address\nhint: give HOST:PORT, such as --listen 127.0.0.1:9464\n"
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"apply --deploy-hook", nil, []string{"apply", "--dir", dir, "--state", st, "--deploy-hook", "true"}, "certform apply: --deploy-hook needs --cert-dir\n"},
		{"apply --post-hook", nil, []string{"apply", "--dir", dir, "--state", st, "--post-hook", "true"}, "certform apply: --post-hook needs --cert-dir\n"},
		{"run --deploy-hook", nil, []string{"run", "--dir", dir, "--state", st, "--deploy-hook", "true"}, "certform run: --deploy-hook needs --cert-dir\n"},
		{"run --dev --listen", nil, []string{"run", "--dev", "--dir", dir, "--listen", "127.0.0.1"}, listen},
		{"run --once --listen", nil, []string{"run", "--once", "--dir", dir, "--state", st, "--listen", "127.0.0.1"}, listen},
		{"run --listen port", nil, []string{"run", "--dir", dir, "--state", st, "--listen", "127.0.0.1:http-alt-x"},
			"certform run: --listen \"127.0.0.1:http-alt-x\": \"http-alt-x\" is not a port\nhint: give HOST:PORT, such as --listen 127.0.0.1:9464\n"},
		{"run --dev --state", nil, []string{"run", "--dev", "--dir", dir, "--state", st},
			"certform run: --dev keeps its own temporary state; --state would record the fake's order ids in " + st + "\n" +
				"hint: leave out --state with --dev, or --dev to run on this state\n"},
		{"run --dev CERTFORM_STATE", []string{"CERTFORM_STATE=" + st}, []string{"run", "--dev", "--dir", dir},
			"certform run: --dev keeps its own temporary state, but CERTFORM_STATE is set (" + st + "): the fake's order ids would be recorded there\n" +
				"hint: unset CERTFORM_STATE for --dev: env -u CERTFORM_STATE make demo, or env -u CERTFORM_STATE certform run --dev --dir DIR\n"},
	} {
		code, stdout, stderr := runBinary(t, append(c.env, env...), c.args...)
		if code != 2 || stdout != "" || stderr != c.want {
			t.Errorf("%s: exit %d\nstdout %q\nstderr %q\nwant   %q", c.name, code, stdout, stderr, c.want)
		}
	}
	if _, err := os.Stat(st); !os.IsNotExist(err) {
		t.Errorf("state file: %v", err)
	}
	if calls := srv.Calls(); len(calls) != 0 {
		t.Errorf("calls: %v", calls)
	}
}

// TestRun_devDeployHook: --dev delivers into its temporary folder, so a
// --deploy-hook without --cert-dir is no usage error there.
func TestRun_devDeployHook(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeSpecs(t, dir, 1)
	mark := filepath.Join(t.TempDir(), "ran")
	code, stdout, stderr := runBinary(t, nil, "run", "--dev", "--once", "--dir", dir, "--deploy-hook", "touch "+mark)
	if _, err := os.Stat(mark); code != 0 || err != nil {
		t.Fatalf("exit %d, hook: %v\n%s%s", code, err, stdout, stderr)
	}
}

// TestStatePull_missing: state pull refuses a --state that does not exist
// (a typo would print an empty state, and a plan on it would show every
// spec as new), as status does; a folder and an empty file get hints of
// their own.
func TestStatePull_missing(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	missing := filepath.Join(tmp, "nosuch.json")
	code, stdout, stderr := runBinary(t, nil, "state", "pull", "--state", missing)
	want := "certform state pull: state file " + missing + " does not exist\n" +
		"hint: check --state (and the directory it runs in, for a relative path); certform creates a state file on the first apply, import or run\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("missing: exit %d\nstdout %q\nstderr %q\nwant   %q", code, stdout, stderr, want)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("state file: %v", err)
	}
	empty := filepath.Join(tmp, "empty.json")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ cmd, path, want string }{
		{"state pull", tmp, "certform state pull: state file " + tmp + " cannot be read (is a directory); certform will not use or overwrite it\n" +
			"hint: --state names a file, not a folder: give a path such as " + filepath.Join(tmp, "state.json") + "; certform creates it on the first apply, import or run\n"},
		{"status", empty, "certform status: state file " + empty + " is empty (truncated?); certform will not use or overwrite it\n" +
			"hint: if you made this file empty (touch), remove it: certform creates the state file on the first apply, import or run; if it held a state, restore it (see \"Recovering the state file\" in docs/state.md)\n"},
	} {
		code, stdout, stderr := runBinary(t, nil, append(strings.Fields(c.cmd), "--state", c.path)...)
		if code != 1 || stdout != "" || stderr != c.want {
			t.Errorf("%s --state %s: exit %d\nstdout %q\nstderr %q\nwant   %q", c.cmd, c.path, code, stdout, stderr, c.want)
		}
	}
}
