package daemon

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/certform/certform/daemon/serve"
	"github.com/certform/certform/daemon/serve/servetest"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/spec/spectest"
)

// TestWatch_unwatchableFolder makes fsnotify's Add fail for one folder
// with ENOSPC, as when fs.inotify.max_user_watches is reached: the folder
// is logged once at ERROR with a hint, /healthz answers 503 with the
// reason until a resync watches it, and the rest of the tree is watched.
func TestWatch_unwatchableFolder(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"team-a", "team-b/sub", ".git/objects"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	log, logs := newLog()
	var mu sync.Mutex
	full := true // inotify is out of watches
	var added []string
	add := func(p string) error {
		mu.Lock()
		defer mu.Unlock()
		rel, _ := filepath.Rel(root, p)
		added = append(added, filepath.ToSlash(rel))
		if full && rel == "team-b" {
			return syscall.ENOSPC
		}
		return nil
	}
	h := &serve.Health{}
	w, err := newWatcher(root, newDebouncer(newFakeClock(), time.Second, func([]string, int) {}), log, add, h.SetUnwatched)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	if want := []string{".", "team-a", "team-b", "team-b/sub", ".."}; !cmp.Equal(want, added) {
		t.Errorf("folders added %v, want %v (hidden ones skipped, the folder above last)", added, want)
	}
	w.resync() // still failing: not logged again
	folder := filepath.Join(root, "team-b")
	want := []map[string]any{{"level": "ERROR", "msg": "cannot watch a folder", "folder": folder, "error": "no space left on device",
		"hint": "raise fs.inotify.max_user_watches; changes below it are seen at the next schedule tick"}}
	if diff := cmp.Diff(want, logs.records(t)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	h.SetCycle(time.Now(), true, reasonStart, serve.Worked)
	code, body := servetest.Healthz(t, h)
	reason := fmt.Sprintf("folder %s cannot be watched (no space left on device); changes below it are seen at the next schedule tick", folder)
	if code != http.StatusServiceUnavailable || body["status"] != "degraded" || body["reason"] != reason || body["last_result"] != "ok" {
		t.Errorf("/healthz while a folder is unwatched: %d %v", code, body)
	}

	mu.Lock()
	full = false
	mu.Unlock()
	w.resync()
	if got := logs.records(t, "watching a folder again"); len(got) != 1 || got[0]["folder"] != folder || got[0]["level"] != "INFO" {
		t.Errorf("records once watched: %v", got)
	}
	if code, body := servetest.Healthz(t, h); code != http.StatusOK || body["status"] != "ok" || body["reason"] != "" {
		t.Errorf("/healthz once watched: %d %v", code, body)
	}
}

// TestWatch_unwatchableFolderVanishes drops a folder that could not be
// watched from /healthz's reasons once it is gone.
func TestWatch_unwatchableFolderVanishes(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "old"), 0o700)
	log, logs := newLog()
	h := &serve.Health{}
	add := func(p string) error {
		if filepath.Base(p) == "old" {
			return syscall.EACCES
		}
		return nil
	}
	w, err := newWatcher(root, newDebouncer(newFakeClock(), time.Second, func([]string, int) {}), log, add, h.SetUnwatched)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	if got := logs.records(t, "cannot watch a folder"); len(got) != 1 ||
		got[0]["hint"] != "check that certform may read the folder; changes below it are seen at the next schedule tick" {
		t.Errorf("records %v", got)
	}
	os.Remove(filepath.Join(root, "old"))
	w.resync()
	h.SetCycle(time.Now(), true, reasonStart, serve.Worked)
	if code, body := servetest.Healthz(t, h); code != http.StatusOK || body["reason"] != "" {
		t.Errorf("/healthz after the folder went: %d %v", code, body)
	}
	if got := logs.records(t, "watching a folder again"); len(got) != 0 {
		t.Errorf("a vanished folder was reported as watched: %v", got)
	}
}

