package cli

// End-to-end tests of adopting orders declaratively: specs with order_id.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/google/go-cmp/cmp"
)

// TestApply_adoptByOrderID: specs naming three orders placed outside
// certform plan three adopt actions and nothing else (exit 2 with
// --detailed-exitcode), apply makes no write call, status --json lists
// the orders, and a toggle changed afterwards is one call.
func TestApply_adoptByOrderID(t *testing.T) {
	t.Parallel()
	srv, env := startFake(t)
	dir := t.TempDir()
	st := filepath.Join(t.TempDir(), "s.json")
	var ids []int
	for i, cn := range []string{"a.example.com", "b.example.com", "c.example.com"} {
		id := srv.AddOrder(digicerttest.Order{CommonName: cn, OrganizationID: 1, ProductType: "ov", DisableCT: i == 1})
		ids = append(ids, id)
		body := fmt.Sprintf("name: %c\ncommon_name: %s\norganization_id: 1\norder_id: %d\ndisable_ct: %v\n", cn[0], cn, id, i == 1)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%c.yaml", cn[0])), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runBinary(t, env, "plan", "--dir", dir, "--state", st, "--json", "--refresh")
	var plan struct {
		Actions []struct {
			Kind     string `json:"kind"`
			Name     string `json:"name"`
			OrderID  int    `json:"order_id"`
			Verified bool   `json:"verified"`
		} `json:"actions"`
		Blocked []any          `json:"blocked"`
		Notes   []any          `json:"notes"`
		Summary map[string]int `json:"summary"`
	}
	if err := json.Unmarshal([]byte(stdout), &plan); err != nil || code != 0 {
		t.Fatalf("plan --json: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	var got []string
	for _, a := range plan.Actions {
		got = append(got, fmt.Sprintf("%s %s %d %v", a.Kind, a.Name, a.OrderID, a.Verified))
	}
	want := []string{fmt.Sprintf("adopt a %d true", ids[0]), fmt.Sprintf("adopt b %d true", ids[1]), fmt.Sprintf("adopt c %d true", ids[2])}
	if diff := cmp.Diff(want, got); diff != "" || len(plan.Blocked)+len(plan.Notes) != 0 ||
		!cmp.Equal(plan.Summary, map[string]int{"order": 0, "update": 0, "revoke": 0, "adopt": 3}) {
		t.Fatalf("plan (-want +got):\n%s\n%s", diff, stdout)
	}
	if w := writes(srv); len(w) != 0 {
		t.Fatalf("plan made write calls: %v", w)
	}
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st)
	if code != 0 || !strings.Contains(stdout, "Plan: 3 to adopt, 0 to order, 0 to update, 0 to revoke.") || !strings.Contains(stdout, fmt.Sprintf("= adopt  a order %d", ids[0])) {
		t.Fatalf("apply: exit %d\n%s%s", code, stdout, stderr)
	}
	if w := writes(srv); len(w) != 0 || len(srv.Orders()) != 3 {
		t.Fatalf("apply: write calls %v, %d orders", w, len(srv.Orders()))
	}
	code, stdout, _ = runBinary(t, env, "status", "--state", st, "--json")
	var rows []struct {
		Name      string `json:"name"`
		OrderID   int    `json:"order_id"`
		Status    string `json:"status"`
		DisableCT bool   `json:"disable_ct"`
		Imported  bool   `json:"imported"`
	}
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil || code != 0 {
		t.Fatalf("status: exit %d, %v\n%s", code, err, stdout)
	}
	got = nil
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s %d %s %v %v", r.Name, r.OrderID, r.Status, r.DisableCT, r.Imported))
	}
	want = []string{fmt.Sprintf("a %d issued false true", ids[0]), fmt.Sprintf("b %d issued true true", ids[1]), fmt.Sprintf("c %d issued false true", ids[2])}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	editFile(t, filepath.Join(dir, "c.yaml"), "disable_ct: false", "disable_ct: true")
	srv.ResetRequests()
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st)
	if diff := cmp.Diff([]string{fmt.Sprintf("PUT /order/certificate/%d/ct-status", ids[2])}, writes(srv)); code != 0 || diff != "" {
		t.Errorf("toggle: exit %d, write calls (-want +got):\n%s\n%s%s", code, diff, stdout, stderr)
	}
}

