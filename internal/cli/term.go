//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package cli

import (
	"os"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether f is a terminal: it answers the terminal
// ioctl (ioctlReadTermios: TCGETS on Linux, TIOCGETA on macOS and the
// BSDs). A character device that is not one, such as /dev/null (which a
// command started without stdin gets), is not.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), ioctlReadTermios)
	return err == nil
}
