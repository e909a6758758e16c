//go:build linux || openbsd || dragonfly || solaris

package spec

import "syscall"

// statTimes is the modification and status-change times in sys, which
// these systems name Mtim and Ctim (stat_mtimespec.go has the others).
func statTimes(sys *syscall.Stat_t) (mtime, ctime syscall.Timespec) {
	return sys.Mtim, sys.Ctim
}
