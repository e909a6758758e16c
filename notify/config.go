package notify

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/certform/certform/internal/fsx"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Receiver types.
const (
	KindWebhook = "webhook"
	KindSlack   = "slack"
	KindTeams   = "teams"
	KindExec    = "exec"
)

// Defaults of Config.
const (
	// DefaultFailedAfter is how many failures in a row make a failed
	// event.
	DefaultFailedAfter = 3
	// DefaultExpiringDays is how close to its end a certificate with no
	// reissue or renewal pending makes an expiring event.
	DefaultExpiringDays = 14
	// DefaultDCVExpiringDays is how close to its end a domain validation
	// makes a dcv_expiring event.
	DefaultDCVExpiringDays = 14
	// DefaultWaitingHours is how long an order may wait on a person
	// before a waiting event.
	DefaultWaitingHours = 24
	// DefaultReminder is how often an event that stays the same is sent
	// again (as the daemon logs a note again).
	DefaultReminder = 24 * time.Hour
	// DefaultTimeout is how long one attempt to send may take.
	DefaultTimeout = 10 * time.Second
	// DefaultRetryFor bounds the retries of one event: after it, the
	// event is dropped with an ERROR log.
	DefaultRetryFor = 10 * time.Minute
)

// Config is a parsed notification config (certform run --notify-config).
type Config struct {
	// Path is the file it was read from.
	Path      string
	Receivers []*ReceiverConfig
	// FailedAfter, ExpiringDays, DCVExpiringDays and WaitingHours are the
	// thresholds of the failed, expiring, dcv_expiring and waiting events
	// (keys failed_after, expiring_days, dcv_expiring_days,
	// waiting_hours); Reminder (reminder) is how often an unchanged event
	// is sent again. Zero values were replaced by the defaults.
	FailedAfter     int
	ExpiringDays    int
	DCVExpiringDays int
	WaitingHours    int
	Reminder        time.Duration
	// OrderURL (order_url), if set, links events to the order: "{order_id}"
	// is replaced by its id, such as
	// "https://www.digicert.com/secure/orders/{order_id}".
	OrderURL string
}

// ReceiverConfig is one receiver.
type ReceiverConfig struct {
	Name string
	// Kind is webhook, slack, teams or exec.
	Kind string
	// URL is the endpoint (from url or url_file); a secret, never logged.
	URL string
	// Secret is the Standard Webhooks signing key, decoded from
	// "whsec_" + base64 in secret_file; webhook only, optional.
	Secret []byte
	// Command and Args are what an exec receiver runs, with the event as
	// JSON on stdin.
	Command string
	Args    []string
	// Events are the event types it wants; nil means every type.
	Events []string
	// Timeout bounds one attempt (timeout; default DefaultTimeout).
	Timeout time.Duration
	// RetryFor bounds the retries of one event (retry_for; default
	// DefaultRetryFor).
	RetryFor time.Duration
}

// Wants reports whether the receiver wants events of type t; every
// receiver wants a test event.
func (r *ReceiverConfig) Wants(t string) bool {
	return r.Events == nil || t == TypeTest || slices.Contains(r.Events, t)
}

// ErrPermissions is matched (errors.Is) by the error of a config or
// secret file that others than its owner may read or write.
var ErrPermissions = errors.New("others may read or write it")

// configYAML is the config as written; decodeConfig fills it.
type configYAML struct {
	Receivers       []*receiverYAML
	FailedAfter     int
	ExpiringDays    int
	DCVExpiringDays int
	WaitingHours    int
	Reminder        string
	OrderURL        string
	// lines are the lines of the keys written; bad are the keys whose
	// value has the wrong type (already reported).
	lines map[string]int
	bad   map[string]bool
}

// receiverYAML is one receiver as written.
type receiverYAML struct {
	line       int
	Name       string
	Type       string
	URL        string
	URLFile    string
	SecretFile string
	Command    string
	Args       []string
	Events     []string
	Timeout    string
	RetryFor   string
	// bad are the keys whose value has the wrong type (already reported:
	// such a key is left empty and not reported as missing).
	bad map[string]bool
}

// receiverKeys are the keys a receiver may have.
var receiverKeys = []string{"name", "type", "url", "url_file", "secret_file", "command", "args", "events", "timeout", "retry_for"}

// configKeys are the top-level keys of the config.
var configKeys = []string{"receivers", "failed_after", "expiring_days", "dcv_expiring_days", "waiting_hours", "reminder", "order_url"}

