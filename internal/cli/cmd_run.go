package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/spf13/pflag"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/certform/certform/adopt"
	"github.com/certform/certform/daemon"
	"github.com/certform/certform/daemon/serve"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/internal/runner"
	"github.com/certform/certform/notify"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
	"github.com/certform/certform/state/location"
	"github.com/certform/certform/state/pgstate"
)

// devKey is the API key of the fake CertCentral that --dev starts.
const devKey = "certform-dev-key"

// runCmd is certform run: it parses the flags, builds the client, the
// locked state and the runner, and hands them to package daemon.
var runCmd = &command{
	name: "run", args: 0,
	short:    "the daemon: reconcile on every change, schedule tick and SIGHUP",
	synopsis: "--dir DIR --state FILE [--schedule CRON] [--debounce DUR] [--dry-run] [--refresh-schedule CRON] [--listen ADDR] [--dev] [--once]",
	long:     "reconcile at start, then on every change below DIR, every --schedule tick and SIGHUP, until SIGINT or SIGTERM",
	setup: func(fs *pflag.FlagSet, s *streams) func(args []string) int {
		o := &runOptions{}
		o.register(fs)
		o.api.env = s.env
		return func([]string) int { return o.run(s, fs) }
	},
}

// runOptions are certform run's flags.
type runOptions struct {
	dir, schedule, refreshSchedule string
	refreshBudget                  string
	budget                         float64
	listen, notifyConfig           string
	st                             stateFlags
	cf                             cycleFlags
	dryRun, dev, once              bool
	df                             deliveryFlags
	dcvf                           dcvFlags
	pollInterval, retryBackoff     time.Duration
	parallelism                    int
	api                            apiFlags
	lf                             logFlags
}

// register declares run's flags on fs.
func (o *runOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.dir, "dir", "", "spec directory to watch (required)")
	o.st.register(fs, "state file, or postgres://USER@HOST:PORT/DB?sslmode=verify-full for a PostgreSQL state shared with standby servers (required, except with --dev, which keeps a temporary one)")
	fs.StringVar(&o.schedule, "schedule", "@every 15m", "cron schedule of periodic cycles (five fields, or @every DUR, @hourly, @daily)")
	fs.StringVar(&o.refreshSchedule, "refresh-schedule", "@daily", "cron schedule of cycles that first refresh from CertCentral's order list, reading one by one only the orders that differ from the state (as --refresh)")
	fs.StringVar(&o.refreshBudget, "refresh-budget", "10%", "share of CertCentral's rate limit that a background sweep spends reading the tracked orders one by one, to see disable_ct and auto_reissue changed in CertCentral (the order list does not carry them): a percentage (10%) or a fraction (0.1); 0 turns the sweep off")
	o.cf.register(fs, "debounce", "quiet-period")
	fs.BoolVar(&o.dryRun, "dry-run", false, "plan and log every cycle; never make a write call or change the state")
	fs.StringVar(&o.listen, "listen", "", "address for /healthz and /metrics, such as 127.0.0.1:9464 (off by default)")
	fs.BoolVar(&o.dev, "dev", false, "serve a fake CertCentral on a loopback port and use it (no API key, no network)")
	fs.BoolVar(&o.once, "once", false, "run one cycle and exit: 0 when everything landed, 1 otherwise")
	o.st.registerAccountMoved(fs, accountMovedUsage)
	o.df.register(fs)
	o.dcvf.register(fs)
	fs.DurationVar(&o.pollInterval, "poll-interval", daemon.DefaultPollInterval, "while an order waits in CertCentral (approval, validation, reissue, pickup), look again this often")
	fs.IntVar(&o.parallelism, "parallelism", 4, "specs worked on at once")
	fs.StringVar(&o.notifyConfig, "notify-config", os.Getenv("CERTFORM_NOTIFY_CONFIG"), "notification receivers and the events each wants (YAML; see docs/notifications.md); also $CERTFORM_NOTIFY_CONFIG; never inside --dir, and only its owner may read it")
	fs.DurationVar(&o.retryBackoff, "retry-backoff", daemon.DefaultRetryBackoff, "wait before retrying after a failed cycle; doubles on each failure, at most 15m")
	o.api.register(fs)
	o.lf.register(fs)
}

