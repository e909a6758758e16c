package cli

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// listPage is the first page of the order list as a refresh reads it.
const listPage = "GET /order/certificate?limit=1000&offset=0"

// TestRefresh_list: plan --refresh over orders that did not change reads
// the order list alone; after an order is revoked in the console,
// apply --refresh reads the list and that order, and records it revoked;
// --refresh=full (or CERTFORM_REFRESH=full) reads every order one by one;
// --refresh=false reads nothing; another value is a usage error.
func TestRefresh_list(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 3)
	ids := map[string]int{}
	for n, e := range loadStateFile(t, st).Entries {
		ids[n] = e.OrderID
	}
	get := func(name string) string { return fmt.Sprintf("GET /order/certificate/%d", ids[name]) }

	code, stdout, stderr := runBinary(t, env, "plan", "--dir", dir, "--state", st, "--refresh", "--detailed-exitcode")
	if diff := cmp.Diff([]string{listPage}, srv.Calls()); code != 0 || diff != "" {
		t.Errorf("plan --refresh, nothing changed: exit %d, calls (-want +got):\n%s\n%s%s", code, diff, stdout, stderr)
	}

	srv.Revoke(ids["host01"], "done in the console")
	srv.ResetRequests()
	code, stdout, stderr = runBinary(t, env, "apply", "--dir", dir, "--state", st, "--refresh")
	if diff := cmp.Diff([]string{listPage, get("host01")}, srv.Calls()); code != 0 || diff != "" {
		t.Errorf("apply --refresh after a revoke: exit %d, calls (-want +got):\n%s\n%s%s", code, diff, stdout, stderr)
	}
	if e := loadStateFile(t, st).Entries["host01"]; e.Status != "revoked" || e.RefreshedAt.IsZero() {
		t.Errorf("the revoke not recorded: %+v", e)
	}

	srv.ResetRequests()
	code, stdout, stderr = runBinary(t, env, "plan", "--dir", dir, "--state", st, "--refresh=full")
	want := []string{get("host00"), get("host01"), get("host02")}
	sort.Strings(want)
	if diff := cmp.Diff(want, sortedCalls(srv)); code != 0 || diff != "" {
		t.Errorf("plan --refresh=full: exit %d, calls (-want +got):\n%s\n%s%s", code, diff, stdout, stderr)
	}
	srv.ResetRequests()
	code, stdout, stderr = runBinary(t, append([]string{"CERTFORM_REFRESH=full"}, env...), "plan", "--dir", dir, "--state", st)
	if diff := cmp.Diff(want, sortedCalls(srv)); code != 0 || diff != "" {
		t.Errorf("plan with CERTFORM_REFRESH=full: exit %d, calls (-want +got):\n%s\n%s%s", code, diff, stdout, stderr)
	}

	srv.ResetRequests()
	if code, stdout, stderr := runBinary(t, env, "plan", "--dir", dir, "--state", st, "--refresh=false"); code != 0 || len(srv.Calls()) != 0 {
		t.Errorf("plan --refresh=false: exit %d, calls %v\n%s%s", code, srv.Calls(), stdout, stderr)
	}
	code, _, stderr = runBinary(t, env, "plan", "--dir", dir, "--state", st, "--refresh=all")
	wantErr := "certform plan: invalid boolean value \"all\" for --refresh: want true, false or full\nRun 'certform plan -h' for its flags.\n"
	if code != 2 || stderr != wantErr || len(srv.Calls()) != 0 {
		t.Errorf("--refresh=all: exit %d, calls %v\n%q\nwant %q", code, srv.Calls(), stderr, wantErr)
	}
}

// TestRun_refreshSchedule: the daemon's --refresh-schedule cycles refresh
// from the order list: with nothing changed, its page and no order read
// one by one.
func TestRun_refreshSchedule(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := appliedSpecs(t, 2)
	d := startDaemon(t, env, "--dir", dir, "--state", st, "--debounce", "50ms", "--refresh-schedule", "@every 1s")
	d.waitFor("a refresh schedule cycle", 1, cycleDoneWith("refresh schedule"))
	calls := srv.Calls()
	if !slices.Contains(calls, listPage) {
		t.Errorf("no list page read: %v", calls)
	}
	for _, c := range calls {
		if strings.HasPrefix(c, "GET /order/certificate/") && !strings.HasPrefix(c, "GET /order/certificate/status-changes?") {
			t.Errorf("an order read one by one: %s (calls %v)", c, calls)
		}
	}
}
