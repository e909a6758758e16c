package adopt

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/certform/certform/internal/fsx"
	"github.com/certform/certform/spec"
)

// staleTempAge is how old a temporary file of adopt's must be before a
// later adopt removes it as left by a killed one (internal/cli's
// staleTempAge for its other writers): adopt takes no lock, and one
// running now is done within seconds.
const staleTempAge = 10 * time.Minute

// tempPattern names adopt's temporary files: hidden, so that
// certform's loader and watcher ignore them.
const tempPattern = ".adopt-*.tmp"

// writeNewFile writes data to dir/name atomically and never over an
// existing file (fsx.WriteFile with NoReplace), mode 0600. An existing
// name, even one created a moment before, is an error matching
// fs.ErrExist.
func writeNewFile(dir, name string, data []byte) error {
	_, err := fsx.WriteFile(filepath.Join(dir, name), data, fsx.Options{NoReplace: true, TempPattern: tempPattern})
	return err
}

// invalidWritten loads dir again and returns the errors in the files
// written, if any.
func invalidWritten(dir string, written []File) []*spec.Error {
	files := map[string]bool{}
	for _, w := range written {
		files[w.File] = true
	}
	res, err := spec.Load(dir)
	if err != nil {
		return []*spec.Error{{File: ".", Line: 1, Column: 1, Msg: err.Error()}}
	}
	var out []*spec.Error
	for _, e := range res.Errors {
		if files[e.File] {
			out = append(out, e)
		}
	}
	return out
}

// relFolder returns folder relative to dir, with forward slashes and
// symlinks resolved where they exist ("." for dir itself). It refuses a
// folder outside dir, and one that certform's loader does not read (hidden
// or an editor leftover).
func relFolder(dir, folder string) (string, error) {
	rel, ok := fsx.Rel(dir, folder)
	if !ok {
		return "", fmt.Errorf("it is outside the spec directory %s; adopt writes specs below --dir only", dir)
	}
	rel = filepath.ToSlash(rel)
	if rel != "." {
		for _, part := range strings.Split(rel, "/") {
			if spec.IgnoredName(part) {
				return "", fmt.Errorf("%q is hidden or an editor leftover, so certform would not read the specs there", part)
			}
		}
	}
	return rel, nil
}
