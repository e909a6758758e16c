// Package view renders what certform's commands found and did, as text for
// a terminal or JSON for a program: the status table, the deliveries of a
// cycle and the counts of a summary. The commands decide; view only
// writes. (The plan's own rendering stays with the planner, in package
// reconcile.)
package view

import (
	"encoding/json"
	"fmt"
	"io"
)

// CountOf returns "1 order", "2 orders".
func CountOf(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// FailedCount returns ", 2 failed", or "" for none: the tail of a
// summary line.
func FailedCount(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d failed", n)
}

// JSON writes v as indented JSON, the form of every --json output.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
