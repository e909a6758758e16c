package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certform/certform/adopt"
	"github.com/certform/certform/deliver"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/cli/view"
	"github.com/certform/certform/internal/fsx"
	"github.com/certform/certform/internal/runner"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
	"github.com/certform/certform/state/pgstate"
	"github.com/certform/certform/status"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// apiFlags are the flags every command that may call CertCentral takes.
type apiFlags struct {
	keyFile string
	url     string
	// env is the environment DIGICERT_API_KEY, DIGICERT_API_KEY_FILE,
	// DIGICERT_API_URL and CREDENTIALS_DIRECTORY are read from: Main's;
	// nil is the process's.
	env Env
	// key, when set, is the key itself, given by certform (run --dev's
	// fake): no flag or variable is read for it.
	key string
}

func (f *apiFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.keyFile, "api-key-file", "", "file holding the DigiCert API key (default $DIGICERT_API_KEY_FILE)")
	fs.StringVar(&f.url, "api-url", "", "CertCentral API base URL (default $DIGICERT_API_URL, else "+digicert.BaseURLUS+")")
}

// errNoKey is returned by loadAPIKey when no source holds a key, with
// keyHint.
var errNoKey = errors.New("no DigiCert API key")

const keyHint = "hint: set DIGICERT_API_KEY, or give --api-key-file FILE (or DIGICERT_API_KEY_FILE=FILE); under systemd, LoadCredential=digicert-api-key:PATH"

// loadAPIKey finds the API key: --api-key-file, then $DIGICERT_API_KEY_FILE,
// then $DIGICERT_API_KEY, then $CREDENTIALS_DIRECTORY/digicert-api-key
// (systemd's LoadCredential). The first source that is set is used; a file
// that cannot be read is an error, not a fall-through. A key holding a
// control character (a stray carriage return, an escape sequence pasted
// from a terminal) is refused, naming where it came from but never the
// key. warn, when not nil, gets a warning about a key file others may read.
func loadAPIKey(flagFile string, getenv func(string) string, warn func(msg string, args ...any)) (string, error) {
	file := flagFile
	if file == "" {
		file = getenv("DIGICERT_API_KEY_FILE")
	}
	if file == "" {
		if k := strings.TrimSpace(getenv("DIGICERT_API_KEY")); k != "" {
			return k, checkKeyText(k, "DIGICERT_API_KEY")
		}
		if dir := getenv("CREDENTIALS_DIRECTORY"); dir != "" {
			file = filepath.Join(dir, "digicert-api-key")
		}
	}
	if file == "" {
		return "", withHint(errNoKey, strings.TrimPrefix(keyHint, "hint: "))
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the API key file %s: %w", file, unwrapPathError(err))
	}
	k := strings.TrimSpace(string(data))
	if k == "" {
		return "", fmt.Errorf("the API key file %s is empty", file)
	}
	if fi, err := os.Stat(file); err == nil && fi.Mode().Perm()&0o044 != 0 && warn != nil {
		warn("the API key file is readable by other users; make it readable by certform's user only", "file", file,
			"mode", fmt.Sprintf("%04o", fi.Mode().Perm()), "hint", "chmod 600 "+file)
	}
	return k, checkKeyText(k, "the API key file "+file)
}

// checkKeyText refuses a key with a control character, saying where (the
// position) but not what the key is.
func checkKeyText(k, source string) error {
	for i, r := range k {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("the API key from %s holds a control character (0x%02x) at position %d: remove it (a Windows line ending or a paste from a terminal looks like this)", source, r, i+1)
		}
	}
	return nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// usageError is a command line (or environment) that cannot work, such as
// a bad --api-url: exit 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// clientFailed reports an error from newClient for command cmd, with its
// hints (the key hint when no key was found), and returns the exit code:
// 2 (usageCode) for a bad API URL, 1 otherwise.
func clientFailed(stderr io.Writer, cmd string, s *streams, err error) int {
	printError(stderr, cmd, err)
	var ue *usageError
	if errors.As(err, &ue) {
		return s.usageCode()
	}
	return exitError
}

// loggerAndClient builds the logger of lf and the CertCentral client of
// api for command cmd. A code other than 0 means the command stops with
// it; the reason is on stderr (usageCode for a bad log flag or API URL).
// opts add client options.
func loggerAndClient(cmd string, lf *logFlags, api *apiFlags, stderr io.Writer, s *streams, opts ...digicert.Option) (*slog.Logger, *digicert.Client, int) {
	logger, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "certform %s: %v\n", cmd, err)
		return nil, nil, s.usageCode()
	}
	client, err := api.newClient(logger, opts...)
	if err != nil {
		return nil, nil, clientFailed(stderr, cmd, s, err)
	}
	return logger, client, 0
}

// newClient builds the CertCentral client from the flags and environment;
// opts add to (or override) the options this sets.
func (f *apiFlags) newClient(logger *slog.Logger, opts ...digicert.Option) (*digicert.Client, error) {
	url := f.url
	if url == "" {
		url = f.getenv("DIGICERT_API_URL")
	}
	if url == "" {
		url = digicert.BaseURLUS
	}
	if err := digicert.WithBaseURL(url)(new(digicert.Client)); err != nil {
		return nil, &usageError{err}
	}
	warn := slog.New(slog.DiscardHandler).Warn
	if logger != nil {
		warn = logger.Warn
	}
	key := f.key
	if key == "" {
		var err error
		if key, err = loadAPIKey(f.keyFile, f.getenv, warn); err != nil {
			return nil, err
		}
	}
	return digicert.New(key, append([]digicert.Option{digicert.WithBaseURL(url), digicert.WithVersion(certformVersion()), digicert.WithLogger(logger)}, opts...)...)
}

// getenv reads a variable of f.env (the process's when nil); unset is "".
func (f *apiFlags) getenv(key string) string {
	env := f.env
	if env == nil {
		env = os.LookupEnv
	}
	v, _ := env(key)
	return v
}

// interactive reports whether stdin and stdout are both terminals (a
// person runs the command), one condition of apply's asking before making
// calls (asksApproval). Scripts and CI, with a pipe or a file on either,
// are not asked.
func interactive(in *os.File, out io.Writer) bool {
	return isTerminalWriter(out) && isTerminal(in)
}

// asksApproval reports whether apply, with the flags f, asks for "yes"
// before making calls (when there are calls to make): on a terminal
// (interactive: stdin and stdout), without --auto-approve or a saved plan.
func asksApproval(f planFlags, stdout io.Writer) bool {
	return f.planFile == "" && (f.autoApprove == nil || !*f.autoApprove) && interactive(os.Stdin, stdout)
}

// isTerminalWriter reports whether w is a terminal.
func isTerminalWriter(w io.Writer) bool {
	o, ok := w.(*os.File)
	return ok && isTerminal(o)
}

// approved asks for "yes" on out and reads the answer from in: only
// "yes" approves.
func approved(in io.Reader, out io.Writer) bool {
	fmt.Fprint(out, "\nMake these calls? Only 'yes' is accepted: ")
	line, _ := bufio.NewReader(in).ReadString('\n')
	return strings.TrimSpace(line) == "yes"
}

