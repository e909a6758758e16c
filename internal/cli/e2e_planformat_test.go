package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlan_formatMarkdownAndShow: plan --format markdown prints a
// comment-sized plan (summary first, details folded) and still saves the
// plan with --out, as examples/ci runs it; show prints the saved plan as
// text, JSON and Markdown with no state and no API call.
func TestPlan_formatMarkdownAndShow(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 1)
	writeSpecsFrom(t, dir, 1, 1)
	saved := filepath.Join(t.TempDir(), "plan.json")
	code, stdout, stderr := runBinary(t, env, "plan", "--refresh", "--format", "markdown", "--dir", dir, "--state", st, "--out", saved)
	wantMD := "**Plan: 1 to order, 0 to update, 0 to revoke.**\n\n<details><summary>1 call</summary>\n\n```diff\n+ order  host01  (spec01.yaml:1)\n"
	if code != 0 || !strings.HasPrefix(stdout, wantMD) || !strings.HasSuffix(stdout, "```\n\n</details>\n") || !strings.Contains(stderr, "saved to "+saved) {
		t.Fatalf("plan --format markdown: exit %d\nstdout %q\nstderr %s", code, stdout, stderr)
	}
	srv.ResetRequests()
	code, stdout, stderr = runBinary(t, nil, "show", saved)
	if code != 0 || !strings.HasPrefix(stdout, "Saved plan "+saved+", made at ") || !strings.Contains(stdout, "; certform apply --dir DIR --state STATE "+saved+" (DIR the spec directory and STATE the state it was made with) makes exactly these calls.\n\ncertform will make these calls:\n\n  + order  host01  (spec01.yaml:1)\n") ||
		!strings.HasSuffix(stdout, "\nPlan: 1 to order, 0 to update, 0 to revoke.\n") || stderr != "" {
		t.Errorf("show: exit %d\nstdout %q\nstderr %s", code, stdout, stderr)
	}
	code, stdout, _ = runBinary(t, nil, "show", "--json", saved)
	var decoded struct {
		Kind    string `json:"kind"`
		Actions []struct {
			Kind, Name string
		} `json:"actions"`
		Summary string `json:"summary"`
	}
	if err := json.Unmarshal([]byte(stdout), &decoded); code != 0 || err != nil || decoded.Kind != "certform-plan" || len(decoded.Actions) != 1 || decoded.Actions[0].Name != "host01" {
		t.Errorf("show --json: exit %d, %v %+v\n%s", code, err, decoded, stdout)
	}
	code, stdout, _ = runBinary(t, nil, "show", "--format", "markdown", saved)
	if code != 0 || !strings.HasPrefix(stdout, wantMD) {
		t.Errorf("show --format markdown: exit %d\n%q", code, stdout)
	}
	if calls := srv.Calls(); len(calls) != 0 {
		t.Errorf("show made calls: %v", calls)
	}
	code, _, stderr = runBinary(t, nil, "show", filepath.Join(dir, "spec00.yaml"))
	if code != 1 || !strings.HasPrefix(stderr, "certform show: "+filepath.Join(dir, "spec00.yaml")+": not a saved plan") {
		t.Errorf("show of a spec: exit %d\n%s", code, stderr)
	}
}

