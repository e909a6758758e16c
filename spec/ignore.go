package spec

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// IgnoreFile is the name of the file, at the root of the spec directory
// only, whose patterns exclude files and folders from Load, LastChange and
// the daemon's watcher (see ParseIgnore for the syntax).
const IgnoreFile = ".certformignore"

// Ignore is a parsed .certformignore: gitignore patterns, matched against
// paths relative to the spec directory. The zero value and nil match
// nothing. It is immutable once parsed and safe for concurrent use.
type Ignore struct {
	patterns []ignorePattern
}

// ignorePattern is one line of an ignore file.
type ignorePattern struct {
	line    int
	neg     bool // "!": a match re-includes
	dirOnly bool // trailing "/": matches folders only
	segs    []ignoreSeg
}

// ignoreSeg is one slash-separated part of a pattern: a glob matched
// against one path element, or "**" (anyDirs), which matches any number of
// path elements: zero or more where it leads or sits between slashes, one
// or more where it ends the pattern ("dir/**" matches what is inside dir,
// not dir itself).
type ignoreSeg struct {
	anyDirs bool
	glob    string
}

// IgnoreError is an ignore file that cannot be read or has patterns that do
// not parse. Load refuses to read a spec directory while its ignore file is
// broken, since which files are specs is then unknown.
type IgnoreError struct {
	// Errors are the problems, each at its file and line.
	Errors []*Error
}

// Error lists the problems, one a line, each as "file:line:1: message".
func (e *IgnoreError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, err := range e.Errors {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "\n")
}

// ParseIgnore parses the text of an ignore file; name is the file's path
// relative to the spec directory, for errors. The syntax is gitignore's
// (https://git-scm.com/docs/gitignore), with these parts:
//
//   - a blank line matches nothing; a line starting with # is a comment
//     (write \# for a name starting with #); trailing spaces are dropped
//     unless escaped with a backslash;
//   - ! negates: a path the pattern matches is included again, unless a
//     folder above it is excluded (a file in an excluded folder cannot be
//     re-included, as in git); write \! for a name starting with !;
//   - a pattern ending in / matches folders only (and so everything in them);
//   - a pattern with a / at its start or in its middle is anchored: it is
//     matched against the whole path from the spec directory, and a leading
//     / only anchors; a pattern without one matches a name at any depth;
//   - * matches anything but /, ? one character but /, [a-z0-9_] and
//     [!a-z] (or [^a-z]) one character of a set or outside it, and a
//     backslash makes the next character literal;
//   - ** between slashes, leading (**/name) or trailing (dir/**) matches
//     any number of folders; elsewhere (a**b) it is a plain *.
//
// Matching is case-sensitive. Not supported, and reported as an error so
// that no pattern silently means something else: POSIX classes such as
// [[:alpha:]]. Only the file at the root of the spec directory counts; a
// .certformignore in a subfolder is a hidden file like any other, and
// git's other sources (.gitignore, .git/info/exclude, core.excludesFile)
// are not read. Every broken line is reported, each as an *Error at its
// line, in an *IgnoreError; the Ignore is nil then.
func ParseIgnore(name string, data []byte) (*Ignore, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	ig := &Ignore{}
	var errs []*Error
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSuffix(raw, "\r")
		p, msg := parseIgnoreLine(line)
		if msg != "" {
			errs = append(errs, &Error{File: name, Line: i + 1, Column: 1, Msg: fmt.Sprintf("pattern %q: %s", line, msg)})
			continue
		}
		if p != nil {
			p.line = i + 1
			ig.patterns = append(ig.patterns, *p)
		}
	}
	if len(errs) > 0 {
		return nil, &IgnoreError{Errors: errs}
	}
	return ig, nil
}

