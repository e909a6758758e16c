package cli

import (
	"bytes"
	"strings"
	"testing"
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
