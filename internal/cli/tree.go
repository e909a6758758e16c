package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/certform/certform/spec"
)

// execute builds the command tree for s and runs args on it.
func execute(s *streams, args []string) int {
	if len(args) == 0 {
		usage(s.stderr, commands())
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) == 1 || slices.Contains([]string{"help", "-h", "-help", "--help"}, args[1]) {
			usage(s.stdout, commands())
			return exitOK
		}
		args = []string{args[1], "-h"}
	case "completion":
		if len(args) > 1 && !strings.HasPrefix(args[1], "-") && !slices.Contains(shells, args[1]) {
			msg := fmt.Sprintf("unknown shell %q", args[1])
			if near := nearest(args[1], shells); near != "" {
				msg += "; did you mean " + near + "?"
			}
			fmt.Fprintf(s.stderr, "certform completion: %s\nUse one of %s.\n", msg, strings.Join(shells, ", "))
			return exitUsage
		}
	case "-version", "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	code := exitOK
	root := newRoot(s, &code)
	hidden := []string{cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd} // cobra's completion requests
	if !slices.Contains(hidden, args[0]) && !slices.ContainsFunc(root.Commands(), func(c *cobra.Command) bool { return c.Name() == args[0] }) {
		unknownCommand(s.stderr, args[0])
		return exitUsage
	}
	if c, rest, err := root.Find(args); err == nil {
		args = append(args[:len(args)-len(rest):len(args)-len(rest)], longFlags(c.Flags(), rest)...)
	}
	s.args = args[1:]
	root.SetArgs(args)
	if err := root.ExecuteContext(s.ctx); err != nil {
		var fe *flagError
		if !errors.As(err, &fe) {
			fmt.Fprintf(s.stderr, "certform: %v\n", err)
			return exitUsage
		}
		fmt.Fprintf(s.stderr, "%s: %s\nRun '%s -h' for its flags.\n", fe.cmd, fe.msg, fe.cmd)
		return usageCode(s.env, args[1:])
	}
	return code
}

// shells are the shells certform completion writes a script for (cobra's).
var shells = []string{"bash", "zsh", "fish", "powershell"}

// unknownCommand says, in one line, that name is no command, suggests the
// nearest, and says where the commands are listed.
func unknownCommand(w io.Writer, name string) {
	fmt.Fprintf(w, "certform: unknown command %q", name)
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	if near := nearest(name, append(names, "help", "completion")); near != "" {
		fmt.Fprintf(w, "; did you mean %s?", near)
	}
	fmt.Fprint(w, "\nRun 'certform help' for the commands.\n")
}

// newRoot builds certform's cobra tree: every command of commands(), with
// cobra's completion command and help. code receives the exit code of the
// command that runs.
func newRoot(s *streams, code *int) *cobra.Command {
	root := &cobra.Command{
		Use:           "certform",
		Short:         "certform keeps DigiCert CertCentral orders in line with a directory of YAML specs",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(s.stdout)
	root.SetErr(s.stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &flagError{cmd: c.Flags().Name(), msg: flagMessage(c.Flags(), err)}
	})
	defaultHelp := root.HelpFunc()
	helps := map[*cobra.Command]func(){}
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		if h, ok := helps[c]; ok {
			h()
			return
		}
		defaultHelp(c, args)
	})
	for _, cmd := range commands() {
		root.AddCommand(newCobraCommand(s, cmd, "certform "+cmd.name, code, helps))
	}
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	return root
}

// newCobraCommand makes the cobra command of cmd, named display in its
// messages, and its subcommands.
func newCobraCommand(s *streams, cmd *command, display string, code *int, helps map[*cobra.Command]func()) *cobra.Command {
	c := &cobra.Command{
		Use:         cmd.name,
		Short:       cmd.short,
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: display},
		Args:        cobra.ArbitraryArgs,
	}
	fs := c.Flags()
	fs.SortFlags = true
	printHelp := func(w io.Writer) func() {
		return func() { commandUsage(w, display, cmd, fs) }
	}
	helps[c] = printHelp(s.stdout)
	body := cmd.setup(fs, s)
	c.RunE = func(c *cobra.Command, args []string) error {
		if err := setFromEnv(fs, s.env); err != nil {
			return &flagError{cmd: display, msg: err.Error()}
		}
		s.usage = printHelp(s.stderr)
		if cmd.args >= 0 && len(args) != cmd.args {
			if len(args) > cmd.args {
				fmt.Fprintf(s.stderr, "%s: unexpected argument %q\n", display, args[cmd.args])
			} else {
				fmt.Fprintf(s.stderr, "%s: missing arguments: want %d, got %d\n", display, cmd.args, len(args))
			}
			s.usage()
			*code = s.usageCode()
			return nil
		}
		*code = body(args)
		return nil
	}
	for _, sub := range cmd.subs {
		c.AddCommand(newCobraCommand(s, sub, display+" "+sub.name, code, helps))
	}
	return c
}

