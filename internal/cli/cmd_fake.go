package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/spf13/pflag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/certform/certform/digicert/digicerttest"
)

// fakeShutdownGrace is how long a stopping fake-server lets calls in
// flight finish before it closes their connections.
const fakeShutdownGrace = 5 * time.Second

// fakeServerCmd is certform fake-server.
var fakeServerCmd = &command{
	name: "fake-server", args: 0,
	short:    "serve a fake CertCentral on this machine to try certform by hand",
	synopsis: "[--listen ADDR] [--key KEY]",
	long:     "serve a fake CertCentral on this machine to try certform by hand, until SIGINT or SIGTERM; its orders live in memory",
	setup:    fakeServerSetup,
}

func fakeServerSetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stdout, stderr := s.stdout, s.stderr
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to serve on (port 0: a free port); the fake has no TLS and serves this machine only")
	key := fs.String("key", "", "the API key the fake accepts (default: a random one, printed at start)")
	var lf logFlags
	lf.register(fs)
	return func(args []string) int {
		logger, err := checkFakeFlags(*listen, key, &lf, stderr)
		if err != nil {
			printError(stderr, "fake-server", err)
			return exitUsage
		}
		// Order info shows disable_ct, so that a CT change made through the
		// control API (as in the console) is seen; real order info may lack it.
		fake := digicerttest.New(*key, digicerttest.WithDisableCTField())
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			fmt.Fprintf(stderr, "certform fake-server: %v\nhint: choose another port, or port 0 for a free one (--listen 127.0.0.1:0)\n", err)
			return exitError
		}
		srv := &http.Server{Handler: logFakeCalls(logger, forgetRequests(fake, fake.Handler())), ReadHeaderTimeout: 10 * time.Second}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()

		base := "http://" + ln.Addr().String()
		printFakeBanner(stdout, base+fake.BasePath, base+digicerttest.ControlPath, *key)
		logger.Info("fake CertCentral serving", "api_url", base+fake.BasePath, "control_url", base+digicerttest.ControlPath)

		select {
		case err := <-served:
			fmt.Fprintf(stderr, "certform fake-server: serving on %s: %v\n", ln.Addr(), err)
			return exitError
		case <-s.ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), fakeShutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			logger.Warn("calls still in flight were cut off", "error", err.Error())
			srv.Close()
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "certform fake-server: serving on %s: %v\n", ln.Addr(), err)
			return exitError
		}
		logger.Info("fake CertCentral stopped; its orders are gone")
		return exitOK
	}
}

// checkFakeFlags checks --listen and --key (a random key when none is
// given) and builds the logger of lf, which logs on stderr.
func checkFakeFlags(listen string, key *string, lf *logFlags, stderr io.Writer) (*slog.Logger, error) {
	if err := checkLoopbackListen(listen); err != nil {
		return nil, err
	}
	if *key == "" {
		*key = randomFakeKey()
	} else if err := checkFakeKey(*key); err != nil {
		return nil, err
	}
	return lf.logger(stderr)
}

// printFakeBanner tells the user where the fake is and how to point
// certform at it: the only place the key is ever printed.
func printFakeBanner(w io.Writer, apiURL, controlURL, key string) {
	fmt.Fprintf(w, `A fake CertCentral is serving on this machine (no TLS; its orders live in memory and go when it stops).

  API URL: %[1]s
  API key: %[3]s

Point certform at it in another shell:

  export DIGICERT_API_URL=%[1]s
  export DIGICERT_API_KEY=%[3]s

Play CertCentral's console (add orders, approve, renew, inject faults) through the control API below
%[2]s, with the same key, for example:

  curl -s -H "X-DC-DEVKEY: $DIGICERT_API_KEY" %[2]s/orders

See "Trying certform by hand" in docs/fake-server.md for every call. Ctrl-C stops it.
`, apiURL, controlURL, key)
}

// checkLoopbackListen refuses a listen address that is not on this machine
// only: the fake has no TLS and does whatever its key asks.
func checkLoopbackListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return withHint(fmt.Errorf("--listen %q is not HOST:PORT: %v", addr, strings.TrimPrefix(err.Error(), "address "+addr+": ")),
			"use a loopback address, such as --listen 127.0.0.1:8080")
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	what := "is not a loopback address"
	if host == "" {
		what = "listens on every interface"
	}
	return withHint(fmt.Errorf("--listen %s %s: the fake CertCentral has no TLS and is for this machine only", addr, what),
		"use a loopback address, such as --listen "+net.JoinHostPort("127.0.0.1", port))
}

// fakeKeyChars are the characters a --key may hold: safe in an HTTP
// header and unquoted in a shell export line.
const fakeKeyChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+/=-"

func checkFakeKey(key string) error {
	for _, c := range key {
		if !strings.ContainsRune(fakeKeyChars, c) {
			return fmt.Errorf("--key may hold only letters, digits and . _ + / = - (it goes into an HTTP header and a shell export line), not %q", c)
		}
	}
	return nil
}

// randomFakeKey returns 32 random hexadecimal digits.
func randomFakeKey() string {
	b := make([]byte, 16)
	rand.Read(b) // never returns an error (crypto/rand's documentation, Go 1.24 on)
	return hex.EncodeToString(b)
}

// forgetRequests drops the fake's record of requests after each one: tests
// assert on it, but a long-running fake-server has no reader for it, and
// it would grow with every call.
func forgetRequests(fake *digicerttest.Server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		fake.ResetRequests()
	})
}

// logFakeCalls logs every call on stderr: method, path, query, status and
// duration (never a header, so never the key). A call whose connection a
// fault dropped is logged with status 0 and dropped=true.
func logFakeCalls(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		msg := "call"
		if strings.HasPrefix(r.URL.Path, digicerttest.ControlPath) {
			msg = "control call"
		}
		status := rec.status
		if status == 0 && !rec.hijacked {
			status = http.StatusOK
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status, "duration", time.Since(start).Round(time.Millisecond).String()}
		if r.URL.RawQuery != "" {
			attrs = append(attrs, "query", r.URL.RawQuery)
		}
		if rec.hijacked {
			attrs = append(attrs, "dropped", true)
		}
		logger.Info(msg, attrs...)
	})
}

// statusRecorder remembers the status an answer was sent with. It lets the
// fake hijack the connection (its drop faults do).
type statusRecorder struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be hijacked")
	}
	r.hijacked = true
	return hj.Hijack()
}
