package notify

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writeFile writes a file with mode 0600 and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoad: the example config, with its secrets in files.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	secret := writeFile(t, dir, "webhook.secret", testSecret+"\n")
	slackURL := writeFile(t, dir, "slack.url", "https://hooks.slack.com/services/T0/B0/XXXX\n")
	cfg := writeFile(t, dir, "notify.yaml", `receivers:
  - name: ops
    type: webhook                     # webhook | slack | teams | exec
    url: https://hooks.example.com/certform
    secret_file: `+secret+`
    events: [destructive_plan, failed, delivered]
  - name: team
    type: slack
    url_file: `+slackURL+`
  - name: pager
    type: exec
    command: /usr/local/libexec/certform-page
    timeout: 30s
failed_after: 5
`)
	c, err := Load(cfg, filepath.Join(dir, "specs"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := decodeSecret(testSecret)
	want := &Config{Path: cfg, FailedAfter: 5, ExpiringDays: 14, DCVExpiringDays: 14, WaitingHours: 24, Reminder: 24 * time.Hour,
		Receivers: []*ReceiverConfig{
			{Name: "ops", Kind: "webhook", URL: "https://hooks.example.com/certform", Secret: key, Events: []string{"destructive_plan", "failed", "delivered"}, Timeout: 10 * time.Second, RetryFor: 10 * time.Minute},
			{Name: "team", Kind: "slack", URL: "https://hooks.slack.com/services/T0/B0/XXXX", Timeout: 10 * time.Second, RetryFor: 10 * time.Minute},
			{Name: "pager", Kind: "exec", Command: "/usr/local/libexec/certform-page", Timeout: 30 * time.Second, RetryFor: 10 * time.Minute},
		}}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if !c.Receivers[0].Wants(TypeDelivered) || c.Receivers[0].Wants(TypeExpiring) || !c.Receivers[0].Wants(TypeTest) || !c.Receivers[1].Wants(TypeExpiring) {
		t.Error("Wants")
	}
}

// TestLoad_errors: each problem is reported with FILE:LINE and what to
// do, all of them at once; no secret is quoted.
func TestLoad_errors(t *testing.T) {
	dir := t.TempDir()
	badSecret := writeFile(t, dir, "bad.secret", "s3cr3t-not-whsec\n")
	open := filepath.Join(dir, "open.url")
	os.WriteFile(open, []byte("https://hooks.slack.com/services/T0/B0/SECRET\n"), 0o644)
	for _, c := range []struct {
		name, text string
		want       []string
	}{
		{"unknown key", "receivers:\n  - name: a\n    type: webhook\n    urll: https://x.example.com\n",
			[]string{`FILE:2: receiver "a": a webhook receiver needs url or url_file`,
				`FILE:4: unknown key "urll" in a receiver (known: name, type, url, url_file, secret_file, command, args, events, timeout, retry_for)`}},
		{"unknown top-level key", "receiver:\n  - name: a\n",
			[]string{`FILE:1: unknown key "receiver" (known: receivers, failed_after, expiring_days, dcv_expiring_days, waiting_hours, reminder, order_url)`,
				"FILE: no receivers; hint: list them under the receivers key"}},
		{"a value of the wrong type hides no other problem", `receivers:
  - name: ops
    type: slak
    url: https://hooks.example.com/SECRET
  - name: pager
    type: exec
    command: /usr/local/bin/page
failed_after: three
`, []string{
			`FILE:2: receiver "ops": unknown type "slak": use webhook, slack, teams or exec`,
			`FILE:8: failed_after: want a whole number, got "three"`,
		}},
		{"wrong types everywhere, each once", `receivers:
  - name: [a]
    type: {webhook: 1}
    url: [https://hooks.example.com/SECRET]
    events: failed
    timeout: 10s
    timeout: 20s
  - https://hooks.slack.com/services/T0/B0/SECRET
  - name: c
    type: exec
    command: [/bin/page]
    args: [a, [b]]
expiring_days: 1.5
waiting_hours: -2
reminder: [24h]
order_url: {a: b}
`, []string{
			`FILE:2: name: want a string, got a list`,
			`FILE:3: type: want a string, got a mapping`,
			`FILE:4: url: want a URL, got a list`,
			`FILE:5: events: want a list of strings, got "failed"`,
			`FILE:7: "timeout" is written twice (first at line 6); keep one`,
			`FILE:8: a receiver is a mapping (name:, type:, ...), got text`,
			`FILE:11: command: want a file name, got a list`,
			`FILE:12: args: want a list of strings, got a list`,
			`FILE:13: expiring_days: want a whole number, got "1.5"`,
			`FILE:14: waiting_hours: -2 is negative`,
			`FILE:15: reminder: want a duration such as 24h, got a list`,
			`FILE:16: order_url: want an https URL, got a mapping`,
		}},
		{"in line order", `receivers:
  - name: a
    type: webhook
  - name: b
    type: exec
    command: page
    type: exec
failed_after: -1
reminder: [24h]
expiring_days: -3
receivers: []
`, []string{
			`FILE:2: receiver "a": a webhook receiver needs url or url_file`,
			`FILE:4: receiver "b": command "page" is not an absolute path`,
			`FILE:7: "type" is written twice (first at line 5); keep one`,
			`FILE:8: failed_after: -1 is negative`,
			`FILE:9: reminder: want a duration such as 24h, got a list`,
			`FILE:10: expiring_days: -3 is negative`,
			`FILE:11: "receivers" is written twice (first at line 1); keep one`,
		}},
		{"not a mapping", "- name: a\n", []string{"FILE:1: the notification config is a mapping of keys (receivers:, failed_after:, ...), got a list"}},
		{"receivers not a list", "receivers: ops\n", []string{`FILE:1: receivers: want a list of receivers (- name: ...), got text`}},
		{"a secret in a value of the wrong type", `receivers:
  - name: [SECRET]
    type: exec
    command: {SECRET: SECRET}
    args: --token=SECRET
    url: [https://hooks.example.com/SECRET]
    url_file: [SECRET]
    secret_file: {SECRET: 1}
  - SECRET
  - <<: SECRET
    name: b
    type: exec
    command: /bin/page
    args: SECRET
order_url: [https://x.example.com/SECRET]
`, []string{
			`FILE:2: name: want a string, got a list`,
			`FILE:4: command: want a file name, got a mapping`,
			`FILE:5: args: want a list of strings, got text`,
			`FILE:6: url: want a URL, got a list`,
			`FILE:7: url_file: want a file name, got a list`,
			`FILE:8: secret_file: want a file name, got a mapping`,
			`FILE:9: a receiver is a mapping (name:, type:, ...), got text`,
			`FILE:10: <<: want a mapping to merge, got text`,
			`FILE:14: args: want a list of strings, got text`,
			`FILE:15: order_url: want an https URL, got a list`,
		}},
		{"a number written as a float", "receivers:\n  - name: a\n    type: exec\n    command: /bin/page\n" +
			"expiring_days: 30.0\nfailed_after: 1e1\nwaiting_hours: 2.5\ndcv_expiring_days: -7.0\n", []string{
			`FILE:5: expiring_days: want a whole number, got "30.0" (write 30)`,
			`FILE:6: failed_after: want a whole number, got "1e1" (write 10)`,
			`FILE:7: waiting_hours: want a whole number, got "2.5"`,
			`FILE:8: dcv_expiring_days: want a whole number, got "-7.0" (write -7)`,
		}},
		{"a secret as the whole config", "SECRET\n", []string{"FILE:1: the notification config is a mapping of keys (receivers:, failed_after:, ...), got text"}},
		{"a syntax error", "failed_after: 3\n reminder: 24h\n", []string{"FILE:2: mapping values are not allowed in this context"}},
		{"many problems", `receivers:
  - name: a
    type: webhook
  - name: a
    type: pager
  - name: c
    type: exec
    command: page
    events: [failed, exploded]
  - name: d
    type: slack
    url: not a url with a token SECRET
  - name: e
    type: webhook
    url: https://x.example.com
    secret_file: ` + badSecret + `
  - name: f
    type: teams
    url_file: ` + open + `
`, []string{
			`FILE:2: receiver "a": a webhook receiver needs url or url_file`,
			`FILE:4: receiver "a" is named twice (first at line 2)`,
			`FILE:4: receiver "a": unknown type "pager": use webhook, slack, teams or exec`,
			`FILE:6: receiver "c": command "page" is not an absolute path`,
			`FILE:6: receiver "c": unknown event "exploded" (known: destructive_plan, blocked, failed, delivered, hook_failed, expiring, dcv_expiring, waiting, takeover, test)`,
			`FILE:10: receiver "d": the url is not an http(s) URL`,
			`FILE:13: receiver "e": secret_file ` + badSecret + `: the secret does not start with "whsec_"; hint: write "whsec_" and the key in base64, as the Standard Webhooks spec does`,
			`FILE:17: receiver "f": url_file ` + open + `: mode 0644: others may read or write it` + "\nhint: chmod 600 " + open,
		}},
		{"no receivers", "failed_after: 2\n", []string{"FILE: no receivers; hint: list them under the receivers key"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "notify.yaml", c.text)
			_, err := Load(p, "")
			if err == nil {
				t.Fatal("no error")
			}
			want := strings.ReplaceAll(strings.Join(c.want, "\n"), "FILE", p)
			if err.Error() != want {
				t.Errorf("error:\n%s\nwant:\n%s", err, want)
			}
			if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error quotes a secret: %s", err)
			}
		})
	}
}

