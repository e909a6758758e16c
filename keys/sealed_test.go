package keys

import (
	"errors"
	"strings"
	"testing"

	"filippo.io/age"
)

// memBlobs is SealedBlobs in memory, recording what it was given.
type memBlobs map[string][]byte

func (m memBlobs) PutSealedKey(name, fp string, sealed []byte) error {
	m[name+"."+fp] = sealed
	return nil
}

func (m memBlobs) SealedKey(name, fp string) ([]byte, error) {
	b, ok := m[name+"."+fp]
	if !ok {
		return nil, ErrNotFound
	}
	return b, nil
}

func (m memBlobs) DeleteSealedKey(name, fp string) error {
	delete(m, name+"."+fp)
	return nil
}

func TestSealedStore(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	blobs := memBlobs{}
	if _, err := NewSealedStore(blobs, nil, nil); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("no identity: %v", err)
	}
	s, err := NewSealedStore(blobs, nil, []age.Identity{id})
	if err != nil {
		t.Fatal(err)
	}
	fp := strings.Repeat("ab", 32)
	k, err := Generate("ecdsa-p256")
	if err != nil {
		t.Fatal(err)
	}
	// Names are checked before the blobs see anything.
	for _, c := range [][2]string{{"../x", fp}, {"shop", "ABC"}} {
		if err := s.Put(c[0], c[1], k); !errors.Is(err, ErrBadName) {
			t.Errorf("Put(%q, %q): %v, want ErrBadName", c[0], c[1], err)
		}
	}
	if len(blobs) != 0 {
		t.Fatalf("blobs after refused puts: %d", len(blobs))
	}
	if err := s.Put("shop", fp, k); err != nil {
		t.Fatal(err)
	}
	// Sealed to the identity's own recipient: age, not PEM.
	if b := blobs["shop."+fp]; !strings.HasPrefix(string(b), "age-encryption.org/v1\n") || strings.Contains(string(b), "PRIVATE KEY") {
		t.Fatal("the blob is not sealed")
	}
	got, err := s.Get("shop", fp)
	if err != nil || !got.MatchesPublic(k.Public()) {
		t.Fatalf("Get: %v", err)
	}
	if err := s.Delete("shop", fp); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("shop", fp); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
}

func TestStore_DeleteKeys(t *testing.T) {
	s, err := OpenStore(t.TempDir() + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	k, err := Generate("ecdsa-p256")
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	for _, n := range []string{"shop", "shop.example", "blog"} {
		for _, fp := range []string{a, b} {
			if err := s.Put(n, fp, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Only the fingerprints given go: shop's key b (another state's) and
	// the keys of other names stay; c, which has no key, is skipped.
	if n, err := s.DeleteKeys("shop", []string{a, c}); err != nil || n != 1 {
		t.Fatalf("DeleteKeys: %d, %v; want 1", n, err)
	}
	es, err := s.List()
	if err != nil || len(es) != 5 || es[2].Name != "shop" || es[2].Fingerprint != b || es[3].Name != "shop.example" {
		t.Fatalf("left: %+v, %v", es, err)
	}
	if n, err := s.DeleteKeys("shop", nil); err != nil || n != 0 {
		t.Fatalf("DeleteKeys(nil): %d, %v", n, err)
	}
	if _, err := s.DeleteKeys("shop", []string{"../x"}); !errors.Is(err, ErrBadName) {
		t.Fatalf("DeleteKeys(bad fingerprint): %v", err)
	}
}
