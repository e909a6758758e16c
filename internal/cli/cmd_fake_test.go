package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
)

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fakeServerProc is certform fake-server running in this process.
type fakeServerProc struct {
	banner string // stdout up to the last line of the banner
	apiURL string // from the export line
	key    string // from the export line
	root   string // the server's root, http://127.0.0.1:PORT
	stderr *lockedBuffer
	exit   chan int
	stop   context.CancelFunc // as SIGINT or SIGTERM would
}

// startFakeServer runs fake-server with args (run, when not nil, in place
// of the in-process fakeServer with a context) and reads its banner.
func startFakeServer(t *testing.T, run func(stdout, stderr io.Writer) int, args ...string) *fakeServerProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if run == nil {
		run = func(stdout, stderr io.Writer) int { return fakeServer(ctx, stdout, stderr, args) }
	}
	pr, pw := io.Pipe()
	p := &fakeServerProc{stderr: &lockedBuffer{}, exit: make(chan int, 1), stop: cancel}
	go func() {
		code := run(pw, p.stderr)
		pw.Close()
		p.exit <- code
	}()
	read := make(chan error, 1)
	go func() {
		var banner strings.Builder
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			banner.WriteString(line + "\n")
			if v, ok := strings.CutPrefix(line, "  export DIGICERT_API_URL="); ok {
				p.apiURL = v
			}
			if v, ok := strings.CutPrefix(line, "  export DIGICERT_API_KEY="); ok {
				p.key = v
			}
			if strings.HasSuffix(line, "Ctrl-C stops it.") {
				p.banner = banner.String()
				read <- nil
				io.Copy(io.Discard, pr)
				return
			}
		}
		p.banner = banner.String()
		read <- fmt.Errorf("stdout ended before the banner did: %q", banner.String())
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.exit:
		case <-time.After(10 * time.Second):
			t.Error("fake-server did not stop")
		}
	})
	select {
	case err := <-read:
		if err != nil {
			t.Fatalf("%v\nstderr: %s", err, p.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no banner within 10s\nstderr: %s", p.stderr.String())
	}
	p.root = strings.TrimSuffix(p.apiURL, "/services/v2")
	return p
}

// waitExit returns fake-server's exit code.
func (p *fakeServerProc) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case code := <-p.exit:
		p.exit <- code // for the cleanup
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("fake-server did not stop within 10s")
		return -1
	}
}

// call sends a request to the fake with its key and returns the answer.
func (p *fakeServerProc) call(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.root+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-DC-DEVKEY", p.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func wantFakeBanner(apiURL, key string) string {
	root := strings.TrimSuffix(apiURL, "/services/v2")
	return `A fake CertCentral is serving on this machine (no TLS; its orders live in memory and go when it stops).

  API URL: ` + apiURL + `
  API key: ` + key + `

Point certform at it in another shell:

  export DIGICERT_API_URL=` + apiURL + `
  export DIGICERT_API_KEY=` + key + `

Play CertCentral's console (add orders, approve, renew, inject faults) through the control API below
` + root + `/_fake, with the same key, for example:

  curl -s -H "X-DC-DEVKEY: $DIGICERT_API_KEY" ` + root + `/_fake/orders

See "Trying certform by hand" in docs/fake-server.md for every call. Ctrl-C stops it.
`
}

