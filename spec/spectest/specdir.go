package spectest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ConfigMap writes files (slash paths, which may have folders) into dir the
// way the kubelet updates a ConfigMap volume (Kubernetes' AtomicWriter):
// the files go into a new hidden folder named after stamp (such as
// "..2026_11_25_10_00_00.123"), a symlink `..data_tmp` to it is renamed
// over `..data`, every top-level name gets a symlink `NAME -> ..data/NAME`
// if it has none, then the previous hidden folder and the top-level
// symlinks of names no longer in files are removed. Calling it again with
// another stamp is one update.
func ConfigMap(dir string, files map[string]string, stamp string) error {
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	top, err := writePayload(filepath.Join(dir, stamp), files)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(stamp, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	if err := linkTop(dir, top); err != nil {
		return err
	}
	if old != "" && old != stamp {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			return err
		}
	}
	return unlinkGone(dir, top)
}

// writePayload writes files into the new payload folder and returns their
// top-level names.
func writePayload(payload string, files map[string]string) (map[string]bool, error) {
	if err := os.Mkdir(payload, 0o755); err != nil {
		return nil, err
	}
	top := map[string]bool{}
	for name, content := range files {
		p := filepath.Join(payload, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return nil, err
		}
		top[strings.SplitN(name, "/", 2)[0]] = true
	}
	return top, nil
}

// linkTop links each top-level name missing in dir through ..data, in
// name order.
func linkTop(dir string, top map[string]bool) error {
	names := make([]string, 0, len(top))
	for name := range top {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			return err
		}
	}
	return nil
}

// unlinkGone removes the top-level links of names the new payload no
// longer has.
func unlinkGone(dir string, top map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") || top[e.Name()] || e.Type()&os.ModeSymlink == 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// SwapLink points the symlink link at target atomically, the way git-sync
// publishes a new checkout: `ln -s target tmp && mv -T tmp link`.
func SwapLink(link, target string) error {
	tmp := filepath.Join(filepath.Dir(link), fmt.Sprintf(".%s.tmp", filepath.Base(link)))
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}
