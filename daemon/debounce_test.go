package daemon

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fired is one call of a debouncer's fire: when (since the test began),
// with which paths and how many more.
type fired struct {
	At    time.Duration
	Paths []string
	More  int
}

// step is one change (path) after advancing the clock by wait.
type step struct {
	wait time.Duration
	path string
}

func TestDebounce(t *testing.T) {
	const quiet = time.Second
	stream := func(every time.Duration, n int) []step {
		var out []step
		for i := 0; i < n; i++ {
			out = append(out, step{wait: every, path: "a.yaml"})
		}
		return out
	}
	many := []step{{path: "a.yaml"}, {path: "b.yaml"}, {path: "a.yaml"}, {path: "c.yaml"}, {path: "d.yaml"},
		{path: "team/e.yaml"}, {path: "f.yaml"}, {path: "g.yaml"}, {path: "f.yaml"}}
	tests := []struct {
		name  string
		steps []step
		after time.Duration // advance after the last step
		want  []fired
	}{
		{name: "one change fires after the quiet period", steps: []step{{path: "a.yaml"}}, after: 5 * time.Second,
			want: []fired{{At: quiet, Paths: []string{"a.yaml"}}}},
		{name: "a second change moves the firing time", steps: []step{{path: "a.yaml"}, {wait: 600 * time.Millisecond, path: "b.yaml"}}, after: 5 * time.Second,
			want: []fired{{At: 1600 * time.Millisecond, Paths: []string{"a.yaml", "b.yaml"}}}},
		{name: "a pause longer than quiet makes two bursts", steps: []step{{path: "a.yaml"}, {wait: 1500 * time.Millisecond, path: "b.yaml"}}, after: 5 * time.Second,
			want: []fired{{At: quiet, Paths: []string{"a.yaml"}}, {At: 2500 * time.Millisecond, Paths: []string{"b.yaml"}}}},
		{name: "a steady stream fires at the maximum delay", steps: stream(500*time.Millisecond, 30), after: 5 * time.Second,
			// Changes at 0.5 s ... 15 s: the first burst fires 10 s after its first
			// change, the rest 1 s after the last change.
			want: []fired{{At: 10500 * time.Millisecond, Paths: []string{"a.yaml"}}, {At: 16 * time.Second, Paths: []string{"a.yaml"}}}},
		{name: "paths are capped, each counted once", steps: many, after: 5 * time.Second,
			want: []fired{{At: quiet, Paths: []string{"a.yaml", "b.yaml", "c.yaml", "d.yaml", "team/e.yaml"}, More: 2}}},
		{name: "nothing fires before the quiet period ends", steps: []step{{path: "a.yaml"}}, after: quiet - time.Nanosecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			start := clock.Now()
			var got []fired
			d := newDebouncer(clock, quiet, func(paths []string, more int) {
				got = append(got, fired{At: clock.Now().Sub(start), Paths: paths, More: more})
			})
			for _, s := range tt.steps {
				clock.Advance(s.wait)
				d.add(s.path)
			}
			clock.Advance(tt.after)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fired (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDebounce_stop(t *testing.T) {
	clock := newFakeClock()
	n := 0
	d := newDebouncer(clock, time.Second, func([]string, int) { n++ })
	d.add("a.yaml")
	d.stop()
	clock.Advance(time.Minute)
	if n != 0 || len(clock.pending()) != 0 {
		t.Errorf("fired %d times after stop; pending timers %v", n, clock.pending())
	}
	d.add("b.yaml")
	clock.Advance(time.Minute)
	if n != 1 {
		t.Errorf("fired %d times after a change following stop", n)
	}
}

func TestTrigger_merge(t *testing.T) {
	var q trigger
	q.merge(trigger{reasons: []string{reasonFileChange}, paths: []string{"a", "b", "c"}})
	q.merge(trigger{reasons: []string{reasonSchedule}})
	q.merge(trigger{reasons: []string{reasonFileChange}, paths: []string{"c", "d", "e", "f", "g"}, more: 3})
	q.merge(trigger{reasons: []string{reasonRefreshSchedule}, refresh: true})
	want := trigger{reasons: []string{reasonFileChange, reasonSchedule, reasonRefreshSchedule}, paths: []string{"a", "b", "c", "d", "e"}, more: 5, refresh: true}
	if diff := cmp.Diff(want, q, cmp.AllowUnexported(trigger{})); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
	if got := q.reason(); got != "file change+schedule+refresh schedule" {
		t.Errorf("reason %q", got)
	}
	qu := newQueue()
	for i := 0; i < 3; i++ {
		qu.add(trigger{reasons: []string{fmt.Sprint(i)}})
	}
	<-qu.ready
	if got := qu.take(); got == nil || got.reason() != "0+1+2" || qu.take() != nil {
		t.Errorf("queue took %+v", got)
	}
}