// Load reads and checks the notification config at path. specDir, when
// not empty, is the spec directory: a config (or a file it names) inside
// it is refused, since whoever may edit specs must not choose where
// certform sends events or which command it runs. The config and every
// url_file and secret_file must not be readable or writable by others
// than their owner (ErrPermissions). Every problem is reported, each as
// FILE:LINE: what is wrong.
func Load(path, specDir string) (*Config, error) {
	if err := checkFile(path, specDir, "the notification config"); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the notification config: %w", err)
	}
	l := &loader{path: path, specDir: specDir}
	raw := l.decodeConfig(data)
	if raw == nil {
		return nil, l.err()
	}
	c := &Config{Path: path, FailedAfter: raw.FailedAfter, ExpiringDays: raw.ExpiringDays, DCVExpiringDays: raw.DCVExpiringDays,
		WaitingHours: raw.WaitingHours, OrderURL: raw.OrderURL, Reminder: DefaultReminder}
	l.settings(c, raw)
	if len(raw.Receivers) == 0 && !raw.bad["receivers"] {
		l.errs = append(l.errs, problem{err: fmt.Errorf("%s: no receivers; hint: list them under the receivers key", path)})
	}
	names := map[string]int{}
	for _, ry := range raw.Receivers {
		c.Receivers = append(c.Receivers, l.receiver(ry, names))
	}
	if len(l.errs) > 0 {
		return nil, l.err()
	}
	return c, nil
}

// loader collects every problem of the notification config at path.
type loader struct {
	path, specDir string
	errs          []problem
}

// problem is one problem of the config and its line (0: the whole file).
type problem struct {
	line int
	err  error
}

// at records a problem at a line of the config.
func (l *loader) at(line int, format string, args ...any) {
	l.errs = append(l.errs, problem{line, fmt.Errorf("%s:%d: %s", l.path, line, fmt.Sprintf(format, args...))})
}

// err joins the problems in line order, those of the whole file last;
// problems at one line stay in the order they were found.
func (l *loader) err() error {
	slices.SortStableFunc(l.errs, func(a, b problem) int {
		if (a.line == 0) != (b.line == 0) {
			return cmp.Compare(b.line, a.line) // 0 last
		}
		return cmp.Compare(a.line, b.line)
	})
	errs := make([]error, len(l.errs))
	for i, p := range l.errs {
		errs[i] = p.err
	}
	return errors.Join(errs...)
}

// settings checks the thresholds (negative is wrong, zero takes the
// default), the reminder (at least 1m) and order_url (https, with
// {order_id}) of c, as written in raw.
func (l *loader) settings(c *Config, raw *configYAML) {
	for _, v := range []struct {
		key string
		n   *int
		def int
	}{{"failed_after", &c.FailedAfter, DefaultFailedAfter}, {"expiring_days", &c.ExpiringDays, DefaultExpiringDays},
		{"dcv_expiring_days", &c.DCVExpiringDays, DefaultDCVExpiringDays}, {"waiting_hours", &c.WaitingHours, DefaultWaitingHours}} {
		switch {
		case *v.n < 0:
			l.at(raw.lines[v.key], "%s: %d is negative", v.key, *v.n)
		case *v.n == 0:
			*v.n = v.def
		}
	}
	if raw.Reminder != "" {
		d, err := time.ParseDuration(raw.Reminder)
		if err != nil || d < time.Minute {
			l.at(raw.lines["reminder"], "reminder: %q is not a duration of at least 1m, such as 24h", raw.Reminder)
		}
		c.Reminder = d
	}
	if c.OrderURL != "" {
		if u, err := url.Parse(c.OrderURL); err != nil || u.Scheme != "https" || !strings.Contains(c.OrderURL, "{order_id}") {
			l.at(raw.lines["order_url"], "order_url: %q is not an https URL with {order_id} in it", c.OrderURL)
		}
	}
}