// staleTempAge is how old a temporary file of ours must be before a later
// run removes it as left by a killed writer: these writers take no lock,
// and one running now is done within seconds.
const staleTempAge = 10 * time.Minute

// writeSavedPlan writes a saved plan atomically, mode 0600, after
// removing the temporary files an earlier, killed write left.
func writeSavedPlan(path string, p *reconcile.SavedPlan) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	_, err = fsx.WriteFile(path, append(data, '\n'), fsx.Options{RemoveStaleAfter: staleTempAge})
	return err
}

// preflight makes the command's first call to CertCentral, whatever it
// is (the status-changes feed, a look-up), the check that CertCentral
// answers and accepts the key (digicert.Client.CheckFirstCall): no call
// of its own, so a command with nothing to do makes one call. That call is
// retried on a 5xx, a 429 and a timeout within digicert.CheckTimeout, and
// fails at once when no connection can be made, on a TLS error, a 401 or
// a 403; then every later call fails unsent with the same
// *digicert.CheckError, which unreachable prints once with a hint.
func preflight(client *digicert.Client) { client.CheckFirstCall() }

// unreachable prints the first *digicert.CheckError among errs (see
// preflight) as one error and a hint, and reports whether there was one:
// the command then stops, nothing sent after the failed first call.
func unreachable(cmd string, stderr io.Writer, errs ...error) bool {
	var ce *digicert.CheckError
	for _, err := range errs {
		if errors.As(err, &ce) {
			break
		}
	}
	if ce == nil {
		return false
	}
	fmt.Fprintf(stderr, "certform %s: %v; nothing was done\n", cmd, ce)
	var ae *digicert.APIError
	switch {
	case digicert.IsInvalidKey(ce): // a 401, or a 403 access_denied|access_denied_invalid_key
		fmt.Fprintln(stderr, "hint: CertCentral does not accept the API key: check DIGICERT_API_KEY, DIGICERT_API_KEY_FILE or --api-key-file (a mistyped, revoked or expired key)")
	case errors.As(ce, &ae) && ae.Status == http.StatusForbidden:
		fmt.Fprintln(stderr, "hint: "+permissionsHint)
	case errors.As(ce, &ae):
		fmt.Fprintln(stderr, "hint: CertCentral failed (5xx) or limited this key (429) every time within that time; try again later")
	default:
		fmt.Fprintln(stderr, "hint: check --api-url (or DIGICERT_API_URL) and that this machine can reach CertCentral")
	}
	return true
}

// cycleErrors returns a Prepare's error and its cycle's errors.
func cycleErrors(c *reconcile.Cycle, err error) []error {
	errs := []error{err}
	if c != nil {
		errs = append(errs, c.Errors...)
	}
	return errs
}

// permissionsHint says which permission each command's key needs.
const permissionsHint = "the API key's user may not list orders: plan --refresh, import and adopt need a key that can view orders (View Only is enough); " +
	"apply and run also order, reissue, renew, revoke and change settings, which needs a user allowed to (such as a Manager or an Administrator)"

// logFlags choose the format and level of log records on stderr.
type logFlags struct {
	format string
	level  string
}

func (f *logFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.format, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&f.level, "log-level", "info", "log level: debug, info, warn or error")
}

func (f *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", f.level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var newHandler func(io.Writer) slog.Handler
	switch f.format {
	case "text":
		newHandler = func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, opts) }
	case "json":
		newHandler = func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, opts) }
	default:
		return nil, fmt.Errorf("--log-format %q: use text or json", f.format)
	}
	if isJournal(w) {
		// Under systemd: each line carries its syslog priority.
		return slog.New(newJournalHandler(w, newHandler)), nil
	}
	return slog.New(newHandler(w)), nil
}

// colorOK reports whether w is a terminal that may get ANSI colours: not
// when NO_COLOR is set (https://no-color.org) or TERM is dumb.
func colorOK(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// planFlags are shared by plan and apply.
type planFlags struct {
	dir string
	stateFlags
	refresh, asJSON  bool
	refreshFull      bool // --refresh=full
	detailedExitCode bool
	cycle            cycleFlags
	api              apiFlags
	log              logFlags
	dcv              dcvFlags
	// apply only: the saved plan to apply, and --auto-approve.
	planFile    string
	autoApprove *bool
	// replace are the specs --replace names: reissued now (reason
	// replace), with a new key when certform makes their keys.
	replace namesFlag
	// keyIdentity is plan's --key-identity-file (apply's is in
	// keyFlags): see planKeys.
	keyIdentity string
}

// namesFlag is a repeatable flag of spec names.
type namesFlag []string

// String lists the names given, comma-separated.
func (n *namesFlag) String() string { return strings.Join(*n, ",") }

// Type is the flag's type in the help: "value", as Go's flag package wrote it.
func (n *namesFlag) Type() string { return "value" }

// Set adds one name.
func (n *namesFlag) Set(v string) error {
	if v == "" {
		return errors.New("a spec name is required")
	}
	*n = append(*n, v)
	return nil
}

// defaultResendAfter is --resend-after's default: longer than CertCentral
// has been seen to keep working on an order request its client gave up
// on (the client's own time limit is 30 s, retries end within a minute).
const defaultResendAfter = 5 * time.Minute

// defaultMaxPurchases is --max-purchases's default: new orders and
// renewals in any rolling 24 hours per state (issue 21). A daemon never
// buys more than this a day, whatever goes wrong; a planned onboarding
// raises it for one run.
const defaultMaxPurchases = 20

// maxPurchasesUsage is --max-purchases's help, shared by plan, apply and run.
const maxPurchasesUsage = "new orders and renewals allowed in any 24 hours (recorded in the state); a plan with more blocks them all (raise it for a planned onboarding)"

func (f *planFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.dir, "dir", "", specDirUsage)
	f.stateFlags.register(fs, stateUsage)
	registerRefresh(fs, &f.refresh, &f.refreshFull)
	fs.BoolVar(&f.asJSON, "json", false, "print the plan as JSON")
	fs.BoolVar(&f.detailedExitCode, "detailed-exitcode", false, "exit 0 with no changes, 2 with changes, 1 on error")
	f.cycle.register(fs, "quiet-period", "debounce")
	f.registerAccountMoved(fs, accountMovedUsage)
	f.api.register(fs)
	f.log.register(fs)
	f.dcv.register(fs)
	fs.Var(&f.replace, "replace", "reissue this spec's certificate now (repeatable), with a new key when certform makes its key (key_type); the plan shows reason: replace")
}

