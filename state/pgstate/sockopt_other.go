//go:build !linux

package pgstate

import "syscall"

// dialControl sets nothing outside Linux, which alone has
// TCP_USER_TIMEOUT (macOS's TCP_RXT_CONNDROPTIME comes close but has not
// been tried, so it is not set). A dead database is still noticed: every
// statement runs under a time limit (opTimeout) that fails it, and
// keepalives end an idle connection. What is missing is the kernel's own
// bound on unacknowledged sent data under those limits, so a connection
// is given up on by the statement's limit only. The server's side
// (tcp_user_timeout) does not depend on the client's system.
func dialControl(_, _ string, _ syscall.RawConn) error { return nil }
