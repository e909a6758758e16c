package cli

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// stamp sets the values make stamps with -ldflags for one test.
func stamp(t *testing.T, v, c, d string) {
	t.Helper()
	old := [3]string{version, commit, date}
	version, commit, date = v, c, d
	t.Cleanup(func() { version, commit, date = old[0], old[1], old[2] })
}

func TestVersion_text(t *testing.T) {
	stamp(t, "v1.2.0", "0123456789abcdef0123456789abcdef01234567", "2026-12-07T06:00:00Z")
	code, stdout, stderr := runCLI("version")
	want := "certform v1.2.0\n" +
		"  commit:  0123456789abcdef0123456789abcdef01234567\n" +
		"  date:    2026-12-07T06:00:00Z\n" +
		"  go:      " + runtime.Version() + "\n" +
		"  os/arch: " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if code != 0 || stdout != want || stderr != "" {
		t.Errorf("certform version: exit %d, stdout:\n%s\nstderr %q; want exit 0, stdout:\n%s", code, stdout, stderr, want)
	}
	// --version is the same command.
	if code, stdout, _ := runCLI("--version"); code != 0 || stdout != want {
		t.Errorf("certform --version: exit %d, stdout:\n%s", code, stdout)
	}
}

func TestVersion_json(t *testing.T) {
	stamp(t, "v1.2.0-3-gabc1234-dirty", "abc1234abc1234abc1234abc1234abc1234abc12-dirty", "2026-12-07T06:00:00Z")
	code, stdout, stderr := runCLI("version", "--json")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	// Decoded into a map: the field names are the contract, and no other
	// field may appear.
	var got map[string]string
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not a JSON object of strings: %v\n%s", err, stdout)
	}
	want := map[string]string{
		"version": "v1.2.0-3-gabc1234-dirty",
		"commit":  "abc1234abc1234abc1234abc1234abc1234abc12-dirty",
		"date":    "2026-12-07T06:00:00Z",
		"go":      runtime.Version(),
		"os":      runtime.GOOS,
		"arch":    runtime.GOARCH,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("version --json (-want +got):\n%s", diff)
	}
}

func TestVersion_unstamped(t *testing.T) {
	stamp(t, "", "", "")
	code, stdout, _ := runCLI("version")
	// A test binary records no module version and (with -buildvcs=false
	// or outside git) maybe no commit: the version is dev either way.
	if code != 0 || len(stdout) < len("certform dev\n") || stdout[:len("certform dev\n")] != "certform dev\n" {
		t.Errorf("exit %d, stdout:\n%s\nwant it to start with \"certform dev\"", code, stdout)
	}
}

func TestBuildVersion(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name                  string
		version, commit, date string // stamped with -ldflags
		bi                    *debug.BuildInfo
		want                  versionInfo
	}{
		{
			name:    "stamped by make wins over what Go recorded",
			version: "v1.2.0", commit: "1111111111111111111111111111111111111111", date: "2026-12-07T06:00:00Z",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v0.9.0"}, Settings: vcs("vcs.revision", "2222222222222222222222222222222222222222", "vcs.time", "2026-01-01T00:00:00Z", "vcs.modified", "true")},
			want: versionInfo{Version: "v1.2.0", Commit: "1111111111111111111111111111111111111111", Date: "2026-12-07T06:00:00Z"},
		},
		{
			name: "go build in a git checkout: commit and its time from vcs settings",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", "2222222222222222222222222222222222222222", "vcs.time", "2026-01-01T00:00:00Z", "vcs.modified", "false")},
			want: versionInfo{Version: "dev", Commit: "2222222222222222222222222222222222222222", Date: "2026-01-01T00:00:00Z"},
		},
		{
			name: "uncommitted changes mark the commit dirty",
			bi:   &debug.BuildInfo{Settings: vcs("vcs.revision", "2222222222222222222222222222222222222222", "vcs.modified", "true")},
			want: versionInfo{Version: "dev", Commit: "2222222222222222222222222222222222222222-dirty"},
		},
		{
			name: "go install of a tagged release",
			bi:   &debug.BuildInfo{Main: debug.Module{Path: "github.com/certform/certform", Version: "v1.2.0"}},
			want: versionInfo{Version: "v1.2.0"},
		},
		{
			name: "nothing known",
			want: versionInfo{Version: "dev"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stamp(t, tt.version, tt.commit, tt.date)
			tt.want.Go, tt.want.OS, tt.want.Arch = runtime.Version(), runtime.GOOS, runtime.GOARCH
			if diff := cmp.Diff(tt.want, buildVersion(tt.bi)); diff != "" {
				t.Errorf("buildVersion (-want +got):\n%s", diff)
			}
		})
	}
}
