package daemon

import (
	"slices"
	"strings"
	"sync"
)

// Trigger reasons, as the cycle records name them.
const (
	reasonStart           = "start"
	reasonFileChange      = "file change"
	reasonSchedule        = "schedule"
	reasonRefreshSchedule = "refresh schedule"
	reasonSignal          = "signal"
	reasonRetry           = "retry"
	reasonResend          = "resend"
	reasonPoll            = "poll"
	reasonHook            = "deploy hook"
	reasonTakeover        = "takeover"   // a standby took the shared state's lock
	reasonLockCheck       = "lock check" // an idle leader found its shared lock lost
)

// maxPathsLogged is how many changed paths a trigger carries for the log.
const maxPathsLogged = 5

// trigger is why a cycle runs. Triggers that arrive while a cycle runs are
// merged into one follow-up cycle.
type trigger struct {
	reasons []string // reasonStart, reasonFileChange...
	paths   []string // the first few changed paths, relative to the spec directory
	more    int      // how many more paths changed
	refresh bool     // read every order from CertCentral first
}

// merge adds o's reasons and paths to t (at most maxPathsLogged paths are
// kept, the rest counted).
func (t *trigger) merge(o trigger) {
	for _, r := range o.reasons {
		if !slices.Contains(t.reasons, r) {
			t.reasons = append(t.reasons, r)
		}
	}
	for _, p := range o.paths {
		switch {
		case slices.Contains(t.paths, p):
		case len(t.paths) < maxPathsLogged:
			t.paths = append(t.paths, p)
		default:
			t.more++
		}
	}
	t.more += o.more
	t.refresh = t.refresh || o.refresh
}

// reason is how the log and the metrics name the trigger: "schedule",
// "file change+signal".
func (t *trigger) reason() string { return strings.Join(t.reasons, "+") }

// queue holds at most one pending trigger, into which every trigger added
// before the next take is merged. It is safe for concurrent use; add never
// blocks.
type queue struct {
	mu      sync.Mutex
	pending *trigger
	ready   chan struct{} // has a value while a trigger is pending
}

func newQueue() *queue { return &queue{ready: make(chan struct{}, 1)} }

func (q *queue) add(t trigger) {
	q.mu.Lock()
	if q.pending == nil {
		q.pending = &trigger{}
	}
	q.pending.merge(t)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// waiting reports whether a trigger is pending.
func (q *queue) waiting() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending != nil
}

// take returns the pending trigger, or nil, and empties the queue.
func (q *queue) take() *trigger {
	q.mu.Lock()
	defer q.mu.Unlock()
	t := q.pending
	q.pending = nil
	return t
}
