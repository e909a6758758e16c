package cli

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ciCommand matches a line of a CI script that runs certform (the binary
// as the GitHub workflow installs it, or on PATH as GitLab's does), at the
// start of the script line or after "; ".
var ciCommand = regexp.MustCompile(`(?:^|;\s*)(?:"\$RUNNER_TEMP/certform"|certform) [a-z]`)

// ciCommands returns the certform command lines of a CI file: script lines
// ("- cmd", "run: 'cmd'", lines of a run: | block), with backslash
// continuations joined.
func ciCommands(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	var cont string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cont += strings.TrimSuffix(line, "\\")
			continue
		}
		line, cont = cont+line, ""
		line = strings.TrimPrefix(line, "- ")
		if s, ok := strings.CutPrefix(line, "run: "); ok {
			line = strings.Trim(s, "'")
		}
		if ciCommand.MatchString(line) {
			out = append(out, line)
		}
	}
	return out
}

// TestExamplesCI_commandsRunAgainstFake: the certform commands of
// examples/ci/github-actions.yml and examples/ci/gitlab-ci.yml, taken from
// the files, run with the built binary against the fake CertCentral, in a
// spec repository (the examples), with the shared state pulled from a file
// (state pull), as the pipelines run them: validate passes, the plan is
// Markdown with its summary first and is saved for apply, and the saved
// plan applies.
func TestExamplesCI_commandsRunAgainstFake(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"examples/ci/github-actions.yml", "examples/ci/gitlab-ci.yml"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			cmds := ciCommands(t, file)
			var names []string
			for _, c := range cmds {
				names = append(names, strings.Fields(strings.NewReplacer(`"$RUNNER_TEMP/certform" `, "", "set +e; ", "", "certform ", "").Replace(c))[0])
			}
			if strings.Join(names, " ") != "validate state plan" {
				t.Fatalf("certform commands of %s: %q", file, cmds)
			}
			srv, env := startFake(t)
			repo := copyTree(t, "examples")
			shared := filepath.Join(t.TempDir(), "shared.json")
			if code, _, stderr := runBinary(t, env, "apply", "--dir", repo, "--state", shared); code != 0 {
				t.Fatalf("the server's apply: exit %d\n%s", code, stderr)
			}
			// The merge request turns CT logging back on for one spec (a toggle
			// and the reissue that follows it).
			editFile(t, filepath.Join(repo, "payments", "api.yaml"), "disable_ct: true", "disable_ct: false")
			bin := filepath.Join(t.TempDir(), "bin")
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(binary, filepath.Join(bin, "certform")); err != nil {
				t.Fatal(err)
			}
			runner := t.TempDir() // where the workflow installs the binary
			if err := os.Symlink(binary, filepath.Join(runner, "certform")); err != nil {
				t.Fatal(err)
			}
			srv.ResetRequests()
			for _, c := range cmds {
				c = strings.NewReplacer("${{ secrets.CERTFORM_STATE_URL }}", shared).Replace(c)
				cmd := exec.Command("/bin/sh", "-ec", c)
				cmd.Dir = repo
				cmd.Env = append([]string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "RUNNER_TEMP=" + runner,
					"CERTFORM_STATE_URL=" + shared}, env...)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%s: %v\n%s", c, err, out)
				}
			}
			md, err := os.ReadFile(filepath.Join(repo, "plan.md"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(md), "**Plan: 0 to order, 2 to update, 0 to revoke.**\n") || !strings.Contains(string(md), "~ update api-example-com order ") {
				t.Errorf("plan.md:\n%s", md)
			}
			for _, c := range srv.Calls() {
				if !strings.HasPrefix(c, "GET ") {
					t.Errorf("the pipeline made a write call: %s", c)
				}
			}
			// The server applies the reviewed plan.
			code, _, stderr := runBinary(t, env, "apply", "--dir", repo, "--state", shared, filepath.Join(repo, "plan.json"))
			if code != 0 || len(writes(srv)) != 2 {
				t.Errorf("apply plan.json: exit %d, writes %v\n%s", code, writes(srv), stderr)
			}
		})
	}
}
