package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/robfig/cron/v3"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// cronParser accepts five-field cron expressions and descriptors such as
// @every 15m, @hourly, @daily.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// devKey is the API key of the fake CertCentral that --dev starts.
const devKey = "certform-dev-key"

func runRun(stdout, stderr io.Writer, args []string) int {
	fs := newFlags(stderr, "run", "--dir DIR --state FILE [--schedule CRON] [--debounce DUR] [--dry-run] [--refresh-schedule CRON] [--listen ADDR] [--dev] [--once]",
		"reconcile at start, then on every change below DIR, every --schedule tick and SIGHUP, until SIGINT or SIGTERM")
	dir := fs.String("dir", "", "spec directory to watch (required)")
	statePath := fs.String("state", "", "state file (required, except with --dev: a temporary one)")
	schedule := fs.String("schedule", "@every 15m", "cron schedule of periodic cycles (five fields, or @every DUR, @hourly, @daily)")
	refreshSchedule := fs.String("refresh-schedule", "@daily", "cron schedule of cycles that first read every order from CertCentral (--refresh)")
	debounce := fs.Duration("debounce", time.Second, "quiet period after a file change before reconciling (at most 10x this after the first change)")
	dryRun := fs.Bool("dry-run", false, "plan and log every cycle; never make a write call or change the state")
	listen := fs.String("listen", "", "address for /healthz and /metrics, such as 127.0.0.1:9464 (off by default)")
	dev := fs.Bool("dev", false, "serve a fake CertCentral on a loopback port and use it (no API key, no network)")
	once := fs.Bool("once", false, "run one cycle and exit: 0 when everything landed, 1 otherwise")
	maxRevocations := fs.Int("max-revocations", 1, "most revocations one cycle may make; more blocks them all")
	parallelism := fs.Int("parallelism", 4, "specs worked on at once")
	retryBackoff := fs.Duration("retry-backoff", retryFirst, "wait before retrying after failed CertCentral calls; doubles on each failure, at most 15m")
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
	if !*dev && !requireFlags(fs, stderr, "state", *statePath) {
		return exitUsage
	}
	for _, c := range []struct{ flag, spec string }{{"schedule", *schedule}, {"refresh-schedule", *refreshSchedule}} {
		if _, err := cronParser.Parse(c.spec); err != nil {
			fmt.Fprintf(stderr, "certform run: --%s %q: %v\nhint: use five cron fields (\"*/15 * * * *\") or a descriptor (\"@every 15m\", \"@daily\")\n", c.flag, c.spec, err)
			return exitUsage
		}
	}
	if *debounce <= 0 || *retryBackoff <= 0 || *parallelism < 1 || *maxRevocations < 0 {
		fmt.Fprintln(stderr, "certform run: --debounce and --retry-backoff must be positive, --parallelism at least 1 and --max-revocations at least 0")
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

	met := newMetrics()
	var fake *digicerttest.Server
	if *dev {
		fake = digicerttest.New(devKey)
		api.url = fake.Start()
		defer fake.Close()
		os.Setenv("DIGICERT_API_KEY", devKey)
		api.keyFile = ""
		os.Unsetenv("DIGICERT_API_KEY_FILE")
		if *statePath == "" {
			tmp, err := os.MkdirTemp("", "certform-dev-")
			if err != nil {
				return fail(err, "")
			}
			defer os.RemoveAll(tmp)
			*statePath = filepath.Join(tmp, "state.json")
		}
		logger.Info("dev mode: a fake CertCentral serves this run; nothing leaves this machine", "api_url", api.url, "state", *statePath)
	}
	client, err := api.newClient(logger, digicert.WithObserver(met.observeCall))
	if errors.Is(err, errNoKey) {
		return fail(err, keyHint)
	}
	if err != nil {
		return fail(err, "")
	}
	store, err := state.Open(*statePath)
	if err != nil {
		return fail(err, strings.TrimSuffix(stateHint(err), "\n"))
	}
	defer store.Close()
	if *dev {
		seedDev(*dir, fake, store, logger)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := &daemon{
		dir: *dir, dryRun: *dryRun, maxRevocations: *maxRevocations, parallelism: *parallelism,
		log: logger, api: client, store: store, cache: spec.NewCache(), met: met, health: &health{},
		triggers: newTriggers(), notify: sdNotify, retryFirst: *retryBackoff,
	}
	if *once {
		ok := d.cycle(ctx, trigger{reasons: []string{"start"}})
		if !ok {
			return exitError
		}
		return exitOK
	}

	w, err := newWatcher(*dir, *debounce, logger, func(paths []string, more int) {
		d.triggers.add(trigger{reasons: []string{"file change"}, paths: paths, more: more})
	})
	if err != nil {
		return fail(fmt.Errorf("watching %s: %w", *dir, err), "")
	}
	defer w.close()
	d.afterCycle = w.resync
	go w.run(ctx)

	c := cron.New(cron.WithParser(cronParser), cron.WithLocation(time.UTC))
	c.AddFunc(*schedule, func() { d.triggers.add(trigger{reasons: []string{"schedule"}}) })
	c.AddFunc(*refreshSchedule, func() { d.triggers.add(trigger{reasons: []string{"refresh schedule"}, refresh: true}) })
	c.Start()
	defer c.Stop()

	if *listen != "" {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return fail(fmt.Errorf("--listen %s: %w", *listen, err), "")
		}
		srv := &http.Server{Handler: met.handler(d.health), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		logger.Info("serving /healthz and /metrics", "addr", ln.Addr().String())
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		stopping := false
		for s := range sigs {
			switch {
			case s == syscall.SIGHUP:
				logger.Info("SIGHUP: reconciling now")
				d.triggers.add(trigger{reasons: []string{"signal"}})
			case !stopping:
				stopping = true
				logger.Info("stopping: the cycle in progress finishes, no new one starts; a second signal exits at once", "signal", s.String())
				sdNotify("STOPPING=1")
				cancel()
			default:
				logger.Warn("second signal: exiting at once", "signal", s.String())
				os.Exit(exitError)
			}
		}
	}()
	go watchdog(ctx, d)

	logger.Info("certform run started", "dir", *dir, "state", *statePath, "schedule", *schedule, "refresh_schedule", *refreshSchedule,
		"debounce", debounce.String(), "dry_run", *dryRun, "api_url", client.BaseURL(), "version", certformVersion())
	if *dev {
		logger.Info("dev mode: edit a file below the spec directory and watch the plan and the calls; Ctrl-C stops", "dir", *dir)
	}
	d.triggers.add(trigger{reasons: []string{"start"}})
	d.loop(ctx, func(bool) { sdNotify("READY=1") })
	if d.retry != nil {
		d.retry.Stop()
	}
	logger.Info("certform run stopped")
	return exitOK
}

// sdNotify tells systemd about the service's state when it runs under
// Type=notify; elsewhere it does nothing.
func sdNotify(s string) { sddaemon.SdNotify(false, s) }

// watchdog pings systemd's watchdog at half its interval while the daemon
// is healthy: idle, or in a cycle that has not run for longer than the
// watchdog interval plus 10 minutes (a cycle stuck that long gets the
// service restarted).
func watchdog(ctx context.Context, d *daemon) {
	interval, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if since := d.busy.Load(); since != 0 && time.Since(time.Unix(0, since)) > interval+10*time.Minute {
				continue
			}
			sdNotify("WATCHDOG=1")
		}
	}
}

