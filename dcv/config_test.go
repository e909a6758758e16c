package dcv

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeConfig writes a config (mode 0600) and the secret files it names
// into a new folder and returns the config's path.
func writeConfig(t *testing.T, yaml string, secrets map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, s := range secrets {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "dcv.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const sketch = `providers:
  corp:  {type: rfc2136, server: "192.0.2.53:53", tsig_key: "certform.", tsig_algorithm: hmac-sha256,
          tsig_secret_file: tsig.key, nameservers: ["192.0.2.53:53"]}
  aws:   {type: route53, hosted_zone_id: Z0123}
  cf:    {type: cloudflare, zone_id: "abc", api_token_file: cf.token}
  hook:  {type: exec, command: /usr/local/libexec/certform-dns}
  web:   {type: webroot, path: /var/www/html}
zones:
  example.com: corp
  example.net: {provider: aws, txt_name: _dnsauth}
  shop.example.org: web
  example.org: hook
  cf.example.com: cf
`

func TestLoad_sketch(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	path := writeConfig(t, sketch, map[string]string{"tsig.key": "c2VjcmV0c2VjcmV0\n", "cf.token": "cf-token-value\n"})
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	corp := cfg.Providers["corp"]
	if corp.TSIGSecret != "c2VjcmV0c2VjcmV0" || corp.Server != "192.0.2.53:53" || !cmp.Equal(corp.Nameservers, []string{"192.0.2.53:53"}) {
		t.Fatalf("corp: %+v", corp)
	}
	if cfg.Providers["cf"].APIToken != "cf-token-value" {
		t.Fatal("the cloudflare token was not read")
	}
	tests := []struct{ name, zone, provider, txt string }{
		{"a.example.com", "example.com", "corp", ""},
		{"example.com", "example.com", "corp", ""},
		{"www.cf.example.com", "cf.example.com", "cf", ""},
		{"*.example.net", "example.net", "aws", "_dnsauth"},
		{"shop.example.org", "shop.example.org", "web", ""},
		{"a.shop.example.org", "shop.example.org", "web", ""},
		{"eshop.example.org", "example.org", "hook", ""},
		{"EXAMPLE.ORG.", "example.org", "hook", ""},
	}
	for _, tt := range tests {
		z, ok := cfg.Match(tt.name)
		if !ok || z.Name != tt.zone || z.Provider != tt.provider || z.TXTName != tt.txt {
			t.Errorf("Match(%q) = %+v, %v; want %s via %s", tt.name, z, ok, tt.zone, tt.provider)
		}
	}
	if _, ok := cfg.Match("example.info"); ok {
		t.Error("example.info matched a zone")
	}
	// The secrets never print.
	for _, s := range []string{fmtAll(corp), fmtAll(cfg.Providers["cf"]), fmtAll(cfg.Provider("corp")), fmtAll(cfg.Provider("cf")), fmtAll(cfg)} {
		if strings.Contains(s, "c2VjcmV0c2VjcmV0") || strings.Contains(s, "cf-token-value") {
			t.Fatalf("a secret printed: %s", s)
		}
	}
}

func TestLoad_credentialsDirectory(t *testing.T) {
	creds := t.TempDir()
	os.WriteFile(filepath.Join(creds, "tsig.key"), []byte("ZnJvbWNyZWRz\n"), 0o600)
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	path := writeConfig(t, "providers:\n  corp: {type: rfc2136, server: \"127.0.0.1:53\", tsig_key: k., tsig_secret_file: tsig.key}\nzones:\n  example.com: corp\n", nil)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Providers["corp"].TSIGSecret != "ZnJvbWNyZWRz" {
		t.Fatal("the secret was not read from $CREDENTIALS_DIRECTORY")
	}
}

func TestLoad_errors(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	tests := []struct {
		name, yaml string
		want       []string // each error, without the file name
	}{
		{"unknown top key", "providers: {}\nzone:\n  example.com: x\n",
			[]string{`:2: unknown key "zone"` + "\nhint: the dcv config has providers: and zones: only"}},
		{"unknown provider key", "providers:\n  corp:\n    type: rfc2136\n    server: 127.0.0.1:53\n    sever: x\nzones:\n  example.com: corp\n",
			[]string{`:5: provider "corp": unknown key "sever"` + "\nhint: keys of rfc2136: server, tsig_key, tsig_algorithm, tsig_secret_file, nameservers"}},
		{"inline secret", "providers:\n  corp: {type: rfc2136, server: \"127.0.0.1:53\", tsig_key: k., tsig_secret: abc}\nzones:\n  example.com: corp\n",
			[]string{`:2: provider "corp": tsig_secret: secrets are never written in the config` + "\nhint: put the secret in a file readable only by certform and name it with tsig_secret_file",
				`:2: provider "corp": tsig_key and tsig_secret_file go together` + "\nhint: give both tsig_key and tsig_secret_file, or neither for a server that takes unsigned updates"}},
		{"missing secret file", "providers:\n  cf: {type: cloudflare, zone_id: z, api_token_file: nope.token}\nzones:\n  example.com: cf\n",
			[]string{`:2: provider "cf": secret file DIR/nope.token: no such file or directory` + "\nhint: create it (mode 0600) or correct the name"}},
		{"zone without a provider", "providers:\n  corp: {type: exec, command: /bin/true}\nzones:\n  example.com: crop\n  example.net: {txt_name: _dnsauth}\n",
			[]string{`:4: zone "example.com": no provider "crop"` + "\nhint: providers: corp",
				`:5: zone "example.net" has no provider` + "\nhint: name one of the providers:"}},
		{"relative command", "providers:\n  hook: {type: exec, command: certform-dns}\nzones:\n  example.com: hook\n",
			[]string{`:2: provider "hook": command "certform-dns" is not an absolute path` + "\nhint: name the program by its absolute path; it is run without a shell as COMMAND present|cleanup FQDN VALUE"}},
		{"bad txt_name", "providers:\n  hook: {type: exec, command: /bin/true}\nzones:\n  example.com: {provider: hook, txt_name: _acme}\n",
			[]string{`:4: zone "example.com": txt_name "_acme" is not _dnsauth` + "\nhint: txt_name: _dnsauth publishes TXT values at _dnsauth.NAME; leave it out to publish on the name"}},
		{"unknown type", "providers:\n  x: {type: powerdns}\nzones: {}\n",
			[]string{`:2: provider "x": unknown type "powerdns"` + "\nhint: one of rfc2136, route53, cloudflare, exec, webroot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml, nil)
			_, err := Load(path)
			if err == nil {
				t.Fatal("no error")
			}
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ce *ConfigError
				if !errors.As(e, &ce) || ce.File != path {
					t.Fatalf("not a *ConfigError of %s: %v", path, e)
				}
				got = append(got, strings.ReplaceAll(strings.TrimPrefix(e.Error(), path), filepath.Dir(path), "DIR"))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoad_readableByOthers(t *testing.T) {
	path := writeConfig(t, sketch, nil)
	os.Chmod(path, 0o644)
	_, err := Load(path)
	if !errors.Is(err, ErrReadableByOthers) {
		t.Fatalf("err = %v, want ErrReadableByOthers", err)
	}
	want := path + ": mode 0644: readable by others\nhint: it may name commands and secret files: chmod o-rwx " + path
	if err.Error() != want {
		t.Fatalf("err = %q\nwant %q", err, want)
	}
	// A secret file readable by others is refused too.
	path = writeConfig(t, "providers:\n  cf: {type: cloudflare, zone_id: z, api_token_file: cf.token}\nzones:\n  example.com: cf\n", map[string]string{"cf.token": "t\n"})
	os.Chmod(filepath.Join(filepath.Dir(path), "cf.token"), 0o604)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "(mode 0604) is readable by others") {
		t.Fatalf("err = %v", err)
	}
}

func fmtAll(v any) string {
	return strings.Join([]string{sprintf("%v", v), sprintf("%+v", v), sprintf("%#v", v), sprintf("%s", v)}, "\n")
}

// FuzzParse: no config, however broken, panics the parser; every error
// names the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sketch))
	f.Add([]byte("providers:\n  x: {type: exec, command: /bin/true}\nzones:\n  example.com: x\n"))
	f.Add([]byte("zones: [a, b]\n"))
	f.Add([]byte("providers: {a: {type: rfc2136, nameservers: {x: 1}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := parse("fuzz.yaml", data)
		if err != nil && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Fatalf("the error does not name the file: %v", err)
		}
	})
}
