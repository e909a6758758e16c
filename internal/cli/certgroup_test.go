package cli

import (
	"os/user"
	"testing"
)

// TestCertGroupError: an unknown --cert-group says so once, with a hint.
func TestCertGroupError(t *testing.T) {
	_, err := lookupGroup("certform-no-such-group")
	if err == nil {
		t.Skip("the group exists here")
	}
	want := "--cert-group certform-no-such-group: no such group on this machine\nhint: give an existing group (getent group lists them), such as the web server's"
	if got := certGroupError("certform-no-such-group", err).Error(); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	other := certGroupError("x", user.UnknownUserError("y"))
	if other.Error() != "--cert-group x: user: unknown user y" {
		t.Fatalf("other error: %q", other)
	}
}