// TestWatch_rootUnwatchable: a spec directory that cannot be watched at
// all is an error of New.
func TestWatch_rootUnwatchable(t *testing.T) {
	root := t.TempDir()
	_, err := newWatcher(root, newDebouncer(newFakeClock(), time.Second, func([]string, int) {}), newDiscard(), func(string) error { return syscall.ENOSPC }, nil)
	if err == nil || err.Error() != "no space left on device" {
		t.Errorf("error %v", err)
	}
}

// TestWatch_changes feeds real file events through fsnotify: a new
// folder is watched at once, so a file written in it is seen; hidden paths
// are not.
func TestWatch_changes(t *testing.T) {
	root := t.TempDir()
	got := make(chan []string, 4)
	w, err := newWatcher(root, newDebouncer(systemClock{}, 50*time.Millisecond, func(paths []string, _ int) { got <- paths }), newDiscard(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	go w.run(t.Context())
	next := func() []string {
		t.Helper()
		select {
		case p := <-got:
			return p
		case <-time.After(10 * time.Second):
			t.Fatal("no change seen")
			return nil
		}
	}
	os.MkdirAll(filepath.Join(root, ".git"), 0o700)
	os.WriteFile(filepath.Join(root, ".git", "index"), []byte("x"), 0o600)
	os.Mkdir(filepath.Join(root, "team"), 0o700)
	if p := next(); !cmp.Equal(p, []string{"team"}) {
		t.Errorf("first changes %v, want [team]", p)
	}
	os.WriteFile(filepath.Join(root, "team", "a.yaml"), []byte("name: a\n"), 0o600)
	if p := next(); !cmp.Equal(p, []string{"team/a.yaml"}) {
		t.Errorf("changes in the new folder %v", p)
	}
}

// fires starts w with a real clock and a quiet period of 50ms, and returns
// the batches of changed paths the debouncer fires.
func fires(t *testing.T, dir string, add func(string) error) (*watcher, <-chan []string, *logBuffer) {
	t.Helper()
	got := make(chan []string, 16)
	log, logs := newLog()
	w, err := newWatcher(dir, newDebouncer(systemClock{}, 50*time.Millisecond, func(paths []string, _ int) { got <- paths }), log, add, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	go w.run(t.Context())
	return w, got, logs
}

// next returns the next batch, failing after 10s.
func next(t *testing.T, got <-chan []string) []string {
	t.Helper()
	select {
	case p := <-got:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no change seen")
		return nil
	}
}

// quiet fails if a batch fires within d.
func quiet(t *testing.T, got <-chan []string, d time.Duration) {
	t.Helper()
	select {
	case p := <-got:
		t.Errorf("unexpected change %v", p)
	case <-time.After(d):
	}
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestWatch_SpecDir_ignoreFile: what .certformignore excludes is neither
// watched nor a change; editing the ignore file is a change, and its new
// rules apply at once.
func TestWatch_SpecDir_ignoreFile(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, spec.IgnoreFile), "catalog-info.yaml\n/vendor/\n")
	write(t, filepath.Join(root, "vendor", "x.yaml"), "name: x\n")
	write(t, filepath.Join(root, "team", "a.yaml"), "name: a\n")
	var mu sync.Mutex
	var added []string
	w, got, _ := fires(t, root, func(p string) error {
		mu.Lock()
		added = append(added, p)
		mu.Unlock()
		return nil
	})
	mu.Lock()
	if want := []string{root, filepath.Join(root, "team"), filepath.Dir(root)}; !cmp.Equal(want, added) {
		t.Errorf("folders added %v, want %v (vendor excluded)", added, want)
	}
	mu.Unlock()
	w.add = w.fsw.Add
	w.resync()
	write(t, filepath.Join(root, "catalog-info.yaml"), "kind: Component\n")
	write(t, filepath.Join(root, "team", "catalog-info.yaml"), "kind: Component\n")
	write(t, filepath.Join(root, "team", "a.yaml"), "name: a2\n")
	if p := next(t, got); !cmp.Equal(p, []string{"team/a.yaml"}) {
		t.Errorf("changes %v, want [team/a.yaml] (catalog-info.yaml excluded)", p)
	}
	write(t, filepath.Join(root, spec.IgnoreFile), "catalog-info.yaml\n")
	if p := next(t, got); !cmp.Equal(p, []string{spec.IgnoreFile}) {
		t.Errorf("changes %v, want [.certformignore]", p)
	}
	write(t, filepath.Join(root, "vendor", "x.yaml"), "name: x2\n")
	if p := next(t, got); !cmp.Equal(p, []string{"vendor/x.yaml"}) {
		t.Errorf("changes %v, want [vendor/x.yaml] (no longer excluded)", p)
	}
}

// TestWatch_SpecDir_configMap: a Kubernetes ConfigMap update (a new hidden
// folder, `..data` swapped, the old folder removed) is one change; the
// watches follow to the new folder, and its files count.
func TestWatch_SpecDir_configMap(t *testing.T) {
	root := t.TempDir()
	if err := spectest.ConfigMap(root, map[string]string{"a.yaml": "name: a\n"}, "..2026_11_25_10_00_00.123"); err != nil {
		t.Fatal(err)
	}
	_, got, _ := fires(t, root, nil)
	if err := spectest.ConfigMap(root, map[string]string{"a.yaml": "name: a2\n", "b.yaml": "name: b\n"}, "..2026_11_25_10_05_00.456"); err != nil {
		t.Fatal(err)
	}
	p := next(t, got)
	if len(p) == 0 || !slices.Contains(p, "..data") {
		t.Errorf("changes %v, want ..data among them", p)
	}
	quiet(t, got, 300*time.Millisecond)
	// The kubelet never edits in place, but a hand-made tree may: the file
	// a symlink leads to is watched in the new folder.
	write(t, filepath.Join(root, "..2026_11_25_10_05_00.456", "b.yaml"), "name: b2\n")
	if p := next(t, got); !cmp.Equal(p, []string{"..2026_11_25_10_05_00.456/b.yaml"}) {
		t.Errorf("changes %v after an edit of a file read through a symlink", p)
	}
}

// TestWatch_SpecDir_gitSyncSwap: the spec directory is git-sync's `current`
// symlink: a swap is one change of ".", the new checkout is watched, and
// the old one, edited or removed later, triggers nothing.
func TestWatch_SpecDir_gitSyncSwap(t *testing.T) {
	base := t.TempDir()
	write(t, filepath.Join(base, "releases", "abc", "team", "a.yaml"), "name: a\n")
	write(t, filepath.Join(base, "releases", "def", "team", "a.yaml"), "name: a2\n")
	current := filepath.Join(base, "current")
	if err := os.Symlink("releases/abc", current); err != nil {
		t.Fatal(err)
	}
	w, got, logs := fires(t, current, nil)
	if err := spectest.SwapLink(current, "releases/def"); err != nil {
		t.Fatal(err)
	}
	if p := next(t, got); !cmp.Equal(p, []string{"."}) {
		t.Errorf("changes %v after the swap, want [.]", p)
	}
	quiet(t, got, 300*time.Millisecond)
	w.resync() // as after the cycle: nothing moved since
	write(t, filepath.Join(base, "releases", "abc", "team", "a.yaml"), "name: old\n")
	if err := os.RemoveAll(filepath.Join(base, "releases", "abc")); err != nil {
		t.Fatal(err)
	}
	quiet(t, got, 300*time.Millisecond)
	write(t, filepath.Join(base, "releases", "def", "team", "b.yaml"), "name: b\n")
	if p := next(t, got); !cmp.Equal(p, []string{"team/b.yaml"}) {
		t.Errorf("changes %v in the new checkout", p)
	}
	recs := logs.records(t, "the spec directory now resolves to another folder; watching it")
	if len(recs) != 1 || recs[0]["folder"] != filepath.Join(base, "releases", "def") {
		t.Errorf("records %v", recs)
	}
}

// TestWatch_SpecDir_rootGoneAndBack: the spec directory removed is one
// change and one ERROR, however many resyncs follow; created again, it is
// a change, and watched whole again.
func TestWatch_SpecDir_rootGoneAndBack(t *testing.T) {
	root := filepath.Join(t.TempDir(), "specs")
	write(t, filepath.Join(root, "team", "a.yaml"), "name: a\n")
	w, got, logs := fires(t, root, nil)
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if p := next(t, got); !slices.Contains(p, ".") {
		t.Errorf("changes %v after the removal, want . among them", p)
	}
	for range 3 {
		w.resync() // as after each failed cycle
	}
	quiet(t, got, 200*time.Millisecond)
	want := []map[string]any{{"level": "ERROR", "msg": "the spec directory is gone; certform keeps running and reads it again once it is back",
		"dir": root, "error": "spec directory " + root + ": no such file or directory", "hint": "restore the folder, or the mount or symlink it is reached by"}}
	if diff := cmp.Diff(want, logs.records(t, want[0]["msg"].(string))); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	if p := next(t, got); !cmp.Equal(p, []string{"."}) {
		t.Errorf("changes %v once it is back, want [.]", p)
	}
	if got := logs.records(t, "the spec directory is back; watching it again"); len(got) != 1 {
		t.Errorf("records %v", got)
	}
	if err := os.Mkdir(filepath.Join(root, "team"), 0o700); err != nil {
		t.Fatal(err)
	}
	if p := next(t, got); !cmp.Equal(p, []string{"team"}) {
		t.Errorf("changes %v", p)
	}
	write(t, filepath.Join(root, "team", "a.yaml"), "name: a\n")
	if p := next(t, got); !cmp.Equal(p, []string{"team/a.yaml"}) {
		t.Errorf("changes %v in the folder created again", p)
	}
}

// TestWatch_SpecDir_folderRecreated: a spec folder removed and created
// again before the watcher looked is watched again at the next resync.
func TestWatch_SpecDir_folderRecreated(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "team", "a.yaml"), "name: a\n")
	w, err := newWatcher(root, newDebouncer(newFakeClock(), time.Second, func([]string, int) {}), newDiscard(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	got := make(chan []string, 4)
	w.deb = newDebouncer(systemClock{}, 50*time.Millisecond, func(paths []string, _ int) { got <- paths })
	if err := os.RemoveAll(filepath.Join(root, "team")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "team", "a.yaml"), "name: a\n")
	// The events of the removal and the creation wait in the queue; the
	// resync after the cycle they trigger watches the new folder.
	go w.run(t.Context())
	next(t, got)
	w.resync()
	write(t, filepath.Join(root, "team", "b.yaml"), "name: b\n")
	if p := next(t, got); !cmp.Equal(p, []string{"team/b.yaml"}) {
		t.Errorf("changes %v in the folder created again", p)
	}
}

// TestWatch_SpecDir_rootCheck: a spec directory replaced while no event
// was looked at (as when a volume is mounted again, which inotify does not
// report) is found by the root check: one change of ".", the new folder
// watched, and the events that were waiting change nothing more.
func TestWatch_SpecDir_rootCheck(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "specs")
	write(t, filepath.Join(root, "a.yaml"), "name: a\n")
	got := make(chan []string, 4)
	log, logs := newLog()
	w, err := newWatcher(root, newDebouncer(systemClock{}, 50*time.Millisecond, func(paths []string, _ int) { got <- paths }), log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	if err := os.Rename(root, filepath.Join(base, "old")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "a.yaml"), "name: a2\n")
	w.checkRoot()
	if p := next(t, got); !cmp.Equal(p, []string{"."}) {
		t.Errorf("changes %v, want [.]", p)
	}
	if recs := logs.records(t, "the spec directory now resolves to another folder; watching it"); len(recs) != 1 {
		t.Errorf("records %v", recs)
	}
	w.checkRoot()
	go w.run(t.Context())
	quiet(t, got, 300*time.Millisecond)
	write(t, filepath.Join(root, "b.yaml"), "name: b\n")
	if p := next(t, got); !cmp.Equal(p, []string{"b.yaml"}) {
		t.Errorf("changes %v in the new folder", p)
	}
}