// flagError is a command line the flags refuse.
type flagError struct{ cmd, msg string }

func (e *flagError) Error() string { return e.cmd + ": " + e.msg }

// flagMessage words a flag error of pflag as certform always has: flags
// written --flag, the nearest flag suggested for an unknown one, and Go's
// own reasons for a refused value.
func flagMessage(fs *pflag.FlagSet, err error) string {
	var (
		ne *pflag.NotExistError
		re *pflag.ValueRequiredError
		ve *pflag.InvalidValueError
	)
	switch {
	case errors.As(err, &ne):
		bad := ne.GetSpecifiedName()
		if bad == "" {
			bad = ne.GetSpecifiedShortnames()
		}
		msg := "unknown flag --" + bad
		var names []string
		fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		if near := nearest(bad, names); near != "" {
			msg += "; did you mean --" + near + "?"
		}
		return msg
	case errors.As(err, &re):
		name := re.GetSpecifiedName()
		if name == "" {
			name = re.GetFlag().Name
		}
		return "flag needs an argument: --" + name
	case errors.As(err, &ve) && ve.GetFlag().Value.Type() == "bool":
		// Go's flag package's words for a boolean flag (--refresh too,
		// which also takes full).
		return fmt.Sprintf("invalid boolean value %q for --%s: %s", ve.GetValue(), ve.GetFlag().Name, valueReason(ve))
	case errors.As(err, &ve):
		return fmt.Sprintf("invalid value %q for flag --%s: %s", ve.GetValue(), ve.GetFlag().Name, valueReason(ve))
	}
	return err.Error()
}

// valueReason is why a flag refused a value, in the words of Go's flag
// package: "parse error" or "value out of range" for numbers, booleans
// and durations, the value's own error otherwise.
func valueReason(ve *pflag.InvalidValueError) string {
	cause := errors.Unwrap(ve)
	var ne *strconv.NumError
	switch {
	case errors.As(cause, &ne) && errors.Is(ne.Err, strconv.ErrRange):
		return "value out of range"
	case errors.As(cause, &ne), ve.GetFlag().Value.Type() == "duration":
		return "parse error"
	}
	return cause.Error()
}

// longFlags lets a long flag be written with one dash (-state FILE), as Go's
// flag package, which certform used before cobra, took it.
func longFlags(fs *pflag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		if len(a) > 2 && a[0] == '-' && a[1] != '-' && (name == "help" || fs.Lookup(name) != nil) {
			a = "-" + a
		}
		out = append(out, a)
	}
	return out
}

// nearest returns the candidate closest to s by edit distance when it is
// close enough to be a typo (at most a third of its length, and 2), or "".
// Two neighbours swapped count as one edit (plna is plan).
func nearest(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := spec.EditDistance(s, c)
		if swapped(s, c) {
			d = 1
		}
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > 2 || bestD*3 > max(len(s), 3) {
		return ""
	}
	return best
}

// swapped reports whether a is b with two neighbouring letters swapped.
func swapped(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	return i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
}

// usage is certform's own help: the commands and what each does.
func usage(w io.Writer, cmds []*command) {
	fmt.Fprint(w, "certform keeps DigiCert CertCentral orders in line with a directory of YAML specs.\n\nUsage:\n  certform COMMAND [flags]\n\nCommands:\n")
	list := []*command{
		{name: "help", short: "show help for certform or one command"},
		{name: "completion", short: "print a shell completion script (bash, zsh, fish, powershell)"},
	}
	list = append(list, cmds...)
	sort.SliceStable(list, func(i, j int) bool { return list[i].name < list[j].name })
	for _, c := range list {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.short)
	}
	fmt.Fprint(w, "\nRun 'certform COMMAND -h' for a command's flags.\n")
}

// commandUsage is a command's help: its synopsis, what it does and its
// flags, each with its environment variable.
func commandUsage(w io.Writer, display string, cmd *command, fs *pflag.FlagSet) {
	if cmd.help != nil {
		cmd.help(w)
		return
	}
	long := cmd.long
	if long == "" {
		long = cmd.short
	}
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n", display, cmd.synopsis, upperFirst(long))
	has := false
	fs.VisitAll(func(f *pflag.Flag) { has = has || f.Name != "help" })
	if has {
		fmt.Fprint(w, "\nFlags:\n")
		printFlags(w, fs)
	}
}

