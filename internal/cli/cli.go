// Package cli is certform's command line: every command, its flags, its
// output and its exit code. Run is the whole CLI, testable against
// buffers; package main only calls it and exits. The end-to-end tests of
// this package build the certform binary and run it from the repository's
// root (see TestMain), against the in-repo fake CertCentral.
package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/certform/certform/spec"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Exit codes shared by every subcommand.
const (
	exitOK    = 0
	exitError = 1 // the command ran and something failed
	exitUsage = 2 // the command line was wrong
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	// run executes the subcommand with its own arguments.
	run func(io.Writer, io.Writer, []string) int
}

func commands() []*command {
	return []*command{
		{"validate", "check every spec below DIR; no network, no state", runValidate},
		{"plan", "show the calls apply would make", runPlan},
		{"apply", "make the calls that bring CertCentral in line with the specs", runApply},
		{"run", "the daemon: reconcile on every change, schedule tick and SIGHUP", runRun},
		{"schema", "print the JSON Schema of spec files and defaults.yaml", runSchema},
		{"show", "print a plan saved by plan --out", runShow},
		{"status", "list the orders in the state file", runStatus},
		{"import", "adopt an existing order for a spec", runImport},
		{"adopt", "generate specs for the account's orders that certform does not track", runAdopt},
		{"fake-server", "serve a fake CertCentral on this machine to try certform by hand", runFakeServer},
		{"forget", "drop a spec's entry from the state file", runForget},
		{"state", "copy the state between a file and PostgreSQL (migrate), or print it (pull)", runState},
		{"notify", "send a test event to each receiver of a notification config (notify test)", runNotify},
		{"version", "print certform's version", runVersion},
		{"help", "show help for certform or one command", nil},
	}
}

// Run is the whole CLI: it runs the command args names (os.Args[1:]),
// writes to stdout and stderr, and returns the process exit code: 0, 1
// when the command ran and something failed, 2 for a wrong command line
// (some commands document more).
func Run(args []string, stdout, stderr io.Writer) int { return run(args, stdout, stderr) }

// run is the whole CLI: it returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 {
		usage(stderr, cmds)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return run([]string{args[1], "-h"}, stdout, stderr)
		}
		usage(stdout, cmds)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	for _, c := range cmds {
		if c.name == name && c.run != nil {
			return c.run(stdout, stderr, args[1:])
		}
	}
	fmt.Fprintf(stderr, "certform: unknown command %q", name)
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	if near := nearest(name, names); near != "" {
		fmt.Fprintf(stderr, "; did you mean %s?", near)
	}
	fmt.Fprint(stderr, "\n\n")
	usage(stderr, cmds)
	return exitUsage
}

// nearest returns the candidate closest to s by edit distance when it is
// close enough to be a typo (at most a third of its length, and 2), or "".
func nearest(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		if d := spec.EditDistance(s, c); best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > 2 || bestD*3 > max(len(s), 3) {
		return ""
	}
	return best
}

func usage(w io.Writer, cmds []*command) {
	fmt.Fprint(w, "certform keeps DigiCert CertCentral orders in line with a directory of YAML specs.\n\nUsage:\n  certform COMMAND [flags]\n\nCommands:\n")
	sort.SliceStable(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'certform COMMAND -h' for a command's flags.\n")
}

// newFlags returns a flag set for a subcommand whose usage text names it.
func newFlags(stderr io.Writer, name, synopsis, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet("certform "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: certform %s %s\n\n%s\n", name, synopsis, upperFirst(summary))
		has := false
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprint(out, "\nFlags:\n")
			printFlags(fs)
		}
	}
	return fs
}

// printFlags writes the flags as README writes them: "--name TYPE", then
// the usage and the default, indented.
func printFlags(fs *flag.FlagSet) {
	out := fs.Output()
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(out, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if d := f.DefValue; d != "" && d != "false" && d != "0" {
			if name == "string" {
				d = strconv.Quote(d)
			}
			fmt.Fprintf(out, " (default %s)", d)
		}
		fmt.Fprintf(out, "\n    \tenvironment: %s\n", envName(f.Name))
	})
}

// envPrefix starts the name of the environment variable every flag is
// also read from: --cert-dir is CERTFORM_CERT_DIR.
const envPrefix = "CERTFORM_"

// envName is the environment variable of the flag name.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// lookupEnv reads the environment; tests replace it.
var lookupEnv = os.LookupEnv

// setFromEnv sets every flag not given on the command line from its
// environment variable (envName) when that is set, even to "": a flag on
// the command line wins, the variable wins over the flag's default. A
// value the flag refuses is an error naming the variable.
func setFromEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		if v, ok := lookupEnv(envName(f.Name)); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("invalid value %q in %s for flag --%s: %v", v, envName(f.Name), f.Name, serr)
			}
		}
	})
	return err
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

// parseFlags parses a subcommand's flags. It returns done with the exit code
// when the command should stop: 0 after -h (usage on stdout), 2 after a bad
// flag or a stray argument (the error and usage on stderr).
func parseFlags(fs *flag.FlagSet, stdout io.Writer, args []string, positional int) (done bool, code int) {
	stderr := fs.Output()
	var buf bytes.Buffer
	fs.SetOutput(&buf) // flag prints usage itself; decide where it goes
	err := parseInterspersed(fs, args)
	fs.SetOutput(stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return true, exitOK
		}
		// The flag package's own message ("flag provided but not
		// defined: -refersh") is replaced by one that names the
		// command, writes flags as --flag, and suggests the nearest.
		msg := err.Error()
		if bad, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
			msg = "unknown flag --" + bad
			var names []string
			fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
			if near := nearest(bad, names); near != "" {
				msg += "; did you mean --" + near + "?"
			}
		} else {
			msg = strings.ReplaceAll(msg, " -", " --")
		}
		fmt.Fprintf(stderr, "%s: %s\nRun '%s -h' for its flags.\n", fs.Name(), msg, fs.Name())
		return true, usageCode(args)
	}
	if err := setFromEnv(fs); err != nil {
		fmt.Fprintf(stderr, "%s: %s\nRun '%s -h' for its flags.\n", fs.Name(), err, fs.Name())
		return true, usageCode(args)
	}
	if positional >= 0 && fs.NArg() != positional {
		if fs.NArg() > positional {
			fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(positional))
		} else {
			fmt.Fprintf(fs.Output(), "%s: missing arguments: want %d, got %d\n", fs.Name(), positional, fs.NArg())
		}
		fs.Usage()
		return true, usageCode(args)
	}
	return false, 0
}

// usageCode is the exit code of a wrong command line: 2, but 1 when the
// command line asks for --detailed-exitcode, where 2 means "changes" and a
// typo must never read as that.
func usageCode(args []string) int {
	if v, ok := lookupEnv(envName("detailed-exitcode")); ok && v != "" && v != "false" && !slices.Contains(args, "--detailed-exitcode=false") {
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

// parseInterspersed parses flags before, between and after positional
// arguments (certform forget NAME --state FILE works as well as
// certform forget --state FILE NAME); after "--" everything is positional.
// fs.Args() holds the positional arguments afterwards.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

func newJSONEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc
}
