package cli

import (
	"fmt"
	"io"

	"github.com/certform/certform/spec"
)

func runSchema(stdout, stderr io.Writer, args []string) int {
	fs := newFlags(stderr, "schema", "",
		"print the JSON Schema (2020-12) of spec files and defaults.yaml, from the loader's own key table (schema/spec.json is this output)")
	if done, code := parseFlags(fs, stdout, args, 0); done {
		return code
	}
	s, err := spec.Schema()
	if err != nil {
		fmt.Fprintf(stderr, "certform schema: %v\n", err)
		return exitError
	}
	if _, err := stdout.Write(s); err != nil {
		fmt.Fprintf(stderr, "certform schema: %v\n", err)
		return exitError
	}
	return exitOK
}
