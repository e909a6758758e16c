package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/reconcile"
)

// pgKeyTypeSpecs starts the fake CertCentral and a PostgreSQL state (at
// url, env set for both) over a spec directory with one spec with a CSR and
// shop, a spec with key_type.
func pgKeyTypeSpecs(t *testing.T) (*digicerttest.Server, []string, string, string) {
	t.Helper()
	fake, env := startFake(t)
	_, url, env := pgState(t, env)
	dir := t.TempDir()
	writeSpecs(t, dir, 1)
	if err := os.WriteFile(filepath.Join(dir, "shop.yaml"), []byte("name: shop\ncommon_name: shop.example.com\norganization_id: 1\nkey_type: ecdsa-p256\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fake, env, url, dir
}

// TestPG_keyTypePlan: plan on a shared (PostgreSQL) state tells what
// apply would do with a new spec with key_type: without an age identity
// it is blocked (blocked_by key_store, the note naming
// --key-identity-file, exit 1 with --detailed-exitcode), with
// --key-identity-file or the systemd credential it is an order (exit 2).
// Plan makes no call.
func TestPG_keyTypePlan(t *testing.T) {
	fake, env, url, dir := pgKeyTypeSpecs(t)
	idFile, _ := ageIdentityFile(t)
	plan := func(env []string, extra ...string) (int, reconcile.JSONPlan, string) {
		t.Helper()
		code, stdout, stderr := runBinary(t, env, append([]string{"plan", "--dir", dir, "--state", url, "--json", "--detailed-exitcode", "--quiet-period", "0s"}, extra...)...)
		var p reconcile.JSONPlan
		if err := json.Unmarshal([]byte(stdout), &p); err != nil {
			t.Fatalf("plan %v: exit %d, not JSON: %v\n%s%s", extra, code, err, stdout, stderr)
		}
		return code, p, stderr
	}

	code, p, stderr := plan(env)
	if code != 1 || len(p.Blocked) != 1 || p.Blocked[0].Name != "shop" || p.Blocked[0].Kind != reconcile.KindOrder || p.Blocked[0].BlockedBy != "key_store" {
		t.Fatalf("without an identity: exit %d, blocked %+v\n%s", code, p.Blocked, stderr)
	}
	if len(p.Actions) != 1 || p.Actions[0].Name == "shop" || p.Summary.Order != 1 {
		t.Fatalf("without an identity: actions %+v, summary %+v", p.Actions, p.Summary)
	}
	want := reconcile.Note{Kind: reconcile.NoteBlocked, Name: "shop",
		Message: "the spec has key_type, but this state has no key store to keep the key certform would make; it is not ordered",
		Hint:    "a shared (PostgreSQL) state keeps keys sealed with age: give --key-identity-file FILE (or the systemd credential certform-key-identity), or give this spec a csr or csr_file"}
	if !slices.Contains(p.Notes, want) {
		t.Fatalf("without an identity: notes %+v", p.Notes)
	}

	credDir := t.TempDir()
	data, err := os.ReadFile(idFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(credDir, "certform-key-identity"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	for what, c := range map[string]struct {
		env  []string
		args []string
	}{
		"--key-identity-file": {env, []string{"--key-identity-file", idFile}},
		"the credential":      {append(append([]string{}, env...), "CREDENTIALS_DIRECTORY="+credDir), nil},
	} {
		code, p, stderr := plan(c.env, c.args...)
		if code != 2 || len(p.Blocked) != 0 || len(p.Actions) != 2 || p.Summary.Order != 2 || slices.Contains(p.Notes, want) {
			t.Errorf("with %s: exit %d, actions %+v, blocked %+v, notes %+v\n%s", what, code, p.Actions, p.Blocked, p.Notes, stderr)
		}
	}

	// An identity file that does not parse fails as apply's does; a state
	// file refuses the flag as apply does.
	bad := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(bad, []byte("AGE-SECRET-KEY-1 is not here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runBinary(t, env, "plan", "--dir", dir, "--state", url, "--key-identity-file", bad); code != 1 || stdout != "" ||
		stderr != "certform plan: "+bad+":1: malformed age identity\n" {
		t.Errorf("a bad identity file: exit %d\n%s%q", code, stdout, stderr)
	}
	code, _, stderr = runBinary(t, env, "plan", "--dir", dir, "--state", filepath.Join(t.TempDir(), "s.json"), "--key-identity-file", idFile)
	if want := "certform plan: --key-identity-file is for a shared (PostgreSQL) state; a state file keeps its keys in --key-dir\n"; code != 1 || stderr != want {
		t.Errorf("--key-identity-file with a state file: exit %d\n%q\nwant %q", code, stderr, want)
	}
	if calls := fake.Calls(); len(calls) != 0 {
		t.Errorf("plan made calls: %q", calls)
	}
}