// checkReplace refuses a --replace naming no valid spec.
func (f *planFlags) checkReplace(c *reconcile.Cycle) error {
	if len(f.replace) == 0 {
		// Without --replace there is nothing to check: no set of every
		// spec's name is built at the plan's peak (issue 27).
		return nil
	}
	valid := map[string]bool{}
	if c != nil && c.Specs != nil {
		for _, o := range c.Specs.Orders {
			valid[o.Name] = true
		}
	}
	for _, n := range f.replace {
		if !valid[n] {
			return fmt.Errorf("--replace %s: no valid spec has this name; nothing was done\nhint: give the name: of a spec below --dir (certform validate lists the errors)", n)
		}
	}
	return nil
}

// check reports flag values out of range.
func (f *planFlags) check() error {
	if f.cycle.negative() || f.cycle.quiet < 0 {
		return errors.New("--max-revocations, --max-purchases, --resend-after, --max-clock-skew and --quiet-period must not be negative")
	}
	return nil
}

// requireFlags says, in one line and a pointer to -h (as for an unknown
// flag), the first required flag that is missing.
func requireFlags(fs *pflag.FlagSet, stderr io.Writer, pairs ...string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			fmt.Fprintf(stderr, "%s: --%s is required\nRun '%s -h' for its flags.\n", fs.Name(), pairs[i], fs.Name())
			return false
		}
	}
	return true
}

// printSpecErrors writes every spec error and a hint.
func printSpecErrors(w io.Writer, res *spec.Result) {
	if len(res.Errors) == 0 {
		return
	}
	for _, e := range res.Errors {
		fmt.Fprintln(w, e)
	}
	fmt.Fprintf(w, "%s; the invalid specs are left out, the valid ones are planned\n", res.Summary())
}

// deliveryFlags choose where issued certificates are delivered and what
// runs after each delivery: command-line only, never from the specs.
type deliveryFlags struct {
	certDir     string
	hook        string
	hookTimeout time.Duration
	hookBackoff time.Duration
	postHook    string
	keyFlags
	// certGroup is the group given read access to each delivered
	// privkey.pem.
	certGroup string
}

func (f *deliveryFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.certDir, "cert-dir", "", "deliver each issued certificate into DIR/NAME (cert.pem, chain.pem, fullchain.pem); off when empty")
	fs.StringVar(&f.hook, "deploy-hook", "", "run this command with /bin/sh -c after each new delivery (needs --cert-dir)")
	fs.DurationVar(&f.hookTimeout, "deploy-hook-timeout", deliver.DefaultHookTimeout, "time limit of one deploy hook run")
	fs.DurationVar(&f.hookBackoff, "deploy-hook-backoff", reconcile.DefaultHookBackoff, "wait before a failed deploy hook runs again; doubles with each failure in a row, up to 1h")
	fs.StringVar(&f.postHook, "post-hook", "", "run this command with /bin/sh -c once after a cycle that delivered any certificate, after its deploy hooks (a reload; needs --cert-dir)")
	f.keyFlags.register(fs)
	fs.StringVar(&f.certGroup, "cert-group", "", "give this group read access to each delivered privkey.pem (a web server's group); needs --cert-dir")
}

