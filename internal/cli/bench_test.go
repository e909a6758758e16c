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
	planBenchMu   sync.Mutex
	planBenchDirs = map[int]string{}
)

// planBenchTree writes 10,000 specs and a state file that matches them
// (see planBenchTreeN), once per test binary.
func planBenchTree(b *testing.B) (specs, statePath string) { return planBenchTreeN(b, 10000) }

// planBenchTreeN writes n specs and a state file that matches them (every
// spec ordered, values applied: each entry records its spec's fingerprint
// as checked, as an order placed by certform does), once per test binary
// and n.
func planBenchTreeN(b *testing.B, n int) (specs, statePath string) {
	planBenchMu.Lock()
	defer planBenchMu.Unlock()
	dir, ok := planBenchDirs[n]
	if !ok {
		var err error
		dir, err = os.MkdirTemp("", "certform-planbench-")
		if err != nil {
			b.Fatal(err)
		}
		specDir := filepath.Join(dir, "specs")
		if err := spectest.WriteTree(specDir, n); err != nil {
			b.Fatal(err)
		}
		res, err := spec.Load(specDir)
		if err != nil || len(res.Orders) != n {
			b.Fatalf("%v, %d orders", err, len(res.Orders))
		}
		f := &state.File{Version: state.Version, Entries: map[string]*state.Entry{}}
		for i, o := range res.Orders {
			f.Entries[o.Name] = &state.Entry{OrderID: 100000 + i, AlternativeOrderID: "cf-" + o.Name + "-0123456789ab",
				Fingerprint: o.Fingerprint, Fixed: o.FixedFields(), Checked: o.Fingerprint, DisableCT: o.DisableCT, AutoReissue: o.AutoReissue,
				File: o.File, Status: "issued", OrderedAt: time.Now().UTC()}
		}
		if err := state.WriteFile(filepath.Join(dir, "state.json"), f); err != nil {
			b.Fatal(err)
		}
		planBenchDirs[n] = dir
	}
	return filepath.Join(dir, "specs"), filepath.Join(dir, "state.json")
}

// BenchmarkPlanProcess10000 runs certform plan as a whole process over
// 10,000 specs and a matching 10,000-entry state (no changes). Target on
// the 2-core machine: under 1 s wall and 150 MB peak memory. ns/op is the
// wall time; peak-RSS-MB is the process's maximum resident set, cpu-ms/op
// its user + system time.
func BenchmarkPlanProcess10000(b *testing.B) { benchPlanProcess(b, 10000) }

// BenchmarkPlanProcess100000 is BenchmarkPlanProcess10000 at 100,000 specs
// (writing the tree takes a minute). Target: 11 times the 10,000 figures
// at most.
func BenchmarkPlanProcess100000(b *testing.B) { benchPlanProcess(b, 100000) }

func benchPlanProcess(b *testing.B, n int) {
	specs, st := planBenchTreeN(b, n)
	b.ResetTimer()
	var peak int64
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(binary, "plan", "--dir", specs, "--state", st, "--detailed-exitcode")
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > peak {
			peak = ru.Maxrss // KiB on Linux
		}
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MB")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
