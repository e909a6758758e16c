package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHook_Run(t *testing.T) {
	t.Setenv("CERTFORM_TEST_SECRET", "leaked")
	env := map[string]string{
		"CERTFORM_NAME":       "shop",
		"CERTFORM_ORDER_ID":   "100001",
		"CERTFORM_CERT_DIR":   "/etc/certs/shop",
		"CERTFORM_SERIAL":     "0a1b",
		"CERTFORM_NOT_AFTER":  "2027-01-01T00:00:00Z",
		"CERTFORM_WITH_SPACE": "a b",
	}
	tests := []struct {
		name    string
		command string
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "env passed", command: `printf '%s|%s|%s|%s|%s|%s|%s\n' "$CERTFORM_NAME" "$CERTFORM_ORDER_ID" "$CERTFORM_CERT_DIR" "$CERTFORM_SERIAL" "$CERTFORM_NOT_AFTER" "$CERTFORM_WITH_SPACE" "${CERTFORM_TEST_SECRET-unset}"`,
			env: env, want: "shop|100001|/etc/certs/shop|0a1b|2027-01-01T00:00:00Z|a b|unset\n"},
		{name: "PATH from the process", command: `printf '%s\n' "$PATH"`, want: os.Getenv("PATH") + "\n"},
		{name: "PATH from env wins", command: `printf '%s\n' "$PATH"`, env: map[string]string{"PATH": "/opt/bin"}, want: "/opt/bin\n"},
		// What the shell sets itself (PWD, SHLVL, _) aside, the hook sees
		// PATH and env only.
		{name: "minimal environment", command: `env | cut -d= -f1 | grep -v -x -e PWD -e SHLVL -e _ -e OLDPWD | sort`, env: env,
			want: "CERTFORM_CERT_DIR\nCERTFORM_NAME\nCERTFORM_NOT_AFTER\nCERTFORM_ORDER_ID\nCERTFORM_SERIAL\nCERTFORM_WITH_SPACE\nPATH\n"},
		{name: "stdin is empty", command: `cat; echo end`, want: "end\n"},
		{name: "stdout and stderr in order", command: `echo out; echo err >&2; echo out2`, want: "out\nerr\nout2\n"},
		{name: "exit status", command: `echo "nginx: configuration file test failed" >&2; exit 3`,
			want: "nginx: configuration file test failed\n", wantErr: "deploy hook exited with status 3"},
		{name: "killed by a signal", command: `echo bye; kill -9 $$`, want: "bye\n", wantErr: "deploy hook was killed by signal 9 (killed)"},
		{name: "output cut", command: `head -c 100000 /dev/zero | tr '\0' a`,
			want: strings.Repeat("a", MaxHookOutput) + "\n[certform: output cut at 65536 bytes; 34464 more bytes dropped]\n"},
		{name: "empty command", command: " ", wantErr: "deploy hook: the command is empty"},
		{name: "bad variable name", command: "true", env: map[string]string{"A=B": "c"}, wantErr: `deploy hook: "A=B" is not a valid environment variable name`},
		{name: "NUL in a value", command: "true", env: map[string]string{"A": "b\x00c"}, wantErr: `deploy hook: the value of A holds a NUL byte`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Hook{Command: tt.command}
			out, err := h.Run(context.Background(), tt.env)
			if errText(err) != tt.wantErr {
				t.Errorf("error %q, want %q", errText(err), tt.wantErr)
			}
			if string(out) != tt.want {
				t.Errorf("output %q, want %q", out, tt.want)
			}
		})
	}
}

// waitGone fails unless process pid is gone (or a zombie) within a second.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Second)
	for {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// The state follows the command name in parentheses.
		if i := bytes.LastIndexByte(data, ')'); i >= 0 && len(data) > i+2 && data[i+2] == 'Z' {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Errorf("process %d still runs: %s", pid, data)
			return
		}
	}
}

// readPID reads the pid the hook wrote to path.
func readPID(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestHook_Run_noPATHNoEnv runs a hook with no variables at all (certform
// without PATH, no env): the hook must still get an empty environment, not
// certform's own (os/exec hands down the parent's when Env is nil).
func TestHook_Run_noPATHNoEnv(t *testing.T) {
	t.Setenv("CERTFORM_TEST_SECRET", "leaked")
	t.Setenv("PATH", "")
	os.Unsetenv("PATH")
	h := &Hook{Command: `printf '%s\n' "${CERTFORM_TEST_SECRET-unset}"`}
	out, err := h.Run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "unset\n" {
		t.Errorf("output %q, want %q: the hook saw certform's environment", out, "unset\n")
	}
}

func TestHook_Run_stopped(t *testing.T) {
	tests := []struct {
		name    string
		command string
		timeout time.Duration
		cancel  time.Duration // cancel the context after this long, if > 0
		want    string
		minTime time.Duration
	}{
		// The shell waits for a child; SIGTERM ends both.
		{name: "timeout", command: `echo started; sleep 60 & echo $! >"$PIDFILE"; wait`, timeout: 200 * time.Millisecond,
			want: "deploy hook timed out after 200ms"},
		// Both ignore SIGTERM: SIGKILL comes after the grace.
		{name: "timeout, SIGTERM ignored", command: `trap '' TERM; echo started; sleep 60 & echo $! >"$PIDFILE"; wait`, timeout: 200 * time.Millisecond,
			want: "deploy hook timed out after 200ms", minTime: hookGrace},
		{name: "context cancelled", command: `echo started; sleep 60 & echo $! >"$PIDFILE"; wait`, cancel: 200 * time.Millisecond,
			want: "deploy hook stopped: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel > 0 {
				time.AfterFunc(tt.cancel, cancel)
			}
			h := &Hook{Command: tt.command, Timeout: tt.timeout}
			start := time.Now()
			out, err := h.Run(ctx, map[string]string{"PIDFILE": pidFile})
			took := time.Since(start)
			if errText(err) != tt.want {
				t.Errorf("error %q, want %q", errText(err), tt.want)
			}
			if string(out) != "started\n" {
				t.Errorf("output %q, want %q", out, "started\n")
			}
			if took < tt.minTime || took > tt.minTime+3*time.Second {
				t.Errorf("Run returned after %v, want %v to %v", took, tt.minTime, tt.minTime+3*time.Second)
			}
			waitGone(t, readPID(t, pidFile))
		})
	}
}

func TestHook_Run_cancelWraps(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&Hook{Command: "sleep 60"}).Run(ctx, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want one wrapping context.Canceled", err)
	}
}

func TestHook_Run_backgroundKeepsOutput(t *testing.T) {
	start := time.Now()
	out, err := (&Hook{Command: `(sleep 10; echo late) & echo done`}).Run(context.Background(), nil)
	if err != nil {
		t.Errorf("error %v", err)
	}
	want := "done\n[certform: the hook exited, but a process it started kept its output open; stopped reading 2s later]\n"
	if string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if took := time.Since(start); took > hookGrace+3*time.Second {
		t.Errorf("Run returned after %v", took)
	}
}
