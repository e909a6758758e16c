package cli

import (
	"errors"
	"fmt"
	"github.com/spf13/pflag"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/certform/certform/state"
	"github.com/certform/certform/state/location"
)

// stateUsage is --state's help text for the commands that require it.
const stateUsage = "state file, or postgres://USER@HOST:PORT/DB?sslmode=verify-full for a PostgreSQL state (required)"

// workspaceUsage is --workspace's help text, the same for every command.
const workspaceUsage = "with a PostgreSQL --state: the workspace, one per spec repository sharing the database (default \"default\")"

// specDirUsage is --dir's help for the commands that read the specs and
// require them.
const specDirUsage = "spec directory (required)"

// accountMovedUsage is --account-moved's help for the commands that
// record the API URL in the state.
const accountMovedUsage = "the state's orders moved to the CertCentral at --api-url: record the new API URL instead of refusing"

// stateFlags is the state group, declared once for every command that
// reads or writes the state: --state and --workspace, and --account-moved
// for the commands that compare the state's API URL with --api-url.
type stateFlags struct {
	state, workspace string
	accountMoved     bool
}

// register declares --state, with the command's help text, and
// --workspace.
func (f *stateFlags) register(fs *pflag.FlagSet, usage string) {
	fs.StringVar(&f.state, "state", "", usage)
	fs.StringVar(&f.workspace, "workspace", "", workspaceUsage)
}

// registerAccountMoved declares --account-moved with the command's help
// text.
func (f *stateFlags) registerAccountMoved(fs *pflag.FlagSet, usage string) {
	fs.BoolVar(&f.accountMoved, "account-moved", false, usage)
}

// stateLocation is where a command's state is (package location).
type stateLocation = location.Location

// locate parses --state and --workspace (location.Parse).
func locate(statePath, workspace string) (stateLocation, error) {
	return location.Parse(statePath, workspace)
}

// checkLocation locates --state and --workspace for cmd (see locate); one
// that cannot be used is reported as a usage error, and ok is false.
func checkLocation(cmd, statePath, workspace string, stderr io.Writer) (l stateLocation, ok bool) {
	l, err := locate(statePath, workspace)
	if err != nil {
		fmt.Fprintf(stderr, "certform %s: %v\n", strings.TrimPrefix(cmd, "certform "), err)
		return l, false
	}
	return l, true
}

// NotFoundError is a state that does not exist where status was told to
// read it: most likely a mistyped --state or --workspace, never an empty
// state.
type NotFoundError struct {
	Name string // "state file PATH" (as given to --state), or the workspace's name
	pg   bool
}

// Error names the state.
func (e *NotFoundError) Error() string {
	return e.Name + " does not exist"
}

// hint says what to check.
func (e *NotFoundError) hint() string {
	if e.pg {
		return "hint: check --state and --workspace; certform creates a workspace on the first apply, import or run\n"
	}
	return "hint: check --state (and the directory it runs in, for a relative path); certform creates a state file on the first apply, import or run\n"
}

// checkStatusExists refuses, for status (and state pull, for a state
// file), a state file or a PostgreSQL workspace that does not exist: it
// would list no orders and exit 0, which a mistyped --state or
// --workspace cannot be told apart from.
// (plan and apply need no state yet: a first apply creates it.)
func checkStatusExists(l stateLocation) error {
	ok, err := l.Exists()
	if err == nil && !ok {
		err = &NotFoundError{Name: l.Name(), pg: l.Shared()}
	}
	return err
}

// stateCmd is certform state: its subcommands migrate and pull.
var stateCmd = &command{
	name: "state", args: -1,
	short: "copy the state between a file and PostgreSQL (migrate), or print it (pull)",
	setup: stateSetup,
	subs:  []*command{stateMigrateCmd, statePullCmd},
	help:  printStateUsage,
}

// stateSetup is certform state without a subcommand it knows: its usage,
// or the nearest subcommand.
func stateSetup(_ *pflag.FlagSet, s *streams) func(args []string) int {
	return func(args []string) int {
		if len(args) == 0 || args[0] == "help" {
			w, code := s.stderr, exitUsage
			if len(args) > 0 {
				w, code = s.stdout, exitOK
			}
			printStateUsage(w)
			return code
		}
		names := []string{stateMigrateCmd.name, statePullCmd.name}
		fmt.Fprintf(s.stderr, "certform state: unknown subcommand %q", args[0])
		if near := nearest(args[0], names); near != "" {
			fmt.Fprintf(s.stderr, "; did you mean %s?", near)
		}
		fmt.Fprint(s.stderr, "\nhint: certform state migrate --from FILE --to postgres://..., or certform state pull --state STATE\n")
		return exitUsage
	}
}