// TestApply_adoptOtherNames: a spec whose order_id names an order with
// other names adopts nothing: the plan blocks it naming each differing
// name, apply exits 1 and the state stays empty.
func TestApply_adoptOtherNames(t *testing.T) {
	t.Parallel()
	srv, env := startFake(t)
	dir := t.TempDir()
	st := filepath.Join(t.TempDir(), "s.json")
	id := srv.AddOrder(digicerttest.Order{CommonName: "a.example.com", DNSNames: []string{"www.a.example.com"}})
	body := fmt.Sprintf("name: a\ncommon_name: a.example.com\ndns_names: [api.a.example.com]\norganization_id: 1\norder_id: %d\n", id)
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st)
	msg := fmt.Sprintf("order %d's names are not the spec's (only on the order: www.a.example.com; only in the spec: api.a.example.com); nothing is adopted", id)
	if code != 1 || !strings.Contains(stdout, fmt.Sprintf("! blocked adopt a order %d", id)) || !strings.Contains(stdout, msg) ||
		!strings.Contains(stderr, "1 adoption blocked because the order's names are not the spec's: a (see the notes)") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if w := writes(srv); len(w) != 0 {
		t.Errorf("write calls: %v", w)
	}
	if f := loadStateFile(t, st); len(f.Entries) != 0 {
		t.Errorf("state: %+v", f.Entries)
	}
}

// TestAdopt_reviewThenApply is adoption as a team does it: three orders
// placed outside certform; adopt writes three specs that validate accepts
// as they are; plan --json shows three adopt actions and nothing else;
// apply makes no write call; status --json lists the three orders; a
// toggle changed afterwards is one call.
func TestAdopt_reviewThenApply(t *testing.T) {
	t.Parallel()
	srv, env := startFake(t, digicerttest.WithDisableCTField()) // the orders' CT settings are known
	dir := t.TempDir()
	st := filepath.Join(t.TempDir(), "s.json")
	ids := map[int]bool{}
	for i, cn := range []string{"www.example.com", "api.example.com", "*.example.com"} {
		ids[srv.AddOrder(digicerttest.Order{CommonName: cn, DNSNames: []string{cn}, OrganizationID: 7, ProductType: "ov", AutoReissue: i == 1})] = true
	}
	if code, stdout, stderr := runBinary(t, env, "adopt", "--dir", dir, "--state", st, "--out", "adopted"); code != 0 || !strings.Contains(stdout, "Adopt: 3 specs written") {
		t.Fatalf("adopt: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := runBinary(t, env, "validate", "--dir", dir); code != 0 {
		t.Fatalf("validate: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr := runBinary(t, env, "plan", "--dir", dir, "--state", st, "--json", "--refresh")
	var plan struct {
		Actions []struct {
			Kind     string `json:"kind"`
			OrderID  int    `json:"order_id"`
			Verified bool   `json:"verified"`
		} `json:"actions"`
		Blocked []any `json:"blocked"`
		Notes   []any `json:"notes"`
	}
	if err := json.Unmarshal([]byte(stdout), &plan); err != nil || code != 0 || len(plan.Actions) != 3 || len(plan.Blocked)+len(plan.Notes) != 0 {
		t.Fatalf("plan: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	for _, a := range plan.Actions {
		if a.Kind != "adopt" || !a.Verified || !ids[a.OrderID] {
			t.Errorf("action %+v", a)
		}
	}
	if code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st); code != 0 || len(writes(srv)) != 0 {
		t.Fatalf("apply: exit %d, writes %v\n%s%s", code, writes(srv), stdout, stderr)
	}
	code, stdout, _ = runBinary(t, env, "status", "--state", st, "--json")
	var rows []struct {
		Name    string `json:"name"`
		OrderID int    `json:"order_id"`
	}
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil || code != 0 || len(rows) != 3 {
		t.Fatalf("status: exit %d, %v\n%s", code, err, stdout)
	}
	var names []string
	for _, r := range rows {
		names = append(names, r.Name)
		if !ids[r.OrderID] {
			t.Errorf("status row %+v", r)
		}
	}
	if diff := cmp.Diff([]string{"api-example-com", "wildcard-example-com", "www-example-com"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	editFile(t, filepath.Join(dir, "adopted", "www-example-com.yaml"), "disable_ct: false", "disable_ct: true")
	srv.ResetRequests()
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st)
	w := writes(srv)
	if code != 0 || len(w) != 1 || !strings.HasSuffix(w[0], "/ct-status") {
		t.Errorf("toggle: exit %d, writes %v\n%s%s", code, w, stdout, stderr)
	}
}
