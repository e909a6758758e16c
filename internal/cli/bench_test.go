package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
		rss, used, err := measureProcess(binary, "plan", "--dir", specs, "--state", st, "--detailed-exitcode")
		if err != nil {
			b.Fatal(err)
		}
		peak, cpu = max(peak, rss), cpu+used
	}
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MB")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// measureChildEnv makes the test binary measure a command (see
// measureProcess) instead of running tests.
const measureChildEnv = "CERTFORM_TEST_MEASURE_CHILD"

func init() {
	if os.Getenv(measureChildEnv) == "1" {
		os.Exit(measureChild(os.Args[1:]))
	}
}

// measureProcess runs the command args and returns its peak resident set
// (KiB) and CPU time. It is started by a fresh, small copy of the test
// binary (measureChild): Linux gives a process the peak resident set of
// the one it was forked from, so a command started by this process, which
// holds the benchmark's tree, would report this process's peak instead.
func measureProcess(args ...string) (maxRSS int64, cpu time.Duration, err error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), measureChildEnv+"=1")
	out, err := cmd.Output()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if err != nil {
		return 0, 0, fmt.Errorf("%v\n%s", err, out)
	}
	var ns int64
	if _, err := fmt.Sscanf(last, "measured %d %d", &maxRSS, &ns); err != nil {
		return 0, 0, fmt.Errorf("measuring %v: %q: %v", args, last, err)
	}
	return maxRSS, time.Duration(ns), nil
}

// measureChild runs args, prints its output, then "measured RSS_KIB
// CPU_NS", and returns 0 when the command succeeded.
func measureChild(args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	out, err := cmd.CombinedOutput()
	os.Stdout.Write(out)
	if err != nil {
		fmt.Printf("%v\n", err)
		return 1
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 1
	}
	fmt.Printf("measured %d %d\n", ru.Maxrss, (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Nanoseconds())
	return 0
}
