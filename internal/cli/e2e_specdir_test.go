package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/spec/spectest"
)

// specFiles writes n specs (spec00.yaml ...) with writeSpecsFrom, numbered
// from first, and returns their contents by file name.
func specFiles(t *testing.T, first, n int) map[string]string {
	t.Helper()
	dir := t.TempDir()
	writeSpecsFrom(t, dir, first, n)
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(data)
	}
	return out
}

// writeFiles writes files (by name) into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRun_SpecDir_gitSyncSwap runs the daemon on git-sync's layout: --dir
// is `current -> releases/abc`, and a new checkout is published with
// `ln -s releases/def tmp && mv -T tmp current`. The swap is exactly one
// cycle, which applies the new checkout's specs; removing the old checkout
// afterwards triggers nothing.
func TestRun_SpecDir_gitSyncSwap(t *testing.T) {
	srv, env := startFake(t)
	base := t.TempDir()
	first := specFiles(t, 0, 2)
	writeFiles(t, filepath.Join(base, "releases", "abc"), first)
	current := filepath.Join(base, "current")
	if err := os.Symlink("releases/abc", current); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, env, "--dir", current, "--state", filepath.Join(t.TempDir(), "s.json"), "--debounce", "200ms")
	d.waitFor("the start cycle", 1, cycleDoneWith("start"))
	if n := len(srv.Orders()); n != 2 {
		t.Fatalf("%d orders after start", n)
	}

	// The next checkout: the same two specs and a third.
	writeFiles(t, filepath.Join(base, "releases", "def"), first)
	writeFiles(t, filepath.Join(base, "releases", "def"), specFiles(t, 2, 1))
	if err := spectest.SwapLink(current, "releases/def"); err != nil {
		t.Fatal(err)
	}
	d.waitFor("the order of the new checkout", 1, func(r map[string]any) bool { return r["msg"] == "done" && r["spec"] == "host02" })
	time.Sleep(1500 * time.Millisecond) // anything left to trigger has triggered by now
	if err := os.RemoveAll(filepath.Join(base, "releases", "abc")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := d.count(cycleDone); n != 2 {
		t.Errorf("%d cycles, want 2 (start, then one for the swap):\n%s", n, d.logs())
	}
	if n := d.count(func(r map[string]any) bool {
		return r["msg"] == "cycle start" && r["trigger"] == "file change" && r["paths"] == "."
	}); n != 1 {
		t.Errorf("want one file-change cycle for the directory itself:\n%s", d.logs())
	}
	if n := d.count(msg("the spec directory now resolves to another folder; watching it")); n != 1 {
		t.Errorf("%d records of the swap:\n%s", n, d.logs())
	}
	perCN := map[string]int{}
	for _, o := range srv.Orders() {
		perCN[o.CommonName]++
	}
	if len(perCN) != 3 || perCN["host00.example.com"] != 1 || perCN["host01.example.com"] != 1 || perCN["host02.example.com"] != 1 {
		t.Errorf("orders per common name %v, want one each of host00..host02", perCN)
	}
}

