package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// apacheLicenseSHA256 is the SHA-256 of the Apache License 2.0 as the
// Apache Software Foundation publishes it (LICENSE-2.0.txt; Debian's
// /usr/share/common-licenses/Apache-2.0 is the same bytes).
const apacheLicenseSHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"

// TestLicense checks that LICENSE is the canonical Apache License 2.0, not
// an edited copy (its appendix is a template that stays as published), that
// NOTICE names the project, that README says which license it is, and that
// CHANGELOG.md has its Unreleased section.
func TestLicense(t *testing.T) {
	license, err := os.ReadFile("LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(license); hex.EncodeToString(sum[:]) != apacheLicenseSHA256 {
		t.Errorf("LICENSE is not the canonical Apache License 2.0 text (sha256 %x)\nhint: cp /usr/share/common-licenses/Apache-2.0 LICENSE", sum)
	}
	notice, err := os.ReadFile("NOTICE")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(notice), "certform\nCopyright ") || !strings.Contains(string(notice), "Apache License, Version 2.0") {
		t.Errorf("NOTICE does not name the project, its copyright and license:\n%s", notice)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "Apache License 2.0") {
		t.Errorf("README.md does not say the license is the Apache License 2.0")
	}
	changelog, err := os.ReadFile("CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"# Changelog\n", "\n## [Unreleased]\n", "--max-clock-skew", "\n[Unreleased]: "} {
		if !strings.Contains(string(changelog), s) {
			t.Errorf("CHANGELOG.md has no %q", s)
		}
	}
}