// openKeys sets r.Keys: for a state file, the key store in --key-dir (keys/
// beside the state file by default), refused inside the spec directory or
// the certificate folder; for a shared (PostgreSQL) state, the sealed keys
// in its database (openSharedKeys).
func (f *deliveryFlags) openKeys(r *reconcile.Reconciler, specDir string, loc stateLocation) error {
	if loc.Shared() {
		return f.openSharedKeys(r)
	}
	if len(f.keyRecipients) > 0 || f.keyIdentity != "" {
		return errors.New("--key-recipient and --key-identity-file are for a shared (PostgreSQL) state; a state file keeps its keys in --key-dir")
	}
	dir := f.keyDir
	if dir == "" {
		real, err := state.RealPath(loc.Path())
		if err != nil {
			return err
		}
		dir = filepath.Join(filepath.Dir(real), "keys")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if fsx.Inside(abs, specDir) {
		return fmt.Errorf("--key-dir %s is inside the spec directory %s; private keys never go into the specs' tree\nhint: keep them beside the state, such as /var/lib/certform/keys", abs, specDir)
	}
	if r.CertDir != "" && fsx.Inside(abs, r.CertDir) {
		return fmt.Errorf("--key-dir %s is inside --cert-dir %s\nhint: keep the key store beside the state, such as /var/lib/certform/keys", abs, r.CertDir)
	}
	// Opened lazily: a spec tree without key_type never creates the folder.
	r.Keys = &lazyKeys{dir: abs}
	return nil
}

// check reports the delivery flags that do not go together or are out of
// range, without I/O: a usage error (exit 2) for apply and run.
func (f *deliveryFlags) check() error {
	if f.hook != "" && f.certDir == "" {
		return errors.New("--deploy-hook needs --cert-dir")
	}
	if f.postHook != "" && f.certDir == "" {
		return errors.New("--post-hook needs --cert-dir")
	}
	if f.hookTimeout <= 0 || f.hookBackoff <= 0 {
		return errors.New("--deploy-hook-timeout and --deploy-hook-backoff must be positive")
	}
	if f.certDir == "" && f.certGroup != "" {
		return errors.New("--cert-group needs --cert-dir")
	}
	return nil
}

// apply checks the flags and sets them on r.
func (f *deliveryFlags) apply(r *reconcile.Reconciler, specDir string) error {
	if err := f.check(); err != nil || f.certDir == "" {
		return err
	}
	abs, err := filepath.Abs(f.certDir)
	if err != nil {
		return err
	}
	if fsx.Inside(abs, specDir) {
		return fmt.Errorf("--cert-dir %s is inside the spec directory %s; every delivery would change the specs' tree\nhint: deliver elsewhere, such as /var/lib/certform/certs", f.certDir, specDir)
	}
	if err := checkCertDir(f.certDir, abs); err != nil {
		return err
	}
	r.CertDir, r.HookBackoff = abs, f.hookBackoff
	if f.hook != "" {
		r.Hook = &deliver.Hook{Command: f.hook, Timeout: f.hookTimeout}
	}
	if f.postHook != "" {
		r.PostHook = &deliver.Hook{Command: f.postHook, Timeout: f.hookTimeout, Label: "post hook"}
	}
	if f.certGroup != "" {
		g, err := lookupGroup(f.certGroup)
		if err != nil {
			return certGroupError(f.certGroup, err)
		}
		r.CertGroup = &g
	}
	return nil
}

// checkCertDir refuses, before any call, a --cert-dir (given as flag,
// abs its absolute path) that deliveries could not write. A folder that
// exists (symlinks followed) passes: deliveries write only into its
// DIR/NAME folders, whose own modes decide. A path that is not a folder,
// a symlink whose target does not exist, a path below a file, or (when
// it does not exist yet and would be created) a nearest existing folder
// above it that this user may not write into and enter is refused. It
// creates nothing: a run that delivers nothing leaves no folder.
func checkCertDir(flag, abs string) error {
	const hint = "\nhint: give --cert-dir a folder certform's user may write (created when missing), such as /var/lib/certform/certs"
	for p := abs; ; {
		fi, err := os.Stat(p)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("--cert-dir %s cannot be created: %s is not a folder; nothing was sent"+hint, flag, p)
		case err == nil && p == abs:
			return nil
		case err == nil:
			if err := mayWriteInto(p); err != nil {
				return fmt.Errorf("--cert-dir %s: this user may not write into %s (%v); nothing was sent"+hint, flag, p, err)
			}
			return nil
		case errors.Is(err, fs.ErrNotExist):
			if li, lerr := os.Lstat(p); lerr == nil && li.Mode()&fs.ModeSymlink != 0 {
				return fmt.Errorf("--cert-dir %s cannot be created: %s is a symlink to a path that does not exist; nothing was sent"+hint, flag, p)
			}
		case !errors.Is(err, unix.ENOTDIR):
			return fmt.Errorf("--cert-dir %s: %v; nothing was sent"+hint, flag, err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}

// mayWriteInto returns an error when this user may not create or remove
// files in the folder dir. It checks the effective ids, as the open and
// unlink calls of a delivery or a key removal use them (unix.Access
// checks the real ones).
func mayWriteInto(dir string) error {
	return unix.Faccessat(unix.AT_FDCWD, dir, unix.W_OK|unix.X_OK, unix.AT_EACCESS)
}

// checkStateOutsideDir refuses a state file inside the spec directory:
// every state write would change the tree the daemon watches and the
// snapshot a cycle reads.
func checkStateOutsideDir(statePath, dir string) error {
	real, err := state.RealPath(statePath)
	if err != nil {
		return err
	}
	if fsx.Inside(real, dir) {
		return fmt.Errorf("the state file %s is inside the spec directory %s; every state write would change the specs' tree\n"+
			"hint: keep the state outside --dir, such as /var/lib/certform/state.json", statePath, dir)
	}
	return nil
}

// apiURLError is a state file used with another CertCentral API URL.
type apiURLError struct{ name, have, want string }

func (e *apiURLError) Error() string {
	return fmt.Sprintf("the %s belongs to the CertCentral API at %s, but this command uses %s; its orders are not in that account\n"+
		"hint: use --api-url %s (or DIGICERT_API_URL); if the account really moved, run again with --account-moved to record the new URL", e.name, e.have, e.want, e.have)
}

// checkAPIURL compares the API URL in use with the one the state records.
// A store records it on first use (or, with moved, a new one); a read-only
// state (store nil) is only compared; name names it ("state file PATH").
func checkAPIURL(store *state.Store, known *state.File, name, base string, moved bool, log *slog.Logger) error {
	have := ""
	if store != nil {
		have, name = store.APIURL(), store.Name()
	} else if known != nil {
		have = known.BoundAPIURL()
	}
	switch {
	case have == base:
		return nil
	case have != "" && !moved:
		return &apiURLError{name: name, have: have, want: base}
	case store == nil:
		return nil
	}
	if have != "" {
		log.Warn("the account moved: recording the new CertCentral API URL in the state", "from", have, "to", base)
	}
	return store.Mutate(func(f *state.File) { f.APIURL = base })
}

// openState locks the state (a file, or a PostgreSQL workspace) for a
// command that changes it, after the checks every such command shares; on
// failure it prints the error with its hint and returns nil.
func openState(cmd string, l stateLocation, dir string, stderr io.Writer) *state.Store {
	if dir != "" && !l.Shared() {
		if err := checkStateOutsideDir(l.Path(), dir); err != nil {
			fmt.Fprintf(stderr, "certform %s: %v\n", cmd, err)
			return nil
		}
	}
	store, err := l.Open()
	if err != nil {
		printStateError(stderr, cmd, err)
		return nil
	}
	return store
}

// planCmd is certform plan.
var planCmd = &command{
	name: "plan", args: 0,
	short:    "show the calls apply would make",
	synopsis: "--dir DIR --state FILE [--refresh] [--format text|json|markdown] [--compact] [--detailed-exitcode]",
	long:     "show what apply would do; without --refresh no API call and no key are needed, with it only GET calls",
	setup:    planSetup,
}

func planSetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	var f planFlags
	f.register(fs)
	f.api.env = s.env
	var of outputFlags
	of.register(fs)
	out := fs.String("out", "", "save the plan to FILE for certform apply FILE, which makes exactly its calls")
	fs.StringVar(&f.keyIdentity, "key-identity-file", "", planKeyIdentityUsage)
	return func([]string) int { return runPlan(s, fs, &f, of, *out) }
}

// runPlan is certform plan once its flags are parsed: out is --out.
func runPlan(s *streams, fs *pflag.FlagSet, f *planFlags, of outputFlags, out string) int {
	stderr := s.stderr
	if !requireFlags(fs, stderr, "dir", f.dir, "state", f.state) {
		return s.usageCode()
	}
	loc, ok := checkLocation(fs.Name(), f.state, f.workspace, stderr)
	if !ok {
		return s.usageCode()
	}
	format, logger, err := planOutput(f, of, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "certform plan: %v\n", err)
		return s.usageCode()
	}
	st := openPlanState(loc, f.refresh)
	if st.err != nil && st.failed(stderr) {
		return exitError
	}
	run, code := planRunner(s, f, st, logger, out == "")
	if run == nil {
		return code
	}
	rep := run.Once(s.ctx, runner.Step{Refresh: f.refresh, FullRefresh: f.refreshFull})
	c, err := rep.Cycle, rep.Err
	if st.failed(stderr) || unreachable("plan", stderr, cycleErrors(c, err)...) {
		return exitError
	}
	if err == nil {
		err = f.checkReplace(c)
	}
	if err != nil {
		fmt.Fprintf(stderr, "certform plan: %v\n", err)
		return exitError
	}
	for _, e := range c.Errors {
		fmt.Fprintf(stderr, "certform plan: %v\n%s", e, errorHint(e))
	}
	if err := writePlan(s.stdout, stderr, c, format, of, fs); err != nil {
		fmt.Fprintf(stderr, "certform plan: writing the plan: %v\n", err)
		return exitError
	}
	failed := len(c.Specs.Errors) > 0 || len(c.Errors) > 0
	if out != "" && !savePlan(stderr, out, c, st.known, *f, failed) {
		return exitError
	}
	switch {
	case failed || len(c.Plan.Blocked) > 0:
		return exitError
	case f.detailedExitCode && len(c.Plan.Actions) > 0:
		return 2
	}
	return exitOK
}

// planOutput checks plan's limits and output flags, and returns the
// plan's format and the logger of --log-format and --log-level.
func planOutput(f *planFlags, of outputFlags, stderr io.Writer) (format string, logger *slog.Logger, err error) {
	if err := f.check(); err != nil {
		return "", nil, err
	}
	if format, err = of.resolve(f.asJSON); err != nil {
		return "", nil, err
	}
	logger, err = f.log.logger(stderr)
	return format, logger, err
}

// planRunner builds plan's runner on the state st (read now, or after
// the specs), reading CertCentral with --refresh; planOnly (no --out)
// lets the cycle drop what only a saved plan needs. A nil runner stops
// plan with code (the reason is on stderr: the state's, if it cannot be
// read, first).
func planRunner(s *streams, f *planFlags, st *planState, logger *slog.Logger, planOnly bool) (*runner.Runner, int) {
	replace := func(r *reconcile.Reconciler) error { r.Replace = f.replace; return nil }
	o := runner.Options{Dir: f.dir, Known: st.known, Log: logger, Limits: f.cycle.limits(),
		PlanOnly: planOnly, StateAfterLoad: st.afterLoad()}
	run, err := runner.New(o, replace, f.dcv.apply, planKeys(f.keyIdentity, st.loc))
	if err != nil {
		if !st.failed(s.stderr) {
			fmt.Fprintf(s.stderr, "certform plan: %v\n", err)
		}
		return nil, exitError
	}
	if !f.refresh {
		return run, exitOK
	}
	client, err := f.api.newClient(logger)
	if err != nil {
		return nil, clientFailed(s.stderr, "plan", s, err)
	}
	if err := checkAPIURL(nil, st.known, st.loc.Name(), client.BaseURL(), f.accountMoved, logger); err != nil {
		fmt.Fprintf(s.stderr, "certform plan: %v\n", err)
		return nil, exitError
	}
	run.UseAPI(client)
	preflight(client)
	return run, exitOK
}

// writePlan writes the plan of c in format, and the spec errors on stderr;
// none when a refresh failed.
func writePlan(stdout, stderr io.Writer, c *reconcile.Cycle, format string, of outputFlags, fs *pflag.FlagSet) error {
	switch {
	case format == formatJSON:
		return c.Plan.WriteJSON(stdout, c.Specs.Errors)
	case slices.ContainsFunc(c.Errors, func(e error) bool { return !reconcile.IsClockError(e) }):
		// A plan from a refresh that failed would tell a reviewer "No
		// calls to make." when certform does not know. (A wrong clock
		// alone reads CertCentral fine: the plan shows what it blocks.)
		printSpecErrors(stderr, c.Specs)
		fmt.Fprintln(stderr, "certform plan: no plan printed: CertCentral could not be read (see above); run again once it answers")
		return nil
	}
	printSpecErrors(stderr, c.Specs)
	if format == formatMarkdown {
		return c.Plan.WriteMarkdown(stdout)
	}
	return writeTextPlan(stdout, c.Plan, of, fs)
}

// savePlan saves the plan of c to out (--out) for certform apply out,
// unless it was made with errors; it reports whether it did.
func savePlan(stderr io.Writer, out string, c *reconcile.Cycle, known *state.File, f planFlags, failed bool) bool {
	if failed {
		fmt.Fprintf(stderr, "certform plan: the plan is not saved to %s: it was made with errors (see above)\n", out)
		return false
	}
	if err := writeSavedPlan(out, reconcile.NewSavedPlan(c, known, time.Now())); err != nil {
		fmt.Fprintf(stderr, "certform plan: saving the plan: %v\n", err)
		return false
	}
	fmt.Fprintf(stderr, "certform plan: saved to %s; %s makes exactly these calls\n", out, applyCommand(f, out))
	return true
}

// planState is the state a plan reads: before it loads the specs, or,
// for a state file and a plan that reads nothing from CertCentral, after
// them (reconcile.StateAfterLoad), so that it holds less (issue 27).
type planState struct {
	loc   stateLocation
	known *state.File // nil until read
	err   error       // why it could not be read
	// checked is the hint of the fingerprints a state file records as
	// checked (state.ReadChecked) when the state is read after the specs.
	checked map[string]bool
}

// openPlanState reads the state now when the plan reads CertCentral or
// the state is not a readable file; else it takes the hint of what it
// records as checked and leaves the read for after the load.
func openPlanState(loc stateLocation, refresh bool) *planState {
	s := &planState{loc: loc}
	if !refresh {
		s.checked = loc.ReadChecked()
	}
	if s.checked == nil {
		s.read()
	}
	return s
}

// afterLoad is the Reconciler's StateAfterLoad: nil when the state was
// read already.
func (s *planState) afterLoad() *reconcile.StateAfterLoad {
	if s.known != nil || s.err != nil {
		return nil
	}
	return &reconcile.StateAfterLoad{Read: s.read, Checked: s.checked}
}

// read reads the state. The hint's fingerprints then become the state's
// own copies (shareHint).
func (s *planState) read() (*state.File, error) {
	s.known, s.err = s.loc.Read()
	if s.known != nil {
		shareHint(s.checked, s.known)
	}
	return s.known, s.err
}

// shareHint makes hint's keys the copies of the fingerprints f's entries
// record as checked (Entry.Checked), where they are equal, changing no
// value: the hint, which the cycle holds to its end, then keeps no text of
// its own (issue 27: 0.8 MB of 1.2 MB at 10,000 entries, at the plan's
// peak). Each key is deleted and stored again with f's copy.
func shareHint(hint map[string]bool, f *state.File) {
	for _, e := range f.Entries {
		if v, ok := hint[e.Checked]; ok {
			delete(hint, e.Checked)
			hint[e.Checked] = v
		}
	}
}

// failed reads the state unless it was read, and reports whether it could
// not be, saying why: a plan that fails says that first, whatever else
// failed after the point where the state used to be read.
func (s *planState) failed(stderr io.Writer) bool {
	if s.known == nil && s.err == nil {
		s.read()
	}
	if s.err != nil {
		printStateError(stderr, "plan", s.err)
		return true
	}
	return false
}

// applyCmd is certform apply.
var applyCmd = &command{
	name: "apply", args: -1,
	short:    "make the calls that bring CertCentral in line with the specs",
	synopsis: "--dir DIR --state FILE [PLAN_FILE] [--refresh] [--json] [--auto-approve] [--max-revocations N] [--parallelism N] [--resend-after DUR]",
	long:     "plan, then make the calls; exit 0 only when every call landed. With PLAN_FILE (from plan --out), make exactly its calls, or none if the state, the specs or the plan changed since",
	setup:    applySetup,
}

func applySetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stdout, stderr := s.stdout, s.stderr
	var f planFlags
	f.register(fs)
	f.api.env = s.env
	parallelism := fs.Int("parallelism", 4, "specs worked on at once")
	f.autoApprove = fs.Bool("auto-approve", false, "on a terminal, make the calls without asking for yes")
	var df deliveryFlags
	df.register(fs)
	return func(args []string) int {
		if fs.NArg() > 1 {
			fmt.Fprintf(stderr, "certform apply: unexpected argument %q: apply takes at most one plan file\n", fs.Arg(1))
			return s.usageCode()
		}
		f.planFile = fs.Arg(0)
		if !requireFlags(fs, stderr, "dir", f.dir, "state", f.state) {
			return s.usageCode()
		}
		loc, ok := checkLocation(fs.Name(), f.state, f.workspace, stderr)
		if !ok {
			return s.usageCode()
		}
		if err := f.check(); err != nil {
			fmt.Fprintf(stderr, "certform apply: %v\n", err)
			return s.usageCode()
		}
		if *parallelism < 1 {
			fmt.Fprintf(stderr, "certform apply: --parallelism %d: it must be at least 1\n", *parallelism)
			return s.usageCode()
		}
		if err := df.check(); err != nil {
			fmt.Fprintf(stderr, "certform apply: %v\n", err)
			return s.usageCode()
		}
		if f.asJSON && asksApproval(f, stdout) && !isTerminalWriter(stderr) {
			fmt.Fprintln(stderr, "certform apply: --json on a terminal shows the plan to approve on stderr, which is not a terminal; nothing was done\n"+
				"hint: keep stderr on the terminal to review the plan and answer yes, or give --auto-approve, or apply a saved plan (plan --out FILE, then apply FILE)")
			return s.usageCode()
		}
		gate := &storeGate{}
		logger, client, code := loggerAndClient("apply", &f.log, &f.api, stderr, s, digicert.WithGate(gate.check))
		if code != 0 {
			return code
		}
		ctx := s.ctx
		return applyOnce(ctx, f, loc, df, *parallelism, client, gate, logger, stdout, stderr)
	}
}

