package main

import (
	"os/exec"
	"testing"
)

func TestDebVersion(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"release", "v1.2.0", "1.2.0"},
		{"release without v", "1.2.0", "1.2.0"},
		{"pre-release", "v1.2.0-rc.1", "1.2.0~rc.1"},
		{"pre-release with hyphens", "v1.2.0-beta-2", "1.2.0~beta.2"},
		{"past a tag", "v1.2.0-3-gabc1234", "1.2.0+3.gabc1234"},
		{"past a tag, dirty", "v1.2.0-3-gabc1234-dirty", "1.2.0+3.gabc1234.dirty"},
		{"past a pre-release", "v1.2.0-rc.1-3-gabc1234", "1.2.0~rc.1+3.gabc1234"},
		{"tag, dirty", "v1.2.0-dirty", "1.2.0+0.dirty"},
		{"no tag", "dev", "0~dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := debVersion(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("debVersion(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"v1.2.0_1", "1.2 beta", ""} {
		if got, err := debVersion(bad); err == nil {
			t.Errorf("debVersion(%q) = %q, want an error", bad, got)
		}
	}
}

// TestDebVersion_order checks with dpkg that the versions sort as releases
// go: a build without a tag before every release, a pre-release before its
// release, a build past a tag after it.
func TestDebVersion_order(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("dpkg is not installed")
	}
	order := []string{"dev", "v0.1.0", "v1.2.0-rc.1", "v1.2.0-rc.1-3-gabc1234", "v1.2.0", "v1.2.0-dirty", "v1.2.0-3-gabc1234", "v1.2.0-3-gabc1234-dirty", "v1.2.0-4-gdef5678", "v1.10.0"}
	for i := 1; i < len(order); i++ {
		a, _ := debVersion(order[i-1])
		b, _ := debVersion(order[i])
		if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg: %s (%s) is not before %s (%s)", a, order[i-1], b, order[i])
		}
	}
}
