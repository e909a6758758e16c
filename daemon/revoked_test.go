package daemon

import (
	"maps"
	"testing"

	"github.com/certform/certform/spec"
)

// TestRevokedOf_specChanged: the specs asking for revocation are kept
// for the same specs only; a changed spec (another *spec.Order, as the
// spec cache hands out for a changed file) is read again.
func TestRevokedOf_specChanged(t *testing.T) {
	d := &Daemon{}
	shop, api := &spec.Order{Name: "shop"}, &spec.Order{Name: "api", Revoke: true}
	if got := d.revokedOf([]*spec.Order{api, shop}); !maps.Equal(got, map[string]bool{"api": true}) {
		t.Fatalf("revoked %v, want api", got)
	}
	if got := d.revokedOf([]*spec.Order{api, shop}); !maps.Equal(got, map[string]bool{"api": true}) {
		t.Fatalf("the same specs: revoked %v, want api", got)
	}
	shop = &spec.Order{Name: "shop", Revoke: true}
	if got := d.revokedOf([]*spec.Order{api, shop}); !maps.Equal(got, map[string]bool{"api": true, "shop": true}) {
		t.Fatalf("after shop asked for revocation: revoked %v, want api and shop", got)
	}
}
