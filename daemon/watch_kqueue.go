//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package daemon

import "syscall"

// Running out of watches on macOS and the BSDs: fsnotify watches with
// kqueue there, which keeps every watched folder and every file in it
// open, so a large tree runs into the process's open-file limit (EMFILE)
// rather than a watch limit. The Go runtime raises the soft limit to the
// hard one at start; kern.maxfilesperproc caps it.
const (
	// errOutOfWatches is what adding a watch fails with when the system
	// has none left for certform.
	errOutOfWatches = syscall.EMFILE
	// unwatchedHint is the hint logged with a folder that cannot be
	// watched because of errOutOfWatches.
	unwatchedHint = "raise the open-file limit (kern.maxfilesperproc, ulimit -Hn): kqueue keeps every watched folder and file open; changes below it are seen at the next schedule tick"
)