// TestLoad_refused: a config others may read, or one inside the spec
// directory, is refused before it is parsed.
func TestLoad_refused(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "notify.yaml")
	os.WriteFile(p, []byte("receivers: []\n"), 0o640)
	if _, err := Load(p, ""); !errors.Is(err, ErrPermissions) || err.Error() != "the notification config "+p+": mode 0640: others may read or write it\nhint: chmod 600 "+p {
		t.Errorf("group-readable: %v", err)
	}
	specs := filepath.Join(dir, "specs")
	os.Mkdir(specs, 0o700)
	in := writeFile(t, specs, "notify.yaml", "receivers: []\n")
	if _, err := Load(in, specs); err == nil || err.Error() != "the notification config "+in+" is inside the spec directory "+specs+"\nhint: keep it where only the server's administrators may write, such as /etc/certform" {
		t.Errorf("inside the spec directory: %v", err)
	}
}

// FuzzLoad: no config makes Load panic.
func FuzzLoad(f *testing.F) {
	f.Add("receivers:\n  - name: a\n    type: webhook\n    url: https://x.example.com\n")
	f.Add("receivers: [1, {a: b}]\n")
	f.Add("receivers:\n  - name: a\n    type: exec\n    command: /bin/true\n    events: [failed]\n")
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(t.TempDir(), "n.yaml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		Load(p, "")
	})
}

// TestLoad_mergeKeys: receivers may share settings through a YAML anchor
// and merge key; a key the receiver writes wins over a merged one.
func TestLoad_mergeKeys(t *testing.T) {
	p := writeFile(t, t.TempDir(), "notify.yaml", `receivers:
  - &hook
    name: a
    type: webhook
    url: https://a.example.com/hook
    timeout: 5s
  - <<: *hook
    name: b
    url: https://b.example.com/hook
`)
	c, err := Load(p, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range c.Receivers {
		got = append(got, fmt.Sprintf("%s %s %s %s", r.Name, r.Kind, r.URL, r.Timeout))
	}
	want := []string{"a webhook https://a.example.com/hook 5s", "b webhook https://b.example.com/hook 5s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("receivers (-want +got):\n%s", diff)
	}
}
