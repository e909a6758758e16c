// Command mkdeb builds certform's Debian package with nfpm
// (github.com/goreleaser/nfpm/v2, used as a library). make dist runs it once
// per architecture; see README.md, "Releases".
//
// The package holds what make install installs, at Debian's paths:
//
//	/usr/bin/certform                          0755  the binary given with --binary
//	/usr/lib/systemd/system/UNIT               0644  each of --units, @BINDIR@ and @DOCDIR@ filled in
//	/usr/share/doc/certform/                   0755  README.md, LICENSE, NOTICE, CHANGELOG.md,
//	                                                 docs/ when the tree has it, THIRD_PARTY_NOTICES,
//	                                                 copyright (Debian's machine-readable format)
//	/etc/certform/                             0750
//	/etc/certform/certform.env.example         0640  a configuration file (conffile)
//
// all owned by root. /var/lib/certform is not in it: the units' StateDirectory=
// makes it. The package has no maintainer script: installing it starts,
// enables and creates nothing else (no user: the units use DynamicUser=).
//
// THIRD_PARTY_NOTICES holds the license and notice files of every module the
// binary links (read from the binary's build information and the module
// cache) and of Go itself, as their licenses ask of a binary distribution.
package main

import (
	"bytes"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// Where the package puts things; the units get binDir and docDir.
const (
	binDir  = "/usr/bin"
	unitDir = "/usr/lib/systemd/system"
	docDir  = "/usr/share/doc/certform"
	confDir = "/etc/certform"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are mkdeb's flags.
type options struct {
	Binary     string    // the certform binary for Arch
	Arch       string    // GOARCH
	Version    string    // certform's version: a tag (v1.2.0), git describe past it, or dev
	Date       time.Time // every file's modification time
	Src        string    // the repository: systemd/, README.md, LICENSE, ...
	Units      []string  // file names in Src/systemd
	Out        string    // the folder the .deb is written to
	Maintainer string    // the control file's Maintainer
	Notices    string    // also write THIRD_PARTY_NOTICES here, if set
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mkdeb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var date, units string
	fs.StringVar(&o.Binary, "binary", "", "the certform binary to package (required)")
	fs.StringVar(&o.Arch, "arch", "", "its GOARCH: amd64, arm64, ... (required)")
	fs.StringVar(&o.Version, "version", "", "certform's version: v1.2.0, v1.2.0-3-gabc1234[-dirty] or dev (required)")
	fs.StringVar(&date, "date", "", "the files' modification time, RFC 3339 (default: SOURCE_DATE_EPOCH, else now)")
	fs.StringVar(&o.Src, "src", ".", "the repository's root")
	fs.StringVar(&units, "units", "", "the systemd units to install, file names in SRC/systemd separated by spaces (required)")
	fs.StringVar(&o.Out, "out", ".", "the folder to write the .deb to")
	fs.StringVar(&o.Maintainer, "maintainer", "", "the package's Maintainer: Name <email> (required)")
	fs.StringVar(&o.Notices, "notices", "", "also write THIRD_PARTY_NOTICES to this file; an existing one must be equal")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.Units = strings.Fields(units)
	for _, f := range []struct{ name, value string }{{"--binary", o.Binary}, {"--arch", o.Arch}, {"--version", o.Version}, {"--units", units}, {"--maintainer", o.Maintainer}} {
		if f.value == "" {
			fmt.Fprintf(stderr, "mkdeb: %s is required\n", f.name)
			return 2
		}
	}
	t, err := modTime(date)
	if err != nil {
		fmt.Fprintf(stderr, "mkdeb: %v\n", err)
		return 2
	}
	o.Date = t
	path, err := build(o)
	if err != nil {
		fmt.Fprintf(stderr, "mkdeb: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, path)
	return 0
}

// modTime is --date, else SOURCE_DATE_EPOCH (reproducible builds), else now.
func modTime(date string) (time.Time, error) {
	if date != "" {
		t, err := time.Parse(time.RFC3339, date)
		if err != nil {
			return time.Time{}, fmt.Errorf("--date %q: not RFC 3339 (2026-12-07T06:00:00Z)", date)
		}
		return t.UTC(), nil
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: not a number of seconds", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Now().UTC().Truncate(time.Second), nil
}

// placeholder matches what make install fills in a unit (@BINDIR@).
var placeholder = regexp.MustCompile(`@[A-Z_]+@`)

// build writes the .deb into o.Out and returns its path.
func build(o options) (string, error) {
	version, err := debVersion(o.Version)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(o.Binary); err != nil {
		return "", err
	} else if fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not executable", o.Binary)
	}
	stage, err := os.MkdirTemp("", "mkdeb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)

	st := newStager(o, stage)
	if err := st.units(); err != nil {
		return "", err
	}
	for _, d := range []string{"README.md", "LICENSE", "NOTICE", "CHANGELOG.md"} {
		st.add(st.file(filepath.Join(o.Src, d), docDir+"/"+d, 0o644))
	}
	if err := st.docs(); err != nil {
		return "", err
	}
	// Debian's place for the license (Debian Policy 12.5), in its
	// machine-readable format; the full text is LICENSE beside it.
	if err := st.staged("copyright", []byte(debianCopyright)); err != nil {
		return "", err
	}
	notices, err := thirdPartyNotices(o.Binary)
	if err != nil {
		return "", err
	}
	if err := st.staged("THIRD_PARTY_NOTICES", notices); err != nil {
		return "", err
	}
	if o.Notices != "" {
		if err := writeNotices(o.Notices, notices); err != nil {
			return "", err
		}
	}
	info := packageInfo(o, version, st.contents)
	if err := info.Validate(); err != nil {
		return "", err
	}
	return writeDeb(info, o.Out)
}

// stager gathers the package's contents, staging the files it makes
// (filled-in units, copyright, notices) in the folder stage.
type stager struct {
	o        options
	stage    string
	contents files.Contents
}

// newStager starts the contents with the binary, the doc and config
// folders and the example environment file.
func newStager(o options, stage string) *stager {
	st := &stager{o: o, stage: stage}
	st.contents = files.Contents{
		st.file(o.Binary, binDir+"/certform", 0o755),
		st.dir(docDir, 0o755),
		st.dir(confDir, 0o750),
		{Type: files.TypeConfig, Source: filepath.Join(o.Src, "systemd", "certform.env.example"), Destination: confDir + "/certform.env.example",
			FileInfo: st.info(0o640)},
	}
	return st
}

// file is the regular file src installed at dst, owned by root.
func (st *stager) file(src, dst string, mode os.FileMode) *files.Content {
	return &files.Content{Source: src, Destination: dst, FileInfo: st.info(mode)}
}

// dir is the folder dst, owned by root.
func (st *stager) dir(dst string, mode os.FileMode) *files.Content {
	return &files.Content{Type: files.TypeDir, Destination: dst, FileInfo: st.info(mode)}
}

// info is an installed file's or folder's owner (root), mode and time.
func (st *stager) info(mode os.FileMode) *files.ContentFileInfo {
	return &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: st.o.Date}
}

// add adds c to the contents.
func (st *stager) add(c *files.Content) { st.contents = append(st.contents, c) }

// staged writes data to the stage as name and installs it as
// docDir/name, 0644.
func (st *stager) staged(name string, data []byte) error {
	p := filepath.Join(st.stage, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return err
	}
	st.add(st.file(p, docDir+"/"+name, 0o644))
	return nil
}

// units adds the systemd units with @BINDIR@ and @DOCDIR@ filled in; a
// placeholder left over is an error.
func (st *stager) units() error {
	for _, u := range st.o.Units {
		b, err := os.ReadFile(filepath.Join(st.o.Src, "systemd", u))
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, []byte("@BINDIR@"), []byte(binDir))
		b = bytes.ReplaceAll(b, []byte("@DOCDIR@"), []byte(docDir))
		if p := placeholder.Find(b); p != nil {
			return fmt.Errorf("systemd/%s: %s is not filled in\nhint: fill it in tools/mkdeb as the Makefile's install target does", u, p)
		}
		staged := filepath.Join(st.stage, u)
		if err := os.WriteFile(staged, b, 0o644); err != nil {
			return err
		}
		st.add(st.file(staged, unitDir+"/"+u, 0o644))
	}
	return nil
}

// docs adds docs/ (the reference pages) when the tree has them: every
// regular file 0644, every folder 0755.
func (st *stager) docs() error {
	docs := filepath.Join(st.o.Src, "docs")
	if _, err := os.Stat(docs); err != nil {
		return nil
	}
	return filepath.WalkDir(docs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(st.o.Src, p)
		dst := docDir + "/" + filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			st.add(st.dir(dst, 0o755))
		case d.Type().IsRegular():
			st.add(st.file(p, dst, 0o644))
		}
		return nil
	})
}

// packageInfo is the package's metadata with contents.
func packageInfo(o options, version string, contents files.Contents) *nfpm.Info {
	return nfpm.WithDefaults(&nfpm.Info{
		Name:          "certform",
		Arch:          o.Arch,
		Platform:      "linux",
		Version:       version,
		VersionSchema: "none",
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    o.Maintainer,
		License:       "Apache-2.0",
		Description: "DigiCert CertCentral orders kept in line with YAML specs\n" +
			"certform loads certificate order specs from a directory kept in git, plans\n" +
			"the CertCentral calls that bring the account in line with them and makes\n" +
			"each exactly once. The package installs the binary, the systemd units\n" +
			"(neither enabled nor started) and an example configuration.",
		MTime:           o.Date,
		DisableGlobbing: true, // every source is one file's path (a unit may be named certform-x@.service)
		Overridables: nfpm.Overridables{
			Umask:      0o022,
			Recommends: []string{"git"}, // certform-git-sync.service clones and pulls the spec repository
			Contents:   contents,
		},
	})
}

// writeDeb writes the package to the folder out under its conventional
// name, through a temporary file renamed in place, and returns its path.
func writeDeb(info *nfpm.Info, out string) (string, error) {
	name := deb.Default.ConventionalFileName(info)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(out, name)
	tmp, err := os.CreateTemp(out, "."+name+".*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := deb.Default.Package(info, tmp); err != nil {
		tmp.Close()
		return "", fmt.Errorf("%s: %w", name, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}

// debianCopyright is /usr/share/doc/certform/copyright, in Debian's
// copyright format 1.0.
const debianCopyright = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: certform

Files: *
Copyright: 2026 The certform authors
License: Apache-2.0
 Licensed under the Apache License, Version 2.0. The full text is in
 /usr/share/doc/certform/LICENSE (and, on Debian systems, in
 /usr/share/common-licenses/Apache-2.0). The licenses of the software the
 binary links are in /usr/share/doc/certform/THIRD_PARTY_NOTICES.
`

// gitDescribe matches git describe's name for a commit past a tag:
// TAG-COUNT-gHASH.
var gitDescribe = regexp.MustCompile(`^(.+)-([0-9]+)-g([0-9a-f]+)$`)

// debVersionChars are the characters a Debian upstream version without a
// revision may hold (Debian Policy 5.6.12); it must start with a digit.
var debVersionChars = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)

// debVersion turns certform's version into a Debian package version that
// dpkg accepts and orders as releases go:
//
//	v1.2.0                  1.2.0
//	v1.2.0-rc.1             1.2.0~rc.1              (before 1.2.0)
//	v1.2.0-3-gabc1234       1.2.0+3.gabc1234        (after 1.2.0)
//	v1.2.0-3-gabc1234-dirty 1.2.0+3.gabc1234.dirty
//	v1.2.0-dirty            1.2.0+0.dirty           (after 1.2.0, before 1.2.0+1...)
//	dev                     0~dev                   (before any release)
//
// The package has no Debian revision (no "-N"): it is built from the
// project's own tree.
func debVersion(v string) (string, error) {
	orig := v
	if v == "" {
		return "", errors.New("the version is empty\nhint: make sets it from git describe, or dev")
	}
	if len(v) > 1 && v[0] == 'v' && v[1] >= '0' && v[1] <= '9' {
		v = v[1:]
	}
	var meta []string
	dirty := false
	if s, ok := strings.CutSuffix(v, "-dirty"); ok {
		v, dirty = s, true
	}
	if m := gitDescribe.FindStringSubmatch(v); m != nil {
		v = m[1]
		meta = append(meta, m[2], "g"+m[3])
	}
	if dirty {
		if meta == nil {
			meta = []string{"0"} // at the tag itself: before any commit past it
		}
		meta = append(meta, "dirty")
	}
	if v == "" || v[0] < '0' || v[0] > '9' {
		v = "0~" + v // not a release: before every release
	}
	// A pre-release sorts before its release.
	if i := strings.IndexByte(v, '-'); i >= 0 {
		v = v[:i] + "~" + strings.ReplaceAll(v[i+1:], "-", ".")
	}
	if len(meta) > 0 {
		v += "+" + strings.Join(meta, ".")
	}
	if !debVersionChars.MatchString(v) {
		return "", fmt.Errorf("version %q: %q is not a Debian version\nhint: tag releases vX.Y.Z (letters, digits, '.', '-' after it)", orig, v)
	}
	return v, nil
}

// writeNotices writes the notices to path, or checks that the file there
// holds the same (make dist writes one file for every architecture).
func writeNotices(path string, notices []byte) error {
	old, err := os.ReadFile(path)
	if err == nil {
		if !bytes.Equal(old, notices) {
			return fmt.Errorf("%s: the third-party notices differ between architectures\nhint: ship one per architecture", path)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.WriteFile(path, notices, 0o644)
}

// licenseFile matches the files a module's license and notices are in.
var licenseFile = regexp.MustCompile(`(?i)^(licen[cs]e|notice|copying)([.-].*)?$`)

// thirdPartyNotices returns the license and notice files of Go and of every
// module the binary links, from the binary's build information and the
// module cache.
func thirdPartyNotices(binary string) ([]byte, error) {
	bi, err := buildinfo.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", binary, err)
	}
	goroot, modcache, err := goEnv()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("certform links the following software; their licenses and notices follow.\n")
	if err := writeSection(&b, "Go "+bi.GoVersion+" (the standard library and runtime)", goroot, []string{"LICENSE"}); err != nil {
		return nil, err
	}
	deps := bi.Deps
	sort.Slice(deps, func(i, j int) bool { return deps[i].Path < deps[j].Path })
	for _, m := range deps {
		if m.Replace != nil {
			if m.Replace.Version == "" {
				return nil, fmt.Errorf("module %s is replaced by the folder %s: its license cannot be found in the module cache", m.Path, m.Replace.Path)
			}
			m = m.Replace
		}
		dir, names, err := licenseFiles(modcache, m)
		if err != nil {
			return nil, err
		}
		if err := writeSection(&b, m.Path+" "+m.Version, dir, names); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// goEnv returns GOROOT and GOMODCACHE as the go command has them.
func goEnv() (goroot, modcache string, err error) {
	env, err := exec.Command("go", "env", "GOROOT", "GOMODCACHE").Output()
	if err != nil {
		return "", "", fmt.Errorf("go env: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(env)), "\n")
	if len(lines) != 2 {
		return "", "", fmt.Errorf("go env GOROOT GOMODCACHE: unexpected output %q", env)
	}
	return lines[0], lines[1], nil
}

// writeSection writes a notices section: the title under a rule, then
// each of the files names in dir under its name.
func writeSection(b *bytes.Buffer, title, dir string, names []string) error {
	fmt.Fprintf(b, "\n================================================================================\n%s\n================================================================================\n", title)
	for _, n := range names {
		text, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "\n--- %s ---\n\n%s", n, bytes.TrimRight(text, "\n"))
		b.WriteString("\n")
	}
	return nil
}

// licenseFiles returns module m's folder in the module cache and the
// license and notice files at its top; none is an error.
func licenseFiles(modcache string, m *debug.Module) (string, []string, error) {
	dir := filepath.Join(modcache, escapeModulePath(m.Path)+"@"+m.Version)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", nil, fmt.Errorf("module %s %s: %w\nhint: go mod download", m.Path, m.Version, err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && licenseFile.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", nil, fmt.Errorf("module %s %s: no license file in %s", m.Path, m.Version, dir)
	}
	return dir, names, nil
}

// escapeModulePath is the module cache's name for a module path: each
// upper-case letter becomes '!' and its lower case (golang.org/x/mod's
// module.EscapePath, for the paths go itself accepted).
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
