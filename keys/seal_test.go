package keys

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSealOpen(t *testing.T) {
	alice, bob, eve := newIdentity(t), newIdentity(t), newIdentity(t)
	recips, err := ParseRecipients([]string{alice.Recipient().String(), " " + bob.Recipient().String() + "\n"})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []Type{ECDSAP256, RSA4096} {
		t.Run(string(typ), func(t *testing.T) {
			k := testKey(t, typ)
			sealed, err := Seal(k, recips)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(sealed, []byte("age-encryption.org/v1\n")) {
				t.Fatalf("sealed bytes are not age: %.40q", sealed)
			}
			for _, s := range secretText(t, k) {
				if bytes.Contains(sealed, []byte(s)) {
					t.Fatalf("sealed bytes contain %.20q", s)
				}
			}
			for _, id := range []*age.X25519Identity{alice, bob} {
				got, err := Open(sealed, []age.Identity{eve, id})
				if err != nil {
					t.Fatal(err)
				}
				if got.Type() != typ || !got.MatchesPublic(k.Public()) {
					t.Fatalf("Open = %s key that does not match", got.Type())
				}
			}
			_, err = Open(sealed, []age.Identity{eve})
			if !errors.Is(err, ErrNoIdentityMatch) {
				t.Fatalf("Open with another identity: %v; want ErrNoIdentityMatch", err)
			}
			if want := "open sealed key: " + ErrNoIdentityMatch.Error(); err.Error() != want {
				t.Fatalf("error %q; want %q", err, want)
			}
			if strings.Contains(err.Error(), eve.String()) {
				t.Fatal("error quotes the identity")
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		if _, err := Seal(testKey(t, ECDSAP256), nil); !errors.Is(err, ErrNoRecipients) {
			t.Errorf("Seal without recipients: %v", err)
		}
		if _, err := Seal(Key{}, recips); !errors.Is(err, ErrNoKey) {
			t.Errorf("Seal(zero Key): %v", err)
		}
		if _, err := Open([]byte("age-encryption.org/v1\ngarbage"), []age.Identity{alice}); err == nil || !strings.HasPrefix(err.Error(), "open sealed key: ") {
			t.Errorf("Open(garbage): %v", err)
		}
		if _, err := Open(nil, nil); !errors.Is(err, ErrNoIdentity) {
			t.Errorf("Open without identities: %v", err)
		}
		// Sealed data that is not a key: an error naming no content.
		var buf bytes.Buffer
		w, _ := age.Encrypt(&buf, alice.Recipient())
		w.Write([]byte("SECRET not a key"))
		w.Close()
		_, err := Open(buf.Bytes(), []age.Identity{alice})
		if !errors.Is(err, ErrNotPrivateKeyPEM) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("Open(not a key): %v", err)
		}
	})
}

func TestParseRecipients_errors(t *testing.T) {
	id := newIdentity(t)
	secret := id.String()
	good := id.Recipient().String()
	badSum := flipLast(good)
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{"none", nil, ErrNoRecipients.Error()},
		{"identity pasted as recipient", []string{good, secret}, `--key-recipient 2: not an age X25519 public key; give the age1... line age-keygen prints as "Public key" (never the AGE-SECRET-KEY)`},
		{"ssh key", []string{"ssh-ed25519 AAAAC3Nza"}, `--key-recipient 1: not an age X25519 public key; give the age1... line age-keygen prints as "Public key" (never the AGE-SECRET-KEY)`},
		{"blank", []string{""}, `--key-recipient 1: not an age X25519 public key; give the age1... line age-keygen prints as "Public key" (never the AGE-SECRET-KEY)`},
		{"post-quantum", []string{"age1pq1xyz"}, "--key-recipient 1: post-quantum age recipients are not supported; give an X25519 public key (age1..., from age-keygen)"},
		{"bad checksum", []string{badSum}, `--key-recipient 1: malformed recipient "` + badSum + `": invalid checksum`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRecipients(tt.in)
			if err == nil || r != nil {
				t.Fatalf("ParseRecipients(%q) = %v, nil; want an error", tt.in, r)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error\n%s\nwant\n%s", err, tt.want)
			}
			if strings.Contains(err.Error(), secret[16:40]) {
				t.Fatalf("error quotes the identity: %v", err)
			}
		})
	}
}

