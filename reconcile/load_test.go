package reconcile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/spec"
	"github.com/certform/certform/spec/spectest"
)

// TestLoad_unchangedSkipsTheQuietWait: once a load read the specs from a
// quiet tree, the next one, with nothing changed below Dir, reads them
// without waiting for a quiet period again (here the clock stepped back,
// which would make the tree look changed a moment ago); a file changed
// since makes the load wait for quiet and read it again, as before.
func TestLoad_unchangedSkipsTheQuietWait(t *testing.T) {
	r := newRig(t)
	r.spec("a")
	var slept []time.Duration
	rec, clk := quietReconciler(r.dir, &slept)
	load := func() string {
		t.Helper()
		orders := preparedOrders(t, rec)
		if len(orders) != 1 {
			t.Fatalf("%d specs", len(orders))
		}
		return fmt.Sprint(orders[0].OrganizationID)
	}
	if cn := load(); cn != "1" || len(slept) != 0 {
		t.Fatalf("first load: %s, slept %v", cn, slept)
	}
	clk.mu.Lock()
	clk.t = time.Now() // the tree's last change is a moment ago by this clock
	clk.mu.Unlock()
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

// TestLoad_unchangedChangedWhileChecked: an idle load (the tree quiet
// since the last load, every spec file served by the cache) that sees a
// change made after the load read the files and before it checked them
// waits for quiet and reads the specs again, as before the load checked
// the tree with its own walk (spec.Result.Settled): a defaults file
// edited, a spec file added. A spec file the cache served, edited after
// the load's one stat of it, is read as that stat saw it, and the next
// load waits for quiet and reads it again.
func TestLoad_unchangedChangedWhileChecked(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) // before the first load; may be nil
		change  func(t *testing.T, dir string)
		waits   bool   // the load with the change waits for quiet
		specs   string // what it reads: name:disable_ct:organization_id, ...
		nextOne string // what the next load reads, after a wait when waits is false
	}{
		{name: "nothing", change: func(*testing.T, string) {}, specs: "a:false:1 b:false:1"},
		{name: "defaults.yaml edited", change: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "defaults.yaml"), "disable_ct: true\n")
		}, waits: true, specs: "a:true:1 b:true:1"},
		{name: "a spec file added", change: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "c.yaml"), specNamed(t, dir, "c"))
		}, waits: true, specs: "a:false:1 b:false:1 c:false:1"},
		{name: "a spec file edited after its stat", change: func(t *testing.T, dir string) {
			body, err := os.ReadFile(filepath.Join(dir, "a.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "a.yaml"), strings.Replace(string(body), "organization_id: 1\n", "organization_id: 2\n", 1))
		}, specs: "a:false:1 b:false:1", nextOne: "a:false:2 b:false:1"},
		// The load's walk resolved linked to the empty .h/v1; the swap of
		// .h/cur, hidden, moves no time Settled stats, but LastChange,
		// which resolves linked anew, moves.
		{name: "a linked folder's hidden symlink retargeted", setup: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, ".h", "v1"))
			symlinkAt(t, "v1", filepath.Join(dir, ".h", "cur"))
			symlinkAt(t, ".h/cur", filepath.Join(dir, "linked"))
		}, change: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, ".h", "v2"))
			writeFile(t, filepath.Join(dir, ".h", "v2", "c.yaml"), specNamed(t, dir, "c"))
			if err := spectest.SwapLink(filepath.Join(dir, ".h", "cur"), "v2"); err != nil {
				t.Fatal(err)
			}
		}, waits: true, specs: "a:false:1 b:false:1 c:false:1"},
		{name: "a broken symlink's hidden target created", setup: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, ".h"))
			symlinkAt(t, ".h/c.yaml", filepath.Join(dir, "c.yaml"))
		}, change: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, ".h", "c.yaml"), specNamed(t, dir, "c"))
		}, waits: true, specs: "a:false:1 b:false:1 c:false:1"},
		// The CSR file, read afresh, counts for no tree time (LastChange
		// passes it over): only Changed, after Settled refuses, sees it.
		// The new request names another host: the spec is refused.
		{name: "the csr_file of a spec read through a symlink replaced", setup: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, ".h"))
			writeFile(t, filepath.Join(dir, ".h", "c.yaml"), "name: c\ncommon_name: c.example.com\norganization_id: 1\nskip_approval: true\ncsr_file: c.csr\n")
			symlinkAt(t, ".h/c.yaml", filepath.Join(dir, "c.yaml"))
			writeCSR(t, filepath.Join(dir, "c.csr"), "c.example.com")
		}, change: func(t *testing.T, dir string) {
			writeCSR(t, filepath.Join(dir, "c.csr"), "other.example.com")
		}, waits: true, specs: "a:false:1 b:false:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.spec("a")
			r.spec("b")
			writeFile(t, filepath.Join(r.dir, "defaults.yaml"), "disable_ct: false\n")
			if tt.setup != nil {
				tt.setup(t, r.dir)
			}
			var slept []time.Duration
			rec, clk := quietReconciler(r.dir, &slept)
			load := func() string {
				t.Helper()
				var out []string
				for _, o := range preparedOrders(t, rec) {
					out = append(out, fmt.Sprintf("%s:%v:%d", o.Name, o.DisableCT, o.OrganizationID))
				}
				return strings.Join(out, " ")
			}
			load() // from a quiet tree
			load() // served by the cache
			fsClockPast(t, r.dir)
			clk.mu.Lock()
			clk.t = time.Now() // a change made now is a moment ago by this clock
			clk.mu.Unlock()
			loadedHook = func() {
				loadedHook = nil
				tt.change(t, r.dir)
			}
			t.Cleanup(func() { loadedHook = nil })
			if got := load(); got != tt.specs || (len(slept) > 0) != tt.waits {
				t.Fatalf("read %q after %d waits, want %q, a wait %v", got, len(slept), tt.specs, tt.waits)
			}
			if tt.nextOne == "" {
				return
			}
			if got := load(); got != tt.nextOne || len(slept) == 0 {
				t.Errorf("the next load read %q after %d waits, want %q after a wait", got, len(slept), tt.nextOne)
			}
		})
	}
}

