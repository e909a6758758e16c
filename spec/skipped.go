package spec

import (
	"fmt"
	"strings"
)

// maxSkippedListed is how many passed-over entries the error of a load
// that read no spec file names; the rest are counted.
const maxSkippedListed = 10

// skippedList collects, during a load, the entries passed over that could
// have held specs: folders, and files whose name ends in .yaml or .yml in
// any case. Repository plumbing (.git, .github, .gitignore...) and the
// ignore file are not listed.
type skippedList struct {
	listed []string
	more   int
}

func (s *skippedList) add(e *entry) {
	base := e.rel[strings.LastIndex(e.rel, "/")+1:]
	if strings.HasPrefix(base, ".git") || base == IgnoreFile {
		return
	}
	lower := strings.ToLower(base)
	yamlName := strings.HasSuffix(lower, ".yaml") || strings.HasSuffix(lower, ".yml")
	name, why := e.rel, e.why
	switch {
	case e.kind == entryFile:
		if !yamlName {
			return
		}
		why = "not a spec file"
	case e.isDir:
		name += "/"
	case !yamlName:
		return
	}
	if len(s.listed) == maxSkippedListed {
		s.more++
		return
	}
	s.listed = append(s.listed, fmt.Sprintf("%s (%s)", name, why))
}

// error explains a load that read no spec file, or returns nil when
// nothing that could have held specs was passed over.
func (s *skippedList) error() *Error {
	if len(s.listed) == 0 {
		return nil
	}
	list := strings.Join(s.listed, ", ")
	if s.more > 0 {
		list += fmt.Sprintf(" and %d more", s.more)
	}
	return fileError(".", "no spec file was read; passed over: %s. certform reads the .yaml and .yml files "+
		"that are not hidden (a name starting with .), not editor leftovers and not excluded by %s, and follows a "+
		"symlink only to a target inside the spec directory", list, IgnoreFile)
}
