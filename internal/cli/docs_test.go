package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/certform/certform/spec"
)

// commandLines are the command lines whose flags the docs must cover: every
// command, and the subcommands of state and notify.
func commandLines() [][]string {
	var out [][]string
	for _, c := range commands() {
		switch c.name {
		case "help":
		case "state":
			out = append(out, []string{"state", "migrate"}, []string{"state", "pull"})
		case "notify":
			out = append(out, []string{"notify", "test"})
		default:
			out = append(out, []string{c.name})
		}
	}
	return out
}

var helpFlag = regexp.MustCompile(`(?m)^  --([a-z0-9-]+)`)

// flagsOf returns the flags that certform CMD -h lists.
func flagsOf(t *testing.T, cmd []string) []string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append(slices.Clone(cmd), "-h"), &stdout, &stderr); code != 0 {
		t.Fatalf("certform %s -h: exit %d\n%s", strings.Join(cmd, " "), code, stderr.String())
	}
	var flags []string
	for _, m := range helpFlag.FindAllStringSubmatch(stdout.String(), -1) {
		flags = append(flags, m[1])
	}
	return flags
}

func readDocs(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("docs/*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("docs: %v %v", files, err)
	}
	docs := map[string]string{}
	for _, f := range append(files, "README.md") {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[f] = string(data)
	}
	return docs
}

// TestDocs_everyCommandFlagAndKey: every command, every flag of each
// (as its -h lists them) and every spec key appears in docs/.
func TestDocs_everyCommandFlagAndKey(t *testing.T) {
	docs := readDocs(t)
	var all strings.Builder
	for f, text := range docs {
		if f != "README.md" {
			all.WriteString(text)
		}
	}
	text := all.String()
	for _, cmd := range commandLines() {
		name := "certform " + strings.Join(cmd, " ")
		if !strings.Contains(text, name) {
			t.Errorf("docs/ never mention %s", name)
		}
		for _, f := range flagsOf(t, cmd) {
			if !regexp.MustCompile(`--` + regexp.QuoteMeta(f) + `\b`).MatchString(text) {
				t.Errorf("docs/ never mention %s's --%s", name, f)
			}
		}
	}
	specs := docs["docs/specs.md"]
	for _, k := range spec.Keys() {
		if !strings.Contains(specs, "`"+k+"`") {
			t.Errorf("docs/specs.md never mentions the spec key `%s`", k)
		}
	}
}

var (
	codeSpan  = regexp.MustCompile("`(certform [^`]+)`")
	flagToken = regexp.MustCompile(`(?:^|\s)--([a-z0-9-]+)`)
)

// TestDocs_examplesNameRealFlags: each certform command line in README's
// and docs' examples (shell blocks and inline code) names only flags that
// command has.
func TestDocs_examplesNameRealFlags(t *testing.T) {
	flags := map[string][]string{}
	for _, cmd := range commandLines() {
		flags[strings.Join(cmd, " ")] = flagsOf(t, cmd)
	}
	docs := readDocs(t)
	names := make([]string, 0, len(docs))
	for f := range docs {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		for _, line := range exampleLines(docs[f]) {
			i := strings.Index(line, "certform ")
			rest := strings.Fields(line[i+len("certform "):])
			if len(rest) == 0 {
				continue
			}
			cmd := rest[0]
			if len(rest) > 1 && (cmd == "state" || cmd == "notify") {
				cmd += " " + rest[1]
			}
			known, ok := flags[cmd]
			if !ok {
				continue // "certform keeps...", a file name, prose
			}
			// The command ends at a pipe, a list or a comment.
			c := line[i:]
			for _, sep := range []string{" | ", " && ", " || ", "; ", " # ", " > ", " 2>"} {
				c, _, _ = strings.Cut(c, sep)
			}
			for _, m := range flagToken.FindAllStringSubmatch(c, -1) {
				if !slices.Contains(known, m[1]) {
					t.Errorf("%s: %q: certform %s has no --%s", f, strings.TrimSpace(c), cmd, m[1])
				}
			}
		}
	}
}

// exampleLines returns the command lines of a Markdown text: the lines of
// sh blocks (continuations joined) that run certform, and inline code
// spans that start with "certform ".
func exampleLines(text string) []string {
	var out []string
	inBlock, shell := false, false
	var cont string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock
			shell = inBlock && (line == "```sh" || line == "```shell" || line == "```bash" || line == "```console")
			continue
		}
		if inBlock {
			if !shell {
				continue
			}
			if strings.HasSuffix(line, "\\") {
				cont += strings.TrimSuffix(line, "\\") + " "
				continue
			}
			line, cont = cont+line, ""
			if strings.Contains(line, "certform ") {
				out = append(out, line)
			}
			continue
		}
		for _, m := range codeSpan.FindAllStringSubmatch(line, -1) {
			out = append(out, m[1])
		}
	}
	return out
}
