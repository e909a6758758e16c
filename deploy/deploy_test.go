// Package deploy holds the files certform ships for a platform team:
// Prometheus alert rules (prometheus/) and a Grafana dashboard
// (grafana/). It has no Go code; its tests check the files.
package deploy

import (
	"os"
	"os/exec"
	"testing"
)

// promtool returns promtool's path, skipping the test with a hint when it
// is missing, except under CI=true, where it fails.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	msg := "promtool is not installed; hint: apt-get install --no-install-recommends prometheus (Debian), or put promtool from a Prometheus release in PATH"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestRules_promtool: the alert rules pass promtool check rules, and
// promtool test rules fires (and does not fire) each alert on the input
// series of certform-rules.test.yaml.
func TestRules_promtool(t *testing.T) {
	tool := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "certform-rules.yaml"},
		{"test", "rules", "certform-rules.test.yaml"},
	} {
		cmd := exec.Command(tool, args...)
		cmd.Dir = "prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
