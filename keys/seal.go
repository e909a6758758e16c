package keys

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"filippo.io/age"
)

// CredentialName is the systemd credential that holds the age identity
// (LoadCredential=certform-key-identity:... or SetCredentialEncrypted=),
// read from $CREDENTIALS_DIRECTORY when no identity file is given.
const CredentialName = "certform-key-identity"

// ErrNoRecipients says Seal or ParseRecipients was given no recipient.
var ErrNoRecipients = errors.New("no age recipient: keys in a shared state are sealed to at least one --key-recipient (an age1... public key)")

// ErrNoIdentity says neither an identity file nor the systemd credential
// is there, so sealed keys cannot be opened.
var ErrNoIdentity = errors.New("no age identity to open the keys of the shared state\nhint: give --key-identity-file FILE (made with age-keygen) or the systemd credential " + CredentialName)

// ErrNoIdentityMatch says no identity given opens a sealed key: it was
// sealed to other recipients.
var ErrNoIdentityMatch = errors.New("no age identity given matches the key's recipients\nhint: use the identity of one of the --key-recipient public keys the key was sealed to")

// ParseRecipients parses age X25519 public keys ("age1..."), one a
// string, as given to --key-recipient. Blank strings are an error, not
// skipped. A string that is not an age1 public key is never quoted (it
// may be an identity pasted in the wrong place); errors name it by its
// position, 1-based.
func ParseRecipients(ss []string) ([]age.Recipient, error) {
	if len(ss) == 0 {
		return nil, ErrNoRecipients
	}
	out := make([]age.Recipient, 0, len(ss))
	var errs []error
	for i, s := range ss {
		s = strings.TrimSpace(s)
		switch {
		case strings.HasPrefix(s, "age1pq1"):
			errs = append(errs, fmt.Errorf("--key-recipient %d: post-quantum age recipients are not supported; give an X25519 public key (age1..., from age-keygen)", i+1))
			continue
		case !strings.HasPrefix(s, "age1"):
			errs = append(errs, fmt.Errorf("--key-recipient %d: not an age X25519 public key; give the age1... line age-keygen prints as \"Public key\" (never the AGE-SECRET-KEY)", i+1))
			continue
		}
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			// A public key may be quoted: age's message does.
			errs = append(errs, fmt.Errorf("--key-recipient %d: %w", i+1, err))
			continue
		}
		out = append(out, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// maxIdentityFile caps an identity file's size; one X25519 identity line
// is 74 bytes.
const maxIdentityFile = 1 << 20

// identityFileHint is the hint: line of an identity file that cannot be
// read.
const identityFileHint = "hint: give the file age-keygen wrote (--key-identity-file FILE), or load it as the systemd credential " + CredentialName

// ReadIdentityFile reads age X25519 identities from path in age's identity
// file format: one AGE-SECRET-KEY-1... a line, blank lines and lines
// starting with "#" ignored (age-keygen's output as it is). Errors name
// path and line, never the line's content.
func ReadIdentityFile(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("age identity file: %w\n%s", err, identityFileHint)
	}
	defer f.Close()
	ids, err := parseIdentities(path, io.LimitReader(f, maxIdentityFile+1))
	if err != nil {
		return nil, err
	}
	return ids, nil
}

func parseIdentities(path string, r io.Reader) ([]age.Identity, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("age identity file %s: %w\n%s", path, err, identityFileHint)
	}
	if len(data) > maxIdentityFile {
		return nil, fmt.Errorf("age identity file %s is larger than %d bytes", path, maxIdentityFile)
	}
	var (
		ids  []age.Identity
		errs []error
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxIdentityFile+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		at := fmt.Sprintf("%s:%d", path, n)
		switch {
		case !utf8.ValidString(line):
			errs = append(errs, fmt.Errorf("%s: not UTF-8 text", at))
		case strings.HasPrefix(line, "AGE-SECRET-KEY-PQ-1"):
			errs = append(errs, fmt.Errorf("%s: post-quantum age identities are not supported; use an X25519 identity (AGE-SECRET-KEY-1..., from age-keygen)", at))
		case strings.HasPrefix(line, "AGE-SECRET-KEY-1"):
			id, err := age.ParseX25519Identity(line)
			if err != nil {
				// age's X25519 identity errors never quote the key.
				errs = append(errs, fmt.Errorf("%s: malformed age identity", at))
				continue
			}
			ids = append(ids, id)
		default:
			errs = append(errs, fmt.Errorf("%s: not an age X25519 identity (AGE-SECRET-KEY-1...); comments start with #", at))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("age identity file %s holds no identity\nhint: make one with age-keygen -o %s", path, path)
	}
	return ids, nil
}

// LoadIdentities finds the identities that open sealed keys: from file
// when it is not empty (--key-identity-file), else from the systemd
// credential CredentialName in credentialsDir (the value of
// $CREDENTIALS_DIRECTORY, "" when unset). It returns the identities and
// the path read, or ErrNoIdentity when neither is given or the credential
// is not in credentialsDir.
func LoadIdentities(file, credentialsDir string) ([]age.Identity, string, error) {
	if file == "" {
		if credentialsDir == "" {
			return nil, "", ErrNoIdentity
		}
		file = filepath.Join(credentialsDir, CredentialName)
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			return nil, "", ErrNoIdentity
		}
	}
	ids, err := ReadIdentityFile(file)
	if err != nil {
		return nil, "", err
	}
	return ids, file, nil
}

// Seal encrypts k's PKCS#8 PEM with age to every recipient: the form a
// key takes in the shared state. The result is binary age (not armored)
// and holds no key material in the clear.
func Seal(k Key, recipients []age.Recipient) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, ErrNoRecipients
	}
	data, err := k.PKCS8PEM()
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	return buf.Bytes(), nil
}

// maxSealed caps what Open decrypts: a sealed RSA-4096 key is about 3.5
// KiB plus 200 bytes a recipient.
const maxSealed = 1 << 20

// Open decrypts a key Seal sealed, with the first identity that matches.
// It returns ErrNoIdentityMatch (wrapped) when none does, and never
// quotes the sealed or decrypted bytes.
func Open(sealed []byte, identities []age.Identity) (Key, error) {
	if len(identities) == 0 {
		return Key{}, ErrNoIdentity
	}
	r, err := age.Decrypt(bytes.NewReader(sealed), identities...)
	var nomatch *age.NoIdentityMatchError
	if errors.As(err, &nomatch) {
		return Key{}, fmt.Errorf("open sealed key: %w", ErrNoIdentityMatch)
	}
	if err != nil {
		return Key{}, fmt.Errorf("open sealed key: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxSealed+1))
	if err != nil {
		return Key{}, fmt.Errorf("open sealed key: %w", err)
	}
	if len(data) > maxSealed {
		return Key{}, fmt.Errorf("open sealed key: larger than %d bytes", maxSealed)
	}
	k, err := ParsePEM(data)
	if err != nil {
		return Key{}, fmt.Errorf("open sealed key: %w", err)
	}
	return k, nil
}
