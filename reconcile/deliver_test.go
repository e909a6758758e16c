package reconcile

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/certform/certform/deliver"
)

// TestDeliver_hooksAfterRecordAtMostParallelism: with many certificates
// delivered at once, each deploy hook runs only once its delivery is saved
// in the state file (the hook finds its serial recorded as delivered
// there), and never more than Parallelism hooks run at the same time.
func TestDeliver_hooksAfterRecordAtMostParallelism(t *testing.T) {
	r := newRig(t)
	names := []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"}
	for _, n := range names {
		r.spec(n)
	}
	runs := t.TempDir()
	// Each run marks itself running, logs how many run, holds a moment,
	// and fails unless the state file records its serial as delivered.
	hook := &deliver.Hook{Command: "RUNS='" + runs + "' STATE='" + r.store.Path() + "'; " +
		`mkdir "$RUNS/run.$CERTFORM_NAME" && ls "$RUNS" | grep -c '^run\.' >> "$RUNS/counts"; sleep 0.05; ` +
		`rmdir "$RUNS/run.$CERTFORM_NAME"; grep -q "\"delivered_serial\": *\"$CERTFORM_SERIAL\"" "$STATE"`}
	rec := r.reconciler(1)
	rec.Observe, rec.CertDir, rec.Hook, rec.Parallelism = true, filepath.Join(t.TempDir(), "certs"), hook, 2
	c, err := rec.Prepare(context.Background(), CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range rec.Apply(context.Background(), c) {
		if x.Err != nil {
			t.Fatalf("%s: %v", x.Action.Name, x.Err)
		}
	}
	ds := rec.Deliver(context.Background(), c)
	if len(ds) != len(names) {
		t.Fatalf("%d deliveries, want %d", len(ds), len(names))
	}
	for _, d := range ds {
		if !d.Delivered || d.Err != nil || d.Hook != "ok" {
			t.Errorf("%s: delivered %v, %v, hook %q %v: %s", d.Name, d.Delivered, d.Err, d.Hook, d.HookErr, d.HookOutput)
		}
	}
	counts, err := os.ReadFile(filepath.Join(runs, "counts"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(counts))
	if len(lines) != len(names) {
		t.Errorf("%d hook runs logged, want %d", len(lines), len(names))
	}
	for _, l := range lines {
		if n, err := strconv.Atoi(l); err != nil || n < 1 || n > rec.Parallelism {
			t.Errorf("%s hooks ran at once, want 1 to %d", l, rec.Parallelism)
		}
	}
}
