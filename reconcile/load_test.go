package reconcile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certform/certform/spec"
)

// TestLoad_unchangedSkipsTheQuietWait: once a load read the specs from a
// quiet tree, the next one, with nothing changed below Dir, reads them
// without waiting for a quiet period again (here the clock stepped back,
// which would make the tree look changed a moment ago); a file changed
// since makes the load wait for quiet and read it again, as before.
func TestLoad_unchangedSkipsTheQuietWait(t *testing.T) {
	r := newRig(t)
	r.spec("a")
	var mu sync.Mutex
	now := time.Now().Add(2 * time.Hour)
	var slept []time.Duration
	rec := &Reconciler{Dir: r.dir, Cache: spec.NewCache(), Quiet: time.Hour,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			slept = append(slept, d)
			now = now.Add(d)
			return nil
		}}
	load := func() string {
		t.Helper()
		c, err := rec.Prepare(t.Context(), CycleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Specs.Orders) != 1 {
			t.Fatalf("%d specs", len(c.Specs.Orders))
		}
		return fmt.Sprint(c.Specs.Orders[0].OrganizationID)
	}
	if cn := load(); cn != "1" || len(slept) != 0 {
		t.Fatalf("first load: %s, slept %v", cn, slept)
	}
	mu.Lock()
	now = time.Now() // the tree's last change is a moment ago by this clock
	mu.Unlock()
	if cn := load(); cn != "1" || len(slept) != 0 {
		t.Fatalf("unchanged: %s, slept %v, want no wait", cn, slept)
	}
	body, err := os.ReadFile(filepath.Join(r.dir, "a.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(body), "organization_id: 1\n", "organization_id: 2\n", 1)
	if err := os.WriteFile(filepath.Join(r.dir, "a.yaml"), []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if cn := load(); cn != "2" || len(slept) == 0 {
		t.Fatalf("changed: %s, slept %v, want a wait for quiet", cn, slept)
	}
}

// TestPlan_orderingOptionsKept: a daemon's Reconciler keeps the ordering
// options of the specs its cache keeps between cycles; a spec file changed
// is a new spec whose options are computed again: its changed option is
// noted.
func TestPlan_orderingOptionsKept(t *testing.T) {
	r := newRig(t)
	r.spec("a")
	if _, res := r.cycle(1); len(res) != 1 {
		t.Fatalf("ordering a: %v", res)
	}
	rec := r.reconciler(1)
	rec.Cache = spec.NewCache()
	noEffect := func() []string {
		t.Helper()
		c, err := rec.Prepare(t.Context(), CycleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range c.Plan.Notes {
			if n.Kind == NoteNoEffect {
				out = append(out, n.Message)
			}
		}
		return out
	}
	for i := range 2 {
		if got := noEffect(); len(got) != 0 {
			t.Fatalf("cycle %d: notes %q", i+1, got)
		}
	}
	r.spec("a", "auto_renew: true")
	got := noEffect()
	if len(got) != 1 || !strings.HasPrefix(got[0], "auto_renew changed") {
		t.Errorf("after auto_renew changed: notes %q", got)
	}
}