// checkUsage checks the flags that need no I/O: the required ones, the
// schedules and the ranges. A code other than 0 stops run with it (the
// reason is on stderr).
func (o *runOptions) checkUsage(fs *pflag.FlagSet, s *streams) (loc stateLocation, schedules [2]*daemon.Schedule, code int) {
	stderr := s.stderr
	if !requireFlags(fs, stderr, "dir", o.dir) {
		return loc, schedules, exitUsage
	}
	if o.dev && o.st.state != "" {
		if v, ok := s.env(envName("state")); ok && v == o.st.state && !onCommandLine(s.args, "state") {
			fmt.Fprintf(stderr, "certform run: --dev keeps its own temporary state, but CERTFORM_STATE is set (%s): the fake's order ids would be recorded there\n"+
				"hint: unset CERTFORM_STATE for --dev: env -u CERTFORM_STATE make demo, or env -u CERTFORM_STATE certform run --dev --dir DIR\n", o.st.state)
		} else {
			fmt.Fprintf(stderr, "certform run: --dev keeps its own temporary state; --state would record the fake's order ids in %s\n"+
				"hint: leave out --state with --dev, or --dev to run on this state\n", o.st.state)
		}
		return loc, schedules, exitUsage
	}
	if !o.dev && !requireFlags(fs, stderr, "state", o.st.state) {
		return loc, schedules, exitUsage
	}
	if !o.dev {
		var ok bool
		if loc, ok = checkLocation("run", o.st.state, o.st.workspace, stderr); !ok {
			return loc, schedules, exitUsage
		}
	}
	for i, c := range []struct{ flag, text string }{{"schedule", o.schedule}, {"refresh-schedule", o.refreshSchedule}} {
		sc, err := daemon.ParseSchedule(c.text)
		if err != nil {
			fmt.Fprintf(stderr, "certform run: --%s %q: %v\nhint: use five cron fields (\"*/15 * * * *\") or a descriptor (\"@every 15m\", \"@daily\")\n", c.flag, c.text, err)
			return loc, schedules, exitUsage
		}
		schedules[i] = sc
	}
	if err := checkListen(o.listen); err != nil {
		printError(stderr, "run", err)
		return loc, schedules, exitUsage
	}
	df := o.df
	if o.dev && df.certDir == "" {
		df.certDir = "certs" // --dev delivers into its temporary folder (startDev)
	}
	if err := df.check(); err != nil {
		fmt.Fprintf(stderr, "certform run: %v\n", err)
		return loc, schedules, exitUsage
	}
	budget, err := daemon.ParseBudget(o.refreshBudget)
	if err != nil {
		fmt.Fprintf(stderr, "certform run: --refresh-budget %q: %v\n", o.refreshBudget, err)
		return loc, schedules, exitUsage
	}
	o.budget = budget
	if o.cf.quiet <= 0 || o.retryBackoff <= 0 || o.pollInterval <= 0 || o.parallelism < 1 || o.cf.negative() {
		fmt.Fprintln(stderr, "certform run: --debounce, --retry-backoff and --poll-interval must be positive, --parallelism at least 1, --max-revocations, --max-purchases, --resend-after and --max-clock-skew not negative")
		return loc, schedules, exitUsage
	}
	return loc, schedules, exitOK
}

// onCommandLine reports whether the flag --name is in args, the command
// line (before "--"), rather than set from its environment variable.
func onCommandLine(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			return true
		}
	}
	return false
}

// checkListen refuses a --listen that is not HOST:PORT (an empty one
// serves nothing), whether or not it is used (--once serves nothing).
func checkListen(addr string) error {
	if addr == "" {
		return nil
	}
	const hint = "give HOST:PORT, such as --listen 127.0.0.1:9464"
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return withHint(fmt.Errorf("--listen %q is not HOST:PORT: %v", addr, strings.TrimPrefix(err.Error(), "address "+addr+": ")), hint)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return withHint(fmt.Errorf("--listen %q: %q is not a port", addr, port), hint)
	}
	return nil
}

// run is certform run once its flags are parsed.
func (o *runOptions) run(s *streams, fs *pflag.FlagSet) int {
	stderr := s.stderr
	loc, schedules, code := o.checkUsage(fs, s)
	if code != exitOK {
		return code
	}
	logger, err := o.lf.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "certform run: %v\n", err)
		return exitUsage
	}
	if fi, err := os.Stat(o.dir); err != nil || !fi.IsDir() {
		return runFailed(stderr, withHint(fmt.Errorf("spec directory %s is not a readable folder", o.dir), specDirHint))
	}
	met := serve.NewMetrics()
	interrupted := false // a second signal: exit at once, queued events dropped
	notifier, err := openNotifier(o.notifyConfig, o.dir, logger, met)
	if err != nil {
		return runFailed(stderr, fmt.Errorf("--notify-config: %w", err))
	}
	if notifier != nil {
		defer func() { drainNotifier(notifier, logger, interrupted) }()
	}
	var fake *digicerttest.Server
	if o.dev {
		fake, loc, err = o.startDev(logger)
		if err != nil {
			return runFailed(stderr, err)
		}
		defer fake.Close()
		defer os.RemoveAll(filepath.Dir(o.st.state))
	}
	client, store, takeOver, code := o.connect(s, logger, met, loc)
	if client == nil {
		return code
	}
	defer store.Close()
	if fake != nil {
		seedDev(o.dir, fake, store, logger)
	}
	err = o.runDaemon(logger, client, store, loc, schedules, met, notifier, takeOver)
	interrupted = errors.Is(err, daemon.ErrInterrupted)
	switch {
	case interrupted, errors.Is(err, daemon.ErrFailed):
		return exitError
	case err != nil:
		return runFailed(stderr, err)
	}
	return exitOK
}

