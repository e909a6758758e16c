package cli

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestDist runs make dist for this machine's architecture into a temporary
// folder, as a release would for each, and checks what it made: a static
// binary that prints the stamped version, SHA256SUMS over every file, the
// third-party notices, and a .deb whose control data, file list, owners and
// modes are the ones README promises, with no maintainer script. The .deb is
// installed into a throwaway root with dpkg --root (as root) or extracted
// with dpkg-deb -x, and the files there are compared with the tree's.
// Without dpkg-deb the .deb part is skipped with a hint, except under
// CI=true, where it fails (.ci/run installs dpkg).
func TestDist(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	const (
		tag     = "v1.2.3-rc.1"
		debVer  = "1.2.3~rc.1" // a pre-release sorts before 1.2.3 in dpkg
		built   = "2026-12-07T06:00:00Z"
		docDir  = "usr/share/doc/certform"
		unitDir = "usr/lib/systemd/system"
	)
	arch := runtime.GOARCH
	debArch := map[string]string{"386": "i386", "arm": "armhf", "ppc64le": "ppc64el", "mips64le": "mips64el"}[arch]
	if debArch == "" {
		debArch = arch
	}
	dist := filepath.Join(t.TempDir(), "dist")
	cmd := exec.Command("make", "-s", "dist", "DIST_ARCHES="+arch, "DISTDIR="+dist, "VERSION="+tag, "DATE="+built)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}
	binName := "certform-" + tag + "-linux-" + arch
	debName := "certform_" + debVer + "_" + debArch + ".deb"

	// The folder holds exactly the release's files.
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"SHA256SUMS", "THIRD_PARTY_NOTICES", binName, debName}
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Fatalf("%s holds %q, want %q", dist, names, want)
	}

	// SHA256SUMS is sha256sum's format ("HASH  NAME") over every other file.
	sums, _ := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	listed := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		hash, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(hash) != 64 {
			t.Errorf("SHA256SUMS: line %q is not HASH  NAME", sc.Text())
			continue
		}
		b, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Errorf("SHA256SUMS names %q: %v", name, err)
			continue
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hash {
			t.Errorf("SHA256SUMS: %s has %s, the file %x", name, hash, sum)
		}
		listed[name] = true
	}
	for _, n := range want {
		if n != "SHA256SUMS" && !listed[n] {
			t.Errorf("SHA256SUMS does not list %s:\n%s", n, sums)
		}
	}

	// The binary is static (no interpreter, no shared library) and says
	// what it is.
	bin := filepath.Join(dist, binName)
	checkStatic(t, bin)
	wantVersion := map[string]string{"version": tag, "date": built, "go": runtime.Version(), "os": "linux", "arch": arch}
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		wantVersion["commit"] = strings.TrimSpace(string(head))
		if exec.Command("git", "diff", "--quiet", "HEAD", "--").Run() != nil {
			wantVersion["commit"] += "-dirty"
		}
	}
	checkVersion(t, bin, wantVersion)

	// THIRD_PARTY_NOTICES has Go's license and a section for every module
	// the binary links.
	notices, _ := os.ReadFile(filepath.Join(dist, "THIRD_PARTY_NOTICES"))
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(notices, []byte("\nGo "+runtime.Version()+" (the standard library and runtime)\n")) {
		t.Errorf("THIRD_PARTY_NOTICES has no section for Go")
	}
	for _, m := range bi.Deps {
		if !bytes.Contains(notices, []byte("\n"+m.Path+" "+m.Version+"\n")) {
			t.Errorf("THIRD_PARTY_NOTICES has no section for %s %s", m.Path, m.Version)
		}
	}

	// The .deb.
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dpkg-deb is not installed: the .deb cannot be checked\nhint: apt-get install dpkg (.ci/run installs it when missing)")
		}
		t.Skip("dpkg-deb is not installed: the .deb is not checked\nhint: apt-get install dpkg")
	}
	deb := filepath.Join(dist, debName)
	for field, want := range map[string]string{"Package": "certform", "Version": debVer, "Architecture": debArch, "Section": "admin", "Recommends": "git"} {
		out, err := exec.Command("dpkg-deb", "-f", deb, field).Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != want {
			t.Errorf("control %s: %q (%v), want %q", field, got, err, want)
		}
	}
	// The control archive: no preinst, postinst, prerm or postrm, so
	// installing starts and enables nothing; the env example is a conffile.
	ctrl := filepath.Join(t.TempDir(), "control")
	if out, err := exec.Command("dpkg-deb", "-e", deb, ctrl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, out)
	}
	var ctrlFiles []string
	ctrlEntries, _ := os.ReadDir(ctrl)
	for _, e := range ctrlEntries {
		ctrlFiles = append(ctrlFiles, e.Name())
	}
	if want := []string{"conffiles", "control", "md5sums"}; !slices.Equal(ctrlFiles, want) {
		t.Errorf("control archive holds %q, want %q (no maintainer script)", ctrlFiles, want)
	}
	if b, _ := os.ReadFile(filepath.Join(ctrl, "conffiles")); string(b) != "/etc/certform/certform.env.example\n" {
		t.Errorf("conffiles: %q", b)
	}

	// Every file, folder, owner and mode as dpkg-deb -c lists them.
	units, _ := filepath.Glob("systemd/*.service")
	for _, ext := range []string{"timer", "path", "socket"} {
		more, _ := filepath.Glob("systemd/*." + ext)
		units = append(units, more...)
	}
	wantList := map[string]string{
		"./etc/":                               "drwxr-xr-x",
		"./etc/certform/":                      "drwxr-x---",
		"./etc/certform/certform.env.example":  "-rw-r-----",
		"./usr/":                               "drwxr-xr-x",
		"./usr/bin/":                           "drwxr-xr-x",
		"./usr/bin/certform":                   "-rwxr-xr-x",
		"./usr/lib/":                           "drwxr-xr-x",
		"./usr/lib/systemd/":                   "drwxr-xr-x",
		"./" + unitDir + "/":                   "drwxr-xr-x",
		"./usr/share/":                         "drwxr-xr-x",
		"./usr/share/doc/":                     "drwxr-xr-x",
		"./" + docDir + "/":                    "drwxr-xr-x",
		"./" + docDir + "/README.md":           "-rw-r--r--",
		"./" + docDir + "/LICENSE":             "-rw-r--r--",
		"./" + docDir + "/NOTICE":              "-rw-r--r--",
		"./" + docDir + "/CHANGELOG.md":        "-rw-r--r--",
		"./" + docDir + "/THIRD_PARTY_NOTICES": "-rw-r--r--",
		"./" + docDir + "/copyright":           "-rw-r--r--",
	}
	for _, u := range units {
		wantList["./"+unitDir+"/"+filepath.Base(u)] = "-rw-r--r--"
	}
	// The reference pages, when the tree has them.
	_ = filepath.WalkDir("docs", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			wantList["./"+docDir+"/"+p+"/"] = "drwxr-xr-x"
		} else if d.Type().IsRegular() {
			wantList["./"+docDir+"/"+p] = "-rw-r--r--"
		}
		return nil
	})
	list := exec.Command("dpkg-deb", "-c", deb)
	list.Env = append(os.Environ(), "TZ=UTC") // times as the build's
	out, err := list.Output()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v", err)
	}
	gotList := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// drwxr-x--- root/root 0 2026-12-07 06:00 ./etc/certform/
		f := strings.Fields(line)
		if len(f) != 6 {
			t.Errorf("dpkg-deb -c: unexpected line %q", line)
			continue
		}
		if f[1] != "root/root" {
			t.Errorf("%s is owned by %s, want root/root", f[5], f[1])
		}
		if f[3]+"T"+f[4] != built[:16] {
			t.Errorf("%s: time %s %s, want the build's %s", f[5], f[3], f[4], built)
		}
		gotList[f[5]] = f[0]
	}
	for p, mode := range wantList {
		if got, ok := gotList[p]; !ok {
			t.Errorf("the .deb has no %s", p)
		} else if got != mode {
			t.Errorf("%s: mode %s, want %s", p, got, mode)
		}
	}
	for p := range gotList {
		if _, ok := wantList[p]; !ok {
			t.Errorf("the .deb has %s, which is not expected (nothing under /var: the units' StateDirectory= makes it)", p)
		}
	}

	// Installed into a throwaway root: the files are the tree's, the
	// units' paths filled in as make install fills them.
	root := installDeb(t, deb)
	same := func(installed, source string, edit func([]byte) []byte) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(root, installed))
		if err != nil {
			t.Error(err)
			return
		}
		src, err := os.ReadFile(source)
		if err != nil {
			t.Error(err)
			return
		}
		if edit != nil {
			src = edit(src)
		}
		if !bytes.Equal(got, src) {
			t.Errorf("/%s differs from %s", installed, source)
		}
	}
	fill := func(b []byte) []byte {
		b = bytes.ReplaceAll(b, []byte("@BINDIR@"), []byte("/usr/bin"))
		return bytes.ReplaceAll(b, []byte("@DOCDIR@"), []byte("/"+docDir))
	}
	same("usr/bin/certform", bin, nil)
	same("etc/certform/certform.env.example", "systemd/certform.env.example", nil)
	for _, d := range []string{"README.md", "LICENSE", "NOTICE", "CHANGELOG.md"} {
		same(docDir+"/"+d, d, nil)
	}
	for _, u := range units {
		same(unitDir+"/"+filepath.Base(u), u, fill)
	}
	service, _ := os.ReadFile(filepath.Join(root, unitDir, "certform.service"))
	for _, line := range []string{"ExecStart=/usr/bin/certform run --dir %S/certform/specs", "Documentation=file:/usr/share/doc/certform/README.md", "StateDirectory=certform"} {
		if !bytes.Contains(service, []byte("\n"+line)) {
			t.Errorf("the installed certform.service has no line %q", line)
		}
	}
	for path, mode := range map[string]os.FileMode{"etc/certform": 0o750, "etc/certform/certform.env.example": 0o640, "usr/bin/certform": 0o755, docDir: 0o755} {
		if fi, err := os.Stat(filepath.Join(root, path)); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != mode {
			t.Errorf("installed /%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/certform")); err == nil {
		t.Errorf("the .deb made /var/lib/certform; the units' StateDirectory= does")
	}
	checkVersion(t, filepath.Join(root, "usr/bin/certform"), wantVersion)
}