func TestFakeServer_serves(t *testing.T) {
	p := startFakeServer(t, nil)
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[1-9][0-9]*/services/v2$`).MatchString(p.apiURL) {
		t.Errorf("API URL %q", p.apiURL)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(p.key) {
		t.Errorf("key %q, want 32 random hexadecimal digits", p.key)
	}
	if want := wantFakeBanner(p.apiURL, p.key); p.banner != want {
		t.Errorf("banner:\n%s\nwant:\n%s", p.banner, want)
	}

	// certform's own client talks to it, with the printed URL and key.
	client, err := digicert.New(p.key, digicert.WithBaseURL(p.apiURL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if orders, err := client.ListOrders(ctx, digicert.OrderFilter{}); err != nil || len(orders) != 0 {
		t.Fatalf("list: %v, %v", orders, err)
	}
	status, answer := p.call(t, "POST", "/_fake/orders", `{"common_name":"shop.example.com","dns_names":["www.shop.example.com"],"status":"needs_approval"}`)
	if status != 201 || !strings.HasPrefix(answer, `{"id":100001,"status":"needs_approval","common_name":"shop.example.com"`) {
		t.Fatalf("add: %d %s", status, answer)
	}
	o, err := client.GetOrder(ctx, 100001)
	if err != nil || o.Status != "needs_approval" || o.Certificate.CommonName != "shop.example.com" {
		t.Fatalf("get: %+v, %v", o, err)
	}
	if status, answer := p.call(t, "POST", "/_fake/orders/100001/approve", ""); status != 200 || !strings.Contains(answer, `"status":"issued"`) {
		t.Errorf("approve: %d %s", status, answer)
	}
	if o, err := client.GetOrder(ctx, 100001); err != nil || o.Status != "issued" {
		t.Errorf("get after approve: %+v, %v", o, err)
	}
	if status, answer := p.call(t, "GET", "/_fake/orders/7", ""); status != 404 || answer != `{"error":"order 7 not found"}` {
		t.Errorf("unknown order: %d %s", status, answer)
	}
	wrong, _ := digicert.New("not-the-key", digicert.WithBaseURL(p.apiURL))
	var apiErr *digicert.APIError
	if _, err := wrong.GetOrder(ctx, 100001); !errors.As(err, &apiErr) || apiErr.Status != 401 {
		t.Errorf("a wrong key: %v", err)
	}

	p.stop()
	if code := p.waitExit(t); code != 0 {
		t.Errorf("exit %d after the stop, want 0\n%s", code, p.stderr.String())
	}
	logs := p.stderr.String()
	for _, want := range []string{
		`msg="fake CertCentral serving" api_url=` + p.apiURL + ` control_url=` + p.root + `/_fake` + "\n",
		`msg=call method=GET path=/services/v2/order/certificate status=200 duration=`,
		`msg="control call" method=POST path=/_fake/orders status=201 duration=`,
		`msg="control call" method=POST path=/_fake/orders/100001/approve status=200 duration=`,
		`msg="control call" method=GET path=/_fake/orders/7 status=404 duration=`,
		`msg=call method=GET path=/services/v2/order/certificate/100001 status=401 duration=`,
		`msg="fake CertCentral stopped; its orders are gone"` + "\n",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, p.key) {
		t.Errorf("the key is in the log:\n%s", logs)
	}
	if _, err := http.Get(p.apiURL + "/order/certificate"); err == nil {
		t.Error("the port still answers after the stop")
	}
}

func TestFakeServer_keyAndListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // free again, most likely: the fake takes it
	p := startFakeServer(t, nil, "--listen", addr, "--key", "my-Key_1.2+/=", "--log-format", "json")
	if p.apiURL != "http://"+addr+"/services/v2" || p.key != "my-Key_1.2+/=" {
		t.Errorf("URL %q key %q", p.apiURL, p.key)
	}
	if status, _ := p.call(t, "GET", "/_fake/orders", ""); status != 200 {
		t.Errorf("with the given key: %d", status)
	}
	if !strings.Contains(p.stderr.String(), `"msg":"control call","method":"GET","path":"/_fake/orders","status":200`) {
		t.Errorf("json log: %s", p.stderr.String())
	}
	// A second fake on the same address cannot listen.
	var stdout, stderr bytes.Buffer
	code := fakeServer(context.Background(), &stdout, &stderr, []string{"--listen", addr})
	if want := "certform fake-server: listen tcp " + addr + ": bind: address already in use\nhint: choose another port, or port 0 for a free one (--listen 127.0.0.1:0)\n"; code != 1 || stderr.String() != want || stdout.String() != "" {
		t.Errorf("busy address: exit %d\nstdout %q\nstderr %q\nwant %q", code, stdout.String(), stderr.String(), want)
	}
}

func TestFakeServer_localhost(t *testing.T) {
	p := startFakeServer(t, nil, "--listen", "localhost:0")
	if !regexp.MustCompile(`^http://(127\.0\.0\.1|\[::1\]):[1-9][0-9]*/services/v2$`).MatchString(p.apiURL) {
		t.Errorf("API URL %q", p.apiURL)
	}
	if status, _ := p.call(t, "GET", "/services/v2/order/certificate", ""); status != 200 {
		t.Errorf("list: %d", status)
	}
}