// parseIgnoreLine parses one line: nil for a blank line or a comment, or a
// message saying what is wrong with it.
func parseIgnoreLine(line string) (*ignorePattern, string) {
	line = trimIgnoreLine(line)
	if line == "" {
		return nil, ""
	}
	p := &ignorePattern{}
	if strings.HasPrefix(line, "!") {
		p.neg = true
		line = line[1:]
		if line == "" {
			return nil, `"!" alone negates nothing; write \! for a name starting with !`
		}
	}
	if strings.HasSuffix(line, "/") && !strings.HasSuffix(line, `\/`) {
		p.dirOnly = true
		line = strings.TrimSuffix(line, "/")
	}
	anchored := strings.HasPrefix(line, "/")
	line = strings.TrimPrefix(line, "/")
	if line == "" {
		return nil, "names no file or folder"
	}
	segs, msg := ignoreSegs(line, anchored)
	if msg != "" {
		return nil, msg
	}
	p.segs = segs
	return p, ""
}

// trimIgnoreLine returns an ignore file's line without its trailing
// spaces (the last one stays when escaped), or "" for a comment.
func trimIgnoreLine(line string) string {
	if strings.HasPrefix(line, "#") {
		return ""
	}
	// Trailing spaces go, unless the last one is escaped: count the
	// backslashes before it.
	for strings.HasSuffix(line, " ") {
		n := 0
		for i := len(line) - 2; i >= 0 && line[i] == '\\'; i-- {
			n++
		}
		if n%2 == 1 {
			break
		}
		line = line[:len(line)-1]
	}
	return line
}

// ignoreSegs splits a pattern (without its "!", leading and trailing "/")
// into its segments; a pattern with a "/" in it is anchored, and an
// unanchored one matches at any depth. The message says why a pattern is
// not valid.
func ignoreSegs(line string, anchored bool) ([]ignoreSeg, string) {
	parts := strings.Split(line, "/")
	if len(parts) > 1 {
		anchored = true
	}
	var segs []ignoreSeg
	for _, part := range parts {
		if part == "" {
			return nil, "has an empty folder name (two slashes in a row)"
		}
		if msg := checkGlob(part); msg != "" {
			return nil, msg
		}
		if part == "**" && anchored {
			segs = append(segs, ignoreSeg{anyDirs: true})
			continue
		}
		segs = append(segs, ignoreSeg{glob: part})
	}
	if !anchored {
		// A bare name matches at any depth.
		segs = append([]ignoreSeg{{anyDirs: true}}, segs...)
	}
	return segs, ""
}

// checkGlob returns what is wrong with one segment of a pattern, or "".
func checkGlob(g string) string {
	for i := 0; i < len(g); i++ {
		switch g[i] {
		case '\\':
			if i+1 >= len(g) {
				return `ends in a lone \; write \\ for a literal backslash`
			}
			i++
		case '[':
			end, msg := parseClass(g, i, nil)
			if msg != "" {
				return msg
			}
			i = end - 1
		}
	}
	return ""
}

// parseClass reads the bracket expression starting at g[start] ('['),
// calling match (when not nil) with each range of the set (lo == hi for a
// single character). It returns the index just past the closing ']', or a
// message saying what is wrong.
func parseClass(g string, start int, match func(lo, hi rune)) (int, string) {
	i := start + 1
	if i < len(g) && (g[i] == '!' || g[i] == '^') {
		i++
	}
	first := true
	for {
		if i >= len(g) {
			return 0, `'[' is not closed; write \[ for a literal [`
		}
		if g[i] == ']' && !first {
			return i + 1, ""
		}
		first = false
		if g[i] == '[' && i+1 < len(g) && (g[i+1] == ':' || g[i+1] == '=' || g[i+1] == '.') {
			if end := strings.Index(g[i+2:], string(g[i+1])+"]"); end >= 0 {
				return 0, fmt.Sprintf("%s: character classes are not supported; list the characters, as in [a-zA-Z]", g[i:i+2+end+2])
			}
		}
		lo, n, msg := classChar(g, i)
		if msg != "" {
			return 0, msg
		}
		i += n
		hi := lo
		if i+1 < len(g) && g[i] == '-' && g[i+1] != ']' {
			var m int
			hi, m, msg = classChar(g, i+1)
			if msg != "" {
				return 0, msg
			}
			if hi < lo {
				return 0, fmt.Sprintf("range %c-%c is backwards; write %c-%c", lo, hi, hi, lo)
			}
			i += 1 + m
		}
		if match != nil {
			match(lo, hi)
		}
	}
}

