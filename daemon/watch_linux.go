package daemon

import "syscall"

// Running out of watches on Linux: inotify's per-user limit
// (fs.inotify.max_user_watches) reached, the watch fails with ENOSPC.
const (
	// errOutOfWatches is what adding a watch fails with when the system
	// has none left for certform.
	errOutOfWatches = syscall.ENOSPC
	// unwatchedHint is the hint logged with a folder that cannot be
	// watched because of errOutOfWatches.
	unwatchedHint = "raise fs.inotify.max_user_watches; changes below it are seen at the next schedule tick"
)
