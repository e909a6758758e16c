package cli

import (
	"path/filepath"

	"bytes"
	"context"
	"errors"
	"github.com/certform/certform/digicert/digicerttest"
	"strings"
	"testing"
)

// mainWith runs Main with env as the whole environment.
func mainWith(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code = Main(context.Background(), args, lookup, Stdio{Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

// TestMain_cobra: the commands cobra adds (completion), the environment
// Main is given (not the process's), long flags with one dash as before,
// and flag errors as one line and a pointer to -h.
func TestMain_cobra(t *testing.T) {
	for _, tt := range []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stdout string // substring; "" means empty
		stderr string // exact
	}{
		{name: "completion bash", args: []string{"completion", "bash"}, code: 0, stdout: "# bash completion V2 for certform"},
		{name: "completion zsh", args: []string{"completion", "zsh"}, code: 0, stdout: "#compdef certform"},
		{name: "completion fish", args: []string{"completion", "fish"}, code: 0, stdout: "# fish completion for certform"},
		{name: "help lists completion", args: []string{"help"}, code: 0,
			stdout: "  completion  print a shell completion script (bash, zsh, fish, powershell)\n"},
		{name: "completion of a command", args: []string{"__complete", "vali"}, code: 0, stdout: "validate\tcheck every spec below DIR",
			stderr: "Completion ended with directive: ShellCompDirectiveNoFileComp\n"},
		{name: "completion of a flag", args: []string{"__complete", "plan", "--refr"}, code: 0, stdout: "--refresh\tread CertCentral first (GET calls only): the order list",
			stderr: "Completion ended with directive: ShellCompDirectiveNoFileComp\n"},
		{name: "the environment Main is given", env: map[string]string{"CERTFORM_DIR": "examples"}, args: []string{"validate"},
			code: 0, stdout: "6 specs in 7 files: no errors\n"},
		{name: "one dash, as Go's flag package took it", args: []string{"validate", "-dir", "examples", "-json=false"},
			code: 0, stdout: "6 specs in 7 files: no errors\n"},
		{name: "-help", args: []string{"validate", "-help"}, code: 0, stdout: "Usage: certform validate --dir DIR"},
		{name: "a missing --state is one line and a pointer", args: []string{"status"}, code: 2,
			stderr: "certform status: --state is required\nRun 'certform status -h' for its flags.\n"},
		{name: "a flag without its value", args: []string{"status", "--state"}, code: 2,
			stderr: "certform status: flag needs an argument: --state\nRun 'certform status -h' for its flags.\n"},
		{name: "an unknown flag of a subcommand", args: []string{"state", "pull", "--stat", "s.json"}, code: 2,
			stderr: "certform state pull: unknown flag --stat; did you mean --state?\nRun 'certform state pull -h' for its flags.\n"},
		{name: "a duration out of range", args: []string{"plan", "--resend-after", "1x"}, code: 2,
			stderr: "certform plan: invalid value \"1x\" for flag --resend-after: parse error\nRun 'certform plan -h' for its flags.\n"},
		{name: "an int out of range", args: []string{"apply", "--parallelism", "99999999999999999999"}, code: 2,
			stderr: "certform apply: invalid value \"99999999999999999999\" for flag --parallelism: value out of range\nRun 'certform apply -h' for its flags.\n"},
		{name: "a boolean's value, in Go's flag package's words", args: []string{"validate", "--json=maybe"}, code: 2,
			stderr: "certform validate: invalid boolean value \"maybe\" for --json: parse error\nRun 'certform validate -h' for its flags.\n"},
		{name: "--refresh alone is true, --refresh=full is help's", args: []string{"plan", "-h"}, code: 0,
			stdout: "  --refresh\n    \tread CertCentral first"},
		{name: "state -h lists its subcommands", args: []string{"state", "-h"}, code: 0, stdout: "Usage:\n  certform state SUBCOMMAND [flags]\n\nSubcommands:\n  migrate"},
		{name: "help state", args: []string{"help", "state"}, code: 0, stdout: "Subcommands:\n  migrate"},
		{name: "help state pull", args: []string{"state", "pull", "-h"}, code: 0, stdout: "Usage: certform state pull --state STATE [--workspace NAME]\n"},
		{name: "--version", args: []string{"--version", "--json"}, code: 0, stdout: `"version":`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := mainWith(tt.env, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if (tt.stdout == "") != (stdout == "") || !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout %q, want %q", stdout, tt.stdout)
			}
			if stderr != tt.stderr {
				t.Errorf("stderr %q, want %q", stderr, tt.stderr)
			}
		})
	}
}

// TestMain_canceled: a command that waits (fake-server) stops when Main's
// context ends, as on the first SIGINT or SIGTERM, with exit 0.
func TestMain_canceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	if code := Main(ctx, []string{"fake-server"}, func(string) (string, bool) { return "", false }, Stdio{Stdout: &out, Stderr: &errb}); code != 0 {
		t.Errorf("exit %d\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "fake CertCentral stopped") {
		t.Errorf("stderr %q", errb.String())
	}
}

// TestPrintError: an error with hints prints them as hint: lines after
// the error, also when wrapped; Error() is the error alone.
func TestPrintError(t *testing.T) {
	err := withHint(errors.New("the state is not empty"), "migrate into a new state file", "or empty this one")
	if err.Error() != "the state is not empty" {
		t.Errorf("Error() = %q", err.Error())
	}
	var b bytes.Buffer
	printError(&b, "state migrate", errors.Join(err))
	want := "certform state migrate: the state is not empty\nhint: migrate into a new state file\nhint: or empty this one\n"
	if b.String() != want {
		t.Errorf("got %q\nwant %q", b.String(), want)
	}
	b.Reset()
	printError(&b, "plan", errors.New("plain"))
	if b.String() != "certform plan: plain\n" {
		t.Errorf("got %q", b.String())
	}
}

// TestMain_apiEnvironment: the API key and URL come from the environment
// Main is given, not from the process's.
func TestMain_apiEnvironment(t *testing.T) {
	fake := digicerttest.New("env-key")
	url := fake.Start()
	defer fake.Close()
	st := filepath.Join(t.TempDir(), "state.json")
	args := []string{"plan", "--refresh", "--dir", "examples", "--state", st}
	env := map[string]string{"DIGICERT_API_KEY": "env-key", "DIGICERT_API_URL": url}
	if code, stdout, stderr := mainWith(env, args...); code != 0 || !strings.Contains(stdout, "certform will make these calls") {
		t.Errorf("with the key in Main's environment: exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	code, _, stderr := mainWith(map[string]string{"DIGICERT_API_URL": url, "DIGICERT_API_KEY_FILE": ""}, args...)
	if code != 1 || !strings.HasPrefix(stderr, "certform plan: no DigiCert API key\nhint: set DIGICERT_API_KEY") {
		t.Errorf("without it: exit %d, stderr %q", code, stderr)
	}
}
