package cli

import (
	"context"
	"fmt"
	"github.com/spf13/pflag"
	"os"
	"time"

	"github.com/certform/certform/notify"
)

// runNotify is certform notify test --notify-config FILE: it sends a test
// event to every receiver, one attempt each, and prints each outcome;
// exit 0 when every receiver accepted it, 1 otherwise.
// notifyCmd is certform notify.
var notifyCmd = &command{
	name: "notify", args: 1,
	short:    "send a test event to each receiver of a notification config (notify test)",
	synopsis: "test --notify-config FILE",
	long:     "send a test event to each receiver of the notification config, once, and say which accepted it",
	setup:    notifySetup,
}

func notifySetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stdout, stderr := s.stdout, s.stderr
	config := fs.String("notify-config", os.Getenv("CERTFORM_NOTIFY_CONFIG"), "notification config (YAML; see docs/notifications.md); also $CERTFORM_NOTIFY_CONFIG")
	return func(args []string) int {
		if fs.NArg() != 1 || fs.Arg(0) != "test" {
			fmt.Fprintln(stderr, "certform notify: the only subcommand is test: certform notify test --notify-config FILE")
			return exitUsage
		}
		if !requireFlags(fs, stderr, "notify-config", *config) {
			return exitUsage
		}
		cfg, err := notify.Load(*config, "")
		if err != nil {
			fmt.Fprintf(stderr, "certform notify test: %v\n", err)
			return exitError
		}
		n := notify.New(cfg, notify.Options{})
		defer n.Close()
		host, _ := os.Hostname()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		code := exitOK
		for _, r := range n.Test(ctx, notify.Event{Type: notify.TypeTest, Message: fmt.Sprintf("a test event from certform notify test on %s", host)}) {
			if r.Err != nil {
				fmt.Fprintf(stdout, "%s: failed: %v\n", r.Receiver, r.Err)
				code = exitError
				continue
			}
			fmt.Fprintf(stdout, "%s: sent\n", r.Receiver)
		}
		if code != exitOK {
			fmt.Fprintln(stderr, "hint: check each failed receiver's url, url_file, secret_file or command in", *config)
		}
		return code
	}
}