// printFlags writes the flags as README writes them: "--name TYPE", then
// the usage and the default, indented, then the environment variable.
func printFlags(w io.Writer, fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		name, usage := pflag.UnquoteUsage(f)
		switch name {
		case "bool":
			name = ""
		case "func":
			name = "value"
		}
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" {
			if name == "string" {
				d = strconv.Quote(d)
			}
			fmt.Fprintf(w, " (default %s)", d)
		}
		fmt.Fprintf(w, "\n    \tenvironment: %s\n", envName(f.Name))
	})
}

// envPrefix starts the name of the environment variable every flag is
// also read from: --cert-dir is CERTFORM_CERT_DIR.
const envPrefix = "CERTFORM_"

// envName is the environment variable of the flag name.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// setFromEnv sets every flag not given on the command line from its
// environment variable (envName) when that is set, even to "": a flag on
// the command line wins, the variable wins over the flag's default. A
// value the flag refuses is an error naming the variable.
func setFromEnv(fs *pflag.FlagSet, env Env) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" || err != nil {
			return
		}
		if v, ok := env(envName(f.Name)); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				var ve *pflag.InvalidValueError
				reason := serr.Error()
				if errors.As(serr, &ve) {
					reason = valueReason(ve)
				}
				err = fmt.Errorf("invalid value %q in %s for flag --%s: %s", v, envName(f.Name), f.Name, reason)
				if f.Value.Type() == "duration" {
					err = fmt.Errorf("%w\nhint: a duration takes a unit: 30s, 5m, 1h30m", err)
				}
				return
			}
			if check, ok := envChecks[f.Name]; ok {
				if reason := check(f.Name, v); reason != "" {
					err = fmt.Errorf("invalid value %q in %s for flag --%s: %s", v, envName(f.Name), f.Name, reason)
				}
			}
		}
	})
	return err
}

// envChecks check a value taken from the environment as the command
// checks its flag, but before the command runs, so that a refusal names
// the variable as well as the flag (the commands' own checks, made once
// every flag is set, name only the flag). Each returns why the value is
// refused, or "".
var envChecks = map[string]func(name, v string) string{
	"format": func(name, v string) string {
		_, err := (&outputFlags{format: v}).resolve(false)
		return flagReason(name, v, err)
	},
	"log-level": func(name, v string) string {
		_, err := (&logFlags{format: "text", level: v}).logger(io.Discard)
		return flagReason(name, v, err)
	},
	"log-format": func(name, v string) string {
		_, err := (&logFlags{format: v, level: "info"}).logger(io.Discard)
		return flagReason(name, v, err)
	},
	"max-revocations": notNegative,
	"max-purchases":   notNegative,
	"resend-after":    notNegative,
	"max-clock-skew":  notNegative,
	"quiet-period":    notNegative,
	"debounce":        notNegative,
	"parallelism": func(_, v string) string {
		if n, err := strconv.ParseInt(v, 0, 64); err == nil && n < 1 {
			return "must be at least 1"
		}
		return ""
	},
	"retry-backoff": positive,
	"poll-interval": positive,
}

// flagReason is err, a command's refusal of --name's value v worded
// `--name "v": reason`, without that prefix.
func flagReason(name, v string, err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimPrefix(err.Error(), fmt.Sprintf("--%s %q: ", name, v))
}

// notNegative refuses a negative number or duration.
func notNegative(_, v string) string {
	n, nerr := strconv.ParseInt(v, 0, 64)
	d, derr := time.ParseDuration(v)
	if (nerr == nil && n < 0) || (derr == nil && d < 0) {
		return "must not be negative"
	}
	return ""
}

// positive refuses a duration that is not above zero.
func positive(_, v string) string {
	if d, err := time.ParseDuration(v); err == nil && d <= 0 {
		return "must be positive"
	}
	return ""
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

// usageCode is the exit code of a wrong command line: 2, but 1 when the
// command line asks for --detailed-exitcode, where 2 means "changes" and a
// typo must never read as that.
func usageCode(env Env, args []string) int {
	if v, ok := env(envName("detailed-exitcode")); ok && v != "" && v != "false" && !slices.Contains(args, "--detailed-exitcode=false") {
		return exitError
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		name, value, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "detailed-exitcode" && value != "false" {
			return exitError
		}
	}
	return exitUsage
}
