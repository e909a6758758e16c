package cli

import (
	"fmt"
	"github.com/spf13/pflag"

	"github.com/certform/certform/spec"
)

// schemaCmd is certform schema.
var schemaCmd = &command{
	name: "schema", args: 0,
	short:    "print the JSON Schema of spec files and defaults.yaml",
	synopsis: "",
	long:     "print the JSON Schema (2020-12) of spec files and defaults.yaml, from the loader's own key table (schema/spec.json is this output)",
	setup:    schemaSetup,
}

func schemaSetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stdout, stderr := s.stdout, s.stderr
	return func(args []string) int {
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
}
