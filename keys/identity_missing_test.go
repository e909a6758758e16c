package keys

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestReadIdentityFile_missing: a file that cannot be opened is named, and
// the hint says what to give instead.
func TestReadIdentityFile_missing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope")
	_, err := ReadIdentityFile(path)
	want := "age identity file: open " + path + ": no such file or directory\nhint: give the file age-keygen wrote (--key-identity-file FILE), or load it as the systemd credential certform-key-identity"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if _, err := ReadIdentityFile(t.TempDir()); err == nil || !strings.HasSuffix(err.Error(), "is a directory\nhint: give the file age-keygen wrote (--key-identity-file FILE), or load it as the systemd credential certform-key-identity") {
		t.Fatalf("a folder: %v", err)
	}
}