// specNamed is b.yaml below dir with name b replaced by name.
// quietReconciler is a Reconciler on dir with a spec cache and an hour's wait
// for quiet, and its clock, set two hours ahead of now; each sleep moves the
// clock on and is appended to *slept.
func quietReconciler(dir string, slept *[]time.Duration) (*Reconciler, *clock) {
	clk := &clock{t: time.Now().Add(2 * time.Hour)}
	return &Reconciler{Dir: dir, Cache: spec.NewCache(), Quiet: time.Hour, Now: clk.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			clk.mu.Lock()
			defer clk.mu.Unlock()
			*slept = append(*slept, d)
			clk.t = clk.t.Add(d)
			return nil
		}}, clk
}

func specNamed(t *testing.T, dir, name string) string {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(dir, "b.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(string(body), "name: b\n", "name: "+name+"\n", 1)
}

// writeCSR writes a new certificate request for cn to p.
func writeCSR(t *testing.T, p, cn string) {
	t.Helper()
	csr, err := spectest.CSR(cn)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, csr)
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
}

func symlinkAt(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fsClockPast returns once the file system stamps a change later than the
// last change below dir (spec.LastChange): its clock is coarse, so that a
// change made right after another may carry the same time.
func fsClockPast(t *testing.T, dir string) {
	t.Helper()
	last, err := spec.LastChange(dir)
	if err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(t.TempDir(), "probe")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		writeFile(t, probe, "")
		fi, err := os.Stat(probe)
		if err != nil {
			t.Fatal(err)
		}
		if fi.ModTime().After(last) {
			return
		}
	}
	t.Fatalf("the file system clock did not pass %v", last)
}

// preparedOrders prepares a cycle of rec and returns the specs it loaded.
func preparedOrders(t *testing.T, rec *Reconciler) []*spec.Order {
	t.Helper()
	c, err := rec.Prepare(t.Context(), CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c.Specs.Orders
}
