package spec

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIgnore_Match checks each part of the gitignore syntax ParseIgnore
// supports, one table row per path.
func TestIgnore_Match(t *testing.T) {
	tests := []struct {
		name     string
		patterns string
		path     string
		isDir    bool
		want     bool
	}{
		{name: "bare name at the root", patterns: "catalog-info.yaml", path: "catalog-info.yaml", want: true},
		{name: "bare name at any depth", patterns: "catalog-info.yaml", path: "team/sub/catalog-info.yaml", want: true},
		{name: "bare name is the whole name", patterns: "info.yaml", path: "catalog-info.yaml"},
		{name: "star", patterns: "*.json", path: "team/x.json", want: true},
		{name: "star stops at a slash", patterns: "team/*.yaml", path: "team/sub/x.yaml"},
		{name: "star in an anchored pattern", patterns: "team/*.yaml", path: "team/x.yaml", want: true},
		{name: "question mark", patterns: "spec?.yaml", path: "spec1.yaml", want: true},
		{name: "question mark is one character", patterns: "spec?.yaml", path: "spec10.yaml"},
		{name: "question mark is one rune", patterns: "caf?.yaml", path: "café.yaml", want: true},
		{name: "set", patterns: "spec[12].yaml", path: "spec2.yaml", want: true},
		{name: "set misses", patterns: "spec[12].yaml", path: "spec3.yaml"},
		{name: "range", patterns: "spec[0-9].yaml", path: "spec7.yaml", want: true},
		{name: "negated set with !", patterns: "spec[!0-9].yaml", path: "specx.yaml", want: true},
		{name: "negated set with ^", patterns: "spec[^0-9].yaml", path: "spec7.yaml"},
		{name: "] first in a set is literal", patterns: "a[]]b", path: "a]b", want: true},
		{name: "escaped star is literal", patterns: `a\*.yaml`, path: "ab.yaml"},
		{name: "escaped star matches a star", patterns: `a\*.yaml`, path: "a*.yaml", want: true},
		{name: "comment", patterns: "# catalog-info.yaml", path: "# catalog-info.yaml"},
		{name: "escaped hash", patterns: `\#notes.yaml`, path: "#notes.yaml", want: true},
		{name: "blank lines and CRLF", patterns: "\r\n\ncatalog-info.yaml\r\n\r\n", path: "catalog-info.yaml", want: true},
		{name: "trailing spaces dropped", patterns: "catalog-info.yaml   ", path: "catalog-info.yaml", want: true},
		{name: "escaped trailing space kept", patterns: `a\ `, path: "a ", want: true},
		{name: "escaped trailing space kept, not dropped", patterns: `a\ `, path: "a"},
		{name: "leading slash anchors", patterns: "/catalog-info.yaml", path: "team/catalog-info.yaml"},
		{name: "leading slash matches at the root", patterns: "/catalog-info.yaml", path: "catalog-info.yaml", want: true},
		{name: "middle slash anchors", patterns: "team/x.yaml", path: "other/team/x.yaml"},
		{name: "trailing slash: a folder", patterns: "build/", path: "build", isDir: true, want: true},
		{name: "trailing slash: not a file", patterns: "build/", path: "build"},
		{name: "trailing slash: what is inside", patterns: "build/", path: "build/x.yaml", want: true},
		{name: "trailing slash at any depth", patterns: "build/", path: "team/build/x.yaml", want: true},
		{name: "negation re-includes", patterns: "*.yaml\n!keep.yaml", path: "keep.yaml"},
		{name: "negation leaves the others", patterns: "*.yaml\n!keep.yaml", path: "drop.yaml", want: true},
		{name: "last match wins", patterns: "!keep.yaml\n*.yaml", path: "keep.yaml", want: true},
		{name: "no re-include below an excluded folder", patterns: "build/\n!build/keep.yaml", path: "build/keep.yaml", want: true},
		{name: "re-include below excluded contents", patterns: "build/*\n!build/keep.yaml", path: "build/keep.yaml"},
		{name: "escaped bang is literal", patterns: `\!x.yaml`, path: "!x.yaml", want: true},
		{name: "leading **", patterns: "**/legacy/*.yaml", path: "a/b/legacy/x.yaml", want: true},
		{name: "leading ** matches at the root", patterns: "**/legacy/*.yaml", path: "legacy/x.yaml", want: true},
		{name: "trailing **", patterns: "legacy/**", path: "legacy/a/b.yaml", want: true},
		{name: "trailing ** is not the folder itself", patterns: "legacy/**", path: "legacy", isDir: true},
		{name: "middle ** matches no folder", patterns: "a/**/b.yaml", path: "a/b.yaml", want: true},
		{name: "middle ** matches several", patterns: "a/**/b.yaml", path: "a/x/y/b.yaml", want: true},
		{name: "** in a name is a star", patterns: "a**b.yaml", path: "axxb.yaml", want: true},
		{name: "** alone matches everything", patterns: "**", path: "team/x.yaml", want: true},
		{name: "case-sensitive", patterns: "*.YAML", path: "x.yaml"},
		{name: "star matches a leading dot", patterns: "*.yaml", path: "team/.x.yaml", want: true},
		{name: "the root is never excluded", patterns: "*", path: ".", isDir: true},
		{name: "star excludes every folder", patterns: "*\n!*.yaml", path: "team/x.yaml", want: true},
		{name: "star spares files re-included at the root", patterns: "*\n!*.yaml", path: "x.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ig, err := ParseIgnore(IgnoreFile, []byte(tt.patterns))
			if err != nil {
				t.Fatal(err)
			}
			if got := ig.Match(tt.path, tt.isDir); got != tt.want {
				t.Errorf("%q: Match(%q, %v) = %v, want %v", tt.patterns, tt.path, tt.isDir, got, tt.want)
			}
		})
	}
}

