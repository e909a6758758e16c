package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/reconcile"
)

// TestCLI_helpCompletionUnknown: help asked of help is certform's help;
// an unknown shell is a usage error naming the shells; an unknown command
// is one line, a "did you mean" (a swapped pair too) and where the
// commands are listed.
func TestCLI_helpCompletionUnknown(t *testing.T) {
	var help bytes.Buffer
	usage(&help, commands())
	for _, tt := range []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string // exact
	}{
		{name: "help --help", args: []string{"help", "--help"}, code: 0, stdout: help.String()},
		{name: "help -h", args: []string{"help", "-h"}, code: 0, stdout: help.String()},
		{name: "help help", args: []string{"help", "help"}, code: 0, stdout: help.String()},
		{name: "--help help", args: []string{"--help", "help"}, code: 0, stdout: help.String()},
		{name: "an unknown shell", args: []string{"completion", "bsh"}, code: 2,
			stderr: "certform completion: unknown shell \"bsh\"; did you mean bash?\nUse one of bash, zsh, fish, powershell.\n"},
		{name: "a shell nothing like one", args: []string{"completion", "cmd.exe"}, code: 2,
			stderr: "certform completion: unknown shell \"cmd.exe\"\nUse one of bash, zsh, fish, powershell.\n"},
		{name: "a swapped pair", args: []string{"plna"}, code: 2,
			stderr: "certform: unknown command \"plna\"; did you mean plan?\nRun 'certform help' for the commands.\n"},
		{name: "a swapped pair after help", args: []string{"help", "aplpy"}, code: 2,
			stderr: "certform: unknown command \"aplpy\"; did you mean apply?\nRun 'certform help' for the commands.\n"},
		{name: "nothing near", args: []string{"frobnicate"}, code: 2,
			stderr: "certform: unknown command \"frobnicate\"\nRun 'certform help' for the commands.\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(tt.args...)
			if code != tt.code || stdout != tt.stdout || stderr != tt.stderr {
				t.Errorf("exit %d, want %d\nstdout %q\nwant   %q\nstderr %q\nwant   %q", code, tt.code, stdout, tt.stdout, stderr, tt.stderr)
			}
		})
	}
	// The shells named are the ones completion serves.
	for _, sh := range shells {
		if code, stdout, stderr := runCLI("completion", sh); code != 0 || !strings.Contains(stdout, "certform") {
			t.Errorf("completion %s: exit %d\n%s", sh, code, stderr)
		}
	}
}

// TestAdopt_statusTypo: a --status no order has is a usage error (exit 2)
// that lists the live statuses, before any call.
func TestAdopt_statusTypo(t *testing.T) {
	a := newAdoptAccount(t)
	a.srv.ResetRequests()
	code, stdout, stderr := runBinary(t, a.env, "adopt", "--dir", a.dir, "--state", a.st, "--out", "x", "--status", "isued")
	want := "certform adopt: --status isued: no order has this status; did you mean issued?\n" +
		"hint: the live statuses are needs_approval, pending, processing, waiting_pickup, issued, reissue_pending\n"
	if code != exitUsage || stdout != "" || stderr != want {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nwant   %q", code, stdout, stderr, want)
	}
	if c := a.srv.Calls(); len(c) != 0 {
		t.Errorf("calls %v", c)
	}
}

// TestShow_headerWorksAsPrinted: show's first line gives 12 hex digits of
// the state version and specs digest, and an apply command that works as
// printed: DIR and STATE to fill in (the saved plan does not record them),
// or none when CERTFORM_DIR and CERTFORM_STATE give them.
func TestShow_headerWorksAsPrinted(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 1)
	writeSpecsFrom(t, dir, 1, 1)
	saved := filepath.Join(t.TempDir(), "plan.json")
	if code, _, stderr := runBinary(t, env, "plan", "--refresh", "--dir", dir, "--state", st, "--out", saved); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, stderr)
	}
	data, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	p, err := reconcile.ReadSavedPlan(data)
	if err != nil {
		t.Fatal(err)
	}
	versions := fmt.Sprintf("(state version %s, specs %s)", p.StateVersion[:len("sha256:")+12], p.SpecsDigest[:len("sha256:")+12])
	if !regexp.MustCompile(`^\(state version sha256:[0-9a-f]{12}, specs sha256:[0-9a-f]{12}\)$`).MatchString(versions) {
		t.Fatalf("saved digests %q %q", p.StateVersion, p.SpecsDigest)
	}

	srv.ResetRequests()
	code, stdout, stderr := runBinary(t, nil, "show", saved)
	want := fmt.Sprintf("Saved plan %s, made at %s %s; certform apply --dir DIR --state STATE %s (DIR the spec directory and STATE the state it was made with) makes exactly these calls.\n\n",
		saved, p.CreatedAt.UTC().Format(time.RFC3339), versions, saved)
	if code != 0 || !strings.HasPrefix(stdout, want) || stderr != "" {
		t.Errorf("show: exit %d\nstdout %q\nwant   %q...\nstderr %s", code, stdout, want, stderr)
	}

	// With the variables set, the command printed works as printed.
	withVars := append(slices.Clone(env), "CERTFORM_DIR="+dir, "CERTFORM_STATE="+st)
	code, stdout, _ = runBinary(t, withVars, "show", saved)
	first, _, _ := strings.Cut(stdout, "\n")
	_, cmd, _ := strings.Cut(first, "; ")
	cmd, ok := strings.CutSuffix(cmd, " makes exactly these calls.")
	if code != 0 || !ok || cmd != "certform apply "+saved {
		t.Fatalf("show with CERTFORM_DIR and CERTFORM_STATE: exit %d, command %q\n%s", code, cmd, stdout)
	}
	args := strings.Fields(cmd)[1:]
	if code, _, stderr := runBinary(t, withVars, args...); code != 0 || len(writes(srv)) != 1 {
		t.Errorf("%s: exit %d, writes %v\n%s", cmd, code, writes(srv), stderr)
	}
}
