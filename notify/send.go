package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// sender sends one event once.
type sender interface {
	send(ctx context.Context, e Event) error
}

func newSender(r *ReceiverConfig, now func() time.Time) sender {
	client := &http.Client{
		// A redirect is not followed: the answer is judged as it is.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	switch r.Kind {
	case KindSlack:
		return &httpSender{r: r, client: client, body: slackBody}
	case KindTeams:
		return &httpSender{r: r, client: client, body: teamsBody}
	case KindExec:
		return &execSender{r: r}
	}
	return &httpSender{r: r, client: client, body: func(e Event) ([]byte, error) { return json.Marshal(e) }, sign: true, now: now}
}

// httpSender POSTs JSON to the receiver's URL; the generic webhook's
// requests are signed per the Standard Webhooks spec.
type httpSender struct {
	r      *ReceiverConfig
	client *http.Client
	body   func(Event) ([]byte, error)
	sign   bool
	now    func() time.Time
}

func (s *httpSender) send(ctx context.Context, e Event) error {
	body, err := s.body(e)
	if err != nil {
		return &PermanentError{err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.r.URL, bytes.NewReader(body))
	if err != nil {
		// The error would quote the URL, a secret.
		return &PermanentError{errors.New("the receiver's url is not valid")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "certform")
	if s.sign {
		ts := strconv.FormatInt(s.now().Unix(), 10)
		req.Header.Set("webhook-id", e.ID)
		req.Header.Set("webhook-timestamp", ts)
		if len(s.r.Secret) > 0 {
			req.Header.Set("webhook-signature", Sign(s.r.Secret, e.ID, ts, body))
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// *url.Error quotes the URL: keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("no answer within %s", s.r.Timeout)
		}
		return fmt.Errorf("POST: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return fmt.Errorf("the receiver answered %s", resp.Status)
	default:
		return &PermanentError{fmt.Errorf("the receiver answered %s", resp.Status)}
	}
}

// Sign returns the Standard Webhooks signature header value of a
// message: "v1," and the base64 HMAC-SHA256, keyed with secret, of
// id + "." + timestamp + "." + body.
func Sign(secret []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// title is an event's one-line title for chat receivers.
func title(e Event) string {
	t := "certform " + e.Type
	if e.Spec != "" {
		t += ": " + e.Spec
	}
	if e.OrderID != 0 {
		t += fmt.Sprintf(" (order %d)", e.OrderID)
	}
	if e.Domain != "" {
		t += ": " + e.Domain
	}
	return t
}

// slackBody is a Slack incoming webhook's payload: text (the fallback and
// notification line) and blocks.
func slackBody(e Event) ([]byte, error) {
	text := "*" + title(e) + "*\n" + e.Message
	if e.Hint != "" {
		text += "\nhint: " + e.Hint
	}
	ctx := e.Time.Format(time.RFC3339)
	if e.Server != "" {
		ctx += " on " + e.Server
	}
	if e.Link != "" {
		ctx += " · <" + e.Link + "|details>"
	}
	return json.Marshal(map[string]any{
		"text": title(e) + ": " + e.Message,
		"blocks": []any{
			map[string]any{"type": "section", "text": map[string]string{"type": "mrkdwn", "text": text}},
			map[string]any{"type": "context", "elements": []any{map[string]string{"type": "mrkdwn", "text": ctx}}},
		},
	})
}

// teamsBody is a Teams Workflows webhook's payload: a message with one
// Adaptive Card.
func teamsBody(e Event) ([]byte, error) {
	body := []any{
		map[string]any{"type": "TextBlock", "text": title(e), "weight": "Bolder", "size": "Medium", "wrap": true},
		map[string]any{"type": "TextBlock", "text": e.Message, "wrap": true},
	}
	if e.Hint != "" {
		body = append(body, map[string]any{"type": "TextBlock", "text": "hint: " + e.Hint, "wrap": true, "isSubtle": true})
	}
	facts := []any{map[string]string{"title": "time", "value": e.Time.Format(time.RFC3339)}}
	if e.Server != "" {
		facts = append(facts, map[string]string{"title": "server", "value": e.Server})
	}
	body = append(body, map[string]any{"type": "FactSet", "facts": facts})
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body":    body,
	}
	if e.Link != "" {
		card["actions"] = []any{map[string]string{"type": "Action.OpenUrl", "title": "Details", "url": e.Link}}
	}
	return json.Marshal(map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	})
}

// execSender runs a command with the event as JSON on stdin, and
// CERTFORM_EVENT_TYPE and CERTFORM_EVENT_ID in its environment (with
// PATH, nothing else of certform's); exit status 0 is success.
type execSender struct{ r *ReceiverConfig }

func (s *execSender) send(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return &PermanentError{err}
	}
	cmd := exec.CommandContext(ctx, s.r.Command, s.r.Args...)
	cmd.Stdin = bytes.NewReader(body)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "CERTFORM_EVENT_TYPE=" + e.Type, "CERTFORM_EVENT_ID=" + e.ID}
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: no exit within %s", s.r.Command, s.r.Timeout)
		}
		msg := strings.TrimSpace(out.String())
		if len(msg) > 500 {
			msg = msg[:500] + "..."
		}
		if msg != "" {
			return fmt.Errorf("%s: %w: %s", s.r.Command, err, msg)
		}
		return fmt.Errorf("%s: %w", s.r.Command, err)
	}
	return nil
}

// replaceOrderID puts id in place of "{order_id}".
func replaceOrderID(tmpl string, id int) string {
	return strings.ReplaceAll(tmpl, "{order_id}", strconv.Itoa(id))
}
