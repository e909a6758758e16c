package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStore_roundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "state.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	when := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	err = s.Update("shop", func(e *Entry) bool {
		e.OrderID = 100001
		e.AlternativeOrderID = "cf-shop-1"
		e.Fingerprint = "sha256:ab"
		e.DisableCT = true
		e.Revoke = &RevokeRecord{RequestID: 5, Status: "pending", Comments: "gone", Time: when}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "version": 1,
  "entries": {
    "shop": {"order_id":100001,"alternative_order_id":"cf-shop-1","fingerprint":"sha256:ab","disable_ct":true,"auto_reissue":false,"revoke":{"request_id":5,"status":"pending","comments":"gone","time":"2026-11-24T10:00:00Z"}}
  }
}
`
	if diff := cmp.Diff(want, string(data)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	for p, mode := range map[string]os.FileMode{path: 0o600, LockPath(path): 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), mode)
		}
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Snapshot(), got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	if err := s.Update("shop", func(*Entry) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if got, _ := Read(path); len(got.Entries) != 0 {
		t.Errorf("entry not deleted: %v", got.Entries)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestRead_corrupt(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"empty", "", "is empty (truncated?)"},
		{"truncated", `{"version": 1, "entries": {"a": {"order_id": 1`, "is not valid JSON, truncated or corrupt (unexpected end of JSON input)"},
		{"not json", "hello", "is not valid JSON, truncated or corrupt (invalid character 'h' looking for beginning of value)"},
		{"no version", `{"entries": {}}`, "has no version field; it is not a certform state file"},
		{"future version", `{"version": 2, "entries": {}}`, "has version 2; this certform reads version 1"},
		{"unknown field", `{"version": 1, "entries": {"a": {"order_idd": 1}}}`, `does not match the version 1 format (json: unknown field "order_idd")`},
		{"null entry", `{"version": 1, "entries": {"a": null}}`, `has an empty entry "a"`},
		// A valid state followed by anything is refused, although a
		// decoder reading one value would stop before it.
		{"data after the state", "{\"version\": 1, \"entries\": {}}\n{}", "is not valid JSON, truncated or corrupt (invalid character '{' after top-level value)"},
		{"version twice", `{"version": 1, "version": 2, "entries": {}}`, "has version 2; this certform reads version 1"},
		// Read straight from the file: what follows the state is read
		// to the end, past the decoder's buffer.
		{"data after much white space", "{\"version\": 1, \"entries\": {}}" + strings.Repeat(" \n", 5000) + "x",
			"is not valid JSON, truncated or corrupt (invalid character 'x' after top-level value)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path)
			want := fmt.Sprintf("state file %s %s; certform will not use or overwrite it", path, tt.want)
			var ce *CorruptError
			if err == nil || err.Error() != want || !errors.As(err, &ce) {
				t.Errorf("got %v\nwant %s", err, want)
			}
			if data, _ := os.ReadFile(path); string(data) != tt.content {
				t.Error("the corrupt file was changed")
			}
			// The lock was released: opening again fails the same way, not with a lock error.
			if _, err := Open(path); errors.Is(err, ErrLocked) {
				t.Error("lock kept after a failed open")
			}
		})
	}
}

// TestRead_sharedStrings: a state read from its file holds the values
// written, whichever strings Read made its entries share, and white space
// after the state, however long, is no error.
func TestRead_sharedStrings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	fixed := map[string]string{"common_name": "a.example.com", "csr": "ab12", "dns_names": "", "organization_id": "7",
		"product": "ov", "server_platform_id": "", "signature_hash": "sha256", "validity": "1 years"}
	want := &File{Version: Version, Entries: map[string]*Entry{
		"a": {OrderID: 1, Fingerprint: "sha256:aa", Checked: "sha256:aa", Fixed: fixed, File: "t/a.yaml", Status: "issued",
			Options: map[string]string{"dcv_method": "dns-txt-token"}, Intent: &Intent{Action: IntentReissue, Fingerprint: "sha256:aa", Fixed: fixed}},
		"b": {OrderID: 2, Fingerprint: "sha256:bb", Checked: "sha256:b0", Fixed: maps.Clone(fixed), File: "t/a.yaml", Status: "pending",
			Key: &KeyRecord{Type: "ecdsa-p256", CSRFingerprint: "cd"}},
	}}
	data, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, strings.Repeat("\n", 3000)...), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
}

func TestRead_missingIsEmpty(t *testing.T) {
	f, err := Read(filepath.Join(t.TempDir(), "none.json"))
	if err != nil || f.Version != Version || len(f.Entries) != 0 {
		t.Errorf("got %+v, %v", f, err)
	}
}

func TestLock_secondProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	want := fmt.Sprintf("state file %s is in use by another certform process (pid %d)", path, os.Getpid())
	if err == nil || err.Error() != want || !errors.Is(err, ErrLocked) {
		t.Errorf("got %v, want %s", err, want)
	}
	s.Close()
	s2, err := Open(path)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	s2.Close()
}

func TestStore_concurrentUpdates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Update(fmt.Sprintf("n%02d", i), func(e *Entry) bool { e.OrderID = i + 1; return true }); err != nil {
				t.Error(err)
			}
			// Once Update returns, the change is on disk.
			f, err := Read(path)
			if err != nil || f.Entries[fmt.Sprintf("n%02d", i)] == nil {
				t.Errorf("n%02d not on disk after Update returned: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if f, _ := Read(path); len(f.Entries) != 50 {
		t.Errorf("%d entries on disk", len(f.Entries))
	}
}

func TestStore_failedWriteUndone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	path := filepath.Join(dir, "state.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update("a", func(e *Entry) bool { e.OrderID = 1; return true }); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	err = s.Update("b", func(e *Entry) bool { e.OrderID = 2; return true })
	if err == nil || !strings.HasPrefix(err.Error(), "state file "+path+": ") {
		t.Fatalf("got %v", err)
	}
	if got := s.Snapshot().Names(); !cmp.Equal(got, []string{"a"}) {
		t.Errorf("in memory after a failed write: %v", got)
	}
}

func TestOpen_missingNextToLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// The state file exists from the first Open on, empty.
	if data, err := os.ReadFile(path); err != nil || string(data) != "{\n  \"version\": 1,\n  \"entries\": {}\n}\n" {
		t.Errorf("new state file: %q, %v", data, err)
	}
	s.Close()
	os.Remove(path)
	_, err = Open(path)
	var me *MissingError
	want := fmt.Sprintf("state file %s is missing, but its lock file %s.lock shows certform has used it before; starting from an empty state would order every spec again", path, path)
	if !errors.As(err, &me) || err.Error() != want {
		t.Errorf("got %v", err)
	}
	if err := CheckMissing(path); err == nil || err.Error() != want {
		t.Errorf("CheckMissing: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("Open created a state file in place of the lost one")
	}
	os.Remove(LockPath(path))
	if err := CheckMissing(path); err != nil {
		t.Errorf("without a lock file: %v", err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatalf("starting over on purpose: %v", err)
	}
	s.Close()
}

// poison is a time JSON cannot encode: a change holding it makes the write
// fail before anything reaches the disk.
var poison = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)

// TestStore_failedWriteFailsItsCallers has changes that make their write
// fail mixed with good ones. A caller whose change was undone by a failed
// write must get that failure even when a later write succeeds before it
// wakes. With one P, waking callers are often scheduled after the next
// write, which is what the check must not depend on.
func TestStore_failedWriteFailsItsCallers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for round := range 5 {
		path := filepath.Join(t.TempDir(), "state.json")
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		saved := map[string]bool{}
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 40 {
					name := fmt.Sprintf("w%02d-%02d", w, i)
					bad := (w+i)%4 == 0
					err := s.Update(name, func(e *Entry) bool {
						e.OrderID = i + 1
						if bad {
							e.OrderedAt = poison
						}
						return true
					})
					if bad && err == nil {
						t.Errorf("%s: an unwritable change reported saved", name)
					}
					mu.Lock()
					saved[name] = err == nil
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		f, err := Read(path)
		if err != nil {
			t.Fatal(err)
		}
		var wrong []string
		for name, ok := range saved {
			if ok != (f.Entries[name] != nil) {
				wrong = append(wrong, fmt.Sprintf("%s (reported saved %v)", name, ok))
			}
		}
		if len(wrong) > 0 {
			sort.Strings(wrong)
			t.Fatalf("round %d: %d changes reported wrongly, e.g. %s", round, len(wrong), wrong[0])
		}
		if diff := cmp.Diff(f, s.Snapshot()); diff != "" {
			t.Fatalf("round %d: memory and disk differ (-disk +memory):\n%s", round, diff)
		}
		s.Close()
	}
}

func TestStore_folderSyncError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update("a", func(e *Entry) bool { e.OrderID = 1; return true }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { openFolder = os.Open })
	openFolder = func(string) (*os.File, error) { return nil, errors.New("injected") }
	err = s.Update("b", func(e *Entry) bool { e.OrderID = 2; return true })
	want := "state file " + path + ": opening its folder to sync it: injected"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if got := s.Snapshot().Names(); !cmp.Equal(got, []string{"a"}) {
		t.Errorf("in memory after the failed write: %v", got)
	}
	openFolder = os.Open
	// The file renamed into place is this store's: no lost lock.
	if err := s.Update("c", func(e *Entry) bool { e.OrderID = 3; return true }); err != nil {
		t.Fatal(err)
	}
	if f, _ := Read(path); !cmp.Equal(f.Names(), []string{"a", "c"}) {
		t.Errorf("on disk: %v", f.Names())
	}
	openFolder = func(string) (*os.File, error) { return nil, errors.New("injected") }
	if err := WriteFile(path, &File{}); err == nil || err.Error() != want {
		t.Errorf("WriteFile: %v", err)
	}
}

func TestStore_Mutate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	// A version 1 file from before the file-level fields.
	if err := os.WriteFile(path, []byte(`{"version": 1, "entries": {"shop": {"order_id": 7, "disable_ct": false, "auto_reissue": true}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.APIURL() != "" || s.Snapshot().Revocations != nil {
		t.Errorf("old file: %+v", s.Snapshot())
	}
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	err = s.Mutate(func(f *File) {
		f.APIURL = "https://www.digicert.com/services/v2"
		f.Revocations = append(f.Revocations,
			Revocation{Name: "www", OrderID: 12, Time: t0.Add(time.Hour)},
			Revocation{Name: "shop", OrderID: 7, Time: t0})
		f.Entries["shop"].Intent = &Intent{Action: IntentRevoke, Started: t0, Attempts: 1}
		f.Entries["www"] = &Entry{OrderID: 12}
		f.Entries["gone"] = nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "version": 1,
  "api_url": "https://www.digicert.com/services/v2",
  "revocations": [
    {"name":"shop","order_id":7,"time":"2026-11-24T10:00:00Z"},
    {"name":"www","order_id":12,"time":"2026-11-24T11:00:00Z"}
  ],
  "entries": {
    "shop": {"order_id":7,"disable_ct":false,"auto_reissue":true,"intent":{"action":"revoke","started":"2026-11-24T10:00:00Z","attempts":1}},
    "www": {"order_id":12,"disable_ct":false,"auto_reissue":false}
  }
}
`
	if diff := cmp.Diff(want, readBytes(t, path)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	if s.APIURL() != "https://www.digicert.com/services/v2" {
		t.Errorf("APIURL() = %q", s.APIURL())
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Snapshot(), got); diff != "" {
		t.Errorf("read back (-memory +disk):\n%s", diff)
	}
	if r := got.RevocationsSince(t0.Add(time.Minute)); !cmp.Equal(r, []Revocation{{Name: "www", OrderID: 12, Time: t0.Add(time.Hour)}}) {
		t.Errorf("RevocationsSince: %v", r)
	}
	if r := got.RevocationsSince(t0); len(r) != 2 {
		t.Errorf("RevocationsSince is inclusive: %v", r)
	}
	if r := got.RevocationsSince(t0.Add(2 * time.Hour)); r != nil {
		t.Errorf("none since: %v", r)
	}
	// A failed write undoes file-level changes too.
	before := readBytes(t, path)
	err = s.Mutate(func(f *File) {
		f.APIURL = "https://other"
		f.Revocations = append(f.Revocations, Revocation{Name: "x", OrderID: 1, Time: t0})
		f.Entries["shop"].OrderedAt = poison
	})
	if err == nil || !strings.HasPrefix(err.Error(), "state file "+path+": encoding: ") {
		t.Errorf("got %v", err)
	}
	if diff := cmp.Diff(got, s.Snapshot()); diff != "" {
		t.Errorf("not undone (-before +after):\n%s", diff)
	}
	if readBytes(t, path) != before {
		t.Error("file changed")
	}
}

func TestFile_Clone(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	f := &File{Version: Version, APIURL: "https://a", Revocations: []Revocation{{Name: "a", OrderID: 1, Time: t0}},
		Entries: map[string]*Entry{"a": {OrderID: 1, Fixed: map[string]string{"k": "v"}, Revoke: &RevokeRecord{Status: "pending"}, PreviousOrderIDs: []int{7}}}}
	c := f.Clone()
	if diff := cmp.Diff(f, c); diff != "" {
		t.Fatalf("clone differs:\n%s", diff)
	}
	c.Revocations[0].Name = "changed"
	c.Revocations = append(c.Revocations, Revocation{Name: "b"})
	c.Entries["a"].Fixed["k"] = "changed"
	c.Entries["a"].Revoke.Status = "changed"
	c.Entries["a"].PreviousOrderIDs[0] = 8
	c.APIURL = "changed"
	if f.Revocations[0].Name != "a" || len(f.Revocations) != 1 || f.Entries["a"].Fixed["k"] != "v" || f.Entries["a"].PreviousOrderIDs[0] != 7 ||
		f.Entries["a"].Revoke.Status != "pending" || f.APIURL != "https://a" {
		t.Errorf("the clone shares data: %+v", f)
	}
}

// TestFile_observationRoundTrip: the observation fields survive a write,
// a read and a clone.
func TestFile_observationRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	err = s.Mutate(func(f *File) {
		f.ObservedAt = t0
		f.Entries["a"] = &Entry{OrderID: 1, Status: "issued", CertificateID: 900001, SerialNumber: "0A1B", NotBefore: t0,
			NotAfter: t0.Add(199 * 24 * time.Hour), OrderValidTill: t0.AddDate(1, 0, 0), Renewed: true, DCVMethod: "dns-txt-token",
			DCVToken: "tok", ObservedAt: t0}
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Snapshot(), got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(got, got.Clone()); diff != "" {
		t.Errorf("clone (-want +got):\n%s", diff)
	}
}

// TestOpen_removesStaleTemps: the temporary files a killed writer left
// next to the state file are removed when the state is next opened (with
// the lock held); other files are left alone.
func TestOpen_removesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, name := range []string{".s.json.tmp-123", ".s.json.tmp-abc", "keep.txt", ".other.json.tmp-1"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{".other.json.tmp-1", "keep.txt", "s.json", "s.json.lock"}
	if diff := cmp.Diff(want, left); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

// TestOpen_moved: a state marked as moved (state migrate's mark) keeps its
// mark and entries in the file, and Open refuses it with a *MovedError
// naming where it went, holding no lock after.
func TestOpen_moved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update("a", func(e *Entry) bool { e.OrderID = 7; return true }); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	mark := Moved{To: "state file /srv/new.json", Flags: "--state /srv/new.json", At: at}
	if err := s.Mutate(func(f *File) { f.Moved = &mark }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := readBytes(t, path); !strings.Contains(got, `  "moved": {"to":"state file /srv/new.json","flags":"--state /srv/new.json","at":"2026-12-07T06:00:00Z"},`+"\n") {
		t.Errorf("the file:\n%s", got)
	}
	f, err := Read(path)
	if err != nil || f.Moved == nil || *f.Moved != mark || f.Entries["a"] == nil || f.Clone().Moved == f.Moved || *f.Clone().Moved != mark {
		t.Fatalf("Read: %v %+v", err, f)
	}
	want := fmt.Sprintf("state file %s was moved to state file /srv/new.json on 2026-12-07T06:00:00Z (certform state migrate); "+
		"it is kept only as a record, and no certform command uses it", path)
	for range 2 { // the refusal releases the lock
		_, err = Open(path)
		var me *MovedError
		if !errors.As(err, &me) || err.Error() != want || me.Moved != mark {
			t.Fatalf("Open: %v\nwant: %s", err, want)
		}
	}
}

// TestStore_purchaseLog: the purchase log is written sorted by time, one
// record a line, read back, cloned apart, and PurchasesSince is inclusive.
func TestStore_purchaseLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	err = s.Mutate(func(f *File) {
		f.Purchases = append(f.Purchases,
			Purchase{Name: "www", AlternativeOrderID: "cfwwwb", RenewalOfOrderID: 12, Time: t0.Add(time.Hour)},
			Purchase{Name: "shop", AlternativeOrderID: "cfshopa", Time: t0})
		f.Entries["shop"] = &Entry{Intent: &Intent{Action: IntentOrder, AlternativeOrderID: "cfshopa", Started: t0, ResendAt: t0.Add(5 * time.Minute), Attempts: 1}}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "version": 1,
  "purchases": [
    {"name":"shop","alternative_order_id":"cfshopa","time":"2026-11-24T10:00:00Z"},
    {"name":"www","alternative_order_id":"cfwwwb","renewal_of_order_id":12,"time":"2026-11-24T11:00:00Z"}
  ],
  "entries": {
    "shop": {"disable_ct":false,"auto_reissue":false,"intent":{"action":"order","alternative_order_id":"cfshopa","started":"2026-11-24T10:00:00Z","attempts":1,"resend_at":"2026-11-24T10:05:00Z"}}
  }
}
`
	if diff := cmp.Diff(want, readBytes(t, path)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Snapshot(), got); diff != "" {
		t.Errorf("read back (-memory +disk):\n%s", diff)
	}
	if p := got.PurchasesSince(t0.Add(time.Minute)); len(p) != 1 || p[0].Name != "www" {
		t.Errorf("PurchasesSince: %v", p)
	}
	if p := got.PurchasesSince(t0); len(p) != 2 {
		t.Errorf("PurchasesSince is inclusive: %v", p)
	}
	c := got.Clone()
	c.Purchases[0].Name = "changed"
	if got.Purchases[0].Name != "shop" {
		t.Error("the clone shares the purchase log")
	}
}

// TestStore_APIURL_boundOnlyWithRecords: the recorded API URL binds the
// state only once it holds something of that account (an entry, whose
// intent lives in it, a revocation or a purchase record); an empty state
// reads as bound to none, so that the next command records its own URL.
func TestStore_APIURL_boundOnlyWithRecords(t *testing.T) {
	const url = "https://fake.example/services/v2"
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		f    File
		want string
	}{
		{name: "empty", f: File{APIURL: url, Entries: map[string]*Entry{}}},
		{name: "nothing recorded", f: File{Entries: map[string]*Entry{"a": {OrderID: 1}}}},
		{name: "an entry", f: File{APIURL: url, Entries: map[string]*Entry{"a": {OrderID: 1}}}, want: url},
		{name: "an intent alone", f: File{APIURL: url, Entries: map[string]*Entry{"a": {Intent: &Intent{Action: IntentOrder, AlternativeOrderID: "x"}}}}, want: url},
		{name: "a revocation record", f: File{APIURL: url, Revocations: []Revocation{{Name: "a", OrderID: 1, Time: now}}}, want: url},
		{name: "a purchase record", f: File{APIURL: url, Purchases: []Purchase{{Name: "a", AlternativeOrderID: "x", Time: now}}}, want: url},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.BoundAPIURL(); got != tt.want {
				t.Errorf("BoundAPIURL: %q, want %q", got, tt.want)
			}
		})
	}
	s, err := Open(filepath.Join(t.TempDir(), "s.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Mutate(func(f *File) { f.APIURL = url }); err != nil {
		t.Fatal(err)
	}
	if got := s.APIURL(); got != "" {
		t.Errorf("empty state: APIURL %q, want none", got)
	}
	mustUpdate(t, s, "a", 7)
	if got := s.APIURL(); got != url {
		t.Errorf("with an entry: APIURL %q, want %q", got, url)
	}
}
