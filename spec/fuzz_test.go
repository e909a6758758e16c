package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader as a spec file next to a
// defaults.yaml and a CSR file, seeded with every YAML file of the bad-input
// corpus and the examples. Load must never panic, and what it returns must
// hold together: every error placed at a line and column, every valid order
// named, fingerprinted and not also listed as invalid.
func FuzzLoad(f *testing.F) {
	for _, root := range []string{"../testdata/specs", "../examples"} {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				if fi, ierr := d.Info(); ierr != nil || fi.Size() > 64<<10 {
					return nil // the oversized-file case is tested on its own
				}
				data, rerr := os.ReadFile(p)
				if rerr == nil {
					f.Add(data)
				}
			}
			return err
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	csr := makeCSR(f, "a.example.com", "a.example.com", "www.a.example.com")
	f.Add([]byte("name: a\ncommon_name: a.example.com\ndns_names: [www.a.example.com]\ncsr_file: ../a.csr\n"))
	// One directory for every input: a fuzz worker runs its inputs one at
	// a time, and only the spec file changes between them.
	dir := f.TempDir()
	for name, content := range map[string]string{"defaults.yaml": "organization_id: 1\n", "a.csr": csr} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "s"), 0o700); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, "s", "spec.yaml"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		res, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		invalid := map[string]bool{}
		for _, n := range res.Invalid {
			invalid[n] = true
		}
		for _, e := range res.Errors {
			if e.File == "" || e.Line < 1 || e.Column < 1 || e.Msg == "" {
				t.Errorf("error without a place or message: %#v", e)
			}
		}
		for _, o := range res.Orders {
			if o.Name == "" || !strings.HasPrefix(o.Fingerprint, "sha256:") || invalid[o.Name] {
				t.Errorf("inconsistent order %q (fingerprint %q, invalid %v)", o.Name, o.Fingerprint, invalid[o.Name])
			}
		}
		if len(res.Orders) > res.Specs {
			t.Errorf("%d orders from %d specs", len(res.Orders), res.Specs)
		}
	})
}
