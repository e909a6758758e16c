package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// journalHandler writes each record with its syslog priority in front,
// "<N>", the sd-daemon(3) convention systemd's journal reads on a
// service's stderr, so that journalctl -p warning shows WARN and ERROR
// records only. It wraps the text or JSON handler, which formats the
// record into a buffer; the prefixed line is then written in one call.
type journalHandler struct {
	mu    *sync.Mutex
	buf   *bytes.Buffer
	inner slog.Handler // writes into buf
	out   io.Writer
}

// newJournalHandler returns a journalHandler writing to out; newInner
// makes the formatting handler for the writer it is given.
func newJournalHandler(out io.Writer, newInner func(io.Writer) slog.Handler) *journalHandler {
	buf := &bytes.Buffer{}
	return &journalHandler{mu: &sync.Mutex{}, buf: buf, inner: newInner(buf), out: out}
}

func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	line := append(fmt.Appendf(nil, "<%d>", syslogPriority(r.Level)), h.buf.Bytes()...)
	_, err := h.out.Write(line)
	return err
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &journalHandler{mu: h.mu, buf: h.buf, inner: h.inner.WithAttrs(attrs), out: h.out}
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{mu: h.mu, buf: h.buf, inner: h.inner.WithGroup(name), out: h.out}
}

// syslogPriority maps a level to syslog's: 3 err, 4 warning, 6 info,
// 7 debug.
func syslogPriority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3
	case l >= slog.LevelWarn:
		return 4
	case l >= slog.LevelInfo:
		return 6
	}
	return 7
}

// isJournal reports whether w is the journal's stream: systemd sets
// JOURNAL_STREAM to "DEVICE:INODE" of the stream it connects to a
// service's stdout and stderr, and w is that very file (not a pipe or
// file it was redirected to).
func isJournal(w io.Writer) bool {
	js := os.Getenv("JOURNAL_STREAM")
	f, ok := w.(*os.File)
	if js == "" || !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && js == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}
