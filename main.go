// Command certform keeps DigiCert CertCentral certificate orders in line with
// a directory of YAML order specs. See README.md; the commands are in
// package internal/cli.
package main

import (
	"os"

	"github.com/certform/certform/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr))
}