// runFailed reports err (with its hints) for certform run and returns 1.
func runFailed(stderr io.Writer, err error) int {
	printError(stderr, "run", err)
	return exitError
}

// runDaemon builds the runner and the daemon on the locked store and
// runs it until it stops (package daemon's errors tell why).
func (o *runOptions) runDaemon(logger *slog.Logger, client *digicert.Client, store *state.Store, loc stateLocation,
	schedules [2]*daemon.Schedule, met *serve.Metrics, notifier *notify.Notifier, takeOver func() error) error {
	sigs := make(chan os.Signal, 4)
	daemonOwnsSignals.Store(true) // the daemon's own second-signal stop, not main's
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	run, err := o.runner(client, store, logger, loc)
	if err != nil {
		return err
	}
	d, err := daemon.New(o.daemonConfig(run, logger, schedules, met, sigs, takeOver, notifier))
	if err != nil {
		return err
	}
	defer d.Close()
	if !o.once {
		o.logStart(logger, store, client.BaseURL())
	}
	if err := d.Run(context.Background()); err != nil {
		return err
	}
	if !o.once {
		logger.Info("certform run stopped")
	}
	return nil
}

// connect builds the CertCentral client and opens the state at loc, which
// the client's gate then checks before every write call; takeOver checks
// the state's API URL (--account-moved), now when the lock is held, and
// again whenever the daemon takes the lock over. A nil client stops run
// with code (the reason is on stderr).
func (o *runOptions) connect(s *streams, logger *slog.Logger, met *serve.Metrics, loc stateLocation) (client *digicert.Client, store *state.Store, takeOver func() error, code int) {
	var gate storeGate
	client, err := o.api.newClient(logger, digicert.WithObserver(met.ObserveCall), digicert.WithGate(gate.check))
	if err != nil {
		return nil, nil, nil, clientFailed(s.stderr, "run", s, err)
	}
	client.CheckFirstCall() // the daemon's first cycle checks with its own first call (Runner.ArmCheck)
	if store = openDaemonState(loc, o.dir, o.once, logger, s.stderr); store == nil {
		return nil, nil, nil, exitError
	}
	gate.set(store)
	takeOver = func() error {
		return checkAPIURL(store, nil, "", client.BaseURL(), o.st.accountMoved, logger)
	}
	if store.Lost() == nil {
		if err := takeOver(); err != nil {
			store.Close()
			fmt.Fprintf(s.stderr, "certform run: %v\n", err)
			return nil, nil, nil, exitError
		}
	}
	return client, store, takeOver, exitOK
}

// runner builds the daemon's runner on the locked store, with delivery,
// the key store and DCV as the flags say.
func (o *runOptions) runner(client *digicert.Client, store *state.Store, logger *slog.Logger, loc stateLocation) (*runner.Runner, error) {
	return runner.New(runner.Options{Dir: o.dir, API: client, Store: store, Log: logger, Parallelism: o.parallelism, DryRun: o.dryRun,
		Cache: true, Limits: o.cf.limits()}, o.df.setup(o.dir, loc), o.dcvf.apply)
}

// daemonConfig is the daemon's configuration from run's flags and the
// pieces run built.
func (o *runOptions) daemonConfig(run *runner.Runner, logger *slog.Logger, schedules [2]*daemon.Schedule, met *serve.Metrics,
	sigs <-chan os.Signal, takeOver func() error, notifier *notify.Notifier) daemon.Config {
	dcfg := daemon.Config{
		Runner: run, Log: logger, Schedule: schedules[0], RefreshSchedule: schedules[1], Debounce: o.cf.quiet,
		RetryBackoff: o.retryBackoff, PollInterval: o.pollInterval, Listen: o.listen, Once: o.once, Metrics: met, Notify: serve.SystemdNotify,
		Watchdog: serve.SystemdWatchdog(), Signals: sigs, TakeOver: takeOver, RefreshBudget: o.budget,
	}
	if notifier != nil {
		dcfg.Notifier = notifier
	}
	return dcfg
}

