// Package location says where certform's state is, from --state and
// --workspace: a state file (the default) or, for postgres://... (or
// postgresql://), a workspace in a PostgreSQL database (package pgstate).
// It is the one place that tells the two apart: Open, Read, Exists and
// Moved work for both, so the commands never dispatch on the kind. It
// lives apart from package state because pgstate builds on state.
package location

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/certform/certform/state"
	"github.com/certform/certform/state/pgstate"
)

// Location is where a state is. The zero value is no location; build one
// with Parse or File.
type Location struct {
	path string          // the state file, when pg is nil
	pg   *pgstate.Config // the PostgreSQL workspace
}

// Parse parses --state and --workspace. --workspace with a state file is
// refused: it would be silently ignored.
func Parse(location, workspace string) (Location, error) {
	if !pgstate.IsURL(location) {
		if workspace != "" {
			return Location{}, fmt.Errorf("--workspace %s: a workspace is part of a PostgreSQL state (--state postgres://...); a state file has none", workspace)
		}
		return Location{path: location}, nil
	}
	cfg, err := pgstate.Parse(location, workspace)
	if err != nil {
		return Location{}, err
	}
	return Location{pg: cfg}, nil
}

// File is the state file at path.
func File(path string) Location { return Location{path: path} }

// IsURL reports whether s names a PostgreSQL state (postgres:// or
// postgresql://) rather than a state file.
func IsURL(s string) bool { return pgstate.IsURL(s) }

// Path is the state file's path as given, or "" for a PostgreSQL state.
func (l Location) Path() string { return l.path }

// Shared reports whether the state is a PostgreSQL workspace, which
// standby servers share.
func (l Location) Shared() bool { return l.pg != nil }

// Name names the state in messages: "state file PATH", or the PostgreSQL
// workspace and its URL without password.
func (l Location) Name() string {
	if l.pg != nil {
		return l.pg.Name()
	}
	return "state file " + l.path
}

// Flags are the command-line flags that name this location.
func (l Location) Flags() string {
	if l.pg != nil {
		return "--state " + l.pg.URL + " --workspace " + l.pg.Workspace
	}
	return "--state " + l.path
}

// Backend returns the Backend that holds a PostgreSQL state; it is nil
// for a state file (state.Open reaches the file itself).
func (l Location) Backend() state.Backend {
	if l.pg == nil {
		return nil
	}
	return pgstate.New(l.pg)
}

// Open takes the state's lock and reads it (state.Open or
// state.OpenBackend).
func (l Location) Open() (*state.Store, error) {
	if l.pg == nil {
		return state.Open(l.path)
	}
	return state.OpenBackend(l.Backend())
}

// ReadTimeout bounds a read of the state from PostgreSQL without a lock
// (plan, status, adopt, state pull).
const ReadTimeout = time.Minute

// Read reads the state without a lock, for the commands that only read it
// (plan, status, adopt, state pull): a state file missing next to its lock
// file is refused (state.CheckMissing); a PostgreSQL workspace that does
// not exist yet is an empty state, as a state file not created yet is. A
// state that state migrate moved away is refused (state.CheckMoved).
func (l Location) Read() (*state.File, error) {
	if l.pg == nil {
		if err := state.CheckMissing(l.path); err != nil {
			return nil, err
		}
		f, err := state.Read(l.path)
		if err != nil {
			return nil, err
		}
		return f, state.CheckMoved(l.Name(), f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ReadTimeout)
	defer cancel()
	f, err := pgstate.Read(ctx, l.pg)
	if err != nil {
		return nil, err
	}
	return f, state.CheckMoved(l.Name(), f)
}

// ReadChecked returns, for a state file, the fingerprints it records as
// checked, as a hint read without decoding it (state.ReadChecked); nil for
// a PostgreSQL state or a file that cannot be read.
func (l Location) ReadChecked() map[string]bool {
	if l.pg != nil {
		return nil
	}
	return state.ReadChecked(l.path)
}

// Exists reports whether the state exists: the state file, or the
// workspace in the database (asked within ReadTimeout).
func (l Location) Exists() (bool, error) {
	if l.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), ReadTimeout)
		defer cancel()
		return pgstate.Exists(ctx, l.pg)
	}
	if _, err := os.Stat(l.path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return true, nil
}

// Moved is the mark state migrate leaves on the state it copied from when
// l is where the state went: its name and flags, without the PostgreSQL
// user (and never a password), and a state file's absolute real path.
func (l Location) Moved(at time.Time) state.Moved {
	if l.pg != nil {
		return state.Moved{To: l.pg.PublicName(), Flags: "--state " + l.pg.PublicURL() + " --workspace " + l.pg.Workspace, At: at.UTC()}
	}
	p := l.path
	if real, err := state.RealPath(p); err == nil {
		p = real
	}
	return state.Moved{To: "state file " + p, Flags: "--state " + p, At: at.UTC()}
}