// seedDev makes the dev fake look like an account that has been used: for
// every valid spec that asks for revocation and has no state entry, an
// issued order with its names is created in the fake and adopted into the
// state (as certform import does), so that the demo shows a revocation.
func seedDev(dir string, fake *digicerttest.Server, store *state.Store, log *slog.Logger) {
	res, err := spec.Load(dir)
	if err != nil {
		return
	}
	for _, o := range res.Orders {
		if !o.Revoke || store.Entry(o.Name) != nil {
			continue
		}
		id := fake.AddOrder(digicerttest.Order{CommonName: o.CommonName, DNSNames: o.DNSNames, SignatureHash: o.SignatureHash,
			ProductType: o.Product, OrganizationID: o.OrganizationID, DisableCT: o.DisableCT, AutoReissue: o.AutoReissue})
		err := store.Update(o.Name, func(e *state.Entry) bool {
			*e = state.Entry{OrderID: id, Fingerprint: o.Fingerprint, Fixed: o.FixedFields(), DisableCT: o.DisableCT,
				AutoReissue: o.AutoReissue, Imported: true, File: o.File, OrderedAt: time.Now().UTC(), Status: "issued"}
			return true
		})
		if err == nil {
			log.Info("dev mode: seeded the fake with an order this spec asks to revoke, as if ordered earlier", "spec", o.Name, "order_id", id)
		}
	}
}

var _ reconcile.API = (*digicert.Client)(nil)
