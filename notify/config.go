package notify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/certform/certform/internal/fsx"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
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

type configYAML struct {
	Receivers       []receiverYAML `yaml:"receivers"`
	FailedAfter     int            `yaml:"failed_after"`
	ExpiringDays    int            `yaml:"expiring_days"`
	DCVExpiringDays int            `yaml:"dcv_expiring_days"`
	WaitingHours    int            `yaml:"waiting_hours"`
	Reminder        string         `yaml:"reminder"`
	OrderURL        string         `yaml:"order_url"`
}

type receiverYAML struct {
	line, column int
	Name         string   `yaml:"name"`
	Type         string   `yaml:"type"`
	URL          string   `yaml:"url"`
	URLFile      string   `yaml:"url_file"`
	SecretFile   string   `yaml:"secret_file"`
	Command      string   `yaml:"command"`
	Args         []string `yaml:"args"`
	Events       []string `yaml:"events"`
	Timeout      string   `yaml:"timeout"`
	RetryFor     string   `yaml:"retry_for"`
}

// receiverKeys are the keys a receiver may have.
var receiverKeys = []string{"name", "type", "url", "url_file", "secret_file", "command", "args", "events", "timeout", "retry_for"}

func (r *receiverYAML) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a receiver is a mapping (name:, type:, ...)", n.Line)
	}
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(receiverKeys, k.Value) {
			errs = append(errs, fmt.Errorf("line %d: unknown key %q in a receiver (known: %s)", k.Line, k.Value, strings.Join(receiverKeys, ", ")))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	type plain receiverYAML
	if err := n.Decode((*plain)(r)); err != nil {
		return err
	}
	r.line, r.column = n.Line, n.Column
	return nil
}

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
	var raw configYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, yamlError(path, err)
	}
	c := &Config{Path: path, FailedAfter: raw.FailedAfter, ExpiringDays: raw.ExpiringDays, DCVExpiringDays: raw.DCVExpiringDays,
		WaitingHours: raw.WaitingHours, OrderURL: raw.OrderURL, Reminder: DefaultReminder}
	l := &loader{path: path, specDir: specDir}
	l.settings(c, raw.Reminder)
	if len(raw.Receivers) == 0 {
		l.errs = append(l.errs, fmt.Errorf("%s: no receivers; hint: list them under the receivers key", path))
	}
	names := map[string]int{}
	for i := range raw.Receivers {
		c.Receivers = append(c.Receivers, l.receiver(&raw.Receivers[i], names))
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return c, nil
}

// loader collects every problem of the notification config at path.
type loader struct {
	path, specDir string
	errs          []error
}

// at records a problem at a line of the config.
func (l *loader) at(line int, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s:%d: %s", l.path, line, fmt.Sprintf(format, args...)))
}

// settings checks the thresholds (negative is wrong, zero takes the
// default), the reminder (at least 1m) and order_url (https, with
// {order_id}) of c.
func (l *loader) settings(c *Config, reminder string) {
	for _, v := range []struct {
		key string
		n   *int
		def int
	}{{"failed_after", &c.FailedAfter, DefaultFailedAfter}, {"expiring_days", &c.ExpiringDays, DefaultExpiringDays},
		{"dcv_expiring_days", &c.DCVExpiringDays, DefaultDCVExpiringDays}, {"waiting_hours", &c.WaitingHours, DefaultWaitingHours}} {
		switch {
		case *v.n < 0:
			l.errs = append(l.errs, fmt.Errorf("%s: %s: %d is negative", l.path, v.key, *v.n))
		case *v.n == 0:
			*v.n = v.def
		}
	}
	if reminder != "" {
		d, err := time.ParseDuration(reminder)
		if err != nil || d < time.Minute {
			l.errs = append(l.errs, fmt.Errorf("%s: reminder: %q is not a duration of at least 1m, such as 24h", l.path, reminder))
		}
		c.Reminder = d
	}
	if c.OrderURL != "" {
		if u, err := url.Parse(c.OrderURL); err != nil || u.Scheme != "https" || !strings.Contains(c.OrderURL, "{order_id}") {
			l.errs = append(l.errs, fmt.Errorf("%s: order_url: %q is not an https URL with {order_id} in it", l.path, c.OrderURL))
		}
	}
}

// receiver checks one receiver and returns it. names maps the names seen
// so far to their lines.
func (l *loader) receiver(ry *receiverYAML, names map[string]int) *ReceiverConfig {
	r := &ReceiverConfig{Name: ry.Name, Kind: ry.Type, Command: ry.Command, Args: ry.Args, Events: ry.Events, Timeout: DefaultTimeout, RetryFor: DefaultRetryFor}
	if r.Name == "" {
		l.at(ry.line, "a receiver needs a name")
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
			l.at(ry.line, "%s: an exec receiver needs command", label)
		} else if !filepath.IsAbs(ry.Command) {
			l.at(ry.line, "%s: command %q is not an absolute path", label, ry.Command)
		}
		if ry.URL != "" || ry.URLFile != "" {
			l.at(ry.line, "%s: url and url_file are for webhook, slack and teams receivers", label)
		}
	case "":
		l.at(ry.line, "%s needs a type: webhook, slack, teams or exec", label)
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
	default:
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

// yamlLine is one problem of a YAML error: "line N: what".
var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// unknownField is yaml's message for an unknown top-level key.
var unknownField = regexp.MustCompile(`^field (\S+) not found in type notify\.configYAML$`)

// yamlError rewrites a decoding error as FILE:LINE: what, one line per
// problem.
func yamlError(path string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = strings.Split(strings.TrimPrefix(err.Error(), "yaml: "), "\n")
	}
	var out []error
	for _, m := range msgs {
		for _, one := range strings.Split(strings.TrimSpace(m), "\n") {
			one = strings.TrimSpace(one)
			if m := yamlLine.FindStringSubmatch(one); m != nil {
				what := m[2]
				if u := unknownField.FindStringSubmatch(what); u != nil {
					what = fmt.Sprintf("unknown key %q (known: receivers, failed_after, expiring_days, dcv_expiring_days, waiting_hours, reminder, order_url)", u[1])
				}
				out = append(out, fmt.Errorf("%s:%s: %s", path, m[1], what))
			} else if one != "" {
				out = append(out, fmt.Errorf("%s: %s", path, one))
			}
		}
	}
	return errors.Join(out...)
}
