// Command certform keeps DigiCert CertCentral certificate orders in line with
// a directory of YAML order specs. See README.md; the commands are in
// package internal/cli.
package main

import (
	"context"
	"os"

	"github.com/certform/certform/internal/cli"
)

// main turns SIGINT and SIGTERM into the end of Main's context, runs the
// command line, and exits with its code; a second signal exits at once
// with cli.ExitInterrupted. Only main exits.
func main() {
	ctx, forced, stop := cli.Interrupts(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, os.Args[1:], os.LookupEnv, cli.Stdio{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	}()
	select {
	case code := <-done:
		stop()
		os.Exit(code)
	case <-forced:
		os.Exit(cli.ExitInterrupted)
	}
}
