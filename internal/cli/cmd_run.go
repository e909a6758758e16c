package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/spf13/pflag"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/certform/certform/daemon"
	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
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
// runCmd is certform run.
var runCmd = &command{
	name: "run", args: 0,
	short:    "the daemon: reconcile on every change, schedule tick and SIGHUP",
	synopsis: "--dir DIR --state FILE [--schedule CRON] [--debounce DUR] [--dry-run] [--refresh-schedule CRON] [--listen ADDR] [--dev] [--once]",
	long:     "reconcile at start, then on every change below DIR, every --schedule tick and SIGHUP, until SIGINT or SIGTERM",
	setup:    runSetup,
}

func runSetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stderr := s.stderr
	dir := fs.String("dir", "", "spec directory to watch (required)")
	var st stateFlags
	st.register(fs, "state file, or postgres://USER@HOST:PORT/DB?sslmode=verify-full for a PostgreSQL state shared with standby servers (required, except with --dev, which keeps a temporary one)")
	schedule := fs.String("schedule", "@every 15m", "cron schedule of periodic cycles (five fields, or @every DUR, @hourly, @daily)")
	refreshSchedule := fs.String("refresh-schedule", "@daily", "cron schedule of cycles that first read every order from CertCentral (--refresh)")
	var cf cycleFlags
	cf.register(fs, "debounce", "quiet-period")
	dryRun := fs.Bool("dry-run", false, "plan and log every cycle; never make a write call or change the state")
	listen := fs.String("listen", "", "address for /healthz and /metrics, such as 127.0.0.1:9464 (off by default)")
	dev := fs.Bool("dev", false, "serve a fake CertCentral on a loopback port and use it (no API key, no network)")
	once := fs.Bool("once", false, "run one cycle and exit: 0 when everything landed, 1 otherwise")
	st.registerAccountMoved(fs, accountMovedUsage)
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
	return func(args []string) int {
		if !requireFlags(fs, stderr, "dir", *dir) {
			return exitUsage
		}
		if *dev && st.state != "" {
			fmt.Fprintf(stderr, "certform run: --dev keeps its own temporary state; --state would record the fake's order ids in %s\n", st.state)
			fs.Usage()
			return exitUsage
		}
		if !*dev && !requireFlags(fs, stderr, "state", st.state) {
			return exitUsage
		}
		var loc stateLocation
		if !*dev {
			var ok bool
			if loc, ok = checkLocation("run", st.state, st.workspace, stderr); !ok {
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

		met := daemon.NewMetrics()
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
			st.state = filepath.Join(tmp, "state.json")
			loc = location.File(st.state)
			if df.certDir == "" {
				df.certDir = filepath.Join(tmp, "certs")
			}
			logger.Info("dev mode: a fake CertCentral serves this run; nothing leaves this machine", "api_url", api.url, "state", st.state, "cert_dir", df.certDir)
		}
		var gate storeGate
		client, err := api.newClient(logger, digicert.WithObserver(met.ObserveCall), digicert.WithGate(gate.check))
		if err != nil {
			return clientFailed(stderr, "run", s, err)
		}
		store := openDaemonState(loc, *dir, *once, logger, stderr)
		if store == nil {
			return exitError
		}
		defer store.Close()
		gate.set(store)
		takeOver := func() error {
			return checkAPIURL(store, nil, "", client.BaseURL(), st.accountMoved, logger)
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
		daemonOwnsSignals.Store(true) // the daemon's own second-signal stop, not main's
		signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(sigs)
		r := newReconciler(reconcilerOptions{dir: *dir, api: client, store: store, log: logger, parallelism: *parallelism, dryRun: *dryRun, cycle: cf})
		r.Cache = spec.NewCache()
		if err := df.apply(r, *dir); err != nil {
			return fail(err, "")
		}
		if err := df.openKeys(r, *dir, loc); err != nil {
			return fail(err, "")
		}
		if err := dcvf.apply(r); err != nil {
			return fail(err, "")
		}
		dcfg := daemon.Config{
			Reconciler: r, Log: logger, Schedule: schedules[0], RefreshSchedule: schedules[1], Debounce: cf.quiet,
			RetryBackoff: *retryBackoff, PollInterval: *pollInterval, Listen: *listen, Once: *once, Metrics: met, Notify: daemon.SystemdNotify,
			Watchdog: daemon.SystemdWatchdog(), Signals: sigs, TakeOver: takeOver,
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
			stateLog := st.state
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
}

// notifyDrain is how long certform run waits at exit for the
// notifications still queued.
const notifyDrain = 10 * time.Second

// seedDev makes the dev fake look like an account that has been used: for
// every valid spec that asks for revocation and has no state entry, an
// issued order with its names is created in the fake and adopted into the
// state (as certform import does), so that the demo shows a revocation.
func seedDev(dir string, fake *digicerttest.Server, store *state.Store, log *slog.Logger) {
	res, err := spec.Load(dir)
	if err != nil {
		log.Warn("dev mode: the specs could not be read to seed the fake; the first cycle reports why", "error", err.Error())
		return
	}
	for _, o := range res.Orders {
		if !o.Revoke || store.Entry(o.Name) != nil {
			continue
		}
		id := fake.AddOrder(digicerttest.Order{CommonName: o.CommonName, DNSNames: o.DNSNames, SignatureHash: o.SignatureHash,
			ProductType: o.Product, OrganizationID: o.OrganizationID, DisableCT: o.DisableCT, AutoReissue: o.AutoReissue})
		err := store.Update(o.Name, func(e *state.Entry) bool {
			*e = state.Entry{OrderID: id, Fingerprint: o.Fingerprint, Fixed: o.FixedFields(), Checked: o.Fingerprint, DisableCT: o.DisableCT,
				AutoReissue: o.AutoReissue, Imported: true, File: o.File, OrderedAt: time.Now().UTC(), Status: "issued"}
			return true
		})
		if err != nil {
			log.Warn("dev mode: seeding the fake failed", "spec", o.Name, "error", err.Error())
			continue
		}
		log.Info("dev mode: seeded the fake with an order this spec asks to revoke, as if ordered earlier", "spec", o.Name, "order_id", id)
	}
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
