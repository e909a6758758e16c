//go:build darwin || freebsd || netbsd

package spec

import "syscall"

// statTimes is the modification and status-change times in sys, which
// these systems name Mtimespec and Ctimespec (stat_mtim.go has the
// others).
func statTimes(sys *syscall.Stat_t) (mtime, ctime syscall.Timespec) {
	return sys.Mtimespec, sys.Ctimespec
}
