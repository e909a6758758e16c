package runner

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/certform/certform/reconcile"
	"github.com/google/go-cmp/cmp"
)

func TestTallyResults(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC)
	res := func(err error) reconcile.Result {
		return reconcile.Result{Action: reconcile.Action{Kind: reconcile.KindOrder}, Err: err}
	}
	tests := []struct {
		name    string
		results []reconcile.Result
		want    Tally
	}{
		{name: "all done", results: []reconcile.Result{res(nil), res(nil)}, want: Tally{Done: 2}},
		{name: "waiting is no failure and keeps the earliest time",
			results: []reconcile.Result{res(&reconcile.WaitError{Until: at.Add(time.Minute)}), res(fmt.Errorf("order a: %w", &reconcile.WaitError{Until: at})), res(nil)},
			want:    Tally{Done: 1, Waiting: 2, Until: at}},
		{name: "a spec changed before a revocation: failed, no retry", results: []reconcile.Result{res(reconcile.ErrSpecChanged)}, want: Tally{Failed: 1}},
		{name: "stopping: failed, no retry", results: []reconcile.Result{res(reconcile.ErrStopping)}, want: Tally{Failed: 1}},
		{name: "a call Failed: retry", results: []reconcile.Result{res(errors.New("digicert: 503")), res(reconcile.ErrStopping)}, want: Tally{Failed: 2, Retry: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tallyResults(tt.results)); diff != "" {
				t.Errorf("tally (-want +got):\n%s", diff)
			}
		})
	}
}
