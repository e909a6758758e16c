package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// docRef finds a section named in a message: `"Heading" in docs/x.md` or
// `docs/x.md, "Heading"` (README.md as well).
var docRef = regexp.MustCompile(`"([^"]+)" in (README\.md|docs/[a-z0-9-]+\.md)|(README\.md|docs/[a-z0-9-]+\.md), "([^"]+)"`)

// headings returns the Markdown headings of file, backticks removed.
func headings(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	inFence := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.ReplaceAll(strings.TrimSpace(strings.TrimLeft(line, "#")), "`", ""))
	}
	return out
}

// TestDocs_messageReferencesExist: every string in certform's Go source
// that sends the reader to a section ("see \"X\" in docs/f.md") names a
// heading that file has (X itself, or X before a colon), so that a message
// does not outlive the section it points to.
func TestDocs_messageReferencesExist(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, m := range docRef.FindAllStringSubmatch(s, -1) {
				heading, file := m[1], m[2]
				if heading == "" {
					heading, file = m[4], m[3]
				}
				checked++
				found := false
				for _, h := range headings(t, file) {
					if h == heading || strings.HasPrefix(h, heading+":") {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("%s: %q names no heading of %s", fset.Position(lit.Pos()), heading, file)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 5 {
		t.Errorf("checked %d references, want at least the 5 known ones: is the pattern still right?", checked)
	}
}
