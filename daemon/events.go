package daemon

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certform/certform/internal/runner"
	"github.com/certform/certform/notify"
	"github.com/certform/certform/reconcile"
	"github.com/certform/certform/status"
)

// Notifier gets the daemon's events (Config.Notifier): *notify.Notifier
// is one. Send must not block.
type Notifier interface {
	Send(notify.Event)
	Config() *notify.Config
}

// events is what the daemon remembers to send each event once: used by
// the loop goroutine only.
type events struct {
	// sent are the events sent, by key, each with when it was last sent;
	// seen are the keys the cycle in progress emitted. At the end of a
	// cycle that made a plan, keys it did not emit are forgotten: an
	// event that goes away and comes back is sent again.
	sent, seen map[string]time.Time
	// streak counts, by spec ("" for the whole cycle), the cycles in a
	// row where it failed.
	streak map[string]int
	// waitingSince is when each spec's order was first seen waiting on a
	// person, by spec and status (kept in memory: a restarted daemon
	// starts counting again).
	waitingSince map[string]time.Time
}

// init makes the maps.
func (ev *events) init() {
	if ev.sent == nil {
		ev.sent, ev.seen, ev.streak, ev.waitingSince = map[string]time.Time{}, map[string]time.Time{}, map[string]int{}, map[string]time.Time{}
	}
}

// emit sends e unless the same key was sent less than the config's
// Reminder ago (then it stays remembered); a reminder says so.
func (d *Daemon) emit(key string, e notify.Event) {
	n := d.cfg.Notifier
	if n == nil {
		return
	}
	ev := &d.events
	ev.init()
	now := d.clock.Now()
	last, known := ev.sent[key]
	if known && now.Sub(last) < n.Config().Reminder {
		ev.seen[key] = last
		return
	}
	if known {
		e.Message += " (reminder)"
	}
	e.Time = now
	ev.sent[key], ev.seen[key] = now, now
	n.Send(e)
}

// endEvents forgets the events a cycle that made a plan did not emit.
func (d *Daemon) endEvents() {
	ev := &d.events
	ev.init()
	ev.sent, ev.seen = ev.seen, map[string]time.Time{}
}

// cycleFailed counts a cycle that failed as a whole (before its plan, or
// with errors while consulting CertCentral) and sends a failed event once
// FailedAfter cycles in a row did; why is the error.
func (d *Daemon) cycleFailed(why string) {
	if d.cfg.Notifier == nil {
		return
	}
	d.events.init()
	d.events.streak[""]++
	n, after := d.events.streak[""], d.cfg.Notifier.Config().FailedAfter
	if n >= after {
		d.emit("failed\x00\x00"+failureCause(why), notify.Event{Type: notify.TypeFailed, Message: fmt.Sprintf("%d cycles in a row failed: %s", n, why),
			Hint: "see /healthz and the daemon's log; certform retries with backoff"})
	}
}

// causeNoise is what changes from one failure to the next of the same
// cause: the retries of the call that failed ("(gave up after 11
// attempts in 47.846s)", "(retry cancelled: ...)"), durations (1m30s),
// then any other number (an address, an ephemeral port, an order id, a
// time).
var causeNoise = regexp.MustCompile(` \((?:gave up after |retry cancelled: )[^()]*\)|\b(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|h|m|s))+\b|[0-9]+`)

// failureCause is the cause of a failed event, its key: why from its last
// CertCentral error on ("digicert: ...": the same failing call whether
// the check before the cycle or the cycle itself made it), without the
// text that changes while the cause does not (see causeNoise). So an
// outage sends one event, then reminders, however often the cycle is
// retried; another cause is another event.
func failureCause(why string) string {
	if i := strings.LastIndex(why, "digicert: "); i >= 0 {
		why = why[i:]
	}
	return causeNoise.ReplaceAllString(why, "#")
}

// cycleWorked starts the count of whole-cycle failures over.
func (d *Daemon) cycleWorked() {
	if d.cfg.Notifier == nil {
		return
	}
	d.events.init()
	d.events.streak[""] = 0
}

