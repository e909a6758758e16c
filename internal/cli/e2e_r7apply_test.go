package cli

import (
	"path/filepath"
	"testing"

	"github.com/certform/certform/digicert/digicerttest"
)

// oneSpecFake starts a fake and writes one spec (host00) to a new folder:
// it returns the fake, the environment that points at it, the spec folder
// and a state file path not created yet.
func oneSpecFake(t *testing.T) (*digicerttest.Server, []string, string, string) {
	t.Helper()
	dir := t.TempDir()
	writeSpecs(t, dir, 1)
	srv, env := startFake(t)
	return srv, env, dir, filepath.Join(t.TempDir(), "s.json")
}
