package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAdopt_parseStatuses(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]bool
		err  string
	}{
		{in: "", want: nil},
		{in: "issued", want: map[string]bool{"issued": true}},
		{in: " Issued, pending ,needs_approval", want: map[string]bool{"issued": true, "pending": true, "needs_approval": true}},
		{in: "issued,,pending", err: `--status "issued,,pending": give order statuses separated by commas, such as issued,pending`},
		{in: "issued pending", err: `--status "issued pending": give order statuses separated by commas, such as issued,pending`},
		{in: "issued,revoked", err: "--status revoked: revoked orders are not live, and adopt writes specs for live orders only"},
		{in: "isued", err: "--status isued: no order has this status; did you mean issued?\nhint: the live statuses are needs_approval, pending, processing, waiting_pickup, issued, reissue_pending"},
		{in: "issued,active", err: "--status active: no order has this status\nhint: the live statuses are needs_approval, pending, processing, waiting_pickup, issued, reissue_pending"},
		{in: "needs_approval,pending,processing,waiting_pickup,issued,reissue_pending", want: map[string]bool{"needs_approval": true, "pending": true, "processing": true, "waiting_pickup": true, "issued": true, "reissue_pending": true}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseStatuses(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Errorf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !cmp.Equal(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