// planEvents sends the events of a plan, before it is applied:
// destructive_plan for each revocation, reissue that revokes earlier
// certificates, or renewal; blocked for each blocked action.
func (d *Daemon) planEvents(p *reconcile.Plan, dryRun bool) {
	if d.cfg.Notifier == nil {
		return
	}
	for _, a := range p.Actions {
		var what string
		switch {
		case a.Kind == reconcile.KindRevoke:
			what = fmt.Sprintf("revoke order %d", a.OrderID)
		case a.Kind == reconcile.KindReissue && a.RevokesPrevious:
			what = fmt.Sprintf("reissue order %d, which makes DigiCert revoke its earlier certificates", a.OrderID)
		case a.Kind == reconcile.KindRenew:
			what = fmt.Sprintf("renew order %d (a new order, paid for)", a.OrderID)
		default:
			continue
		}
		msg := "certform will " + what
		hint := "to stop it, change the spec before the next cycle; see certform plan"
		if dryRun {
			msg = "the plan would " + what + " (dry run: nothing is sent)"
			hint = ""
		}
		d.emit(strings.Join([]string{notify.TypeDestructivePlan, a.Name, string(a.Kind), strconv.Itoa(a.OrderID)}, "\x00"),
			notify.Event{Type: notify.TypeDestructivePlan, Spec: a.Name, OrderID: a.OrderID, Message: msg, Hint: hint})
	}
	for _, a := range p.Blocked {
		msg := fmt.Sprintf("%s of %s blocked (%s)", a.Kind, a.Name, a.BlockedBy)
		var hint string
		for _, n := range p.Notes {
			if n.Name == a.Name && (n.Kind == reconcile.NoteBlocked || n.Kind == reconcile.NoteDuplicate || n.Kind == reconcile.NoteExists) {
				msg, hint = n.Message, n.Hint
				break
			}
		}
		d.emit(strings.Join([]string{notify.TypeBlocked, a.Name, string(a.Kind), a.BlockedBy}, "\x00"),
			notify.Event{Type: notify.TypeBlocked, Spec: a.Name, OrderID: a.OrderID, Message: msg, Hint: hint})
	}
}

// resultEvents sends the events of an applied cycle: failed for a spec
// whose call or delivery failed FailedAfter cycles in a row, delivered,
// hook_failed, expiring, waiting and dcv_expiring; then forgets the
// events the cycle did not emit.
func (d *Daemon) resultEvents(rep runner.Report, rows []status.Entry, revoked map[string]bool) {
	n := d.cfg.Notifier
	if n == nil {
		return
	}
	cfg := n.Config()
	now := d.clock.Now()
	d.events.init()
	d.failedEvents(d.deliveryEvents(rep), cfg.FailedAfter)
	d.rowEvents(rows, revoked, now, cfg)
	d.dcvEvents(rep.Results, now, cfg.DCVExpiringDays)
	d.keepHookFailed(rows)
	d.endEvents()
}

// specFailure is why a spec failed in a cycle, and its order.
type specFailure struct {
	why     string
	orderID int
}

