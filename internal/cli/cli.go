// Package cli is certform's command line: every command, its flags, its
// output and its exit code, on github.com/spf13/cobra. Main is the whole
// CLI, testable against buffers; package main only turns signals into a
// context, calls it and exits. The end-to-end tests of this package build
// the certform binary and run it from the repository's root (see
// TestMain), against the in-repo fake CertCentral.
package cli

import (
	"context"
	"io"
	"os"

	"github.com/spf13/pflag"
)

// Exit codes shared by every subcommand.
const (
	exitOK    = 0
	exitError = 1 // the command ran and something failed
	exitUsage = 2 // the command line was wrong
)

// ExitInterrupted is the exit code of a command stopped by a second SIGINT
// or SIGTERM (128 + SIGINT's number, as a shell reports it).
const ExitInterrupted = 130

// Env looks an environment variable up, as os.LookupEnv does.
type Env func(key string) (value string, ok bool)

// Stdio is the standard streams Main's commands read and write.
type Stdio struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// streams is what every command gets from Main: the context (ended by the
// first SIGINT or SIGTERM), the environment and the standard streams.
type streams struct {
	ctx            context.Context
	env            Env
	stdin          io.Reader
	stdout, stderr io.Writer
	// usage prints the running command's usage on stderr (set once
	// the command is known).
	usage func()
	// args is the command line after the command's name.
	args []string
}

// usageCode is the exit code of the running command line's usage error
// (see usageCode).
func (s *streams) usageCode() int { return usageCode(s.env, s.args) }

// command is one subcommand: its help texts, the number of positional
// arguments it takes, and setup, which declares its flags on fs and returns
// its body, run with the positional arguments once the flags are parsed
// (from the command line, then the environment).
type command struct {
	name     string
	short    string // the line in certform's command list
	synopsis string // what follows "Usage: certform NAME"
	long     string // the help's sentence; short when empty
	args     int    // positional arguments: exactly this many; -1 any number
	setup    func(fs *pflag.FlagSet, s *streams) func(args []string) int
	subs     []*command
	// help, when set, is the command's -h instead of its synopsis and
	// flags (state: its subcommands).
	help func(w io.Writer)
}

func commands() []*command {
	return []*command{
		validateCmd, planCmd, applyCmd, runCmd, schemaCmd, showCmd, statusCmd,
		importCmd, adoptCmd, fakeServerCmd, forgetCmd, stateCmd, notifyCmd, versionCmd,
	}
}

// Main is the whole CLI: it runs the command args names (os.Args[1:]) with
// ctx (which the first SIGINT or SIGTERM ends), env and stdio, and returns
// the process exit code: 0, 1 when the command ran and something failed,
// 2 for a wrong command line (some commands document more).
func Main(ctx context.Context, args []string, env Env, stdio Stdio) int {
	s := &streams{ctx: ctx, env: env, stdin: stdio.Stdin, stdout: stdio.Stdout, stderr: stdio.Stderr, usage: func() {}}
	if s.stdin == nil {
		s.stdin = os.Stdin
	}
	return execute(s, args)
}

// run is Main with the process's stdin, lookupEnv and no signals: the
// tests' way in.
func run(args []string, stdout, stderr io.Writer) int {
	return Main(context.Background(), args, lookupEnv, Stdio{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr})
}

// lookupEnv reads the environment; tests replace it.
var lookupEnv = os.LookupEnv
