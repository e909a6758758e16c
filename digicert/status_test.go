package digicert_test

import (
	"testing"

	"github.com/certform/certform/digicert"
)

func TestIsClosed(t *testing.T) {
	for status, want := range map[string]bool{
		"revoked": true, "canceled": true, "rejected": true, "expired": true,
		"issued": false, "pending": false, "needs_approval": false, "reissue_pending": false, "waiting_pickup": false, "": false, "Revoked": false,
	} {
		if got := digicert.IsClosed(status); got != want {
			t.Errorf("IsClosed(%q) = %t, want %t", status, got, want)
		}
	}
}
