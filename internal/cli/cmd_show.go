package cli

import (
	"fmt"
	"github.com/spf13/pflag"
	"io"
	"os"
	"strings"
	"time"

	"github.com/certform/certform/internal/cli/view"
	"github.com/certform/certform/reconcile"
)

// Plan output formats (plan --format, show --format).
const (
	formatText     = "text"
	formatJSON     = "json"
	formatMarkdown = "markdown"
)

// compactAbove is the number of calls above which plan prints one line a
// call by default when its output is a terminal (issue 25: a 300-spec plan
// was 1,504 lines). --compact=false asks for the details anyway.
const compactAbove = 50

// outputFlags are plan's and show's --format and --compact.
type outputFlags struct {
	format  string
	compact bool
}

func (f *outputFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.format, "format", formatText, "output format: text, json or markdown (a comment-sized plan for a merge request: summary first, destructive calls called out, details folded)")
	fs.BoolVar(&f.compact, "compact", false, fmt.Sprintf("text format: one line a call, the summary first and last (the default on a terminal for more than %d calls)", compactAbove))
}

// resolve checks --format against --json (kept: the same as --format
// json) and returns the format.
func (f *outputFlags) resolve(asJSON bool) (string, error) {
	switch f.format {
	case formatText, formatJSON, formatMarkdown:
	default:
		return "", fmt.Errorf("--format %q: use text, json or markdown", f.format)
	}
	if asJSON {
		if f.format != formatText && f.format != formatJSON {
			return "", fmt.Errorf("--json and --format %s ask for two formats: use one", f.format)
		}
		return formatJSON, nil
	}
	if f.compact && f.format != formatText {
		return "", fmt.Errorf("--compact is for --format text, not %s", f.format)
	}
	return f.format, nil
}

// flagGiven reports whether the flag name was set on the command line or
// from its environment variable.
func flagGiven(fs *pflag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *pflag.Flag) { given = given || f.Name == name })
	if _, ok := lookupEnv(envName(name)); ok {
		return true
	}
	return given
}

// stdoutTerminal reports whether w is a terminal; tests replace it.
var stdoutTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}

// writeTextPlan prints p as text, compact when asked, or by default when
// it has more than compactAbove calls and w is a terminal.
func writeTextPlan(w io.Writer, p *reconcile.Plan, of outputFlags, fs *pflag.FlagSet) error {
	compact := of.compact
	if !flagGiven(fs, "compact") && len(p.Actions)+len(p.Blocked) > compactAbove && stdoutTerminal(w) {
		compact = true
	}
	if compact {
		return p.WriteCompact(w, colorOK(w))
	}
	return p.WriteText(w, colorOK(w))
}

// showCmd is certform show.
var showCmd = &command{
	name: "show", args: 1,
	short:    "print a plan saved by plan --out",
	synopsis: "PLAN_FILE [--json] [--format text|json|markdown] [--compact]",
	long:     "print a plan saved by plan --out, as apply PLAN_FILE would make it; no state, no API call",
	setup:    showSetup,
}

func showSetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stdout, stderr := s.stdout, s.stderr
	var of outputFlags
	of.register(fs)
	asJSON := fs.Bool("json", false, "print the saved plan as JSON (the file's own format)")
	return func(args []string) int {
		format, err := of.resolve(*asJSON)
		if err != nil {
			fmt.Fprintf(stderr, "certform show: %v\n", err)
			return exitUsage
		}
		file := fs.Arg(0)
		data, err := os.ReadFile(file)
		var saved *reconcile.SavedPlan
		if err == nil {
			saved, err = reconcile.ReadSavedPlan(data)
		}
		if err != nil {
			fmt.Fprintf(stderr, "certform show: %s: %v\n", file, err)
			return exitError
		}
		p := &reconcile.Plan{Actions: saved.Actions, Blocked: saved.Blocked}
		switch format {
		case formatJSON:
			err = view.JSON(stdout, saved)
		case formatMarkdown:
			err = p.WriteMarkdown(stdout)
		default:
			fmt.Fprintf(stdout, "Saved plan %s, made at %s (state version %s, specs %s); %s makes exactly these calls.\n\n",
				file, saved.CreatedAt.UTC().Format(time.RFC3339), shortDigest(saved.StateVersion), shortDigest(saved.SpecsDigest), applySaved(s.env, file))
			err = writeTextPlan(stdout, p, of, fs)
		}
		if err != nil {
			fmt.Fprintf(stderr, "certform show: %v\n", err)
			return exitError
		}
		return exitOK
	}
}

// shortDigest is digest ("sha256:" and hex digits) with its first 12
// hex digits.
func shortDigest(digest string) string {
	algo, hex, ok := strings.Cut(digest, ":")
	if !ok {
		algo, hex = "", digest
	}
	if len(hex) > 12 {
		hex = hex[:12]
	}
	if !ok {
		return hex
	}
	return algo + ":" + hex
}

// applySaved is the command that applies the saved plan file as show
// prints it: the saved plan does not record the --dir and --state it was
// made with, so each is written DIR or STATE, "the one the plan was made
// with", unless CERTFORM_DIR or CERTFORM_STATE gives it already.
func applySaved(env Env, file string) string {
	cmd := "certform apply"
	var missing []string
	if v, _ := env(envName("dir")); v == "" {
		cmd += " --dir DIR"
		missing = append(missing, "DIR the spec directory")
	}
	if v, _ := env(envName("state")); v == "" {
		cmd += " --state STATE"
		missing = append(missing, "STATE the state")
	}
	cmd += " " + shellQuote(file)
	if len(missing) > 0 {
		cmd += " (" + strings.Join(missing, " and ") + " it was made with)"
	}
	return cmd
}

// applyCommand is the command that applies the plan saved to file, with
// the --dir, --state and --workspace the plan was made with, so that it
// works as printed. A PostgreSQL state is written STATE: its URL may hold
// a password, which certform never prints.
func applyCommand(f planFlags, file string) string {
	st := shellQuote(f.state)
	if strings.Contains(f.state, "://") || strings.HasPrefix(f.state, "postgres") {
		st = "STATE"
	}
	cmd := "certform apply --dir " + shellQuote(f.dir) + " --state " + st
	if f.workspace != "" {
		cmd += " --workspace " + shellQuote(f.workspace)
	}
	return cmd + " " + shellQuote(file)
}

// shellQuote quotes s for /bin/sh when it holds anything but letters,
// digits and -_./=:@%+,.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
