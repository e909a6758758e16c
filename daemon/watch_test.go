package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// healthz asks h and returns the status code and the decoded body.
func healthz(t *testing.T, h http.Handler) (int, map[string]string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("/healthz body %q: %v", rec.Body.String(), err)
	}
	return rec.Code, body
}

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
	h := &health{}
	w, err := newWatcher(root, newDebouncer(newFakeClock(), time.Second, func([]string, int) {}), log, add, h.setUnwatched)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	if want := []string{".", "team-a", "team-b", "team-b/sub"}; !cmp.Equal(want, added) {
		t.Errorf("folders added %v, want %v (hidden ones skipped)", added, want)
	}
	w.resync() // still failing: not logged again
	folder := filepath.Join(root, "team-b")
	want := []map[string]any{{"level": "ERROR", "msg": "cannot watch a folder", "folder": folder, "error": "no space left on device",
		"hint": "raise fs.inotify.max_user_watches; changes below it are seen at the next schedule tick"}}
	if diff := cmp.Diff(want, logs.records(t)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	h.setCycle(time.Now(), true, reasonStart)
	code, body := healthz(t, h)
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
	if code, body := healthz(t, h); code != http.StatusOK || body["status"] != "ok" || body["reason"] != "" {
		t.Errorf("/healthz once watched: %d %v", code, body)
	}
}

// TestWatch_unwatchableFolderVanishes drops a folder that could not be
// watched from /healthz's reasons once it is gone.
func TestWatch_unwatchableFolderVanishes(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "old"), 0o700)
	log, logs := newLog()
	h := &health{}
	add := func(p string) error {
		if filepath.Base(p) == "old" {
			return syscall.EACCES
		}
		return nil
	}
	w, err := newWatcher(root, newDebouncer(newFakeClock(), time.Second, func([]string, int) {}), log, add, h.setUnwatched)
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
	h.setCycle(time.Now(), true, reasonStart)
	if code, body := healthz(t, h); code != http.StatusOK || body["reason"] != "" {
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