// deliveryEvents sends the delivered and hook_failed events of a cycle
// and returns the specs whose call (or, failing none, delivery) failed.
func (d *Daemon) deliveryEvents(rep runner.Report) map[string]specFailure {
	failures := map[string]specFailure{}
	for _, r := range rep.Results {
		if r.Err != nil && !errors.Is(r.Err, reconcile.ErrWaiting) && !errors.Is(r.Err, reconcile.ErrStopping) {
			failures[r.Action.Name] = specFailure{fmt.Sprintf("%s: %v", r.Action.Kind, r.Err), r.Action.OrderID}
		}
	}
	for _, dv := range rep.Deliveries {
		switch {
		case dv.Err != nil:
			if _, ok := failures[dv.Name]; !ok {
				failures[dv.Name] = specFailure{"delivery: " + dv.Err.Error(), dv.OrderID}
			}
		case dv.Delivered:
			d.emit(strings.Join([]string{notify.TypeDelivered, dv.Name, dv.Serial}, "\x00"), notify.Event{Type: notify.TypeDelivered, Spec: dv.Name, OrderID: dv.OrderID,
				Message: fmt.Sprintf("certificate %s (until %s) delivered to %s", dv.Serial, dv.NotAfter.UTC().Format(time.RFC3339), dv.Dir)})
		}
		if dv.Deploy == runner.HookFailed && dv.HookErr != nil {
			hint := "the certificate stays delivered; the hook runs again with backoff"
			if !dv.RetryAt.IsZero() {
				hint += ", next at " + dv.RetryAt.UTC().Format(time.RFC3339)
			}
			d.emit(strings.Join([]string{notify.TypeHookFailed, dv.Name, dv.Serial, dv.HookErr.Error()}, "\x00"), notify.Event{Type: notify.TypeHookFailed,
				Spec: dv.Name, OrderID: dv.OrderID, Message: fmt.Sprintf("the deploy hook for certificate %s failed: %v", dv.Serial, dv.HookErr), Hint: hint})
		}
	}
	return failures
}

// failedEvents counts each spec's failures in a row (a spec that did not
// fail starts over) and sends a failed event for each that failed
// failedAfter cycles in a row or more.
func (d *Daemon) failedEvents(failures map[string]specFailure, failedAfter int) {
	for name := range d.events.streak {
		if _, ok := failures[name]; !ok && name != "" {
			delete(d.events.streak, name)
		}
	}
	for name, f := range failures {
		d.events.streak[name]++
		if k := d.events.streak[name]; k >= failedAfter {
			d.emit(strings.Join([]string{notify.TypeFailed, name, failureCause(f.why)}, "\x00"), notify.Event{Type: notify.TypeFailed, Spec: name, OrderID: f.orderID,
				Message: fmt.Sprintf("failed %d cycles in a row: %s", k, f.why), Hint: "see certform status and the daemon's log; certform tries again every cycle"})
		}
	}
}

// rowEvents sends, for each state row of a spec (not an orphan, not to
// be revoked), its expiring and waiting events (see expiringEvent and
// waitingEvent).
func (d *Daemon) rowEvents(rows []status.Entry, revoked map[string]bool, now time.Time, cfg *notify.Config) {
	waitingNow := map[string]time.Time{}
	for _, r := range rows {
		if r.Orphan || revoked[r.Name] {
			continue
		}
		d.expiringEvent(r, now, cfg.ExpiringDays)
		if key, since, ok := d.waitingEvent(r, now, cfg.WaitingHours); ok {
			waitingNow[key] = since
		}
	}
	d.events.waitingSince = waitingNow
}

// expiringEvent sends an expiring event when r's issued certificate ends
// within days of now with no reissue or renewal pending.
func (d *Daemon) expiringEvent(r status.Entry, now time.Time, days int) {
	if r.NotAfter == nil || r.Waiting != "" || r.Intent != nil || r.Status != "issued" {
		return
	}
	if left, soon := endsWithin(*r.NotAfter, now, days); soon {
		d.emit(strings.Join([]string{notify.TypeExpiring, r.Name, strconv.Itoa(r.OrderID)}, "\x00"), notify.Event{Type: notify.TypeExpiring, Spec: r.Name, OrderID: r.OrderID,
			Message: fmt.Sprintf("the certificate ends at %s (%d days), and no reissue or renewal is pending", r.NotAfter.UTC().Format(time.RFC3339), left),
			Hint:    "see certform status and the daemon's notes for this spec (waiting, needs_csr, blocked)"})
	}
}

