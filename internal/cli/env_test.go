package cli

import (
	"strings"
	"testing"
)

// withEnv makes the CLI read env instead of the process environment.
func withEnv(t *testing.T, env map[string]string) {
	t.Helper()
	old := lookupEnv
	t.Cleanup(func() { lookupEnv = old })
	lookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// TestCLI_flagsFromEnvironment: every flag is also read from
// CERTFORM_<FLAG>; the command line wins; a bad value names the
// variable; -h shows it; --detailed-exitcode from the environment keeps
// a usage error from reading as "changes".
func TestCLI_flagsFromEnvironment(t *testing.T) {
	for _, tt := range []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stdout string // substring; "" means empty, "*" anything
		stderr string // exact; "*" anything
	}{
		{name: "dir from the environment", env: map[string]string{"CERTFORM_DIR": "examples"}, args: []string{"validate"},
			code: 0, stdout: "6 specs in 7 files: no errors\n"},
		{name: "the command line wins", env: map[string]string{"CERTFORM_DIR": "examples"}, args: []string{"validate", "--dir", "testdata/specs/bad"},
			code: 1, stdout: "*", stderr: "*"},
		{name: "a bad value names the variable", env: map[string]string{"CERTFORM_PARALLELISM": "x"}, args: []string{"apply", "--dir", "d", "--state", "s"},
			code: 2, stderr: "certform apply: invalid value \"x\" in CERTFORM_PARALLELISM for flag --parallelism: parse error\nRun 'certform apply -h' for its flags.\n"},
		{name: "dash becomes underscore", env: map[string]string{"CERTFORM_MAX_CLOCK_SKEW": "-1s"}, args: []string{"plan", "--dir", "d", "--state", "s"},
			code: 2, stderr: "certform plan: --max-revocations, --max-purchases, --resend-after, --max-clock-skew and --quiet-period must not be negative\n"},
		{name: "detailed-exitcode from the environment", env: map[string]string{"CERTFORM_DETAILED_EXITCODE": "true"}, args: []string{"plan", "--refersh"},
			code: 1, stderr: "certform plan: unknown flag --refersh; did you mean --refresh?\nRun 'certform plan -h' for its flags.\n"},
		{name: "-h shows the variable", args: []string{"validate", "-h"},
			code: 0, stdout: "  --dir string\n    \tspec directory to check (required)\n    \tenvironment: CERTFORM_DIR\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			withEnv(t, tt.env)
			code, stdout, stderr := runCLI(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if tt.stdout != "*" && ((tt.stdout == "") != (stdout == "") || !strings.Contains(stdout, tt.stdout)) {
				t.Errorf("stdout %q, want %q", stdout, tt.stdout)
			}
			if tt.stderr != "*" && stderr != tt.stderr {
				t.Errorf("stderr %q, want %q", stderr, tt.stderr)
			}
		})
	}
}
