//go:build !linux

package pgstate

import "syscall"

// dialControl sets nothing outside Linux: keepalives and the statements'
// time limits still find a dead peer.
func dialControl(_, _ string, _ syscall.RawConn) error { return nil }