// TestPlan_outHintWorksAsPrinted: the command plan --out prints to apply
// the saved plan, with --dir and --state given through CERTFORM_DIR and
// CERTFORM_STATE, runs as printed and makes the call; a missing --state is
// one line and a pointer to -h, not the whole usage.
func TestPlan_outHintWorksAsPrinted(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 1)
	writeSpecsFrom(t, dir, 1, 1)
	saved := filepath.Join(t.TempDir(), "plan.json")
	code, _, stderr := runBinary(t, append(env, "CERTFORM_DIR="+dir, "CERTFORM_STATE="+st), "plan", "--out", saved)
	before, printed, ok := strings.Cut(stderr, "certform plan: saved to "+saved+"; ")
	printed, _, _ = strings.Cut(printed, " makes exactly these calls\n")
	if code != 0 || !ok || before != "" || printed != "certform apply --dir "+dir+" --state "+st+" "+saved {
		t.Fatalf("plan --out: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runBinary(t, env, strings.Fields(strings.TrimPrefix(printed, "certform "))...)
	if code != 0 || len(writes(srv)) != 1 {
		t.Fatalf("%s: exit %d, writes %v\n%s", printed, code, writes(srv), stderr)
	}
	code, stdout, stderr := runBinary(t, env, "plan", "--dir", dir)
	if code != 2 || stdout != "" || stderr != "certform plan: --state is required\nRun 'certform plan -h' for its flags.\n" {
		t.Errorf("missing --state: exit %d\n%q", code, stderr)
	}
}

// TestPlan_formatFlags: --format's values, --json kept as --format json,
// and the combinations refused before anything is read.
func TestPlan_formatFlags(t *testing.T) {
	st := filepath.Join(t.TempDir(), "s.json")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // prefix
		stderr string
	}{
		{"json kept", []string{"--json"}, 0, "{\n  \"format_version\": 1,", ""},
		{"format json", []string{"--format", "json"}, 0, "{\n  \"format_version\": 1,", ""},
		{"format text", []string{"--format", "text"}, 0, "certform will make these calls:\n", ""},
		{"format markdown", []string{"--format", "markdown"}, 0, "**Plan: 5 to order, 0 to update, 0 to revoke.**\n", ""},
		{"compact", []string{"--compact"}, 0, "Plan: 5 to order, 0 to update, 0 to revoke.\n\n  + order  api-example-com  (payments/api.yaml:3)\n", ""},
		{"unknown format", []string{"--format", "yaml"}, 2, "", "certform plan: --format \"yaml\": use text, json or markdown\n"},
		{"two formats", []string{"--json", "--format", "markdown"}, 2, "", "certform plan: --json and --format markdown ask for two formats: use one\n"},
		{"compact markdown", []string{"--compact", "--format", "markdown"}, 2, "", "certform plan: --compact is for --format text, not markdown\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"plan", "--dir", "examples", "--state", st}, tt.args...), &stdout, &stderr)
			if code != tt.code || !strings.HasPrefix(stdout.String(), tt.stdout) || (tt.stdout == "" && stdout.Len() > 0) || stderr.String() != tt.stderr {
				t.Errorf("exit %d, want %d\nstdout %q\nstderr %q\nwant   %q", code, tt.code, stdout.String(), stderr.String(), tt.stderr)
			}
		})
	}
}

// TestPlan_compactDefault: on a terminal, a plan of more than 50 calls is
// compact unless --compact=false; 50 calls, or no terminal, are not.
func TestPlan_compactDefault(t *testing.T) {
	onTerminal := true
	old := stdoutTerminal
	stdoutTerminal = func(io.Writer) bool { return onTerminal }
	t.Cleanup(func() { stdoutTerminal = old })
	dir := t.TempDir()
	writeSpecs(t, dir, 51)
	st := filepath.Join(t.TempDir(), "s.json")
	plan := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"plan", "--dir", dir, "--state", st, "--max-purchases", "1000"}, args...), &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr.String())
		}
		return stdout.String()
	}
	const summary = "Plan: 51 to order, 0 to update, 0 to revoke.\n"
	out := plan()
	if !strings.HasPrefix(out, summary+"\n  + order  host00  (spec00.yaml:1)\n  + order  host01  (spec01.yaml:1)\n") || !strings.HasSuffix(out, "  + order  host50  (spec50.yaml:1)\n\n"+summary) {
		t.Errorf("51 calls on a terminal: not compact\n%s", out)
	}
	if out := plan("--compact=false"); !strings.Contains(out, "        common_name: host00.example.com\n") {
		t.Errorf("--compact=false: compact\n%s", out)
	}
	onTerminal = false
	if out := plan(); !strings.HasPrefix(out, "certform will make these calls:\n") {
		t.Errorf("no terminal: compact\n%s", out)
	}
	onTerminal = true
	writeSpecs(t, dir, 50)
	if err := os.Remove(filepath.Join(dir, "spec50.yaml")); err != nil {
		t.Fatal(err)
	}
	if out := plan(); !strings.HasPrefix(out, "certform will make these calls:\n") {
		t.Errorf("50 calls: compact\n%s", out)
	}
}