// TestIgnore_nil: no ignore file matches nothing.
func TestIgnore_nil(t *testing.T) {
	var ig *Ignore
	if ig.Match("x.yaml", false) {
		t.Error("a nil Ignore matched")
	}
}

// TestParseIgnore_errors: every broken pattern is reported at its line,
// with what to write instead, and nothing is matched.
func TestParseIgnore_errors(t *testing.T) {
	text := strings.Join([]string{
		"# Backstage",
		"catalog-info.yaml",
		"spec[12.yaml",
		`trailing\`,
		"[[:alpha:]].yaml",
		"[z-a].yaml",
		"!",
		"/",
		"a//b",
		`[a\`,
		"fine/**",
	}, "\n")
	ig, err := ParseIgnore(IgnoreFile, []byte(text))
	var ie *IgnoreError
	if ig != nil || !errors.As(err, &ie) {
		t.Fatalf("got %v, %v", ig, err)
	}
	want := []string{
		`.certformignore:3:1: pattern "spec[12.yaml": '[' is not closed; write \[ for a literal [`,
		`.certformignore:4:1: pattern "trailing\\": ends in a lone \; write \\ for a literal backslash`,
		`.certformignore:5:1: pattern "[[:alpha:]].yaml": [:alpha:]: character classes are not supported; list the characters, as in [a-zA-Z]`,
		`.certformignore:6:1: pattern "[z-a].yaml": range z-a is backwards; write a-z`,
		`.certformignore:7:1: pattern "!": "!" alone negates nothing; write \! for a name starting with !`,
		`.certformignore:8:1: pattern "/": names no file or folder`,
		`.certformignore:9:1: pattern "a//b": has an empty folder name (two slashes in a row)`,
		`.certformignore:10:1: pattern "[a\\": '[' is not closed; write \[ for a literal [`,
	}
	if diff := cmp.Diff(want, errorStrings(ie.Errors)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if err.Error() != strings.Join(want, "\n") {
		t.Errorf("Error() = %q", err.Error())
	}
}

// FuzzParseIgnore feeds arbitrary text to ParseIgnore and matches what
// parses against a few paths: neither may panic, and a broken pattern is
// always reported at a line of the text.
func FuzzParseIgnore(f *testing.F) {
	for _, seed := range []string{
		"catalog-info.yaml\n", "*.json\n!keep.json\n", "/build/\n", "**/legacy/**\n", "a/**/b\n",
		"[a-z]?[!0-9]*\n", `\#x\!y\ ` + "\n", "[]]\n", "[\n", `\` + "\n", "[[:alpha:]]\n", "a**b\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ig, err := ParseIgnore(IgnoreFile, []byte(text))
		if err != nil {
			var ie *IgnoreError
			if !errors.As(err, &ie) || len(ie.Errors) == 0 {
				t.Fatalf("error %v is not an *IgnoreError with errors", err)
			}
			lines := strings.Count(text, "\n") + 1
			for _, e := range ie.Errors {
				if e.File != IgnoreFile || e.Line < 1 || e.Line > lines {
					t.Fatalf("error %v is not at a line of the text", e)
				}
			}
			return
		}
		for _, p := range []string{"a", "a/b", "x.yaml", "team/x.yaml", "a]b", "[", "é/ü.yml"} {
			ig.Match(p, false)
			ig.Match(p, true)
		}
	})
}
