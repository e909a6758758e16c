package serve

import (
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
)

// SystemdNotify tells systemd about the service's state ("READY=1",
// "STATUS=...", "WATCHDOG=1", "STOPPING=1") when it runs under
// Type=notify; elsewhere it does nothing. It is the Notify that certform
// run passes in daemon.Config.
func SystemdNotify(state string) {
	// Not running under systemd is not an error, and a lost notification
	// cannot be reported anywhere useful.
	_, _ = sddaemon.SdNotify(false, state)
}

// SystemdWatchdog returns systemd's watchdog interval for this service
// (WatchdogSec=, through $WATCHDOG_USEC), or 0 when there is none.
func SystemdWatchdog() time.Duration {
	d, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return d
}
