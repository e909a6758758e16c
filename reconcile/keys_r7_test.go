package reconcile

import (
	"crypto/rsa"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/keys"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// typedSpec writes NAME.yaml for NAME.example.com with key_type kt and
// key_rotation: never.
func (r *keyRig) typedSpec(name, kt string, extra ...string) {
	r.t.Helper()
	body := fmt.Sprintf("name: %s\ncommon_name: %s.example.com\norganization_id: 1\nskip_approval: true\nkey_type: %s\nkey_rotation: never\n%s", name, name, kt, lines(extra))
	if err := os.WriteFile(filepath.Join(r.dir, name+".yaml"), []byte(body), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// wantRSA2048 fails unless the last CSR sent is for a new 2048-bit RSA key
// and the state's key is that key, of type rsa-2048.
func (r *keyRig) wantRSA2048(first state.KeyRecord) {
	r.t.Helper()
	csrs := r.sentCSRs()
	if len(csrs) != 2 {
		r.t.Fatalf("%d CSRs sent, want 2", len(csrs))
	}
	pub, ok := parseCSR(r.t, csrs[1]).PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() != 2048 {
		r.t.Fatalf("the second CSR's key is %T, want a 2048-bit RSA key", parseCSR(r.t, csrs[1]).PublicKey)
	}
	k := r.entry("shop").Key
	if k == nil || k.Type != "rsa-2048" || k.PublicKeySHA256 == first.PublicKeySHA256 || k.CSRFingerprint != keys.CSRFingerprint(csrs[1]) {
		r.t.Fatalf("state key %+v, first %+v", k, first)
	}
}

// TestKeysR7_typeChangeReissueNever: key_rotation: never keeps a key of the
// spec's key_type only; a key_type change reissues with a new key of the
// new type.
func TestKeysR7_typeChangeReissueNever(t *testing.T) {
	r := newKeyRig(t)
	r.typedSpec("shop", "ecdsa-p256")
	r.run(true)
	first := *r.entry("shop").Key
	r.typedSpec("shop", "rsa-2048")
	r.clock.Add(time.Minute)
	if res, _ := r.run(true); len(res) != 1 || !strings.HasPrefix(res[0], "reissue shop: reissue requested") {
		t.Fatalf("results: %q", res)
	}
	r.wantRSA2048(first)
}

// TestKeysR7_typeChangeRenewalNever: a renewal under key_rotation: never of
// an entry whose key is not of the spec's key_type (a state written before
// the fix) is ordered with a new key of the spec's type.
func TestKeysR7_typeChangeRenewalNever(t *testing.T) {
	r := newKeyRig(t)
	r.typedSpec("shop", "ecdsa-p256")
	r.run(true)
	first := *r.entry("shop").Key
	r.typedSpec("shop", "rsa-2048")
	if err := r.store.Update("shop", func(e *state.Entry) bool {
		e.Fixed["key_type"] = "rsa-2048"
		e.Fingerprint = spec.Fingerprint(e.Fixed)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	r.endsIn("shop", 10*24*time.Hour)
	r.clock.Add(time.Minute)
	if res, _ := r.run(true); len(res) != 1 || !strings.HasPrefix(res[0], "renew shop: renewed as order ") {
		t.Fatalf("results: %q", res)
	}
	r.wantRSA2048(first)
}

var _ = digicerttest.WithReissueHold
