package dcv

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Exec runs a program for any other DNS, like lego's exec provider and
// certbot's manual hooks: COMMAND present FQDN VALUE, then COMMAND cleanup
// FQDN VALUE, without a shell. FQDN ends with a dot; the environment adds
// CERTFORM_DCV_TYPE (TXT or CNAME) and CERTFORM_DCV_ZONE. A non-zero exit is
// an error that quotes the last lines of its output.
type Exec struct {
	Command string
	// Timeout bounds each run; 2m when zero.
	Timeout time.Duration
}

// Present runs COMMAND present FQDN VALUE.
func (p *Exec) Present(ctx context.Context, r Record) error { return p.run(ctx, "present", r) }

// CleanUp runs COMMAND cleanup FQDN VALUE.
func (p *Exec) CleanUp(ctx context.Context, r Record) error { return p.run(ctx, "cleanup", r) }

func (p *Exec) run(ctx context.Context, verb string, r Record) error {
	if r.Type == TypeHTTP {
		return fmt.Errorf("exec: cannot publish %s", r)
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.Command, verb, r.Name+".", r.Value)
	cmd.Env = append(cmd.Environ(), "CERTFORM_DCV_TYPE="+r.Type, "CERTFORM_DCV_ZONE="+r.Zone)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 500 {
			msg = "..." + msg[len(msg)-500:]
		}
		if msg != "" {
			msg = ": " + msg
		}
		return fmt.Errorf("exec: %s %s %s: %w%s", p.Command, verb, r.Name+".", err, msg)
	}
	return nil
}
