package dcv

import (
	"context"
	"errors"
	"fmt"
	"github.com/certform/certform/internal/fsx"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Webroot serves http-token values from a web server's document root:
// Path/.well-known/pki-validation/fileauth.txt holds one value per line.
// Present adds the value as a line, CleanUp removes that line and the file
// once it is empty; other lines stay. The file is world-readable (0644): the
// web server serves it.
type Webroot struct {
	Path string
}

var webrootMu sync.Mutex

// fileauthPath is where DigiCert looks for the value.
const fileauthPath = ".well-known/pki-validation/fileauth.txt"

func (p *Webroot) file() string { return filepath.Join(p.Path, filepath.FromSlash(fileauthPath)) }

// Present adds r.Value to fileauth.txt.
func (p *Webroot) Present(_ context.Context, r Record) error {
	if r.Type != TypeHTTP {
		return fmt.Errorf("webroot: cannot publish %s", r)
	}
	webrootMu.Lock()
	defer webrootMu.Unlock()
	lines, err := p.read()
	if err != nil {
		return err
	}
	if slices.Contains(lines, r.Value) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p.file()), 0o755); err != nil {
		return fmt.Errorf("webroot: %w", err)
	}
	return p.write(append(lines, r.Value))
}

// CleanUp removes r.Value from fileauth.txt.
func (p *Webroot) CleanUp(_ context.Context, r Record) error {
	webrootMu.Lock()
	defer webrootMu.Unlock()
	lines, err := p.read()
	if err != nil || !slices.Contains(lines, r.Value) {
		return err
	}
	lines = slices.DeleteFunc(lines, func(s string) bool { return s == r.Value })
	if len(lines) == 0 {
		if err := os.Remove(p.file()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("webroot: %w", err)
		}
		return nil
	}
	return p.write(lines)
}

func (p *Webroot) read() ([]string, error) {
	b, err := os.ReadFile(p.file())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("webroot: %w", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// write replaces the file atomically (fsx.WriteFile), mode 0644 so that
// the web server can read it.
func (p *Webroot) write(lines []string) error {
	data := []byte(strings.Join(lines, "\n") + "\n")
	if _, err := fsx.WriteFile(p.file(), data, fsx.Options{Mode: 0o644, TempPattern: ".fileauth-*"}); err != nil {
		return fmt.Errorf("webroot: %w", err)
	}
	return nil
}
