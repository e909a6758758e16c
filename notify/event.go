// Package notify sends certform's events to people: to a generic webhook
// signed per the Standard Webhooks spec, a Slack incoming webhook, a
// Microsoft Teams Workflows webhook, or a local command. It owns the
// notification config (--notify-config), the receivers, their queues and
// retries. A receiver that fails or hangs never delays its caller: Send
// only queues; each receiver sends from a goroutine of its own, retries
// with backoff for a bounded time, then drops the event with an ERROR log
// and a metric.
//
// It does not decide when something is worth telling: the daemon makes
// the events from its cycles (and keeps one from being sent again every
// cycle), and certform notify test makes a test event.
package notify

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Event types: a stable public contract (the webhook's "type", the
// receivers' events lists).
const (
	// TypeDestructivePlan: a plan with a revocation, a reissue that
	// revokes earlier certificates, or a renewal.
	TypeDestructivePlan = "destructive_plan"
	// TypeBlocked: an action held back by a safety rail.
	TypeBlocked = "blocked"
	// TypeFailed: a spec's call or delivery, or the whole cycle, failed
	// FailedAfter times in a row.
	TypeFailed = "failed"
	// TypeDelivered: a certificate was written to the certificate folder.
	TypeDelivered = "delivered"
	// TypeHookFailed: a deploy hook failed.
	TypeHookFailed = "hook_failed"
	// TypeExpiring: a certificate ends within ExpiringDays with no reissue
	// or renewal pending.
	TypeExpiring = "expiring"
	// TypeDCVExpiring: a domain validation ends within DCVExpiringDays.
	TypeDCVExpiring = "dcv_expiring"
	// TypeWaiting: an order waits on a person (approval, validation) for
	// more than WaitingHours.
	TypeWaiting = "waiting"
	// TypeTakeover: the state's lock passed from one server to another.
	TypeTakeover = "takeover"
	// TypeTest: certform notify test.
	TypeTest = "test"
)

// Types are every event type, in the order the docs list them.
var Types = []string{TypeDestructivePlan, TypeBlocked, TypeFailed, TypeDelivered, TypeHookFailed, TypeExpiring, TypeDCVExpiring,
	TypeWaiting, TypeTakeover, TypeTest}

// Event is one notification; its JSON is the generic webhook's body and
// the exec receiver's stdin (a stable interface). It never holds a
// secret: no API key, no private key, no receiver URL.
type Event struct {
	// ID is unique per event and stays the same across retries (the
	// webhook-id header), such as "msg_0f3c...".
	ID   string `json:"id"`
	Type string `json:"type"`
	// Time is when the event happened, UTC.
	Time time.Time `json:"time"`
	// Spec and OrderID name what it is about, when it is about one spec.
	Spec    string `json:"spec,omitempty"`
	OrderID int    `json:"order_id,omitempty"`
	// Domain names the domain of a dcv_expiring event.
	Domain  string `json:"domain,omitempty"`
	Message string `json:"message"`
	// Hint says what to do, when something is to be done.
	Hint string `json:"hint,omitempty"`
	// Link points at the order in CertCentral (Config.OrderURL) or at the
	// event type's documentation.
	Link string `json:"link,omitempty"`
	// Server is the host name of the certform that sent it.
	Server string `json:"server,omitempty"`
}

// NewID returns a new event id: "msg_" and 32 random hex digits.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "msg_" + hex.EncodeToString(b[:])
}

// DocsURL is where each event type is documented; Event.Link points at
// DocsURL + "#" + type when there is no order to link to.
const DocsURL = "https://github.com/certform/certform/blob/main/docs/notifications.md"
