package adopt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
	"github.com/google/go-cmp/cmp"
)

// importDir writes a spec directory with the spec www (www.example.com
// and example.com, organization 7, order_id-free) and a broken spec bad.
func importDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"www.yaml": "name: www\ncommon_name: www.example.com\ndns_names: [example.com]\norganization_id: 7\nkey_type: ecdsa-p256\ncomments: shop\n",
		"bad.yaml": "name: bad\ncommon_nme: x.example.com\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// openStore opens a state file in a temporary folder holding entries.
func openStore(t *testing.T, entries map[string]*state.Entry) *state.Store {
	t.Helper()
	store, err := state.Open(filepath.Join(t.TempDir(), "s.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for n, e := range entries {
		if err := store.Update(n, func(x *state.Entry) bool { *x = *e; return true }); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

// TestImport_refused: import refuses, with the message and hint the CLI
// prints, a spec it cannot find, an entry that tracks an order, an order
// another entry tracks (all before any call), and an order with other
// names (after one GET); the state is unchanged.
func TestImport_refused(t *testing.T) {
	srv, client := startAdoptFake(t)
	id := srv.AddOrder(digicerttest.Order{CommonName: "www.example.com", DNSNames: []string{"shop.example.com"}, ProductType: "ov", OrganizationID: 7})
	dir := importDir(t)
	tests := []struct {
		name    string
		spec    string
		entries map[string]*state.Entry
		want    Refusal
		calls   []string
	}{
		{name: "no spec", spec: "bad", want: Refusal{Msg: fmt.Sprintf("no valid spec named %q in %s", "bad", dir), Details: []string{
			"bad.yaml:1:1: common_name: is required: the domain the certificate secures, such as `common_name: shop.example.com`",
			"bad.yaml:1:1: csr: is required: give the PEM request inline as csr, or a path to it as csr_file (a spec with order_id may leave it out); hint: or let certform make the key and the CSR with key_type, such as `key_type: ecdsa-p256` (here or in a defaults.yaml)",
			"bad.yaml:1:1: organization_id: is required: the CertCentral organization id, such as `organization_id: 112233` (here or in a defaults.yaml)",
			"bad.yaml:2:1: common_nme: unknown key; did you mean common_name?"}}},
		{name: "tracks an order", spec: "www", entries: map[string]*state.Entry{"www": {OrderID: 55}},
			want: Refusal{Msg: "www already tracks order 55", Hint: "run certform forget www first to track another order"}},
		{name: "order tracked elsewhere", spec: "www", entries: map[string]*state.Entry{"other": {OrderID: id}},
			want: Refusal{Msg: fmt.Sprintf("order %d is already tracked as other; one order is tracked by one spec; nothing imported", id),
				Hint: fmt.Sprintf("to move it to www, run certform forget other, then certform import www %d", id)}},
		{name: "names differ", spec: "www",
			want:  Refusal{Msg: fmt.Sprintf("order %d does not match spec www: the order lacks example.com; the order also names shop.example.com; nothing imported", id)},
			calls: []string{fmt.Sprintf("GET /order/certificate/%d", id)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetRequests()
			store := openStore(t, tt.entries)
			before := store.Snapshot()
			im := &Import{API: client, Store: store, Dir: dir, Name: tt.spec, OrderID: id}
			_, err := im.Run(context.Background())
			var r *Refusal
			if !errors.As(err, &r) {
				t.Fatalf("error %v, want a *Refusal", err)
			}
			if diff := cmp.Diff(tt.want, *r); diff != "" {
				t.Errorf("refusal (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.calls, srv.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before.Entries, store.Snapshot().Entries); diff != "" {
				t.Errorf("state changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestImport_records: import reads the order once and records Entry's
// entry for it: the order's settings, the spec's fingerprint and fixed
// fields, no ordering-only options.
func TestImport_records(t *testing.T) {
	srv, client := startAdoptFake(t, digicerttest.WithDisableCTField())
	id := srv.AddOrder(digicerttest.Order{CommonName: "www.example.com", DNSNames: []string{"example.com"}, ProductType: "ov", OrganizationID: 7, DisableCT: true})
	dir := importDir(t)
	store := openStore(t, nil)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	checked := 0
	im := &Import{API: client, Store: store, Dir: dir, Name: "www", OrderID: id, Now: func() time.Time { return now },
		Check: func(context.Context) error { checked++; return nil }}
	got, err := im.Run(context.Background())
	if err != nil || got.ID != id || got.Status != "issued" || checked != 1 {
		t.Fatalf("import: %v, %+v, checked %d times", err, got, checked)
	}
	if diff := cmp.Diff([]string{fmt.Sprintf("GET /order/certificate/%d", id)}, srv.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	d := loadSpec(t, dir, "www")
	want := state.Entry{OrderID: id, Fingerprint: d.Fingerprint, Fixed: d.FixedFields(), Checked: d.Fingerprint, DisableCT: true,
		Imported: true, File: "www.yaml", OrderedAt: now, Status: "issued", RefreshedAt: now}
	if diff := cmp.Diff(want, *store.Entry("www")); diff != "" {
		t.Errorf("entry (-want +got):\n%s", diff)
	}
}

// TestImport_readFails: an error reading the order is wrapped with the
// order id, and nothing is written.
func TestImport_readFails(t *testing.T) {
	store := openStore(t, nil)
	im := &Import{API: orderAPI{}, Store: store, Dir: importDir(t), Name: "www", OrderID: 9}
	_, err := im.Run(context.Background())
	if err == nil || err.Error() != "reading order 9: no order 9" {
		t.Errorf("error %v", err)
	}
	if e := store.Entry("www"); e != nil {
		t.Errorf("entry %+v", e)
	}
}

// TestEntry: an order's settings win over the spec's; a setting the
// answer leaves out is the spec's.
func TestEntry(t *testing.T) {
	d := &spec.Order{Name: "www", File: "a/www.yaml", Fingerprint: "fp", DisableCT: true, AutoReissue: true}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	off := digicert.Flag(false)
	o := &digicert.Order{ID: 5, AlternativeOrderID: "cf-x", Status: "pending", AutoReissue: &off}
	want := state.Entry{OrderID: 5, AlternativeOrderID: "cf-x", Fingerprint: "fp", Fixed: d.FixedFields(), Checked: "fp", DisableCT: true,
		AutoReissue: false, Imported: true, File: "a/www.yaml", OrderedAt: now, Status: "pending", RefreshedAt: now}
	if diff := cmp.Diff(want, Entry(d, o, now)); diff != "" {
		t.Errorf("entry (-want +got):\n%s", diff)
	}
}

// TestSeed: every valid spec that asks for revocation and has no entry
// gets an order from place and an entry for it; the others are left
// alone, and the log says what was seeded.
func TestSeed(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"old.yaml":  "name: old\ncommon_name: old.example.com\norganization_id: 7\nkey_type: ecdsa-p256\nrevoke: true\nrevoke_comments: retired\ndisable_ct: true\n",
		"kept.yaml": "name: kept\ncommon_name: kept.example.com\norganization_id: 7\nkey_type: ecdsa-p256\nrevoke: true\nrevoke_comments: retired\n",
		"www.yaml":  "name: www\ncommon_name: www.example.com\norganization_id: 7\nkey_type: ecdsa-p256\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	store := openStore(t, map[string]*state.Entry{"kept": {OrderID: 3}})
	if res, err := spec.Load(dir); err != nil || len(res.Errors) > 0 {
		t.Fatalf("specs: %v %v", err, res.Errors)
	}
	var placed []string
	var log bytes.Buffer
	Seed(dir, store, slog.New(slog.NewTextHandler(&log, nil)), func(o *spec.Order) int {
		placed = append(placed, o.Name)
		return 42
	})
	if diff := cmp.Diff([]string{"old"}, placed); diff != "" {
		t.Errorf("placed (-want +got):\n%s", diff)
	}
	e := store.Entry("old")
	if e == nil || e.OrderID != 42 || e.Status != "issued" || !e.Imported || !e.DisableCT || e.File != "old.yaml" || e.Fingerprint == "" {
		t.Errorf("entry %+v", e)
	}
	if e := store.Entry("kept"); e.OrderID != 3 {
		t.Errorf("kept: %+v", e)
	}
	if !strings.Contains(log.String(), `msg="dev mode: seeded the fake with an order this spec asks to revoke, as if ordered earlier" spec=old order_id=42`) {
		t.Errorf("log:\n%s", log.String())
	}
}

// loadSpec returns the valid spec name in dir.
func loadSpec(t *testing.T, dir, name string) *spec.Order {
	t.Helper()
	res, err := spec.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Orders {
		if o.Name == name {
			return o
		}
	}
	t.Fatalf("no spec %s: %v", name, res.Errors)
	return nil
}