// printStateUsage is certform state's help: its subcommands.
func printStateUsage(w io.Writer) {
	fmt.Fprint(w, "Usage:\n  certform state SUBCOMMAND [flags]\n\nSubcommands:\n")
	for _, c := range []*command{stateMigrateCmd, statePullCmd} {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.short)
	}
	fmt.Fprint(w, "\nRun 'certform state SUBCOMMAND -h' for its flags.\n")
}

// statePullCmd is certform state pull.
var statePullCmd = &command{
	name: "pull", args: 0,
	short:    "print the state in the state file's format",
	synopsis: "--state STATE [--workspace NAME]",
	long:     "print the state in the state file's format, read without a lock (as plan reads it)",
	setup:    statePullSetup,
}

func statePullSetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stdout, stderr := s.stdout, s.stderr
	var st stateFlags
	st.register(fs, "state file or postgres:// URL (required)")
	return func(args []string) int {
		if !requireFlags(fs, stderr, "state", st.state) {
			return s.usageCode()
		}
		loc, ok := checkLocation("state pull", st.state, st.workspace, stderr)
		if !ok {
			return s.usageCode()
		}
		f, err := loc.Read()
		if err == nil && !loc.Shared() {
			// A mistyped --state would print an empty state, and a plan on
			// it would show every spec as new. (A PostgreSQL workspace not
			// created yet reads as empty, as plan reads it.)
			err = checkStatusExists(loc)
		}
		if err != nil {
			printStateError(stderr, "state pull", err)
			return exitError
		}
		enc, err := state.Encode(f)
		if err != nil {
			fmt.Fprintf(stderr, "certform state pull: encoding the state: %v\n", err)
			return exitError
		}
		if _, err := stdout.Write(enc.Data); err != nil {
			fmt.Fprintf(stderr, "certform state pull: %v\n", err)
			return exitError
		}
		return exitOK
	}
}

// stateMigrateCmd is certform state migrate.
var stateMigrateCmd = &command{
	name: "migrate", args: 0,
	short:    "copy the state from one place to another (a state file, a PostgreSQL workspace), refusing a non-empty target",
	synopsis: "--from STATE --to STATE [--workspace NAME] [--from-workspace NAME] [--to-workspace NAME]",
	long:     "copy the state, locked on both sides, into an empty target; the source is then marked as moved, and every command on it refuses",
	setup:    stateMigrateSetup,
}

func stateMigrateSetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stdout, stderr := s.stdout, s.stderr
	from := fs.String("from", "", "the state to copy: a state file or a postgres:// URL (required)")
	to := fs.String("to", "", "where to copy it: a state file or a postgres:// URL; must hold no entries and no revocation records (required)")
	workspace := fs.String("workspace", "", "the workspace on the PostgreSQL side(s) (default \"default\")")
	fromWS := fs.String("from-workspace", "", "the workspace of --from, when it differs from --to's (default --workspace)")
	toWS := fs.String("to-workspace", "", "the workspace of --to, when it differs from --from's (default --workspace)")
	return func(args []string) int {
		if !requireFlags(fs, stderr, "from", *from, "to", *to) {
			return s.usageCode()
		}
		wsFor := func(s, side string) string {
			if side != "" {
				return side
			}
			if location.IsURL(s) {
				return *workspace
			}
			return ""
		}
		if *workspace != "" && !location.IsURL(*from) && !location.IsURL(*to) {
			fmt.Fprintf(stderr, "certform state migrate: --workspace %s: neither --from nor --to is a PostgreSQL state (postgres://...)\n", *workspace)
			return s.usageCode()
		}
		src, err := locate(*from, wsFor(*from, *fromWS))
		if err != nil {
			fmt.Fprintf(stderr, "certform state migrate: --from: %v\n", err)
			return s.usageCode()
		}
		dst, err := locate(*to, wsFor(*to, *toWS))
		if err != nil {
			fmt.Fprintf(stderr, "certform state migrate: --to: %v\n", err)
			return s.usageCode()
		}
		if src.Name() == dst.Name() {
			fmt.Fprintf(stderr, "certform state migrate: --from and --to are the same %s\n", src.Name())
			return s.usageCode()
		}
		n, revs, err := migrateState(src, dst)
		if err != nil {
			printError(stderr, "state migrate", err)
			fmt.Fprint(stderr, stateHint(err))
			return exitError
		}
		fmt.Fprintf(stdout, "Copied %d entries and %d revocation records from %s to %s, and read them back: the same state.\n", n, revs, src.Name(), dst.Name())
		fmt.Fprintf(stdout, "Point every certform at the new state now (%s); the old one is marked as moved there, and every command on it refuses.\n", dst.Flags())
		return exitOK
	}
}