// applyOnce is one apply: lock the state, then one cycle of the runner
// (refresh if asked, load, plan, print, approve, apply, deliver), and
// report. It returns the exit code.
// gate is the client's store gate, set here once the state is open.
func applyOnce(ctx context.Context, f planFlags, loc stateLocation, df deliveryFlags, parallelism int, client *digicert.Client, gate *storeGate, logger *slog.Logger, stdout, stderr io.Writer) int {
	store := openState("apply", loc, f.dir, stderr)
	if store == nil {
		return exitError
	}
	defer store.Close()
	gate.set(store)
	if err := checkAPIURL(store, nil, "", client.BaseURL(), f.accountMoved, logger); err != nil {
		fmt.Fprintf(stderr, "certform apply: %v\n", err)
		return exitError
	}
	saved, ok := readSavedPlan(f.planFile, stderr)
	if !ok {
		return exitError
	}
	preflight(client)
	known := store.Snapshot()
	replace := func(r *reconcile.Reconciler) error { r.Replace = f.replace; return nil }
	run, err := runner.New(runner.Options{Dir: f.dir, API: client, Store: store, Log: logger, Parallelism: parallelism, Limits: f.cycle.limits()},
		replace, df.setup(f.dir, loc), f.dcv.apply)
	if err != nil {
		fmt.Fprintf(stderr, "certform apply: %v\n", err)
		return exitError
	}
	rv := applyReview{f: f, saved: saved, known: known, stdout: stdout, stderr: stderr}
	rep := run.Once(ctx, runner.Step{Refresh: f.refresh, FullRefresh: f.refreshFull, Review: rv.review, ApplyIdle: true})
	if rep.Err != nil {
		if !unreachable("apply", stderr, cycleErrors(rep.Cycle, rep.Err)...) {
			printStateError(stderr, "apply", rep.Err)
		}
		return exitError
	}
	if rep.Stopped != nil {
		return exitError
	}
	return applyResults(f, rep, run.HooksWaiting(rep), stdout, stderr)
}

