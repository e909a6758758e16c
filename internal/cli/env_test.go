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
			code: 2, stderr: "certform plan: invalid value \"-1s\" in CERTFORM_MAX_CLOCK_SKEW for flag --max-clock-skew: must not be negative\nRun 'certform plan -h' for its flags.\n"},
		{name: "a value the command refuses names the variable", env: map[string]string{"CERTFORM_DIR": "specs", "CERTFORM_STATE": "s.json", "CERTFORM_FORMAT": "yaml"}, args: []string{"plan"},
			code: 2, stderr: "certform plan: invalid value \"yaml\" in CERTFORM_FORMAT for flag --format: use text, json or markdown\nRun 'certform plan -h' for its flags.\n"},
		{name: "show's --format too", env: map[string]string{"CERTFORM_FORMAT": "yaml"}, args: []string{"show", "plan.json"},
			code: 2, stderr: "certform show: invalid value \"yaml\" in CERTFORM_FORMAT for flag --format: use text, json or markdown\nRun 'certform show -h' for its flags.\n"},
		{name: "a log level", env: map[string]string{"CERTFORM_LOG_LEVEL": "verbose"}, args: []string{"plan", "--dir", "d", "--state", "s"},
			code: 2, stderr: "certform plan: invalid value \"verbose\" in CERTFORM_LOG_LEVEL for flag --log-level: use debug, info, warn or error\nRun 'certform plan -h' for its flags.\n"},
		{name: "a log format", env: map[string]string{"CERTFORM_LOG_FORMAT": "xml"}, args: []string{"apply", "--dir", "d", "--state", "s"},
			code: 2, stderr: "certform apply: invalid value \"xml\" in CERTFORM_LOG_FORMAT for flag --log-format: use text or json\nRun 'certform apply -h' for its flags.\n"},
		{name: "a negative limit names that one variable", env: map[string]string{"CERTFORM_MAX_PURCHASES": "-5"}, args: []string{"plan", "--dir", "d", "--state", "s"},
			code: 2, stderr: "certform plan: invalid value \"-5\" in CERTFORM_MAX_PURCHASES for flag --max-purchases: must not be negative\nRun 'certform plan -h' for its flags.\n"},
		{name: "a duration without a unit", env: map[string]string{"CERTFORM_QUIET_PERIOD": "5"}, args: []string{"plan", "--dir", "d", "--state", "s"},
			code: 2, stderr: "certform plan: invalid value \"5\" in CERTFORM_QUIET_PERIOD for flag --quiet-period: parse error\nhint: a duration takes a unit: 30s, 5m, 1h30m\nRun 'certform plan -h' for its flags.\n"},
		{name: "a parallelism below 1", env: map[string]string{"CERTFORM_PARALLELISM": "0"}, args: []string{"apply", "--dir", "d", "--state", "s"},
			code: 2, stderr: "certform apply: invalid value \"0\" in CERTFORM_PARALLELISM for flag --parallelism: must be at least 1\nRun 'certform apply -h' for its flags.\n"},
		{name: "run's intervals", env: map[string]string{"CERTFORM_POLL_INTERVAL": "0s"}, args: []string{"run", "--dir", "d", "--state", "s"},
			code: 2, stderr: "certform run: invalid value \"0s\" in CERTFORM_POLL_INTERVAL for flag --poll-interval: must be positive\nRun 'certform run -h' for its flags.\n"},
		{name: "under --detailed-exitcode a refused variable is 1", env: map[string]string{"CERTFORM_DETAILED_EXITCODE": "true", "CERTFORM_FORMAT": "yaml"}, args: []string{"plan", "--dir", "d", "--state", "s"},
			code: 1, stderr: "certform plan: invalid value \"yaml\" in CERTFORM_FORMAT for flag --format: use text, json or markdown\nRun 'certform plan -h' for its flags.\n"},
		{name: "the command line wins over a variable it would refuse", env: map[string]string{"CERTFORM_FORMAT": "yaml"}, args: []string{"plan", "--dir", "d", "--state", "s", "--format", "json", "--max-purchases", "0"},
			code: 1, stdout: "*", stderr: "*"},
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
