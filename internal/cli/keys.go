package cli

import (
	"fmt"
	"github.com/spf13/pflag"
	"os/user"
	"strconv"
	"sync"

	"github.com/certform/certform/keys"
)

// keyFlags is the key group, part of the delivery flags (apply, run): where
// the private keys certform makes are kept.
type keyFlags struct {
	// keyDir is where the keys made for specs with key_type live, for a
	// state file (default keys/ beside it).
	keyDir string
}

// register declares the key flags on fs.
func (f *keyFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.keyDir, "key-dir", "", "where the private keys certform makes for specs with key_type are kept, with a state file (folder 0700, files 0600); default keys/ beside the state file, never inside --dir")
}

// lazyKeys is the key store of a state file, opened (and its folder
// created, 0700) on first use, so that a spec tree without key_type never
// makes the folder.
type lazyKeys struct {
	dir   string
	once  sync.Once
	store *keys.Store
	err   error
}

func (l *lazyKeys) open() (*keys.Store, error) {
	l.once.Do(func() {
		l.store, l.err = keys.OpenStore(l.dir)
		if l.err == nil {
			// Leftovers of a write a kill -9 interrupted; the state's
			// lock is held, so no other process writes here.
			l.err = l.store.RemoveTemporary()
		}
		if l.err != nil {
			l.err = fmt.Errorf("key store %s: %w", l.dir, l.err)
		}
	})
	return l.store, l.err
}

// Put stores a key (keys.Store.Put).
func (l *lazyKeys) Put(name, fingerprint string, k keys.Key) error {
	s, err := l.open()
	if err != nil {
		return err
	}
	return s.Put(name, fingerprint, k)
}

// Get reads a key (keys.Store.Get).
func (l *lazyKeys) Get(name, fingerprint string) (keys.Key, error) {
	s, err := l.open()
	if err != nil {
		return keys.Key{}, err
	}
	return s.Get(name, fingerprint)
}

// Delete removes a key (keys.Store.Delete).
func (l *lazyKeys) Delete(name, fingerprint string) error {
	s, err := l.open()
	if err != nil {
		return err
	}
	return s.Delete(name, fingerprint)
}

// lookupGroup returns the id of a group given by name or number.
func lookupGroup(name string) (int, error) {
	if id, err := strconv.Atoi(name); err == nil && id >= 0 {
		return id, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(g.Gid)
}