// receiver checks one receiver and returns it. names maps the names seen
// so far to their lines.
func (l *loader) receiver(ry *receiverYAML, names map[string]int) *ReceiverConfig {
	r := &ReceiverConfig{Name: ry.Name, Kind: ry.Type, Command: ry.Command, Args: ry.Args, Events: ry.Events, Timeout: DefaultTimeout, RetryFor: DefaultRetryFor}
	if r.Name == "" {
		if !ry.bad["name"] {
			l.at(ry.line, "a receiver needs a name")
		}
	} else if first, dup := names[r.Name]; dup {
		l.at(ry.line, "receiver %q is named twice (first at line %d)", r.Name, first)
	} else {
		names[r.Name] = ry.line
	}
	label := fmt.Sprintf("receiver %q", r.Name)
	switch r.Kind {
	case KindWebhook, KindSlack, KindTeams:
		l.receiverURL(ry, r, label)
	case KindExec:
		if ry.Command == "" {
			if !ry.bad["command"] {
				l.at(ry.line, "%s: an exec receiver needs command", label)
			}
		} else if !filepath.IsAbs(ry.Command) {
			l.at(ry.line, "%s: command %q is not an absolute path", label, ry.Command)
		}
		if ry.URL != "" || ry.URLFile != "" {
			l.at(ry.line, "%s: url and url_file are for webhook, slack and teams receivers", label)
		}
	case "":
		if !ry.bad["type"] {
			l.at(ry.line, "%s needs a type: webhook, slack, teams or exec", label)
		}
	default:
		l.at(ry.line, "%s: unknown type %q: use webhook, slack, teams or exec", label, r.Kind)
	}
	if ry.SecretFile != "" {
		if r.Kind != KindWebhook {
			l.at(ry.line, "%s: secret_file signs a webhook receiver's requests; a %s receiver has none", label, r.Kind)
		} else if s, err := readSecretFile(ry.SecretFile, l.specDir, "secret_file"); err != nil {
			l.at(ry.line, "%s: %v", label, err)
		} else if r.Secret, err = decodeSecret(strings.TrimSpace(string(s))); err != nil {
			l.at(ry.line, "%s: secret_file %s: %v", label, ry.SecretFile, err)
		}
	}
	for _, e := range ry.Events {
		if !slices.Contains(Types, e) {
			l.at(ry.line, "%s: unknown event %q (known: %s)", label, e, strings.Join(Types, ", "))
		}
	}
	l.durations(ry, r, label)
	return r
}

// receiverURL sets the URL of a webhook, slack or teams receiver from url
// or url_file (one of them) and checks it is http(s); such a receiver has
// no command.
func (l *loader) receiverURL(ry *receiverYAML, r *ReceiverConfig, label string) {
	switch {
	case ry.URL != "" && ry.URLFile != "":
		l.at(ry.line, "%s: url and url_file both given; keep one", label)
	case ry.URLFile != "":
		u, err := readSecretFile(ry.URLFile, l.specDir, "url_file")
		if err != nil {
			l.at(ry.line, "%s: %v", label, err)
		}
		r.URL = strings.TrimSpace(string(u))
	case ry.URL != "":
		r.URL = ry.URL
	case !ry.bad["url"] && !ry.bad["url_file"]:
		l.at(ry.line, "%s: a %s receiver needs url or url_file", label, r.Kind)
	}
	if r.URL != "" {
		// The URL is a secret: the error never quotes it.
		if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			l.at(ry.line, "%s: the url is not an http(s) URL", label)
		}
	}
	if ry.Command != "" || ry.Args != nil {
		l.at(ry.line, "%s: command and args are for an exec receiver", label)
	}
}

// durations sets a receiver's timeout and retry_for, each a positive
// duration when given.
func (l *loader) durations(ry *receiverYAML, r *ReceiverConfig, label string) {
	for _, d := range []struct {
		key, text string
		to        *time.Duration
	}{{"timeout", ry.Timeout, &r.Timeout}, {"retry_for", ry.RetryFor, &r.RetryFor}} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil || v <= 0 {
			l.at(ry.line, "%s: %s: %q is not a positive duration, such as 10s", label, d.key, d.text)
		}
		*d.to = v
	}
}

// decodeSecret decodes a Standard Webhooks secret: "whsec_" and the key in
// base64.
func decodeSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return nil, errors.New(`the secret does not start with "whsec_"; hint: write "whsec_" and the key in base64, as the Standard Webhooks spec does`)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < 24 {
		return nil, errors.New(`the secret after "whsec_" is not base64 of at least 24 bytes; hint: make one with: echo "whsec_$(head -c 32 /dev/urandom | base64)"`)
	}
	return key, nil
}

// readSecretFile reads a file a receiver names, after checkFile.
func readSecretFile(path, specDir, key string) ([]byte, error) {
	if err := checkFile(path, specDir, key); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return b, nil
}

// checkFile refuses a file inside specDir, or one others may read or
// write.
func checkFile(path, specDir, what string) error {
	if specDir != "" && fsx.Inside(path, specDir) {
		return fmt.Errorf("%s %s is inside the spec directory %s\nhint: keep it where only the server's administrators may write, such as /etc/certform", what, path, specDir)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if perm := fi.Mode().Perm(); perm&0o066 != 0 {
		return fmt.Errorf("%s %s: mode %04o: %w\nhint: chmod 600 %s", what, path, perm, ErrPermissions, path)
	}
	return nil
}
