package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certform/certform/spec"
	"github.com/certform/certform/spec/spectest"
	"github.com/certform/certform/state"
)

var (
	planBenchOnce sync.Once
	planBenchDir  string
)

// planBenchTree writes 10,000 specs and a state file that matches them
// (every spec ordered, values applied), once per test binary.
func planBenchTree(b *testing.B) (specs, statePath string) {
	planBenchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "certform-planbench-")
		if err != nil {
			b.Fatal(err)
		}
		planBenchDir = dir
		specDir := filepath.Join(dir, "specs")
		if err := spectest.WriteTree(specDir, 10000); err != nil {
			b.Fatal(err)
		}
		res, err := spec.Load(specDir)
		if err != nil || len(res.Orders) != 10000 {
			b.Fatalf("%v, %d orders", err, len(res.Orders))
		}
		f := &state.File{Version: state.Version, Entries: map[string]*state.Entry{}}
		for i, o := range res.Orders {
			f.Entries[o.Name] = &state.Entry{OrderID: 100000 + i, AlternativeOrderID: "cf-" + o.Name + "-0123456789ab",
				Fingerprint: o.Fingerprint, Fixed: o.FixedFields(), DisableCT: o.DisableCT, AutoReissue: o.AutoReissue,
				File: o.File, Status: "issued", OrderedAt: time.Now().UTC()}
		}
		if err := state.WriteFile(filepath.Join(dir, "state.json"), f); err != nil {
			b.Fatal(err)
		}
	})
	return filepath.Join(planBenchDir, "specs"), filepath.Join(planBenchDir, "state.json")
}

// BenchmarkPlanProcess10000 runs certform plan as a whole process over
// 10,000 specs and a matching 10,000-entry state (no changes). Target on
// the 2-core machine: under 1 s wall and 150 MB peak memory. ns/op is the
// wall time; peak-RSS-MB is the process's maximum resident set.
func BenchmarkPlanProcess10000(b *testing.B) {
	specs, st := planBenchTree(b)
	b.ResetTimer()
	var peak int64
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(binary, "plan", "--dir", specs, "--state", st, "--detailed-exitcode")
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > peak {
			peak = ru.Maxrss // KiB on Linux
		}
	}
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MB")
}
