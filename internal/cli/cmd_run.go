package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
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

// runRun parses certform run's flags, builds the client, the locked state
// and the Reconciler, and hands them to package daemon.
func runRun(stdout, stderr io.Writer, args []string) int {
	fs := newFlags(stderr, "run", "--dir DIR --state FILE [--schedule CRON] [--debounce DUR] [--dry-run] [--refresh-schedule CRON] [--listen ADDR] [--dev] [--once]",
		"reconcile at start, then on every change below DIR, every --schedule tick and SIGHUP, until SIGINT or SIGTERM")
	dir := fs.String("dir", "", "spec directory to watch (required)")
	statePath := fs.String("state", "", "state file, or postgres://USER@HOST:PORT/DB?sslmode=verify-full for a PostgreSQL state shared with standby servers (required, except with --dev, which keeps a temporary one)")
	workspace := registerWorkspace(fs)
	schedule := fs.String("schedule", "@every 15m", "cron schedule of periodic cycles (five fields, or @every DUR, @hourly, @daily)")
	refreshSchedule := fs.String("refresh-schedule", "@daily", "cron schedule of cycles that first refresh from CertCentral's order list, reading one by one only the orders that differ from the state (as --refresh)")
	refreshBudget := fs.String("refresh-budget", "10%", "share of CertCentral's rate limit that a background sweep spends reading the tracked orders one by one, to see disable_ct and auto_reissue changed in CertCentral (the order list does not carry them): a percentage (10%) or a fraction (0.1); 0 turns the sweep off")
	var cf cycleFlags
	cf.register(fs, "debounce", "quiet-period")
	dryRun := fs.Bool("dry-run", false, "plan and log every cycle; never make a write call or change the state")
	listen := fs.String("listen", "", "address for /healthz and /metrics, such as 127.0.0.1:9464 (off by default)")
	dev := fs.Bool("dev", false, "serve a fake CertCentral on a loopback port and use it (no API key, no network)")
	once := fs.Bool("once", false, "run one cycle and exit: 0 when everything landed, 1 otherwise")
	accountMoved := fs.Bool("account-moved", false, "the state's orders moved to the CertCentral at --api-url: record the new API URL instead of refusing")
	var df deliveryFlags
	df.register(fs)
	var dcvf dcvFlags
	dcvf.register(fs)
	pollInterval := fs.Duration("poll-interval", daemon.DefaultPollInterval, "while an order waits in CertCentral (approval, validation, reissue, pickup), look again this often")
	parallelism := fs.Int("parallelism", 4, "specs worked on at once")
	notifyConfig := fs.String("notify-config", os.Getenv("CERTFORM_NOTIFY_CONFIG"), "notification receivers and the events each wants (YAML; see docs/notifications.md); also $CERTFORM_NOTIFY_CONFIG; never inside --dir, and only its owner may read it")
	retryBackoff := fs.Duration("retry-backoff", daemon.DefaultRetryBackoff, "wait before retrying after a failed cycle; doubles on each failure, at most 15m")
	var api apiFlags
	api.register(fs)
	var lf logFlags
	lf.register(fs)
	if done, code := parseFlags(fs, stdout, args, 0); done {
		return code
	}
	if !requireFlags(fs, stderr, "dir", *dir) {
		return exitUsage
	}
	if *dev && *statePath != "" {
		fmt.Fprintf(stderr, "certform run: --dev keeps its own temporary state; --state would record the fake's order ids in %s\n", *statePath)
		fs.Usage()
		return exitUsage
	}
	if !*dev && !requireFlags(fs, stderr, "state", *statePath) {
		return exitUsage
	}
	var loc stateLocation
	if !*dev {
		var ok bool
		if loc, ok = checkLocation("run", *statePath, *workspace, stderr); !ok {
			return exitUsage
		}
	}
	var schedules [2]*daemon.Schedule
	for i, c := range []struct{ flag, text string }{{"schedule", *schedule}, {"refresh-schedule", *refreshSchedule}} {
		s, err := daemon.ParseSchedule(c.text)
		if err != nil {
			fmt.Fprintf(stderr, "certform run: --%s %q: %v\nhint: use five cron fields (\"*/15 * * * *\") or a descriptor (\"@every 15m\", \"@daily\")\n", c.flag, c.text, err)
			return exitUsage
		}
		schedules[i] = s
	}
	budget, berr := daemon.ParseBudget(*refreshBudget)
	if berr != nil {
		fmt.Fprintf(stderr, "certform run: --refresh-budget %q: %v\n", *refreshBudget, berr)
		return exitUsage
	}
	if cf.quiet <= 0 || *retryBackoff <= 0 || *pollInterval <= 0 || *parallelism < 1 || cf.negative() {
		fmt.Fprintln(stderr, "certform run: --debounce, --retry-backoff and --poll-interval must be positive, --parallelism at least 1, --max-revocations, --max-purchases, --resend-after and --max-clock-skew not negative")
		return exitUsage
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "certform run: %v\n", err)
		return exitUsage
	}
	fail := func(err error, hint string) int {
		fmt.Fprintf(stderr, "certform run: %v\n", err)
		if hint != "" {
			fmt.Fprintln(stderr, hint)
		}
		return exitError
	}
	if fi, err := os.Stat(*dir); err != nil || !fi.IsDir() {
		return fail(fmt.Errorf("spec directory %s is not a readable folder", *dir), "hint: --dir names the folder that holds your .yaml order specs")
	}

	met := serve.NewMetrics()
	var notifier *notify.Notifier
	interrupted := false // a second signal: exit at once, queued events dropped
	if *notifyConfig != "" {
		cfg, err := notify.Load(*notifyConfig, *dir)
		if err != nil {
			return fail(fmt.Errorf("--notify-config: %w", err), "")
		}
		notifier = notify.New(cfg, notify.Options{Log: logger, Metrics: met})
		for _, r := range cfg.Receivers {
			met.AddReceiver(r.Name)
		}
		defer func() {
			// Events of the last cycle go out before certform exits, if
			// the receivers answer soon.
			ctx, cancel := context.WithTimeout(context.Background(), notifyDrain)
			defer cancel()
			if !interrupted && !notifier.Drain(ctx) {
				logger.Warn("notifications still queued at exit are dropped", "waited", notifyDrain.String())
			}
			notifier.Close()
		}()
	}
	var fake *digicerttest.Server
	if *dev {
		fake = digicerttest.New(devKey, digicerttest.WithDisableCTField()) // as an account whose answers show CT
		api.url = fake.Start()
		defer fake.Close()
		os.Setenv("DIGICERT_API_KEY", devKey)
		api.keyFile = ""
		os.Unsetenv("DIGICERT_API_KEY_FILE")
		tmp, err := os.MkdirTemp("", "certform-dev-")
		if err != nil {
			return fail(err, "")
		}
		defer os.RemoveAll(tmp)
		*statePath = filepath.Join(tmp, "state.json")
		loc = location.File(*statePath)
		if df.certDir == "" {
			df.certDir = filepath.Join(tmp, "certs")
		}
		logger.Info("dev mode: a fake CertCentral serves this run; nothing leaves this machine", "api_url", api.url, "state", *statePath, "cert_dir", df.certDir)
	}
	var gate storeGate
	client, err := api.newClient(logger, digicert.WithObserver(met.ObserveCall), digicert.WithGate(gate.check))
	if err != nil {
		return clientFailed(stderr, "run", args, err)
	}
	client.CheckFirstCall() // the daemon's first cycle checks with its own first call (Runner.ArmCheck)
	store := openDaemonState(loc, *dir, *once, logger, stderr)
	if store == nil {
		return exitError
	}
	defer store.Close()
	gate.set(store)
	takeOver := func() error {
		return checkAPIURL(store, nil, "", client.BaseURL(), *accountMoved, logger)
	}
	if store.Lost() == nil {
		if err := takeOver(); err != nil {
			return fail(err, "")
		}
	}
	if *dev {
		seedDev(*dir, fake, store, logger)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	run, err := runner.New(runner.Options{Dir: *dir, API: client, Store: store, Log: logger, Parallelism: *parallelism, DryRun: *dryRun,
		Cache: true, Limits: cf.limits()}, df.setup(*dir, loc), dcvf.apply)
	if err != nil {
		return fail(err, "")
	}
	dcfg := daemon.Config{
		Runner: run, Log: logger, Schedule: schedules[0], RefreshSchedule: schedules[1], Debounce: cf.quiet,
		RetryBackoff: *retryBackoff, PollInterval: *pollInterval, Listen: *listen, Once: *once, Metrics: met, Notify: serve.SystemdNotify,
		Watchdog: serve.SystemdWatchdog(), Signals: sigs, TakeOver: takeOver, RefreshBudget: budget,
	}
	if notifier != nil {
		dcfg.Notifier = notifier
	}
	d, err := daemon.New(dcfg)
	if err != nil {
		return fail(err, "")
	}
	defer d.Close()
	if !*once {
		stateLog := *statePath
		if store.Shared() {
			stateLog = store.Name()
		}
		logger.Info("certform run started", "dir", *dir, "state", stateLog, "schedule", *schedule, "refresh_schedule", *refreshSchedule,
			"debounce", cf.quiet.String(), "dry_run", *dryRun, "api_url", client.BaseURL(), "version", certformVersion())
		if *dev {
			logger.Info("dev mode: edit a file below the spec directory and watch the plan and the calls; Ctrl-C stops", "dir", *dir)
		}
	}
	err = d.Run(context.Background())
	switch {
	case errors.Is(err, daemon.ErrInterrupted):
		interrupted = true
		return exitError
	case errors.Is(err, daemon.ErrFailed):
		return exitError
	case err != nil:
		return fail(err, "")
	}
	if !*once {
		logger.Info("certform run stopped")
	}
	return exitOK
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
	fmt.Fprintf(stderr, "certform run: %v\n%s", err, stateHint(err))
	return nil
}