// TestRun_SpecDir_configMap runs certform on a Kubernetes ConfigMap volume
// (files are symlinks `NAME.yaml -> ..data/NAME.yaml`, `..data` a symlink
// to a hidden, timestamped folder): validate and plan read its specs, and
// .certformignore in it works; in the daemon, an update (a new folder,
// `..data` swapped) is exactly one cycle, which applies the new spec.
func TestRun_SpecDir_configMap(t *testing.T) {
	srv, env := startFake(t)
	dir := t.TempDir()
	files := specFiles(t, 0, 2)
	files[".certformignore"] = "catalog-info.yaml\n"
	files["catalog-info.yaml"] = "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
	if err := spectest.ConfigMap(dir, files, "..2026_11_25_10_00_00.123"); err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(t.TempDir(), "s.json")

	code, stdout, stderr := runBinary(t, env, "validate", "--dir", dir)
	if code != 0 || stdout != "2 specs in 2 files: no errors\n" {
		t.Errorf("validate: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runBinary(t, nil, "plan", "--dir", dir, "--state", st, "--quiet-period", "0s")
	if code != 0 || !strings.Contains(stdout, "+ order  host00  (spec00.yaml:1)") || !strings.Contains(stdout, "+ order  host01  (spec01.yaml:1)") ||
		!strings.Contains(stdout, "Plan: 2 to order") || strings.Contains(stdout, "catalog-info") || strings.Contains(stdout, "..2026") {
		t.Errorf("plan: exit %d\n%s%s", code, stdout, stderr)
	}

	d := startDaemon(t, env, "--dir", dir, "--state", st, "--debounce", "200ms")
	d.waitFor("the start cycle", 1, cycleDoneWith("start"))
	if n := len(srv.Orders()); n != 2 {
		t.Fatalf("%d orders after start:\n%s", n, d.logs())
	}
	for name, content := range specFiles(t, 2, 1) {
		files[name] = content
	}
	if err := spectest.ConfigMap(dir, files, "..2026_11_25_10_05_00.456"); err != nil {
		t.Fatal(err)
	}
	d.waitFor("the order of the new spec", 1, func(r map[string]any) bool { return r["msg"] == "done" && r["spec"] == "host02" })
	time.Sleep(1500 * time.Millisecond) // anything left to trigger has triggered by now
	if n := d.count(cycleDone); n != 2 {
		t.Errorf("%d cycles, want 2 (start, then one for the update):\n%s", n, d.logs())
	}
	if n := d.count(func(r map[string]any) bool { return r["msg"] == "cycle done" && r["spec_errors"] != 0.0 }); n != 0 {
		t.Errorf("cycles with spec errors:\n%s", d.logs())
	}
	if n := len(srv.Orders()); n != 3 {
		t.Errorf("%d orders, want 3", n)
	}
}

// TestValidate_SpecDir_ignoreFile: .certformignore keeps a Backstage
// catalog-info.yaml out of validate and plan; without it the file is
// reported; a broken pattern is an error naming the file and line.
func TestValidate_SpecDir_ignoreFile(t *testing.T) {
	dir := t.TempDir()
	writeSpecs(t, dir, 1)
	catalog := "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: certs\n"
	writeFiles(t, dir, map[string]string{"catalog-info.yaml": catalog})

	code, stdout, _ := runBinary(t, nil, "validate", "--dir", dir)
	if code != 1 || !strings.Contains(stdout, "catalog-info.yaml:1:1: apiVersion: unknown key") {
		t.Fatalf("without .certformignore: exit %d\n%s", code, stdout)
	}
	writeFiles(t, dir, map[string]string{".certformignore": "# Backstage\ncatalog-info.yaml\n"})
	code, stdout, stderr := runBinary(t, nil, "validate", "--dir", dir)
	if code != 0 || stdout != "1 spec in 1 file: no errors\n" {
		t.Errorf("validate: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runBinary(t, nil, "plan", "--dir", dir, "--state", filepath.Join(t.TempDir(), "s.json"), "--quiet-period", "0s")
	if code != 0 || strings.Contains(stdout+stderr, "catalog-info") || !strings.Contains(stdout, "+ order  host00  (spec00.yaml:1)") {
		t.Errorf("plan: exit %d\n%s%s", code, stdout, stderr)
	}

	writeFiles(t, dir, map[string]string{".certformignore": "# Backstage\ncatalog-info.[yaml\n"})
	code, stdout, stderr = runBinary(t, nil, "validate", "--dir", dir)
	want := fmt.Sprintf("certform validate: spec directory %s: .certformignore:2:1: pattern \"catalog-info.[yaml\": '[' is not closed; write \\[ for a literal [\n", dir)
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, want) {
		t.Errorf("broken pattern: exit %d\n%s%s\nwant stderr starting with\n%s", code, stdout, stderr, want)
	}
}

// TestRun_SpecDir_dirGoneAndBack: the spec directory disappears under the
// daemon (a mount gone, a folder replaced) and comes back: the watcher logs
// it once, the daemon keeps running, and picks the tree up again.
func TestRun_SpecDir_dirGoneAndBack(t *testing.T) {
	srv, env := startFake(t)
	base := t.TempDir()
	dir := filepath.Join(base, "specs")
	writeFiles(t, dir, specFiles(t, 0, 1))
	d := startDaemon(t, env, "--dir", dir, "--state", filepath.Join(t.TempDir(), "s.json"), "--debounce", "200ms", "--retry-backoff", "300ms")
	d.waitFor("the start cycle", 1, cycleDoneWith("start"))
	if err := os.Rename(dir, filepath.Join(base, "away")); err != nil {
		t.Fatal(err)
	}
	d.waitFor("a failed cycle", 2, msg("cycle failed"))
	gone := msg("the spec directory is gone; certform keeps running and reads it again once it is back")
	if n := d.count(gone); n != 1 {
		t.Errorf("%d records of the directory gone, want 1:\n%s", n, d.logs())
	}
	writeFiles(t, filepath.Join(base, "away"), specFiles(t, 1, 1))
	if err := os.Rename(filepath.Join(base, "away"), dir); err != nil {
		t.Fatal(err)
	}
	d.waitFor("the order of the spec added meanwhile", 1, func(r map[string]any) bool { return r["msg"] == "done" && r["spec"] == "host01" })
	if n := d.count(msg("the spec directory is back; watching it again")); n != 1 {
		t.Errorf("%d records of the directory back:\n%s", n, d.logs())
	}
	if n := d.count(gone); n != 1 {
		t.Errorf("%d records of the directory gone, want 1:\n%s", n, d.logs())
	}
	if n := len(srv.Orders()); n != 2 {
		t.Errorf("%d orders, want 2", n)
	}
}

// TestApply_SpecDir_configMapConsistentSnapshot applies again and again,
// without a quiet period, while the kubelet, as it were, keeps updating a
// ConfigMap volume between two versions (defaults.yaml and the spec differ
// in each), each update a `..data` swap followed by the removal of the
// previous folder: every apply succeeds, and every order carries one
// version's values, never a mix. (The window in which one load could see
// both versions is a few microseconds, so this is a test under churn; that
// a swap during a load is caught is TestLoad_SpecDir_configMap's proof:
// Result.Changed lists every file read through the old `..data`.)
func TestApply_SpecDir_configMapConsistentSnapshot(t *testing.T) {
	srv, env := startFake(t)
	dir := t.TempDir()
	csr, err := spectest.CSR("mix.example.com")
	if err != nil {
		t.Fatal(err)
	}
	versions := []struct{ defaults, comments string }{
		{"product: ov\nvalidity_years: 1\n", "version A"},
		{"product: ev\nvalidity_years: 2\n", "version B"},
	}
	update := func(i int) {
		v := versions[i%2]
		body := fmt.Sprintf("name: mix\ncommon_name: mix.example.com\norganization_id: 1\nallow_existing_names: true\ncomments: %s\ncsr: |\n%s", v.comments, spectest.Indent(csr))
		stamp := fmt.Sprintf("..2026_11_25_10_%02d_%02d.%03d", i/3600%60, i/60%60, i%60)
		if err := spectest.ConfigMap(dir, map[string]string{"defaults.yaml": v.defaults, "mix.yaml": body}, stamp); err != nil {
			t.Error(err)
		}
	}
	update(0)
	updates := 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; ; i++ {
			pause := time.Duration(i%5) * time.Millisecond
			if i%8 == 0 {
				pause = 100 * time.Millisecond
			}
			select {
			case <-stop:
				return
			case <-time.After(pause):
			}
			update(i)
			updates = i
		}
	}()
	for i := 0; i < 20; i++ {
		if code, _, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", filepath.Join(t.TempDir(), "s.json"), "--quiet-period", "0s"); code != 0 {
			t.Errorf("apply %d: exit %d\n%s", i, code, stderr)
		}
	}
	close(stop)
	<-done
	t.Logf("%d updates during 20 applies", updates)
	for _, m := range mixedOrders(t, srv, "version A", "version B") {
		t.Errorf("an order mixes two versions: %s", m)
	}
	if len(srv.Orders()) != 20 {
		t.Errorf("%d orders, want 20", len(srv.Orders()))
	}
}
