package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLogger_journal: when stderr is the journal's stream (JOURNAL_STREAM
// names its device and inode), every line starts with its syslog
// priority, in text and JSON; written elsewhere, lines are unchanged.
func TestLogger_journal(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "journal"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var st syscall.Stat_t
			if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
				t.Fatal(err)
			}
			t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
			lf := logFlags{format: format, level: "debug"}
			log, err := lf.logger(f)
			if err != nil {
				t.Fatal(err)
			}
			log = log.With("spec", "shop")
			log.Debug("d")
			log.Info("i")
			log.Warn("w")
			log.Error("e")
			data, err := os.ReadFile(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			var got []string
			for _, l := range lines {
				if !strings.Contains(l, "shop") {
					t.Errorf("attribute lost: %s", l)
				}
				got = append(got, l[:3])
			}
			if strings.Join(got, " ") != "<7> <6> <4> <3>" {
				t.Errorf("prefixes %v in:\n%s", got, data)
			}
			// Another file: no prefixes.
			other, err := os.Create(filepath.Join(t.TempDir(), "other"))
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			log, _ = lf.logger(other)
			log.Warn("w")
			if data, _ := os.ReadFile(other.Name()); strings.HasPrefix(string(data), "<") {
				t.Errorf("prefixed outside the journal: %s", data)
			}
		})
	}
}