// waitingEvent sends a waiting event when r's order has waited for a
// person (an administrator's approval, or domain validation) longer than
// hours. ok says whether it waits for one; key and since are what
// waitingSince keeps for it.
func (d *Daemon) waitingEvent(r status.Entry, now time.Time, hours int) (key string, since time.Time, ok bool) {
	if r.Waiting != "needs_approval" && r.Waiting != "pending" {
		return "", time.Time{}, false
	}
	key = r.Name + "\x00" + r.Waiting
	since, known := d.events.waitingSince[key]
	if !known {
		since = now
	}
	if now.Sub(since) > time.Duration(hours)*time.Hour {
		what := map[string]string{"needs_approval": "an administrator's approval", "pending": "domain control validation"}[r.Waiting]
		d.emit(strings.Join([]string{notify.TypeWaiting, r.Name, strconv.Itoa(r.OrderID), r.Waiting}, "\x00"), notify.Event{Type: notify.TypeWaiting, Spec: r.Name, OrderID: r.OrderID,
			Message: fmt.Sprintf("order %d has waited for %s since %s", r.OrderID, what, since.UTC().Format(time.RFC3339)),
			Hint:    "approve or validate it in CertCentral; certform goes on by itself once it is done"})
	}
	return key, since, true
}

// keepHookFailed keeps the hook_failed events of the deploy hooks still
// pending: a hook that failed stays failed until it succeeds, though it
// runs again only after its backoff, so its event is not sent again
// meanwhile.
func (d *Daemon) keepHookFailed(rows []status.Entry) {
	for _, r := range rows {
		if r.HookPending == "" {
			continue
		}
		prefix := strings.Join([]string{notify.TypeHookFailed, r.Name, r.HookPending, ""}, "\x00")
		for k, at := range d.events.sent {
			if _, seen := d.events.seen[k]; !seen && strings.HasPrefix(k, prefix) {
				d.events.seen[k] = at
			}
		}
	}
}

// endsWithin reports whether end is less than days days after now, and
// how many whole days are left (negative once it has passed): the
// threshold of the expiring and dcv_expiring events.
func endsWithin(end, now time.Time, days int) (left int, soon bool) {
	d := end.Sub(now)
	return int(math.Floor(d.Hours() / 24)), d < time.Duration(days)*24*time.Hour
}

// dcvEvents sends a dcv_expiring event for each account domain a spec
// uses whose validation, as the last cycle with --dcv-config read it
// (Reconciler.DomainValidation), ends within days of now, unless this
// cycle revalidated it (results). The same domain and end is one event,
// reminded like the others.
func (d *Daemon) dcvEvents(results []reconcile.Result, now time.Time, days int) {
	ends, _ := d.run.DomainValidation()
	revalidated := map[string]bool{}
	for _, r := range results {
		if r.Err == nil && r.Action.Kind == reconcile.KindRevalidate && r.Action.Validation != nil {
			revalidated[r.Action.Validation.Domain] = true
		}
	}
	for _, domain := range slices.Sorted(maps.Keys(ends)) {
		end := ends[domain]
		left, soon := endsWithin(end, now, days)
		if !soon || revalidated[domain] {
			continue
		}
		msg := fmt.Sprintf("the validation of domain %s ends at %s (%d days)", domain, end.UTC().Format(time.RFC3339), left)
		if !end.After(now) {
			msg = fmt.Sprintf("the validation of domain %s ended at %s", domain, end.UTC().Format(time.RFC3339))
		}
		d.emit(strings.Join([]string{notify.TypeDCVExpiring, domain, end.UTC().Format(time.RFC3339)}, "\x00"), notify.Event{Type: notify.TypeDCVExpiring, Domain: domain,
			Message: msg, Hint: "certform revalidates a domain through a DNS zone of the DCV config (--dcv-revalidate-before): see the daemon's notes (dcv_unconfigured) and log, or revalidate it in CertCentral; orders with its names wait on validation once it ends"})
	}
}

// takeoverEvent sends a takeover event: msg says who took the lock.
func (d *Daemon) takeoverEvent(msg, hint string) {
	if d.cfg.Notifier == nil {
		return
	}
	d.cfg.Notifier.Send(notify.Event{Type: notify.TypeTakeover, Time: d.clock.Now(), Message: msg, Hint: hint})
}