// checkStatic fails unless the ELF file at path needs no interpreter and no
// shared library (CGO_ENABLED=0).
func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is not static: it has a %v program header", filepath.Base(path), p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %q", filepath.Base(path), libs)
	}
}

// checkVersion runs the binary's version --json and compares it with want
// (want["commit"] unset: not compared).
func checkVersion(t *testing.T, bin string, want map[string]string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Errorf("%s version --json: %v", bin, err)
		return
	}
	var got map[string]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Errorf("%s version --json: %v\n%s", bin, err, out)
		return
	}
	if _, ok := want["commit"]; !ok {
		delete(got, "commit")
	}
	if !mapsEqual(got, want) {
		t.Errorf("%s version --json:\n%s\nwant %v", bin, out, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// installDeb installs the package into a throwaway root and returns it:
// with dpkg --root and an empty package database when running as root
// (dpkg then also accepts the package and records it installed), else with
// dpkg-deb -x.
func installDeb(t *testing.T, deb string) string {
	t.Helper()
	root := t.TempDir()
	if _, err := exec.LookPath("dpkg"); err == nil && os.Geteuid() == 0 {
		admin := filepath.Join(root, "var/lib/dpkg")
		for _, d := range []string{"info", "updates"} {
			if err := os.MkdirAll(filepath.Join(admin, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(admin, "status"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("dpkg", "--root="+root, "--force-script-chrootless", "-i", deb).CombinedOutput(); err != nil {
			t.Fatalf("dpkg --root -i: %v\n%s", err, out)
		}
		out, err := exec.Command("dpkg-query", "--root="+root, "-W", "-f=${Status} ${Conffiles}", "certform").Output()
		if err != nil || !strings.HasPrefix(string(out), "install ok installed") || !strings.Contains(string(out), "/etc/certform/certform.env.example ") {
			t.Errorf("dpkg-query after the install: %q %v, want installed with the env example as a conffile", out, err)
		}
		return root
	}
	if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	return root
}
