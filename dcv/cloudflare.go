package dcv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// CloudflareEndpoint is Cloudflare's v4 API.
const CloudflareEndpoint = "https://api.cloudflare.com/client/v4"

// Cloudflare publishes records through Cloudflare's v4 API with an API
// token (Zone.DNS edit on the zone): Present is POST
// /zones/{zone_id}/dns_records (a new record beside the others at the
// name; "an identical record already exists" counts as done), CleanUp
// lists the records of that name and type and DELETEs the one whose content
// is the value.
type Cloudflare struct {
	ZoneID string
	Token  Secret
	// Endpoint is the API base URL; CloudflareEndpoint when "".
	Endpoint string
	// Client is the HTTP client; one with a 30s timeout when nil.
	Client *http.Client
}

// cfIdentical are Cloudflare's codes for a record that already exists.
var cfIdentical = map[int]bool{81057: true, 81058: true}

type cfAnswer struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result json.RawMessage `json:"result"`
}

type cfRecord struct {
	ID      string `json:"id,omitempty"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Content string `json:"content"`
	TTL     int    `json:"ttl,omitempty"`
}

// Present creates r.
func (p *Cloudflare) Present(ctx context.Context, r Record) error {
	if r.Type == TypeHTTP {
		return fmt.Errorf("cloudflare: cannot publish %s", r)
	}
	body, _ := json.Marshal(cfRecord{Type: r.Type, Name: r.Name, Content: r.Value, TTL: RecordTTL})
	ans, status, err := p.call(ctx, http.MethodPost, "/zones/"+url.PathEscape(p.ZoneID)+"/dns_records", body)
	if err != nil {
		return fmt.Errorf("cloudflare: adding %s: %w", r, err)
	}
	if !ans.Success {
		for _, e := range ans.Errors {
			if cfIdentical[e.Code] {
				return nil
			}
		}
		return fmt.Errorf("cloudflare: adding %s: %s", r, ans.describe(status))
	}
	return nil
}

// CleanUp deletes the record of r's name and type whose content is r.Value.
func (p *Cloudflare) CleanUp(ctx context.Context, r Record) error {
	q := url.Values{"type": {r.Type}, "name": {r.Name}}
	ans, status, err := p.call(ctx, http.MethodGet, "/zones/"+url.PathEscape(p.ZoneID)+"/dns_records?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("cloudflare: listing %s: %w", r, err)
	}
	if !ans.Success {
		return fmt.Errorf("cloudflare: listing %s: %s", r, ans.describe(status))
	}
	var recs []cfRecord
	if err := json.Unmarshal(ans.Result, &recs); err != nil {
		return fmt.Errorf("cloudflare: listing %s: the answer's result is not a list of records: %w", r, err)
	}
	for _, rec := range recs {
		content := rec.Content
		if r.Type == TypeTXT {
			content = strings.Trim(content, `"`)
		}
		if !strings.EqualFold(rec.Name, r.Name) || rec.Type != r.Type || !strings.EqualFold(strings.TrimSuffix(content, "."), r.Value) {
			continue
		}
		ans, status, err := p.call(ctx, http.MethodDelete, "/zones/"+url.PathEscape(p.ZoneID)+"/dns_records/"+url.PathEscape(rec.ID), nil)
		if err != nil {
			return fmt.Errorf("cloudflare: deleting %s: %w", r, err)
		}
		if !ans.Success && status != http.StatusNotFound {
			return fmt.Errorf("cloudflare: deleting %s: %s", r, ans.describe(status))
		}
	}
	return nil
}

func (a *cfAnswer) describe(status int) string {
	var msgs []string
	for _, e := range a.Errors {
		msgs = append(msgs, fmt.Sprintf("%d %s", e.Code, e.Message))
	}
	if len(msgs) == 0 {
		return fmt.Sprintf("HTTP %d without errors", status)
	}
	return fmt.Sprintf("HTTP %d: %s", status, strings.Join(msgs, "; "))
}

func (p *Cloudflare) call(ctx context.Context, method, path string, body []byte) (*cfAnswer, int, error) {
	base := p.Endpoint
	if base == "" {
		base = CloudflareEndpoint
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+string(p.Token))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		// The URL error names the URL, never the token (a header).
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, resp.StatusCode, err
	}
	var ans cfAnswer
	if err := json.Unmarshal(b, &ans); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("HTTP %d: the answer is not Cloudflare's JSON (%d bytes)", resp.StatusCode, len(b))
	}
	return &ans, resp.StatusCode, nil
}
