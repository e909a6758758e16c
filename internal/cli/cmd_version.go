package cli

import (
	"fmt"
	"github.com/spf13/pflag"
	"runtime"
	"runtime/debug"
)

// version, commit and date describe the build. make build and make dist set
// them with -ldflags "-X github.com/certform/certform/internal/cli.version=v1.2.0"
// (and .commit, .date): version is git describe's name for the commit (a tag such
// as v1.2.0, v1.2.0-3-gabc1234 past it, -dirty for uncommitted changes) or
// "dev" without a tag, commit the full commit hash, date the build time
// (RFC 3339, UTC; SOURCE_DATE_EPOCH's when set). A plain go build leaves
// them empty and certform version falls back to what Go recorded
// (buildVersion).
var (
	version = ""
	commit  = ""
	date    = ""
)

// versionInfo is what certform version prints. Its JSON field names are a
// public contract, listed in README.md ("Releases").
type versionInfo struct {
	// Version is the release ("v1.2.0"), git describe's name past a tag,
	// or "dev".
	Version string `json:"version"`
	// Commit is the full commit hash, with "-dirty" when the tree had
	// uncommitted changes; "" when the build did not record it.
	Commit string `json:"commit"`
	// Date is the build time in RFC 3339 (UTC); for a build that did not
	// stamp it, the commit's time as Go recorded it; "" when neither is
	// known.
	Date string `json:"date"`
	// Go is the Go release that built the binary ("go1.26.8").
	Go string `json:"go"`
	// OS and Arch are the binary's GOOS and GOARCH.
	OS   string `json:"os"`
	Arch string `json:"arch"`
}

// buildVersion returns the build's description: the values stamped with
// -ldflags first, then what Go recorded in bi (the module version of a go
// install of a tagged release; vcs.revision, vcs.modified and vcs.time of
// a go build in a git checkout), then "dev" for the version. bi may be nil.
func buildVersion(bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: version, Commit: commit, Date: date, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi != nil {
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		var revision, modified, vcsTime string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value
			case "vcs.time":
				vcsTime = s.Value
			}
		}
		if v.Commit == "" && revision != "" {
			v.Commit = revision
			if modified == "true" {
				v.Commit += "-dirty"
			}
		}
		if v.Date == "" {
			v.Date = vcsTime
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	return v
}

// readBuildVersion is buildVersion of the running binary.
func readBuildVersion() versionInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return buildVersion(bi)
}

// certformVersion is the version alone: the daemon logs it and the API
// client sends it in its User-Agent.
func certformVersion() string {
	return readBuildVersion().Version
}

// versionCmd is certform version.
var versionCmd = &command{
	name: "version", args: 0,
	short:    "print certform's version",
	synopsis: "[--json]",
	long:     "print certform's version, commit, build date, Go version and OS/arch",
	setup:    versionSetup,
}

func versionSetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stdout, stderr := s.stdout, s.stderr
	jsonOut := fs.Bool("json", false, "print the version as a JSON object (version, commit, date, go, os, arch)")
	return func(args []string) int {
		v := readBuildVersion()
		if *jsonOut {
			return writeJSON(stdout, stderr, "version", v)
		}
		unknown := func(s string) string {
			if s == "" {
				return "unknown"
			}
			return s
		}
		// The first line is what certform version always printed.
		fmt.Fprintf(stdout, "certform %s\n  commit:  %s\n  date:    %s\n  go:      %s\n  os/arch: %s/%s\n",
			v.Version, unknown(v.Commit), unknown(v.Date), v.Go, v.OS, v.Arch)
		return exitOK
	}
}
