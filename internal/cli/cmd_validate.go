package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/certform/certform/spec"
)

// validateJSON is the --json output of certform validate. Its field names are
// a stable interface documented in README.md.
type validateJSON struct {
	Specs  int           `json:"specs"`
	Files  int           `json:"files"`
	Valid  []string      `json:"valid"`
	Errors []*spec.Error `json:"errors"`
}

// validateCmd is certform validate.
var validateCmd = &command{
	name: "validate", args: 0,
	short:    "check every spec below DIR; no network, no state",
	synopsis: "--dir DIR [--json] [--dcv-config FILE]",
	long:     "check every spec below DIR: exit 0 when all are valid, 1 otherwise; no network, no state",
	setup:    validateSetup,
}

func validateSetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stdout, stderr := s.stdout, s.stderr
	dir := fs.String("dir", "", "spec directory to check (required)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var dcvf dcvFlags
	dcvf.register(fs)
	return func(args []string) int {
		if dcvf.path() != "" {
			if code := validateDCV(stdout, stderr, &dcvf); code != exitOK || *dir == "" {
				return code
			}
		}
		if *dir == "" {
			requireFlags(fs, stderr, "dir", "")
			return exitUsage
		}
		res, err := spec.Load(*dir)
		if err != nil {
			// A broken .certformignore says what to write itself; the
			// --dir hint is for a folder that cannot be read.
			if ie := (*spec.IgnoreError)(nil); !errors.As(err, &ie) {
				err = withHint(err, specDirHint)
			}
			printError(stderr, "validate", err)
			return exitError
		}
		if *asJSON {
			out := validateJSON{Specs: res.Specs, Files: res.Files, Valid: []string{}, Errors: res.Errors}
			if out.Errors == nil {
				out.Errors = []*spec.Error{}
			}
			for _, o := range res.Orders {
				out.Valid = append(out.Valid, o.Name)
			}
			if code := writeJSON(stdout, stderr, "validate", out); code != exitOK {
				return code
			}
		} else {
			for _, e := range res.Errors {
				fmt.Fprintln(stdout, e)
			}
			fmt.Fprintln(stdout, res.Summary())
		}
		if len(res.Errors) > 0 {
			return exitError
		}
		return exitOK
	}
}