func TestFakeServer_usage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // exact, or a prefix when it ends in "..."
		stderr string // exact, or a prefix when it ends in "..."
	}{
		{name: "every interface, IPv4", args: []string{"--listen", "0.0.0.0:8080"}, code: 2,
			stderr: "certform fake-server: --listen 0.0.0.0:8080 is not a loopback address: the fake CertCentral has no TLS and is for this machine only\n" +
				"hint: use a loopback address, such as --listen 127.0.0.1:8080\n"},
		{name: "every interface, no host", args: []string{"--listen", ":8080"}, code: 2,
			stderr: "certform fake-server: --listen :8080 listens on every interface: the fake CertCentral has no TLS and is for this machine only\n" +
				"hint: use a loopback address, such as --listen 127.0.0.1:8080\n"},
		{name: "every interface, IPv6", args: []string{"--listen", "[::]:8443"}, code: 2,
			stderr: "certform fake-server: --listen [::]:8443 is not a loopback address: the fake CertCentral has no TLS and is for this machine only\n" +
				"hint: use a loopback address, such as --listen 127.0.0.1:8443\n"},
		{name: "another machine's address", args: []string{"--listen", "192.0.2.10:80"}, code: 2,
			stderr: "certform fake-server: --listen 192.0.2.10:80 is not a loopback address: the fake CertCentral has no TLS and is for this machine only\n" +
				"hint: use a loopback address, such as --listen 127.0.0.1:80\n"},
		{name: "a host name", args: []string{"--listen", "fake.example.com:80"}, code: 2,
			stderr: "certform fake-server: --listen fake.example.com:80 is not a loopback address: the fake CertCentral has no TLS and is for this machine only\n" +
				"hint: use a loopback address, such as --listen 127.0.0.1:80\n"},
		{name: "no port", args: []string{"--listen", "127.0.0.1"}, code: 2,
			stderr: "certform fake-server: --listen \"127.0.0.1\" is not HOST:PORT: missing port in address\n" +
				"hint: use a loopback address, such as --listen 127.0.0.1:8080\n"},
		{name: "a key with a space", args: []string{"--key", "two words"}, code: 2,
			stderr: "certform fake-server: --key may hold only letters, digits and . _ + / = - (it goes into an HTTP header and a shell export line), not ' '\n"},
		{name: "a bad log format", args: []string{"--log-format", "xml"}, code: 2,
			stderr: "certform fake-server: --log-format \"xml\": use text or json\n"},
		{name: "a stray argument", args: []string{"now"}, code: 2,
			stderr: "certform fake-server: unexpected argument \"now\"\nUsage: certform fake-server [--listen ADDR] [--key KEY]\n..."},
		{name: "an unknown flag", args: []string{"--port", "8080"}, code: 2,
			stderr: "certform fake-server: unknown flag --port\nRun 'certform fake-server -h' for its flags.\n"},
		{name: "help", args: []string{"-h"}, code: 0,
			stdout: "Usage: certform fake-server [--listen ADDR] [--key KEY]\n\n" +
				"Serve a fake CertCentral on this machine to try certform by hand, until SIGINT or SIGTERM; its orders live in memory.\n\n" +
				"Flags:\n  --key string\n    \tthe API key the fake accepts (default: a random one, printed at start)\n    \tenvironment: CERTFORM_KEY\n" +
				"  --listen string\n    \tloopback address to serve on (port 0: a free port); the fake has no TLS and serves this machine only (default \"127.0.0.1:0\")\n..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runFakeServer(&stdout, &stderr, tt.args)
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			match := func(what, got, want string) {
				if prefix, ok := strings.CutSuffix(want, "..."); ok {
					if !strings.HasPrefix(got, prefix) {
						t.Errorf("%s:\n%q\nwant it to start with\n%q", what, got, prefix)
					}
				} else if got != want {
					t.Errorf("%s:\n%q\nwant\n%q", what, got, want)
				}
			}
			match("stdout", stdout.String(), tt.stdout)
			match("stderr", stderr.String(), tt.stderr)
		})
	}
}

// TestFakeServer_signals: SIGTERM and SIGINT stop it, exit 0.
func TestFakeServer_signals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			p := startFakeServer(t, func(stdout, stderr io.Writer) int { return runFakeServer(stdout, stderr, nil) })
			if status, _ := p.call(t, "GET", "/_fake/orders", ""); status != 200 {
				t.Fatalf("control call: %d", status)
			}
			// runFakeServer listens for the signals before it prints the
			// banner, so the signal cannot end the test process.
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			if code := p.waitExit(t); code != 0 {
				t.Errorf("exit %d after %s, want 0\n%s", code, sig, p.stderr.String())
			}
			if !strings.HasSuffix(p.stderr.String(), "msg=\"fake CertCentral stopped; its orders are gone\"\n") {
				t.Errorf("stderr:\n%s", p.stderr.String())
			}
		})
	}
}

// TestFakeServer_shutdownFinishesCalls: a call in flight when the stop
// comes gets its answer.
func TestFakeServer_shutdownFinishesCalls(t *testing.T) {
	p := startFakeServer(t, nil)
	if status, answer := p.call(t, "POST", "/_fake/faults", `{"method":"GET","latency":"1s"}`); status != 201 {
		t.Fatalf("inject: %d %s", status, answer)
	}
	sent := make(chan struct{})
	answered := make(chan int, 1)
	go func() {
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(sent) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", p.apiURL+"/order/certificate", nil)
		req.Header.Set("X-DC-DEVKEY", p.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- -1
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-sent
	// The request is written; give the server a moment to read it (it then
	// waits out the 1s latency), so that the stop finds it in flight.
	time.Sleep(100 * time.Millisecond)
	p.stop()
	if status := <-answered; status != 200 {
		t.Errorf("the call in flight: %d, want 200", status)
	}
	if code := p.waitExit(t); code != 0 {
		t.Errorf("exit %d", code)
	}
	if logs := p.stderr.String(); !strings.Contains(logs, "msg=call method=GET path=/services/v2/order/certificate status=200 duration=1") {
		t.Errorf("the log lacks the call:\n%s", logs)
	}
}

// fakeServer is certform fake-server with args, serving until ctx ends.
func fakeServer(ctx context.Context, stdout, stderr io.Writer, args []string) int {
	return Main(ctx, append([]string{"fake-server"}, args...), lookupEnv, Stdio{Stdout: stdout, Stderr: stderr})
}

// runFakeServer is certform fake-server with args as main runs it: until
// SIGINT or SIGTERM.
func runFakeServer(stdout, stderr io.Writer, args []string) int {
	ctx, _, stop := Interrupts(context.Background())
	defer stop()
	return fakeServer(ctx, stdout, stderr, args)
}
