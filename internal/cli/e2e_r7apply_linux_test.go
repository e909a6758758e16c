package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a new pseudo-terminal: its master, which the test reads
// and writes, and its slave, a terminal for the command.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// onTerminals runs certform with stdin and stdout on terminals of their
// own (stderr too when errTerminal, else a pipe), answer typed on stdin;
// it returns the exit code and what stdout and stderr got (line ends
// back to \n).
func onTerminals(t *testing.T, env []string, answer string, errTerminal bool, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	inM, inS := openPTY(t)
	outM, outS := openPTY(t)
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TERM=dumb"}, env...)
	cmd.Stdin, cmd.Stdout = inS, outS
	var errM, errS *os.File
	var errBuf strings.Builder
	if errTerminal {
		errM, errS = openPTY(t)
		cmd.Stderr = errS
	} else {
		cmd.Stderr = &errBuf
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The command holds the terminals now: once it exits, reading a
	// master ends (EIO).
	inS.Close()
	outS.Close()
	if errS != nil {
		errS.Close()
	}
	go io.Copy(io.Discard, inM) // the echo of the answer
	if _, err := inM.WriteString(answer); err != nil {
		t.Fatal(err)
	}
	read := func(m *os.File) <-chan string {
		c := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(m)
			c <- strings.ReplaceAll(string(b), "\r\n", "\n")
		}()
		return c
	}
	outC := read(outM)
	var errC <-chan string
	if errM != nil {
		errC = read(errM)
	}
	err := cmd.Wait()
	code = cmd.ProcessState.ExitCode()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	stdout = <-outC
	if errC != nil {
		stderr = <-errC
	} else {
		stderr = errBuf.String()
	}
	return code, stdout, stderr
}

// TestApply_jsonOnTerminal: apply --json on a terminal shows the plan it
// asks to approve, and the question, on stderr, and stdout holds only the
// JSON object; with stderr not a terminal (the plan would not be seen)
// it refuses as a usage error before any call.
func TestApply_jsonOnTerminal(t *testing.T) {
	t.Parallel()
	srv, env, dir, st := oneSpecFake(t)
	args := []string{"apply", "--dir", dir, "--state", st, "--json"}

	code, stdout, stderr := onTerminals(t, env, "no\n", true, args...)
	wantErr := "certform will make these calls:\n\n  + order  host00  (spec00.yaml:1)\n"
	tail := "\nMake these calls? Only 'yes' is accepted: certform apply: not approved; nothing was done\n"
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, wantErr) || !strings.HasSuffix(stderr, tail) || len(writes(srv)) != 0 {
		t.Fatalf("answered no: exit %d, writes %v\nstdout %q\nstderr %q", code, writes(srv), stdout, stderr)
	}

	code, stdout, stderr = onTerminals(t, env, "yes\n", true, args...)
	var got struct {
		Actions []struct{ Kind, Name string }
		Results []struct {
			Kind, Name string
			OK         bool
		}
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\nstdout %q\nstderr %q", err, stdout, stderr)
	}
	if code != 0 || len(got.Results) != 1 || !got.Results[0].OK || got.Results[0].Name != "host00" ||
		!strings.HasPrefix(stderr, wantErr) || !strings.Contains(stderr, "\nMake these calls? Only 'yes' is accepted: ") ||
		len(writes(srv)) != 1 || writes(srv)[0] != "POST /order/certificate/ssl" {
		t.Fatalf("answered yes: exit %d, writes %v, results %+v\nstdout %q\nstderr %q", code, writes(srv), got.Results, stdout, stderr)
	}

	writeSpecsFrom(t, dir, 1, 1)
	srv.ResetRequests()
	code, stdout, stderr = onTerminals(t, env, "yes\n", false, args...)
	want := "certform apply: --json on a terminal shows the plan to approve on stderr, which is not a terminal; nothing was done\n" +
		"hint: keep stderr on the terminal to review the plan and answer yes, or give --auto-approve, or apply a saved plan (plan --out FILE, then apply FILE)\n"
	if code != 2 || stdout != "" || stderr != want || len(srv.Calls()) != 0 {
		t.Fatalf("stderr not a terminal: exit %d, calls %v\nstdout %q\nstderr %q\nwant   %q", code, srv.Calls(), stdout, stderr, want)
	}
	// --auto-approve asks nothing: stdout is the JSON object alone.
	code, stdout, stderr = onTerminals(t, env, "", false, append(args, "--auto-approve")...)
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || code != 0 || strings.Contains(stderr, "Make these calls?") || len(writes(srv)) != 1 {
		t.Fatalf("--auto-approve: exit %d, %v, writes %v\nstdout %q\nstderr %q", code, err, writes(srv), stdout, stderr)
	}
}