// readSavedPlan reads apply's saved plan, if one is named; ok is false
// when it cannot be read (said on stderr).
func readSavedPlan(file string, stderr io.Writer) (saved *reconcile.SavedPlan, ok bool) {
	if file == "" {
		return nil, true
	}
	data, err := os.ReadFile(file)
	if err == nil {
		saved, err = reconcile.ReadSavedPlan(data)
	}
	if err != nil {
		fmt.Fprintf(stderr, "certform apply: %s: %v; nothing was done\n", file, err)
		return nil, false
	}
	return saved, true
}

// errNotApplied stops apply's cycle before anything is applied; why was
// said on stderr.
var errNotApplied = errors.New("nothing applied")

// applyReview is apply's look at the plan before anything is applied.
type applyReview struct {
	f              planFlags
	saved          *reconcile.SavedPlan
	known          *state.File // the state before the cycle, for the saved plan's comparison
	stdout, stderr io.Writer
}

// review prints the cycle's errors and the plan, compares it with the
// saved plan and asks for approval on a terminal. Its errNotApplied stops
// the cycle.
func (v applyReview) review(c *reconcile.Cycle) error {
	f, stdout, stderr := v.f, v.stdout, v.stderr
	if unreachable("apply", stderr, c.Errors...) {
		return errNotApplied
	}
	if err := f.checkReplace(c); err != nil {
		fmt.Fprintf(stderr, "certform apply: %v\n", err)
		return errNotApplied
	}
	printSpecErrors(stderr, c.Specs)
	for _, e := range c.Errors {
		fmt.Fprintf(stderr, "certform apply: %v\n%s", e, errorHint(e))
	}
	if v.saved != nil {
		if diffs := v.saved.Differences(c, v.known); len(diffs) > 0 {
			fmt.Fprintf(stderr, "certform apply: %s cannot be applied; nothing was done:\n", f.planFile)
			for _, d := range diffs {
				fmt.Fprintf(stderr, "  %s\n", d)
			}
			fmt.Fprintln(stderr, "hint: make the plan again (certform plan --refresh --out FILE), review it, and apply that")
			return errNotApplied
		}
	}
	ask := asksApproval(f, stdout) && len(c.Plan.Actions) > 0
	// With --json, stdout holds only the JSON object: a plan to approve,
	// and the question, go to stderr, so that what is approved was seen.
	planOut := stdout
	if f.asJSON {
		planOut = nil
		if ask {
			planOut = stderr
		}
	}
	if planOut != nil {
		if err := c.Plan.WriteText(planOut, colorOK(planOut)); err != nil {
			fmt.Fprintf(stderr, "certform apply: writing the plan: %v; nothing applied\n", err)
			return errNotApplied
		}
	}
	if ask {
		if !approved(os.Stdin, planOut) {
			fmt.Fprintln(stderr, "certform apply: not approved; nothing was done")
			return errNotApplied
		}
	}
	return nil
}

// applyResults prints what apply's cycle came to (the deliveries, the
// post hook, the hooks that wait, the calls) and returns the exit code.
func applyResults(f planFlags, rep runner.Report, waiting []reconcile.HookWait, stdout, stderr io.Writer) int {
	c, results := rep.Cycle, rep.Results
	failed := len(c.Specs.Errors) > 0 || len(c.Errors) > 0
	dout := stdout
	if f.asJSON {
		dout = io.Discard // the JSON object is the whole of stdout
	}
	if view.Deliveries(dout, stderr, "apply", rep.Deliveries) {
		failed = true
	}
	if printPostHook(dout, stderr, "apply", rep.PostHook) {
		failed = true
	}
	if printHooksWaiting(stderr, "apply", waiting) {
		failed = true
	}
	var outErr error
	if f.asJSON {
		outErr = c.Plan.WriteJSONResults(stdout, c.Specs.Errors, results)
	}
	bad := rep.Failed()
	if !f.asJSON && len(results) > 0 {
		_, outErr = fmt.Fprintf(stdout, "\nApply: %d of %d calls done%s.\n", len(results)-len(bad), len(results), view.FailedCount(len(bad)))
	}
	if outErr != nil {
		fmt.Fprintf(stderr, "certform apply: writing the results: %v\n", outErr)
		failed = true
	}
	if len(bad) > 0 || len(c.Plan.Blocked) > 0 {
		fmt.Fprintf(stderr, "certform apply: %s\n", failureSummary(bad, c.Plan.Blocked))
		return exitError
	}
	if failed {
		return exitError
	}
	if f.detailedExitCode && len(results) > 0 {
		return 2
	}
	return exitOK
}

