package cli

import (
	"errors"
	"fmt"
	"io"
)

// HintError is an error that says what to do about it: the CLI prints the
// error on one line ("certform CMD: ..."), then each hint on a line of its
// own ("hint: ..."). The hints are data: whoever prints the error decides
// where they go.
type HintError struct {
	Err   error
	Hints []string
}

// Error is the error alone, without its hints.
func (e *HintError) Error() string { return e.Err.Error() }

// Unwrap returns the error the hints are about.
func (e *HintError) Unwrap() error { return e.Err }

// specDirHint is the hint of a --dir that names no spec directory.
const specDirHint = "--dir names the folder that holds your .yaml order specs"

// withHint returns err with hint, as a *HintError.
func withHint(err error, hints ...string) error { return &HintError{Err: err, Hints: hints} }

// printError writes "certform CMD: err" and, when err carries a
// *HintError, its hints as "hint: " lines.
func printError(w io.Writer, cmd string, err error) {
	fmt.Fprintf(w, "certform %s: %v\n", cmd, err)
	var he *HintError
	if errors.As(err, &he) {
		for _, h := range he.Hints {
			fmt.Fprintf(w, "hint: %s\n", h)
		}
	}
}
