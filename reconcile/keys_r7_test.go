package reconcile

import (
	"context"
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

// recordedKeyType records kt as the key_type of name's order, as the state
// written by a reissue for a key_type change before the fix was (its key
// of the old type).
func (r *keyRig) recordedKeyType(name, kt string) {
	r.t.Helper()
	if err := r.store.Update(name, func(e *state.Entry) bool {
		e.Fixed["key_type"] = kt
		e.Fingerprint = spec.Fingerprint(e.Fixed)
		return true
	}); err != nil {
		r.t.Fatal(err)
	}
}

// TestKeysR7_typeMismatchPlansKeyReissue: a state whose key is not of the
// spec's key_type (written by a reissue for a key_type change before the
// fix, which kept the old key) plans a reissue with a key of the spec's
// type (reason key), not "No calls to make".
func TestKeysR7_typeMismatchPlansKeyReissue(t *testing.T) {
	r := newKeyRig(t)
	r.typedSpec("shop", "ecdsa-p256")
	r.run(true)
	first := *r.entry("shop").Key
	r.typedSpec("shop", "rsa-2048")
	r.recordedKeyType("shop", "rsa-2048")
	r.clock.Add(time.Minute)
	rec := r.reconciler(1)
	rec.Observe, rec.Keys = true, r.keys
	if c, err := rec.Prepare(context.Background(), CycleOptions{}); err != nil || len(c.Plan.Actions) != 1 || c.Plan.Actions[0].Reason != ReissueKey {
		t.Fatalf("plan: %+v, error %v", c, err)
	}
	if res, _ := r.run(true); len(res) != 1 || !strings.HasPrefix(res[0], "reissue shop: reissue requested") {
		t.Fatalf("results: %q", res)
	}
	r.wantRSA2048(first)
}

// TestKeysR7_typeChangeNever: key_rotation: never keeps a key of the
// spec's key_type only. A key_type change reissues with a new key of the
// new type; a renewal of an entry whose key is not of the spec's key_type
// (a state written before the fix, its key_type already recorded) is
// ordered with a new key of the spec's type.
func TestKeysR7_typeChangeNever(t *testing.T) {
	for _, renew := range []bool{false, true} {
		t.Run(fmt.Sprintf("renew=%v", renew), func(t *testing.T) {
			r := newKeyRig(t)
			r.typedSpec("shop", "ecdsa-p256")
			r.run(true)
			first := *r.entry("shop").Key
			r.typedSpec("shop", "rsa-2048")
			want := "reissue shop: reissue requested"
			if renew {
				r.recordedKeyType("shop", "rsa-2048")
				r.endsIn("shop", 10*24*time.Hour)
				want = "renew shop: renewed as order "
			}
			r.clock.Add(time.Minute)
			if res, _ := r.run(true); len(res) != 1 || !strings.HasPrefix(res[0], want) {
				t.Fatalf("results: %q", res)
			}
			r.wantRSA2048(first)
		})
	}
}

// TestKeysR7_rejectedReissueRestoresKey: a reissue with a new key that
// CertCentral rejected leaves the first key's certificate in place: the
// state's key is the first key again, the rejected key leaves the entry
// and the key store, and a later reissue under key_rotation: never keeps
// the first key.
func TestKeysR7_rejectedReissueRestoresKey(t *testing.T) {
	for _, certDir := range []bool{true, false} {
		t.Run(fmt.Sprintf("certDir=%v", certDir), func(t *testing.T) {
			r := newKeyRig(t, digicerttest.WithReissueHold())
			if !certDir {
				r.certDir = ""
			}
			first, _ := r.reissueRotated()
			e := r.entry("shop")
			if len(e.PreviousKeys) != 1 || e.PreviousKeys[0].CSRFingerprint != first {
				t.Fatalf("previous keys while pending: %+v", e.PreviousKeys)
			}
			firstRec := e.PreviousKeys[0]
			r.srv.RejectReissue(e.OrderID)
			r.clock.Add(time.Minute)
			r.run(true)
			e = r.entry("shop")
			if e.ReissueRejected == nil || e.Status != "issued" {
				t.Fatalf("entry: %+v", e)
			}
			if e.Key == nil || *e.Key != firstRec || e.PreviousKeys != nil || e.ReissuedKeyFrom != nil {
				t.Fatalf("key %+v, previous %+v, reissued from %+v; want key %+v and no previous", e.Key, e.PreviousKeys, e.ReissuedKeyFrom, firstRec)
			}
			wantLines(t, "stored keys after the rejection", r.storedKeys(), []string{"shop/" + first})
			// Ask again for other names, keeping the key.
			r.keySpec("shop", "key_rotation: never", "dns_names: [api.shop.example.com]")
			r.clock.Add(time.Minute)
			if res, _ := r.run(true); len(res) != 1 || !strings.HasPrefix(res[0], "reissue shop: reissue requested") {
				t.Fatalf("results: %q", res)
			}
			csrs := r.sentCSRs()
			if len(csrs) != 3 {
				t.Fatalf("%d CSRs sent, want 3", len(csrs))
			}
			k, err := r.keys.Get("shop", first)
			if err != nil {
				t.Fatal(err)
			}
			if !k.MatchesPublic(parseCSR(t, csrs[2]).PublicKey) {
				t.Fatal("the reissue after the rejection is not for the first key")
			}
			if e := r.entry("shop"); e.Key.PublicKeySHA256 != firstRec.PublicKeySHA256 || e.Key.CSRFingerprint != keys.CSRFingerprint(csrs[2]) {
				t.Fatalf("key after the second reissue %+v, first %+v", e.Key, firstRec)
			}
		})
	}
}
