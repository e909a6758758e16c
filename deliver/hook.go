package deliver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultHookTimeout is how long a deploy hook may run when Hook.Timeout is
// zero.
const DefaultHookTimeout = 5 * time.Minute

// MaxHookOutput is how much of a deploy hook's output Run keeps, in bytes:
// the first 64 KiB of stdout and stderr together.
const MaxHookOutput = 64 << 10

// hookGrace is how long a hook has between SIGTERM and SIGKILL, and how
// long Run reads output still open after the hook exited.
const hookGrace = 2 * time.Second

// Hook is the operator's deploy hook: a shell command run after a
// certificate was delivered, to reload the servers that use it.
//
// Command comes from certform's command line only, never from the spec
// directory: specs are written by many hands in git, and nothing in them
// may choose what runs as certform's user. A Hook is safe for concurrent
// use.
type Hook struct {
	// Command is run by /bin/sh -c.
	Command string
	// Timeout bounds one run; zero means DefaultHookTimeout.
	Timeout time.Duration
	// Label is what Run's errors call the hook; "" means "deploy hook"
	// (the post hook's are "post hook").
	Label string
}

func (h *Hook) label() string {
	if h.Label == "" {
		return "deploy hook"
	}
	return h.Label
}

// Run runs the hook's command with /bin/sh -c, in its own process group,
// with stdin from /dev/null and a minimal environment: PATH as certform has
// it, plus env (such as CERTFORM_NAME, CERTFORM_ORDER_ID,
// CERTFORM_CERT_DIR, CERTFORM_SERIAL, CERTFORM_NOT_AFTER; a PATH in env
// wins). It returns stdout and stderr interleaved as written, the first
// MaxHookOutput bytes of them, ending in a note when more was cut.
//
// When the timeout passes or ctx ends, the whole process group gets
// SIGTERM, then SIGKILL two seconds later; when Run returns after that,
// the group is gone (a process that left it, with setsid, is out of
// reach). The error then reads "deploy hook timed out after 5m0s" or
// "deploy hook stopped: context canceled" (wrapping ctx.Err()). A non-zero
// exit reads "deploy hook exited with status N". A hook that exits 0 while
// a process it started in the background keeps its output open succeeds:
// Run stops reading two seconds after the hook's exit, says so in the
// output, and leaves that process alone. Run does not retry.
func (h *Hook) Run(ctx context.Context, env map[string]string) (output []byte, err error) {
	if strings.TrimSpace(h.Command) == "" {
		return nil, fmt.Errorf("%s: the command is empty", h.label())
	}
	environ, err := h.environ(env)
	if err != nil {
		return nil, err
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(runCtx, "/bin/sh", "-c", h.Command)
	cmd.Env = environ
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &cappedBuffer{max: MaxHookOutput}
	cmd.Stdout, cmd.Stderr = out, out // one pipe: the order is kept
	k := &groupKiller{cmd: cmd}
	cmd.Cancel = k.terminate
	// After the grace (counted from the cancel, or from the hook's exit),
	// os/exec kills the shell and stops reading.
	cmd.WaitDelay = hookGrace

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s stopped: %w", h.label(), err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: starting /bin/sh: %w", h.label(), err)
	}
	err = cmd.Wait()
	cancelled := k.reap()
	switch {
	case err == nil:
	case cancelled && ctx.Err() != nil:
		err = fmt.Errorf("%s stopped: %w", h.label(), ctx.Err())
	case cancelled:
		err = fmt.Errorf("%s timed out after %v", h.label(), timeout)
	case errors.Is(err, exec.ErrWaitDelay):
		out.note(fmt.Sprintf("the hook exited, but a process it started kept its output open; stopped reading %v later", hookGrace))
		err = nil
	default:
		err = h.exitError(err)
	}
	return out.bytes(), err
}

// environ is the hook's environment, sorted: PATH as certform has it, then
// env. A name that is empty or holds '=' or NUL, or a value with NUL, is an
// error.
func (h *Hook) environ(env map[string]string) ([]string, error) {
	environ := map[string]string{}
	if path, ok := os.LookupEnv("PATH"); ok {
		environ["PATH"] = path
	}
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("%s: %q is not a valid environment variable name", h.label(), k)
		}
		if strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("%s: the value of %s holds a NUL byte", h.label(), k)
		}
		environ[k] = v
	}
	// Never nil: os/exec gives a command with a nil Env certform's own.
	out := []string{}
	for _, k := range slices.Sorted(maps.Keys(environ)) {
		out = append(out, k+"="+environ[k])
	}
	return out, nil
}

// exitError describes how the hook's shell ended: killed by a signal, a
// non-zero status, or another failure of Wait.
func (h *Hook) exitError(err error) error {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return fmt.Errorf("%s: %w", h.label(), err)
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Errorf("%s was killed by signal %d (%v)", h.label(), int(ws.Signal()), ws.Signal())
	}
	return fmt.Errorf("%s exited with status %d", h.label(), exit.ExitCode())
}

// groupKiller stops a hook's process group: SIGTERM when the run is
// cancelled, SIGKILL hookGrace later, and SIGKILL once the shell is
// reaped, so that nothing of the group outlives Run.
type groupKiller struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	timer *time.Timer
}

// terminate is the command's Cancel: SIGTERM to the group now, SIGKILL
// after hookGrace.
func (k *groupKiller) terminate() error {
	pgid := k.cmd.Process.Pid
	err := syscall.Kill(-pgid, syscall.SIGTERM)
	k.mu.Lock()
	k.timer = time.AfterFunc(hookGrace, func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	k.mu.Unlock()
	return err
}

// reap, after Wait, kills what is left of a cancelled run's group and
// reports whether the run was cancelled.
func (k *groupKiller) reap() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.timer == nil {
		return false
	}
	k.timer.Stop()
	_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
	return true
}

// cappedBuffer keeps the first max bytes written to it and counts the
// rest; it never fails a write, so the hook never blocks on its output.
type cappedBuffer struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped int64
	notes   []string
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := min(len(p), c.max-len(c.buf))
	c.buf = append(c.buf, p[:keep]...)
	c.dropped += int64(len(p) - keep)
	return len(p), nil
}

// note adds a line of certform's own at the end of the output.
func (c *cappedBuffer) note(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notes = append(c.notes, s)
}

// bytes returns the output kept, followed by the notes.
func (c *cappedBuffer) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]byte(nil), c.buf...)
	notes := c.notes
	if c.dropped > 0 {
		notes = append([]string{fmt.Sprintf("output cut at %d bytes; %d more bytes dropped", c.max, c.dropped)}, notes...)
	}
	for _, n := range notes {
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = append(out, "[certform: "+n+"]\n"...)
	}
	return out
}
