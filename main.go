// Command certform keeps DigiCert CertCentral certificate orders in line with
// a directory of YAML order specs. See README.md.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
