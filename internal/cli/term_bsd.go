//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package cli

import "golang.org/x/sys/unix"

// ioctlReadTermios is the ioctl that reads a terminal's settings (see
// isTerminal).
const ioctlReadTermios = unix.TIOCGETA