// classChar reads one character of a bracket expression at g[i], which
// may be escaped with a backslash, and returns it with its length.
func classChar(g string, i int) (rune, int, string) {
	if g[i] == '\\' {
		if i+1 >= len(g) {
			return 0, 0, `'[' is not closed; write \[ for a literal [`
		}
		r, n := utf8.DecodeRuneInString(g[i+1:])
		return r, 1 + n, ""
	}
	r, n := utf8.DecodeRuneInString(g[i:])
	return r, n, ""
}

// matchClass reports whether r is in the (well-formed) bracket expression
// at g[start], and the index just past it.
func matchClass(g string, start int, r rune) (bool, int) {
	negate := start+1 < len(g) && (g[start+1] == '!' || g[start+1] == '^')
	in := false
	end, _ := parseClass(g, start, func(lo, hi rune) {
		if lo <= r && r <= hi {
			in = true
		}
	})
	return in != negate, end
}

// globMatch reports whether name (one path element) matches the
// (well-formed) glob g: *, ?, bracket expressions and backslash escapes.
func globMatch(g, name string) bool {
	gi, ni := 0, 0
	starG, starN := -1, -1 // where to resume after the last *
	for gi < len(g) || ni < len(name) {
		if gi < len(g) {
			switch c := g[gi]; c {
			case '*':
				starG, starN = gi, ni
				gi++
				continue
			case '?':
				if ni < len(name) {
					_, n := utf8.DecodeRuneInString(name[ni:])
					gi, ni = gi+1, ni+n
					continue
				}
			case '[':
				if ni < len(name) {
					r, n := utf8.DecodeRuneInString(name[ni:])
					if ok, end := matchClass(g, gi, r); ok {
						gi, ni = end, ni+n
						continue
					}
				}
			default:
				lit := gi
				if c == '\\' {
					lit = gi + 1
				}
				if ni < len(name) {
					r, n := utf8.DecodeRuneInString(g[lit:])
					nr, nn := utf8.DecodeRuneInString(name[ni:])
					if r == nr {
						gi, ni = lit+n, ni+nn
						continue
					}
				}
			}
		}
		if starG >= 0 && starN < len(name) {
			_, n := utf8.DecodeRuneInString(name[starN:])
			starN += n
			gi, ni = starG+1, starN
			continue
		}
		return false
	}
	return true
}

// matchSegs reports whether the path elements match the pattern's segments.
func matchSegs(segs []ignoreSeg, parts []string) bool {
	for len(segs) > 0 {
		if segs[0].anyDirs {
			rest := segs[1:]
			if len(rest) == 0 {
				return len(parts) > 0
			}
			for i := 0; i <= len(parts); i++ {
				if matchSegs(rest, parts[i:]) {
					return true
				}
			}
			return false
		}
		if len(parts) == 0 || !globMatch(segs[0].glob, parts[0]) {
			return false
		}
		segs, parts = segs[1:], parts[1:]
	}
	return len(parts) == 0
}

// Match reports whether the slash-separated path rel (relative to the spec
// directory; isDir when it is a folder) is excluded: by the last pattern
// that matches it, or because a folder above it is excluded.
func (ig *Ignore) Match(rel string, isDir bool) bool {
	excluded, _ := ig.match(rel, isDir)
	return excluded
}

// match is Match, with the line of the pattern that decided (0 when none
// did). It checks the folders above rel first.
func (ig *Ignore) match(rel string, isDir bool) (bool, int) {
	if ig == nil || len(ig.patterns) == 0 || rel == "." || rel == "" {
		return false, 0
	}
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		if ex, line := ig.matchOne(parts[:i], true); ex {
			return true, line
		}
	}
	return ig.matchOne(parts, isDir)
}

// matchOne applies the patterns to one path, its folders not considered:
// the last pattern that matches decides.
func (ig *Ignore) matchOne(parts []string, isDir bool) (bool, int) {
	if ig == nil {
		return false, 0
	}
	for i := len(ig.patterns) - 1; i >= 0; i-- {
		p := &ig.patterns[i]
		if p.dirOnly && !isDir {
			continue
		}
		if matchSegs(p.segs, parts) {
			return !p.neg, p.line
		}
	}
	return false, 0
}
