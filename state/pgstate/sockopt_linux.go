package pgstate

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// dialControl sets TCP_USER_TIMEOUT on the connection to the database: sent
// data that stays unacknowledged for userTimeout fails the connection.
// Keepalives alone do not cover that case, since Linux sends no probe
// while data waits for its acknowledgement, and the kernel's own retries
// last about 15 minutes.
func dialControl(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(userTimeout.Milliseconds()))
	})
	if err != nil {
		return err
	}
	return serr
}
