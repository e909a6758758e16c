package daemon

import (
	"sync"
	"time"
)

// maxDelayFactor bounds how long a burst of changes may hold a cycle back:
// at most maxDelayFactor times the quiet period after its first change, so
// that a steady stream of writes cannot starve the reconcile
// (consul-template's quiescence has the same min/max pair).
const maxDelayFactor = 10

// debouncer collects changed paths and calls fire once the changes pause:
// quiet after the last change, and never later than maxDelay after the
// first change of the burst. It knows nothing of fsnotify: the watcher
// feeds it, and tests drive it with their own Clock. It is safe for
// concurrent use; fire runs in the clock's timer goroutine, never with the
// debouncer's lock held.
type debouncer struct {
	clock    Clock
	quiet    time.Duration
	maxDelay time.Duration
	// fire gets the first maxPathsLogged changed paths (in the order they
	// first changed) and how many more changed.
	fire func(paths []string, more int)

	mu    sync.Mutex
	first time.Time // when the pending burst began; zero when none is pending
	paths []string
	more  int
	seen  map[string]bool
	timer Timer
	gen   uint64 // the current timer's number; an older timer that fires does nothing
}

func newDebouncer(clock Clock, quiet time.Duration, fire func(paths []string, more int)) *debouncer {
	return &debouncer{clock: clock, quiet: quiet, maxDelay: maxDelayFactor * quiet, fire: fire}
}

// add records a change of path (relative to the spec directory, with
// forward slashes) and moves the firing time to quiet from now, or to
// maxDelay after the burst's first change if that is sooner.
func (d *debouncer) add(path string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock.Now()
	if d.first.IsZero() {
		d.first, d.seen = now, map[string]bool{}
	}
	if !d.seen[path] {
		d.seen[path] = true
		if len(d.paths) < maxPathsLogged {
			d.paths = append(d.paths, path)
		} else {
			d.more++
		}
	}
	wait := max(min(d.quiet, d.first.Add(d.maxDelay).Sub(now)), 0)
	if d.timer != nil {
		d.timer.Stop()
	}
	d.gen++
	gen := d.gen
	d.timer = d.clock.AfterFunc(wait, func() { d.expire(gen) })
}

// expire fires the pending burst if timer gen is still the current one.
func (d *debouncer) expire(gen uint64) {
	d.mu.Lock()
	if gen != d.gen || d.first.IsZero() {
		d.mu.Unlock()
		return
	}
	paths, more := d.paths, d.more
	d.first, d.paths, d.more, d.seen, d.timer = time.Time{}, nil, 0, nil, nil
	d.mu.Unlock()
	d.fire(paths, more)
}

// stop drops the pending burst without firing it.
func (d *debouncer) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
	}
	d.gen++
	d.first, d.paths, d.more, d.seen, d.timer = time.Time{}, nil, 0, nil, nil
}
