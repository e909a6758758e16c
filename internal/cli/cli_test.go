package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/certform/certform/internal/pgtest"
)

// binary is the certform executable built once for end-to-end tests.
var binary string

// TestMain builds the binary and runs the tests from the repository's
// root, as a user would run certform there: the end-to-end tests read
// examples/, testdata/, README.md and the Makefile by their paths in the
// repository.
func TestMain(m *testing.M) {
	if err := os.Chdir(filepath.Join("..", "..")); err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "certform-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "certform")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		// The end-to-end tests run the binary built with the race
		// detector, so that it sees the CLI and daemon code too.
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building certform: " + err.Error())
	}
	// pgtest.Main runs the tests and stops the PostgreSQL server the
	// end-to-end tests of a PostgreSQL state share.
	code := pgtest.Main(m)
	os.RemoveAll(dir)
	for _, d := range planBenchDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// runCLI calls run with buffers.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// runBinary runs the built binary with env added to a minimal environment.
func runBinary(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

func TestRun_usage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // substring expected on stdout ("" means empty)
		stderr     string // substring expected on stderr ("" means empty)
		exactEmpty bool
	}{
		{name: "no arguments", args: nil, code: 2, stderr: "Usage:\n  certform COMMAND [flags]"},
		{name: "help", args: []string{"help"}, code: 0, stdout: "  validate    check every spec below DIR; no network, no state\n"},
		{name: "help validate", args: []string{"help", "validate"}, code: 0, stdout: "Usage: certform validate --dir DIR [--json]"},
		{name: "validate -h", args: []string{"validate", "-h"}, code: 0, stdout: "  --dir string\n    \tspec directory to check (required)\n"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: "certform: unknown command \"frobnicate\"\nRun 'certform help' for the commands.\n", exactEmpty: true},
		{name: "mistyped command", args: []string{"aply"}, code: 2, stderr: "certform: unknown command \"aply\"; did you mean apply?\nRun 'certform help' for the commands.\n", exactEmpty: true},
		{name: "unknown flag", args: []string{"validate", "--frob"}, code: 2, stderr: "certform validate: unknown flag --frob\nRun 'certform validate -h' for its flags.\n", exactEmpty: true},
		{name: "mistyped flag", args: []string{"plan", "--refersh"}, code: 2, stderr: "certform plan: unknown flag --refersh; did you mean --refresh?\nRun 'certform plan -h' for its flags.\n"},
		{name: "mistyped flag with --detailed-exitcode", args: []string{"plan", "--detailed-exitcode", "--refersh"}, code: 1, stderr: "certform plan: unknown flag --refersh; did you mean --refresh?\n"},
		{name: "missing dir with --detailed-exitcode", args: []string{"plan", "--detailed-exitcode", "--state", "s.json"}, code: 1, stderr: "certform plan: --dir is required\n"},
		{name: "bad value", args: []string{"apply", "--dir", "d", "--state", "s", "--parallelism", "x"}, code: 2, stderr: "certform apply: invalid value \"x\" for flag --parallelism: parse error\n"},
		{name: "bad --api-url", args: []string{"plan", "--refresh", "--dir", "examples", "--state", "s.json", "--api-url", "http://certcentral.example.com/v2"}, code: 2, stderr: "certform plan: digicert: API URL"},
		{name: "missing dir", args: []string{"validate"}, code: 2, stderr: "certform validate: --dir is required\nRun 'certform validate -h' for its flags.\n"},
		{name: "stray argument", args: []string{"validate", "--dir", "examples", "extra"}, code: 2, stderr: "certform validate: unexpected argument \"extra\"\nUsage: certform validate"},
		{name: "version", args: []string{"version"}, code: 0, stdout: "certform "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			check := func(what, got, want string) {
				if want == "" && got != "" {
					t.Errorf("%s: got %q, want nothing", what, got)
				}
				if !strings.Contains(got, want) {
					t.Errorf("%s: got %q, want it to contain %q", what, got, want)
				}
			}
			check("stdout", stdout, tt.stdout)
			check("stderr", stderr, tt.stderr)
		})
	}
}

func TestValidate_examples(t *testing.T) {
	code, stdout, stderr := runBinary(t, nil, "validate", "--dir", "examples")
	if code != 0 || stdout != "6 specs in 7 files: no errors\n" || stderr != "" {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
}

func TestValidate_badCorpus(t *testing.T) {
	code, stdout, stderr := runBinary(t, nil, "validate", "--dir", "testdata/specs/bad")
	if code != 1 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if got := lines[len(lines)-1]; got != "20 specs in 18 files: 64 errors in 15 files" {
		t.Errorf("summary %q", got)
	}
	want := `types.yaml:5:13: disable_ct: must be true or false, got "yes"`
	if !strings.Contains(stdout, want+"\n") {
		t.Errorf("output lacks %q:\n%s", want, stdout)
	}
}

func TestValidate_json(t *testing.T) {
	code, stdout, _ := runBinary(t, nil, "validate", "--json", "--dir", "testdata/specs/bad")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var got struct {
		Specs, Files int
		Valid        []string
		Errors       []map[string]any
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Specs != 20 || got.Files != 18 || len(got.Errors) != 64 {
		t.Errorf("got %d specs, %d files, %d errors", got.Specs, got.Files, len(got.Errors))
	}
	if diff := cmp.Diff([]string{"good-example-com"}, got.Valid); diff != "" {
		t.Errorf("valid (-want +got):\n%s", diff)
	}
	first := got.Errors[0]
	want := map[string]any{"file": "broken-defaults/defaults.yaml", "line": 1.0, "column": 1.0, "field": "name",
		"message": "cannot be set in defaults.yaml; set it in each spec"}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("first error (-want +got):\n%s", diff)
	}
}

// TestValidate_brokenIgnoreFile: a .certformignore that cannot be used is
// reported with what to write, and without the --dir hint, which is for a
// folder that cannot be read.
func TestValidate_brokenIgnoreFile(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{".certformignore": "spec[12.yaml\n", "a.yaml": "name: a\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runBinary(t, nil, "validate", "--dir", dir)
	wantErr := "certform validate: spec directory " + dir + ": .certformignore:1:1: pattern \"spec[12.yaml\": '[' is not closed; write \\[ for a literal [\n"
	if code != 1 || stdout != "" || stderr != wantErr {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nwant   %q", code, stdout, stderr, wantErr)
	}
}

func TestValidate_missingDir(t *testing.T) {
	code, stdout, stderr := runBinary(t, nil, "validate", "--dir", "does-not-exist")
	wantErr := "certform validate: spec directory does-not-exist: no such file or directory\nhint: --dir names the folder that holds your .yaml order specs\n"
	if code != 1 || stdout != "" || stderr != wantErr {
		t.Errorf("exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
}