func failureSummary(bad []reconcile.Result, blocked []reconcile.Action) string {
	var lines []string
	if len(bad) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%d failed:", len(bad))
		for _, r := range bad {
			who := r.Action.Name
			if r.Action.OrderID != 0 {
				who += fmt.Sprintf(" (order %d)", r.Action.OrderID)
			}
			fmt.Fprintf(&b, "\n  %s %s: %v", r.Action.Kind, who, r.Err)
		}
		lines = append(lines, b.String())
	}
	// Adoptions are grouped apart: their rails mean other things.
	by := map[string][]string{}
	for _, a := range blocked {
		key := a.BlockedBy
		if a.Kind == reconcile.KindAdopt {
			key = "adopt:" + key
		}
		by[key] = append(by[key], a.Name)
	}
	for _, g := range []struct{ reason, word, text string }{
		{reconcile.BlockedMaxRevocations, "revocation", "blocked by --max-revocations"},
		{reconcile.BlockedMaxPurchases, "order", "blocked by --max-purchases"},
		{reconcile.BlockedNames, "revocation", "blocked because the order's names are not the spec's"},
		{reconcile.BlockedDuplicate, "order", "blocked as duplicates of a certificate already ordered or asked for"},
		{reconcile.BlockedExists, "order", "blocked because CertCentral already has live orders with these names"},
		{reconcile.BlockedClock, "call", "blocked because the local clock is not CertCentral's (see above)"},
		{reconcile.BlockedKeyStore, "order", "blocked because this state has no key store for specs with key_type"},
		{"adopt:" + reconcile.BlockedNames, "adoption", "blocked because the order's names are not the spec's"},
		{"adopt:" + reconcile.BlockedDuplicate, "adoption", "blocked because another spec tracks the order"},
		{"adopt:" + reconcile.BlockedOrderID, "adoption", "blocked because order_id names an order that cannot be adopted"},
	} {
		if ns := by[g.reason]; len(ns) > 0 {
			line := fmt.Sprintf("%s %s: %s", view.CountOf(len(ns), g.word), g.text, strings.Join(ns, ", "))
			if g.reason != reconcile.BlockedMaxRevocations && g.reason != reconcile.BlockedMaxPurchases && g.reason != reconcile.BlockedClock {
				line += " (see the notes)"
			}
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// errorHint returns "hint: ...\n" for an error that carries a hint (a
// *reconcile.ClockError), or "".
func errorHint(err error) string {
	var h interface{ Hint() string }
	if errors.As(err, &h) {
		return "hint: " + h.Hint() + "\n"
	}
	return ""
}

// printStateError writes "certform CMD: err" and the state error's hint
// (stateHint), the one way a command reports a state it cannot open or read.
func printStateError(w io.Writer, cmd string, err error) {
	fmt.Fprintf(w, "certform %s: %v\n%s", cmd, err, stateHint(err))
}

// stateHint returns the hint lines for a state file error, or "".
func stateHint(err error) string {
	var ce *state.CorruptError
	var me *state.MissingError
	var pe *state.PermissionError
	var ue *pgstate.UnavailableError
	var nf *NotFoundError
	var hl *state.HardLinkError
	var mv *state.MovedError
	var le *state.LockedError
	switch {
	case errors.As(err, &le):
		return lockedHint(le)
	case errors.As(err, &ue):
		return "hint: check that PostgreSQL answers at the --state address and that certform has the password (PGPASSWORD, a password file, or the systemd credential " + pgstate.CredentialName + ")\n"
	case errors.As(err, &pe) && pe.UID >= 0:
		return fmt.Sprintf("hint: run certform as the user that owns it (for the service, the systemd-run prefix in \"Running on a server\" in docs/daemon.md), or give the state file and its lock back to one owner: chown %d:%d STATE STATE.lock\n", pe.UID, pe.GID)
	case errors.As(err, &pe):
		return "hint: run certform as the user that owns the state file (for the service, the systemd-run prefix in \"Running on a server\" in docs/daemon.md)\n"
	case errors.As(err, &me):
		return fmt.Sprintf("hint: restore it from a backup (see \"Recovering the state file\" in docs/state.md); to start over on purpose, stop every certform that uses it, then remove %s\n", state.LockPath(me.Path))
	case errors.As(err, &ce):
		return corruptHint(ce)
	case errors.As(err, &mv):
		return fmt.Sprintf("hint: point every certform at the new state (%s), and stop any certform still started with this one\n", mv.Moved.Flags)
	case errors.As(err, &hl):
		return "hint: keep one name for the state: remove the other hard link, and point every certform at this path (a symlink is resolved before locking, so it may stand for another name)\n"
	case errors.As(err, &nf):
		return nf.hint()
	}
	return ""
}

// lockedHint is the hint of a state file another certform process holds:
// wait for it, see what it is, and plan or status meanwhile (they read the
// state without its lock).
func lockedHint(le *state.LockedError) string {
	if le.PID > 0 {
		return fmt.Sprintf("hint: wait for that certform to finish (ps -p %d shows what it is); plan and status can read the state meanwhile\n", le.PID)
	}
	return "hint: wait for that certform to finish; plan and status can read the state meanwhile\n"
}

// corruptHint is the hint of a state file that cannot be used: a folder
// given as --state, an empty file (such as one made with touch), or a
// file that needs recovering.
func corruptHint(ce *state.CorruptError) string {
	fi, err := os.Stat(ce.Path)
	switch {
	case err == nil && fi.IsDir():
		return "hint: --state names a file, not a folder: give a path such as " + filepath.Join(ce.Path, "state.json") + "; certform creates it on the first apply, import or run\n"
	case err == nil && fi.Size() == 0:
		return "hint: if you made this file empty (touch), remove it: certform creates the state file on the first apply, import or run; if it held a state, restore it (see \"Recovering the state file\" in docs/state.md)\n"
	}
	return "hint: see \"Recovering the state file\" in docs/state.md\n"
}

// statusJSON is one entry of certform status --json; a stable interface
// shared with the daemon's /status (package status).
type statusJSON = status.Entry

// statusCmd is certform status.
var statusCmd = &command{
	name: "status", args: 0,
	short:    "list the orders in the state file",
	synopsis: "--state FILE [--dir DIR] [--json]",
	long:     "list every order in the state file; with --dir, orphans (entries without a valid spec) are marked",
	setup:    statusSetup,
}

func statusSetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stdout, stderr := s.stdout, s.stderr
	var st stateFlags
	st.register(fs, stateUsage)
	dir := fs.String("dir", "", "spec directory, to mark orphans")
	asJSON := fs.Bool("json", false, "print JSON")
	return func(args []string) int {
		if !requireFlags(fs, stderr, "state", st.state) {
			return exitUsage
		}
		loc, ok := checkLocation(fs.Name(), st.state, st.workspace, stderr)
		if !ok {
			return exitUsage
		}
		known, rows, err := statusRows(loc, *dir)
		if err != nil {
			printStateError(stderr, "status", err)
			return exitError
		}
		if *asJSON {
			return writeJSON(stdout, stderr, "status", rows)
		}
		if err := view.StatusText(stdout, loc.Name(), rows, known.ObservedAt, time.Now()); err != nil {
			fmt.Fprintf(stderr, "certform status: %v\n", err)
			return exitError
		}
		return exitOK
	}
}

// statusRows reads the state at loc, which must exist, and builds a row
// for each of its entries (none: an empty list); with dir, the entries
// without a valid spec below it are marked as orphans.
func statusRows(loc stateLocation, dir string) (*state.File, []statusJSON, error) {
	known, err := loc.Read()
	if err == nil {
		err = checkStatusExists(loc)
	}
	if err != nil {
		return nil, nil, err
	}
	var specs []*spec.Order
	if dir != "" {
		res, err := spec.Load(dir)
		if err != nil {
			return nil, nil, err
		}
		specs = res.Orders
		if specs == nil {
			specs = []*spec.Order{}
		}
	}
	rows := []statusJSON{}
	if len(known.Entries) > 0 {
		rows = status.Build(known, specs, nil)
	}
	return known, rows, nil
}

// forgetRefused is why forget keeps the entry e of spec name unless
// --force: a call whose outcome is unknown; nil when there is none.
func forgetRefused(name string, e *state.Entry) error {
	if e.Intent == nil {
		return nil
	}
	what := fmt.Sprintf("its %s sent at %s", e.Intent.Action, e.Intent.Started.UTC().Format(time.RFC3339))
	hint := fmt.Sprintf("apply settles it (it looks the order up and adopts it); to drop it anyway after checking CertCentral, run certform forget %s --force", name)
	if e.Intent.Action == state.IntentOrder {
		what += fmt.Sprintf(" (alternative order id %s)", e.Intent.AlternativeOrderID)
		hint = fmt.Sprintf("look for alternative order id %s in CertCentral; apply settles it by looking it up; to drop it anyway, run certform forget %s --force", e.Intent.AlternativeOrderID, name)
	}
	return withHint(fmt.Errorf("%s is not forgotten: %s has an unknown outcome, and forgetting it could order the same certificate twice or lose a revocation", name, what), hint)
}

// writeJSON writes v as JSON (view.JSON) for command cmd; an error is
// reported on stderr and the code is 1.
func writeJSON(stdout, stderr io.Writer, cmd string, v any) int {
	if err := view.JSON(stdout, v); err != nil {
		fmt.Fprintf(stderr, "certform %s: %v\n", cmd, err)
		return exitError
	}
	return exitOK
}

// importCmd is certform import.
var importCmd = &command{
	name: "import", args: 2,
	short:    "adopt an existing order for a spec",
	synopsis: "--dir DIR --state FILE NAME ORDER_ID",
	long:     "adopt an existing CertCentral order for the spec NAME after checking that its names match; from then on only toggles are planned for it",
	setup:    importSetup,
}

func importSetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stderr := s.stderr
	dir := fs.String("dir", "", specDirUsage)
	var st stateFlags
	st.register(fs, stateUsage)
	st.registerAccountMoved(fs, accountMovedUsage)
	var api apiFlags
	api.register(fs)
	api.env = s.env
	var lf logFlags
	lf.register(fs)
	return func(args []string) int {
		if !requireFlags(fs, stderr, "dir", *dir, "state", st.state) {
			return exitUsage
		}
		loc, ok := checkLocation(fs.Name(), st.state, st.workspace, stderr)
		if !ok {
			return exitUsage
		}
		name := fs.Arg(0)
		orderID, err := strconv.Atoi(fs.Arg(1))
		if err != nil || orderID <= 0 {
			fmt.Fprintf(stderr, "certform import: ORDER_ID %q is not an order id (a positive integer)\n", fs.Arg(1))
			return exitUsage
		}
		run := adoptRun{loc: loc, api: &api, log: &lf, accountMoved: st.accountMoved, s: s}
		return run.importOrder(adopt.Import{Dir: *dir, Name: name, OrderID: orderID})
	}
}