// errMigrateSource is a --from that has no state to copy.
var errMigrateSource = errors.New("has no state to copy")

// migrateState copies the state at src to dst, both locked, refusing a
// dst that holds entries or revocation records, reads dst back to prove
// the copy, and then marks src as moved to dst (state.File.Moved: a
// source already marked is refused when opened). It returns the entries and revocation records copied.
// The source must exist: a state file missing, or a workspace that is
// empty, is refused (a typo would otherwise copy nothing and say so).
func migrateState(src, dst stateLocation) (entries, revocations int, err error) {
	if !src.Shared() {
		if ok, err := src.Exists(); err == nil && !ok {
			return 0, 0, fmt.Errorf("%s: %w: it does not exist", src.Name(), errMigrateSource)
		}
	}
	from, err := src.Open()
	if err != nil {
		return 0, 0, err
	}
	defer from.Close()
	f := from.Snapshot()
	if len(f.Entries) == 0 && len(f.Revocations) == 0 && f.APIURL == "" {
		return 0, 0, fmt.Errorf("%s: %w: it holds no entries, no revocation records and no API URL (another --workspace?)", src.Name(), errMigrateSource)
	}
	to, err := dst.Open()
	if err != nil {
		return 0, 0, err
	}
	defer to.Close()
	if have := to.Snapshot(); len(have.Entries) > 0 || len(have.Revocations) > 0 {
		return 0, 0, withHint(fmt.Errorf("%s is not empty: it holds %d entries and %d revocation records; nothing was copied", dst.Name(), len(have.Entries), len(have.Revocations)),
			"migrate into a new state file or a new --workspace, or empty this one first")
	}
	if err := to.Mutate(func(t *state.File) { *t = *f }); err != nil {
		return 0, 0, fmt.Errorf("writing %s: %w", dst.Name(), err)
	}
	if err := checkCopy(f, src, dst); err != nil {
		return 0, 0, err
	}
	// Only now, the copy proved, the source is marked: from here on no
	// command (a daemon not yet pointed at the new state) decides on it.
	mark := dst.Moved(time.Now())
	if err := from.Mutate(func(f *state.File) { f.Moved = &mark }); err != nil {
		return 0, 0, withHint(fmt.Errorf("copied to %s and read back, but marking %s as moved failed: %w", dst.Name(), src.Name(), err),
			fmt.Sprintf("stop every certform that uses %s and point it at the new state (%s)", src.Name(), mark.Flags))
	}
	return len(f.Entries), len(f.Revocations), nil
}

// checkCopy reads dst back and compares it with f, the state copied from
// src, in the state file's format.
func checkCopy(f *state.File, src, dst stateLocation) error {
	want, err := state.Encode(f.Clone())
	if err != nil {
		return err
	}
	back, err := dst.Read()
	if err != nil {
		return fmt.Errorf("reading %s back: %w", dst.Name(), err)
	}
	got, err := state.Encode(back)
	if err != nil {
		return err
	}
	if string(got.Data) != string(want.Data) {
		return fmt.Errorf("%s read back differs from %s; use neither until you have compared them (certform state pull)", dst.Name(), src.Name())
	}
	return nil
}

// storeGate is the check a CertCentral client makes before each call (see
// digicert.WithGate): once set, a store on a shared backend (PostgreSQL)
// must prove in the database that it still holds the workspace's lock, so
// that a process that lost it (paused while a standby took over) calls
// nothing. A state file is not gated per call; its lock is proved at the
// start of each cycle and by each write.
type storeGate struct {
	store atomic.Pointer[state.Store]
}

func (g *storeGate) set(s *state.Store) { g.store.Store(s) }

func (g *storeGate) check() error {
	s := g.store.Load()
	if s == nil || !s.Shared() {
		return nil
	}
	return s.Check()
}