func TestReadIdentityFile(t *testing.T) {
	a, b := newIdentity(t), newIdentity(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// age-keygen's own output, with a second identity and CRLF.
	good := write("good.txt", "# created: 2026-12-07T07:00:00Z\n# public key: "+a.Recipient().String()+"\n"+a.String()+"\n\n  # another\r\n"+b.String()+"\r\n")
	ids, err := ReadIdentityFile(good)
	if err != nil || len(ids) != 2 {
		t.Fatalf("ReadIdentityFile = %d identities, %v; want 2", len(ids), err)
	}
	sealed, _ := Seal(testKey(t, ECDSAP256), []age.Recipient{b.Recipient()})
	if _, err := Open(sealed, ids); err != nil {
		t.Fatalf("Open with the file's identities: %v", err)
	}

	bad := a.String()
	broken := flipLast(bad)
	tests := []struct {
		name, content, want string
	}{
		{"empty", "# nothing\n\n", "age identity file DIR/f holds no identity\nhint: make one with age-keygen -o DIR/f"},
		{"recipient instead", "# x\n" + a.Recipient().String() + "\n", "DIR/f:2: not an age X25519 identity (AGE-SECRET-KEY-1...); comments start with #"},
		{"broken and pq", broken + "\nAGE-SECRET-KEY-PQ-1ABC\n", "DIR/f:1: malformed age identity\nDIR/f:2: post-quantum age identities are not supported; use an X25519 identity (AGE-SECRET-KEY-1..., from age-keygen)"},
		{"comment without #", "key: " + bad + "\n", "DIR/f:1: not an age X25519 identity (AGE-SECRET-KEY-1...); comments start with #"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write("f", tt.content)
			_, err := ReadIdentityFile(p)
			if err == nil {
				t.Fatal("no error")
			}
			if got := strings.ReplaceAll(err.Error(), dir, "DIR"); got != tt.want {
				t.Fatalf("error\n%s\nwant\n%s", got, tt.want)
			}
			if strings.Contains(err.Error(), bad[16:40]) || strings.Contains(err.Error(), broken[16:40]) {
				t.Fatal("error quotes an identity")
			}
		})
	}
	if _, err := ReadIdentityFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestLoadIdentities(t *testing.T) {
	id := newIdentity(t)
	creds := t.TempDir()
	file := filepath.Join(t.TempDir(), "identity.txt")
	os.WriteFile(file, []byte(id.String()+"\n"), 0o600)

	if _, _, err := LoadIdentities("", ""); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("nothing given: %v; want ErrNoIdentity", err)
	}
	if ErrNoIdentity.Error() != "no age identity to open the keys of the shared state\nhint: give --key-identity-file FILE (made with age-keygen) or the systemd credential certform-key-identity" {
		t.Fatalf("ErrNoIdentity reads %q", ErrNoIdentity)
	}
	// systemd set CREDENTIALS_DIRECTORY for another credential only.
	if _, _, err := LoadIdentities("", creds); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("credential missing: %v; want ErrNoIdentity", err)
	}
	cred := filepath.Join(creds, "certform-key-identity")
	os.WriteFile(cred, []byte("# from systemd\n"+id.String()+"\n"), 0o400)
	ids, from, err := LoadIdentities("", creds)
	if err != nil || len(ids) != 1 || from != cred {
		t.Fatalf("from credential: %d, %q, %v", len(ids), from, err)
	}
	// The file, when given, wins over the credential.
	ids, from, err = LoadIdentities(file, creds)
	if err != nil || len(ids) != 1 || from != file {
		t.Fatalf("from file: %d, %q, %v", len(ids), from, err)
	}
	if _, _, err := LoadIdentities(filepath.Join(creds, "nope"), creds); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file given: %v; want not exist, not the credential", err)
	}
}

// flipLast changes the last character of a Bech32 string (its checksum)
// to another character of the Bech32 alphabet, in the string's case.
func flipLast(s string) string {
	last := s[len(s)-1]
	repl := byte('q')
	if last == 'q' || last == 'Q' {
		repl = 'p'
	}
	if last >= 'A' && last <= 'Z' {
		repl -= 'a' - 'A'
	}
	return s[:len(s)-1] + string(repl)
}
