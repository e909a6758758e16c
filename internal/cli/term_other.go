//go:build !linux

package cli

import "os"

// isTerminal reports whether f is a character device other than the null
// device: certform runs on Linux, where term_linux.go asks the terminal
// itself; this keeps other builds working.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && f.Name() != os.DevNull
}
