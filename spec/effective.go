package spec

import (
	"errors"
	"fmt"
	"github.com/certform/certform/internal/fsx"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// DefaultsFor returns the values the defaults.yaml (or defaults.yml) files
// of folder and of every folder above it, up to dir, give a spec written
// in folder: the chain Load applies, merged the way Load merges it (a
// nearer file wins; validity_years and validity_days count as one
// setting). Values are keyed by spec key and are a string, an int, a bool
// or a []string, as written; a key no defaults file sets is absent.
//
// folder is relative to dir, or absolute; symlinks in it are resolved, as
// Load reads files where they live. It must be dir or below it and must not
// be hidden or an editor leftover (Load would not read it); it need not
// exist yet. The errors are those Load reports for these defaults files;
// while there are any, the map may lack values the specs would get once
// they are fixed. The error is for a dir that cannot be read or a folder
// outside it.
func DefaultsFor(dir, folder string) (map[string]any, []*Error, error) {
	root, err := specRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	rel, err := defaultsFolder(root, dir, folder)
	if err != nil {
		return nil, nil, err
	}
	l := &loader{root: root}
	defaults, errs := l.loadDefaultsAbove(rel)
	chain, _ := defaultsChain(rel, defaults)
	eff := fields{}
	for _, df := range chain {
		merge(eff, df.fields)
	}
	out := make(map[string]any, len(eff))
	for k, v := range eff {
		out[k] = v.v
	}
	sortErrors(errs)
	return out, errs, nil
}

// specRoot returns the real path of the spec directory dir, or an error
// naming dir when it cannot be read or is not a directory.
func specRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("spec directory %s: %w", dir, err)
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("spec directory %s: %w", dir, unwrapPathError(err))
	}
	if fi, err := os.Stat(root); err != nil {
		return "", fmt.Errorf("spec directory %s: %w", dir, unwrapPathError(err))
	} else if !fi.IsDir() {
		return "", fmt.Errorf("spec directory %s: not a directory", dir)
	}
	return root, nil
}

// defaultsFolder returns folder relative to root (with forward slashes),
// or an error when it is outside root or in a folder Load does not read.
func defaultsFolder(root, dir, folder string) (string, error) {
	full := folder
	if !filepath.IsAbs(full) {
		full = filepath.Join(root, full)
	}
	rel, inside := fsx.Rel(root, full)
	if !inside {
		return "", fmt.Errorf("folder %s is outside the spec directory %s", folder, dir)
	}
	rel = filepath.ToSlash(rel)
	if rel != "." {
		for _, part := range strings.Split(rel, "/") {
			if IgnoredName(part) {
				return "", fmt.Errorf("folder %s: %q is hidden or an editor leftover, so certform does not read specs there", folder, part)
			}
		}
	}
	return rel, nil
}

// loadDefaultsAbove loads the defaults files of folder rel and of every
// folder above it, by folder, with their errors.
func (l *loader) loadDefaultsAbove(rel string) (map[string]*defaultsFile, []*Error) {
	defaults := map[string]*defaultsFile{}
	var errs []*Error
	for f := rel; ; f = path.Dir(f) {
		// defaults.yaml before defaults.yml: the order Load walks them in.
		for _, name := range []string{"defaults.yaml", "defaults.yml"} {
			frel := path.Join(f, name)
			fi, err := os.Lstat(filepath.Join(l.root, filepath.FromSlash(frel)))
			switch {
			case errors.Is(err, fs.ErrNotExist):
				continue
			case err != nil:
				errs = append(errs, fileError(frel, "cannot read: %v", unwrapPathError(err)))
				continue
			case fi.Mode()&fs.ModeSymlink != 0 || fi.IsDir():
				// Load never reads a defaults file through a symlink,
				// and a folder of that name is a folder.
				continue
			}
			if first, ok := defaults[f]; ok {
				errs = append(errs, fileError(frel, "a second defaults file in this folder (%s is the first); merge them into one", first.rel))
				continue
			}
			df := l.loadDefaults(frel)
			defaults[f] = df
			errs = append(errs, df.errs...)
		}
		if f == "." {
			return defaults, errs
		}
	}
}

// CheckDNSName returns nil when name is a DNS name that common_name and
// dns_names accept (lower-case letters, digits and '-' in labels of 1-63
// characters, at least two labels, at most 253 characters, an optional
// leading "*."), and otherwise an error saying why, such as
// `"exa mple.com" is not a DNS name: " " is not allowed (use a-z, 0-9 and '-')`.
func CheckDNSName(name string) error {
	if msg := checkDNSName(name); msg != "" {
		return fmt.Errorf("%q %s", name, msg)
	}
	return nil
}