// forgetCmd is certform forget.
var forgetCmd = &command{
	name: "forget", args: 1,
	short:    "drop a spec's entry from the state file",
	synopsis: "--state FILE [--force] [--key-dir DIR] NAME",
	long:     "drop NAME's entry and its keys from the state; no API call, the order itself is untouched",
	setup:    forgetSetup,
}

func forgetSetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stdout, stderr := s.stdout, s.stderr
	var st stateFlags
	st.register(fs, stateUsage)
	force := fs.Bool("force", false, "forget an entry even while a call's outcome is unknown (an order or revoke in flight)")
	keyDir := fs.String("key-dir", "", "the key store of a state file, whose keys of NAME are removed too; default keys/ beside the state file")
	return func(args []string) int {
		if !requireFlags(fs, stderr, "state", st.state) {
			return exitUsage
		}
		loc, ok := checkLocation(fs.Name(), st.state, st.workspace, stderr)
		if !ok {
			return exitUsage
		}
		if loc.Shared() && *keyDir != "" {
			fmt.Fprintln(stderr, "certform forget: --key-dir is for a state file; a shared (PostgreSQL) state keeps its keys in the database")
			return exitUsage
		}
		name := fs.Arg(0)
		store := openState("forget", loc, "", stderr)
		if store == nil {
			return exitError
		}
		defer store.Close()
		e := store.Entry(name)
		if e == nil {
			fmt.Fprintf(stderr, "certform forget: the state file has no entry named %q\n", name)
			return exitError
		}
		if err := forgetRefused(name, e); err != nil && !*force {
			printError(stderr, "forget", err)
			return exitError
		}
		fk, err := openForgetKeys(store, loc, *keyDir, e)
		if err != nil {
			fmt.Fprintf(stderr, "certform forget: %s is not forgotten, the state is unchanged: its keys could not be removed: %v\n", name, err)
			return exitError
		}
		if err := store.Update(name, func(*state.Entry) bool { return false }); err != nil {
			fmt.Fprintf(stderr, "certform forget: %v\n", err)
			return exitError
		}
		view.Forgotten(stdout, name, e)
		return removeForgottenKeys(stdout, stderr, store, fk, name)
	}
}
