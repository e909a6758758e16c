package keys

import (
	"errors"
	"fmt"

	"filippo.io/age"
)

// SealedBlobs is where a SealedStore keeps its sealed keys, by spec name
// and CSR fingerprint: a shared state's database (pgstate.Backend). It
// only ever sees keys sealed with age.
type SealedBlobs interface {
	PutSealedKey(name, fingerprint string, sealed []byte) error
	// SealedKey returns an error matching ErrNotFound when no key is
	// stored under name and fingerprint.
	SealedKey(name, fingerprint string) ([]byte, error)
	DeleteSealedKey(name, fingerprint string) error
}

// SealedStore keeps keys, sealed with age to its recipients, in
// SealedBlobs (the shared state's database), and opens them with its
// identities. It has Store's methods Put, Get and Delete, with the same
// names and fingerprints accepted.
type SealedStore struct {
	blobs      SealedBlobs
	recipients []age.Recipient
	identities []age.Identity
}

// ErrIdentityNotRecipient says none of the identities is one of the
// recipients: a key this process seals could not be opened again by it.
var ErrIdentityNotRecipient = errors.New("the age identity (--key-identity-file or the credential " + CredentialName + ") is not one of the --key-recipient public keys, so this server could not open the keys it seals\n" +
	"hint: add the identity's public key (age-keygen -y FILE prints it) as a --key-recipient")

// NewSealedStore returns the store of keys sealed in blobs to recipients
// and opened with identities (at least one). With no recipients, keys are
// sealed to the identities' own public keys. Given recipients must
// include the public key of one of the identities
// (ErrIdentityNotRecipient): the process that seals a key is the one that
// re-sends its CSR after a crash.
func NewSealedStore(blobs SealedBlobs, recipients []age.Recipient, identities []age.Identity) (*SealedStore, error) {
	if len(identities) == 0 {
		return nil, ErrNoIdentity
	}
	own := map[string]bool{}
	var ownRecipients []age.Recipient
	for _, id := range identities {
		if x, ok := id.(*age.X25519Identity); ok {
			own[x.Recipient().String()] = true
			ownRecipients = append(ownRecipients, x.Recipient())
		}
	}
	if len(recipients) == 0 {
		if len(ownRecipients) == 0 {
			return nil, ErrNoRecipients
		}
		return &SealedStore{blobs: blobs, recipients: ownRecipients, identities: identities}, nil
	}
	for _, r := range recipients {
		if x, ok := r.(*age.X25519Recipient); ok && own[x.String()] {
			return &SealedStore{blobs: blobs, recipients: recipients, identities: identities}, nil
		}
	}
	return nil, ErrIdentityNotRecipient
}

// Put seals k and stores it under name and fingerprint.
func (s *SealedStore) Put(name, fingerprint string, k Key) error {
	if err := checkNames(name, fingerprint); err != nil {
		return err
	}
	sealed, err := Seal(k, s.recipients)
	if err != nil {
		return fmt.Errorf("store key for %s: %w", name, err)
	}
	if err := s.blobs.PutSealedKey(name, fingerprint, sealed); err != nil {
		return fmt.Errorf("store key for %s: %w", name, err)
	}
	return nil
}

// Get opens the key stored under name and fingerprint; an error matching
// ErrNotFound when there is none, ErrNoIdentityMatch when the identities
// do not open it.
func (s *SealedStore) Get(name, fingerprint string) (Key, error) {
	if err := checkNames(name, fingerprint); err != nil {
		return Key{}, err
	}
	sealed, err := s.blobs.SealedKey(name, fingerprint)
	if err != nil {
		return Key{}, err
	}
	k, err := Open(sealed, s.identities)
	if err != nil {
		return Key{}, fmt.Errorf("key for %s (CSR %s): %w", name, fingerprint, err)
	}
	return k, nil
}

// Delete removes the key stored under name and fingerprint; one that is
// not there is not an error.
func (s *SealedStore) Delete(name, fingerprint string) error {
	if err := checkNames(name, fingerprint); err != nil {
		return err
	}
	return s.blobs.DeleteSealedKey(name, fingerprint)
}