// logStart logs that the daemon started, and how.
func (o *runOptions) logStart(logger *slog.Logger, store *state.Store, apiURL string) {
	stateLog := o.st.state
	if store.Shared() {
		stateLog = store.Name()
	}
	logger.Info("certform run started", "dir", o.dir, "state", stateLog, "schedule", o.schedule, "refresh_schedule", o.refreshSchedule,
		"debounce", o.cf.quiet.String(), "dry_run", o.dryRun, "api_url", apiURL, "version", certformVersion())
	if o.dev {
		logger.Info("dev mode: edit a file below the spec directory and watch the plan and the calls; Ctrl-C stops", "dir", o.dir)
	}
}

// startDev serves the dev fake CertCentral and points run at it, with a
// temporary state (and certificate folder, unless --cert-dir names one)
// in the folder of --state, which the caller removes once it closed fake.
func (o *runOptions) startDev(logger *slog.Logger) (fake *digicerttest.Server, loc stateLocation, err error) {
	fake = digicerttest.New(devKey, digicerttest.WithDisableCTField()) // as an account whose answers show CT
	o.api.url = fake.Start()
	o.api.key = devKey // the fake's key, never through the process's environment
	tmp, err := os.MkdirTemp("", "certform-dev-")
	if err != nil {
		fake.Close()
		return nil, loc, err
	}
	o.st.state = filepath.Join(tmp, "state.json")
	if o.df.certDir == "" {
		o.df.certDir = filepath.Join(tmp, "certs")
	}
	logger.Info("dev mode: a fake CertCentral serves this run; nothing leaves this machine", "api_url", o.api.url, "state", o.st.state, "cert_dir", o.df.certDir)
	return fake, location.File(o.st.state), nil
}

// openNotifier loads the notification config at path (none when path is
// "") and starts its notifier, counting its receivers in met.
func openNotifier(path, dir string, logger *slog.Logger, met *serve.Metrics) (*notify.Notifier, error) {
	if path == "" {
		return nil, nil
	}
	cfg, err := notify.Load(path, dir)
	if err != nil {
		return nil, err
	}
	for _, r := range cfg.Receivers {
		met.AddReceiver(r.Name)
	}
	return notify.New(cfg, notify.Options{Log: logger, Metrics: met}), nil
}

// drainNotifier sends the events of the last cycle before certform exits,
// if the receivers answer soon (not after a second signal), then closes n.
func drainNotifier(n *notify.Notifier, logger *slog.Logger, interrupted bool) {
	ctx, cancel := context.WithTimeout(context.Background(), notifyDrain)
	defer cancel()
	if !interrupted && !n.Drain(ctx) {
		logger.Warn("notifications still queued at exit are dropped", "waited", notifyDrain.String())
	}
	n.Close()
}

// notifyDrain is how long certform run waits at exit for the
// notifications still queued.
const notifyDrain = 10 * time.Second

// seedDev seeds the dev fake (adopt.Seed): each order it places is an
// issued order in the fake with the spec's names and settings.
func seedDev(dir string, fake *digicerttest.Server, store *state.Store, log *slog.Logger) {
	adopt.Seed(dir, store, log, func(o *spec.Order) int {
		return fake.AddOrder(digicerttest.Order{CommonName: o.CommonName, DNSNames: o.DNSNames, SignatureHash: o.SignatureHash,
			ProductType: o.Product, OrganizationID: o.OrganizationID, DisableCT: o.DisableCT, AutoReissue: o.AutoReissue})
	})
}

var _ reconcile.API = (*digicert.Client)(nil)

// openDaemonState opens run's state. A PostgreSQL workspace whose lock
// another server holds is not an error: the daemon stands by (see package
// daemon) with a store that holds no lock, and takes over when that
// server's session ends; a database that cannot be reached is waited for
// the same way. With --once it fails at once instead, as apply
// does: one cycle has nothing to wait for.
func openDaemonState(l stateLocation, dir string, once bool, logger *slog.Logger, stderr io.Writer) *state.Store {
	if !l.Shared() || once {
		return openState("run", l, dir, stderr)
	}
	b := l.Backend()
	store, err := state.OpenBackend(b)
	var unavailable *pgstate.UnavailableError
	switch {
	case err == nil:
		return store
	case errors.Is(err, state.ErrLocked):
		logger.Info("another certform holds the workspace's lock: standing by", "state", l.Name(), "holder", err.Error())
		return state.Standby(b, err)
	case errors.As(err, &unavailable):
		// The database may come back (or be failing over): wait for it
		// as a standby does, rather than exit and depend on a restart.
		logger.Warn("the database cannot be reached: standing by until it can", "state", l.Name(), "error", err.Error())
		return state.Standby(b, err)
	}
	printStateError(stderr, "run", err)
	return nil
}
