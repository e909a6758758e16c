package adopt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/spec/spectest"
	"github.com/certform/certform/state"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// testKey is the fake CertCentral's API key in these tests.
const testKey = "ADOPT-KEY-0a1b2c3d4e5f"

func TestSpecName(t *testing.T) {
	long := strings.Repeat("a", 60) + ".example.com"
	tests := []struct {
		name, cn, want string
	}{
		{name: "dots", cn: "www.example.com", want: "www-example-com"},
		{name: "wildcard", cn: "*.example.com", want: "wildcard-example-com"},
		{name: "upper case", cn: "WWW.Example.COM", want: "www-example-com"},
		{name: "hyphens kept", cn: "xn--bcher-kva.example.com", want: "xn--bcher-kva-example-com"},
		{name: "too long", cn: long, want: strings.Repeat("a", 60) + "-ex"},
		{name: "cut at a dot", cn: strings.Repeat("a", 62) + ".example.com", want: strings.Repeat("a", 62)},
		{name: "nothing usable", cn: "-.", want: "order-100001"},
		{name: "starts with a digit", cn: "1.example.com", want: "1-example-com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := specName(tt.cn, 100001)
			if got != tt.want {
				t.Errorf("specName(%q) = %q, want %q", tt.cn, got, tt.want)
			}
			if !specNameRE.MatchString(got) {
				t.Errorf("%q is not a valid spec name", got)
			}
		})
	}
}

func TestUniqueName(t *testing.T) {
	long := strings.Repeat("b", 63)
	tests := []struct {
		name  string
		base  string
		taken []string
		want  string
	}{
		{name: "free", base: "www-example-com", want: "www-example-com"},
		{name: "taken", base: "www-example-com", taken: []string{"www-example-com"}, want: "www-example-com-2"},
		{name: "taken twice", base: "www-example-com", taken: []string{"www-example-com", "www-example-com-2"}, want: "www-example-com-3"},
		{name: "long name shortened", base: long, taken: []string{long}, want: strings.Repeat("b", 61) + "-2"},
		{name: "long name, tenth", base: long, taken: []string{long, long[:61] + "-2", long[:61] + "-3", long[:61] + "-4", long[:61] + "-5", long[:61] + "-6",
			long[:61] + "-7", long[:61] + "-8", long[:61] + "-9"}, want: strings.Repeat("b", 60) + "-10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			taken := map[string]bool{}
			for _, n := range tt.taken {
				taken[n] = true
			}
			got := uniqueName(tt.base, taken)
			if got != tt.want || !specNameRE.MatchString(got) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProduct(t *testing.T) {
	tests := []struct {
		nameID, want string
		ok           bool
	}{
		{"ssl_ov", "ov", true}, {"ssl_ev", "ev", true}, {"ssl_grid", "grid", true}, {"ssl_private", "private", true},
		{"ssl_plus", "ov", true}, {"ssl_multi_domain", "ov", true}, {"ssl_wildcard", "ov", true}, {"ssl_cloud_wildcard", "ov", true},
		{"ssl_basic", "ov", true}, {"ssl_securesite_pro", "ov", true},
		{"ssl_ev_plus", "ev", true}, {"ssl_ev_multi_domain", "ev", true}, {"ssl_ev_basic", "ev", true}, {"ssl_ev_securesite_pro", "ev", true},
		{"private_ssl_plus", "private", true}, {"ssl_grid_premium", "grid", true}, {"SSL_Plus", "ov", true},
		{"ssl_securesite_flex", "ov", true}, {"ssl_ev_securesite_flex", "ev", true}, // real name_ids (issue 21, item 12)
		{"ssl_dv_geotrust", "", false}, {"", "", false}, {"client_premium", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.nameID, func(t *testing.T) {
			got, ok := product(tt.nameID)
			if got != tt.want || ok != tt.ok {
				t.Errorf("product(%q) = %q, %v; want %q, %v", tt.nameID, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestValidity(t *testing.T) {
	tests := []struct {
		name, created, till string
		years, days         int
		why                 string
	}{
		{name: "one year", created: "2026-03-02T10:00:00+00:00", till: "2027-03-02", years: 1},
		{name: "one year, a day short", created: "2026-03-02T23:59:00+00:00", till: "2027-03-01", years: 1},
		{name: "397 days is a year", created: "2026-01-01T00:00:00+00:00", till: "2027-01-31", years: 1},
		{name: "two years within 31 days", created: "2026-01-01T00:00:00+00:00", till: "2027-12-01", years: 2},
		{name: "three years", created: "2026-01-01 08:00:00", till: "2029-01-01", years: 3},
		{name: "days", created: "2026-01-01T00:00:00+00:00", till: "2026-07-20", days: 200},
		{name: "398 days", created: "2026-01-01T00:00:00+00:00", till: "2027-02-03", days: 398},
		{name: "no end", created: "2026-01-01T00:00:00+00:00", why: "CertCentral reported no order_valid_till"},
		{name: "no start", till: "2027-01-01", why: "CertCentral reported no date_created"},
		{name: "five years", created: "2026-01-01T00:00:00+00:00", till: "2031-01-01", why: "the order runs 1826 days, from 2026-01-01 to 2031-01-01, which is not 1 to 1095 days"},
		{name: "ends before it starts", created: "2026-01-01T00:00:00+00:00", till: "2025-12-01", why: "the order runs -31 days, from 2026-01-01 to 2025-12-01, which is not 1 to 1095 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y, d, why := validity(tt.created, tt.till)
			if y != tt.years || d != tt.days || why != tt.why {
				t.Errorf("got %d years, %d days, %q; want %d, %d, %q", y, d, why, tt.years, tt.days, tt.why)
			}
		})
	}
}

func TestDNSNames(t *testing.T) {
	tests := []struct {
		name string
		dns  []string
		want []string
	}{
		{name: "blank list", dns: []string{" "}, want: nil},
		{name: "none", dns: nil, want: nil},
		{name: "common name, case, repeats, order", dns: []string{"WWW.example.com", "b.example.com", " a.example.com ", "b.example.com", "www.example.com"},
			want: []string{"a.example.com", "b.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, dnsNames("www.example.com", tt.dns)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestRender renders specs with and without defaults and loads
// each back with spec.Load, under a defaults.yaml holding the same
// defaults: no errors, and the order's values.
func TestRender(t *testing.T) {
	base := draft{Name: "www-example-com", CommonName: "www.example.com", DNSNames: []string{"a.example.com", "example.com"},
		OrganizationID: 112233, Product: "ov", ValidityYears: 1, DisableCT: true, OrderID: 100001, Status: "issued", Date: "2026-11-25"}
	header := "# Generated by certform adopt from CertCentral order 100001 (status issued) on 2026-11-25.\n# Review it; certform plan shows it as an adopt action.\n"
	with := func(f func(*draft)) draft {
		s := base
		f(&s)
		return s
	}
	tests := []struct {
		name     string
		spec     draft
		defaults map[string]any
		want     string
	}{
		{name: "no defaults", spec: base, want: header + "name: www-example-com\ncommon_name: www.example.com\ndns_names:\n  - a.example.com\n  - example.com\n" +
			"organization_id: 112233\nproduct: ov\nvalidity_years: 1\ndisable_ct: true\nauto_reissue: false\norder_id: 100001\n"},
		{name: "defaults with the same values", spec: base,
			defaults: map[string]any{"organization_id": 112233, "product": "ov", "validity_years": 1, "disable_ct": true, "auto_reissue": false},
			want:     header + "name: www-example-com\ncommon_name: www.example.com\ndns_names:\n  - a.example.com\n  - example.com\norder_id: 100001\n"},
		{name: "defaults with other values", spec: base,
			defaults: map[string]any{"organization_id": 1, "product": "ev", "validity_days": 365, "disable_ct": false, "auto_reissue": true},
			want: header + "name: www-example-com\ncommon_name: www.example.com\ndns_names:\n  - a.example.com\n  - example.com\n" +
				"organization_id: 112233\nproduct: ov\nvalidity_years: 1\ndisable_ct: true\nauto_reissue: false\norder_id: 100001\n"},
		{name: "wildcard, no DNS names, days", spec: with(func(s *draft) {
			s.Name, s.CommonName, s.DNSNames, s.ValidityYears, s.ValidityDays = "wildcard-example-com", "*.example.com", nil, 0, 200
		}), want: header + "name: wildcard-example-com\ncommon_name: '*.example.com'\n" +
			"organization_id: 112233\nproduct: ov\nvalidity_days: 200\ndisable_ct: true\nauto_reissue: false\norder_id: 100001\n"},
		{name: "days over a default in years", spec: with(func(s *draft) { s.ValidityYears, s.ValidityDays = 0, 200 }),
			defaults: map[string]any{"validity_years": 1},
			want: header + "name: www-example-com\ncommon_name: www.example.com\ndns_names:\n  - a.example.com\n  - example.com\n" +
				"organization_id: 112233\nproduct: ov\nvalidity_days: 200\ndisable_ct: true\nauto_reissue: false\norder_id: 100001\n"},
		{name: "validity unknown", spec: with(func(s *draft) { s.ValidityYears, s.ValidityNote = 0, "CertCentral reported no order_valid_till" }),
			want: header + "name: www-example-com\ncommon_name: www.example.com\ndns_names:\n  - a.example.com\n  - example.com\n" +
				"organization_id: 112233\nproduct: ov\n# validity: left out: CertCentral reported no order_valid_till; the spec default, 1 year, applies.\n" +
				"disable_ct: true\nauto_reissue: false\norder_id: 100001\n"},
		{name: "validity unknown, a default", spec: with(func(s *draft) { s.ValidityYears, s.ValidityNote = 0, "CertCentral reported no order_valid_till" }),
			defaults: map[string]any{"validity_years": 2},
			want: header + "name: www-example-com\ncommon_name: www.example.com\ndns_names:\n  - a.example.com\n  - example.com\n" +
				"organization_id: 112233\nproduct: ov\n# validity: left out: CertCentral reported no order_valid_till; validity_years: 2 from a defaults.yaml applies.\n" +
				"disable_ct: true\nauto_reissue: false\norder_id: 100001\n"},
		{name: "signature hash other than the default", spec: with(func(s *draft) { s.SignatureHash = "sha384" }),
			want: header + "name: www-example-com\ncommon_name: www.example.com\ndns_names:\n  - a.example.com\n  - example.com\n" +
				"organization_id: 112233\nproduct: ov\nsignature_hash: sha384\nvalidity_years: 1\ndisable_ct: true\nauto_reissue: false\norder_id: 100001\n"},
		{name: "signature hash as the default", spec: with(func(s *draft) { s.SignatureHash = "sha384" }),
			defaults: map[string]any{"signature_hash": "sha384"},
			want: header + "name: www-example-com\ncommon_name: www.example.com\ndns_names:\n  - a.example.com\n  - example.com\n" +
				"organization_id: 112233\nproduct: ov\nvalidity_years: 1\ndisable_ct: true\nauto_reissue: false\norder_id: 100001\n"},
		{name: "signature hash a spec cannot take", spec: with(func(s *draft) { s.SignatureNote = "CertCentral reports sha1, which a spec cannot ask for" }),
			want: header + "name: www-example-com\ncommon_name: www.example.com\ndns_names:\n  - a.example.com\n  - example.com\n" +
				"organization_id: 112233\nproduct: ov\n# signature_hash: left out: CertCentral reports sha1, which a spec cannot ask for; sha256 applies.\n" +
				"validity_years: 1\ndisable_ct: true\nauto_reissue: false\norder_id: 100001\n"},
		{name: "a name YAML would read as a date", spec: with(func(s *draft) { s.Name = "2026-01-02" }),
			want: header + "name: \"2026-01-02\"\ncommon_name: www.example.com\ndns_names:\n  - a.example.com\n  - example.com\n" +
				"organization_id: 112233\nproduct: ov\nvalidity_years: 1\ndisable_ct: true\nauto_reissue: false\norder_id: 100001\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(render(tt.spec, tt.defaults))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			dir := t.TempDir()
			if tt.defaults != nil {
				d, err := yaml.Marshal(tt.defaults)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "defaults.yaml"), d, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "adopted.yaml"), []byte(got), 0o600); err != nil {
				t.Fatal(err)
			}
			res, err := spec.Load(dir)
			if err != nil || len(res.Errors) != 0 || len(res.Orders) != 1 {
				t.Fatalf("load: %v %v", err, res.Errors)
			}
			o, s := res.Orders[0], tt.spec
			hash := s.SignatureHash
			if hash == "" {
				hash = "sha256"
			}
			if o.Name != s.Name || o.CommonName != s.CommonName || !cmp.Equal(o.DNSNames, s.DNSNames) || o.OrganizationID != s.OrganizationID ||
				o.Product != s.Product || o.DisableCT != s.DisableCT || o.AutoReissue != s.AutoReissue || o.OrderID != s.OrderID || o.SignatureHash != hash {
				t.Errorf("loaded %+v", o)
			}
			if s.ValidityNote == "" && (o.ValidityYears != s.ValidityYears || o.ValidityDays != s.ValidityDays) {
				t.Errorf("validity: %d years, %d days; want %d, %d", o.ValidityYears, o.ValidityDays, s.ValidityYears, s.ValidityDays)
			}
		})
	}
}

func TestWriteNewFile(t *testing.T) {
	dir := t.TempDir()
	if err := writeNewFile(dir, "a.yaml", []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := writeNewFile(dir, "b.yaml", []byte("new\n"))
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("over an existing file: %v, want fs.ErrExist", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "b.yaml")); string(data) != "mine\n" {
		t.Errorf("b.yaml changed: %q", data)
	}
	fi, err := os.Stat(filepath.Join(dir, "a.yaml"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("a.yaml: %v %v", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"a.yaml", "b.yaml"}, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

// startAdoptFake serves a fake CertCentral and returns it with a client
// for it.
func startAdoptFake(t testing.TB, opts ...digicerttest.Option) (*digicerttest.Server, *digicert.Client) {
	t.Helper()
	srv := digicerttest.New(testKey, opts...)
	url := srv.Start()
	t.Cleanup(srv.Close)
	client, err := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLimits())
	if err != nil {
		t.Fatal(err)
	}
	return srv, client
}

// TestBulk_taken: orders the state or a spec accounts for already,
// and orders adopt cannot describe, are skipped with the reason; the rest
// are written.
func TestBulk_taken(t *testing.T) {
	srv, client := startAdoptFake(t, digicerttest.WithDisableCTField())
	add := func(o digicerttest.Order) int {
		if o.ProductType == "" {
			o.ProductType = "ov"
		}
		if o.OrganizationID == 0 {
			o.OrganizationID = 7
		}
		return srv.AddOrder(o)
	}
	tracked := add(digicerttest.Order{CommonName: "tracked.example.com"})
	earlier := add(digicerttest.Order{CommonName: "renewed.example.com"})
	current := add(digicerttest.Order{CommonName: "renewed.example.com"})
	reportedRenewal := add(digicerttest.Order{CommonName: "c.example.com"})
	cOrder := add(digicerttest.Order{CommonName: "c.example.com"})
	renewsTracked := add(digicerttest.Order{CommonName: "tracked.example.com", RenewalOfOrderID: tracked})
	inFlight := add(digicerttest.Order{CommonName: "d.example.com", AlternativeOrderID: "cf-d-0123456789ab"})
	named := add(digicerttest.Order{CommonName: "named.example.com"})
	sameNames := add(digicerttest.Order{CommonName: "shop.example.com", DNSNames: []string{"www.shop.example.com"}})
	badName := add(digicerttest.Order{CommonName: "bad_name.example.com"})
	noOrg := srv.AddOrder(digicerttest.Order{CommonName: "noorg.example.com", ProductType: "ov"})
	dv := add(digicerttest.Order{CommonName: "dv.example.com", ProductType: "dv"})
	fine := add(digicerttest.Order{CommonName: "fine.example.com", Status: "waiting_pickup"})

	known := &state.File{Version: state.Version, Entries: map[string]*state.Entry{
		"a": {OrderID: tracked},
		"b": {OrderID: current, PreviousOrderIDs: []int{earlier}},
		"c": {OrderID: cOrder, RenewedOrderID: reportedRenewal},
		"d": {Intent: &state.Intent{Action: state.IntentOrder, AlternativeOrderID: "cf-d-0123456789ab"}},
	}}
	csr, err := spectest.CSR("shop.example.com", "www.shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"named.yaml": fmt.Sprintf("name: named\ncommon_name: named.example.com\norganization_id: 7\norder_id: %d\n", named),
		"shop.yaml":  "name: shop\ncommon_name: shop.example.com\ndns_names: [www.shop.example.com]\norganization_id: 7\ncsr: |\n" + spectest.Indent(csr),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	job := &Bulk{API: client, Dir: dir, Out: "adopted", Known: known, Parallelism: 4, Now: func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }}
	rep, err := job.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantSkipped := []Skip{
		{tracked, "tracked.example.com", "tracked as a in the state file"},
		{earlier, "renewed.example.com", "an earlier order of b in the state file, which tracks its renewal"},
		{current, "renewed.example.com", "tracked as b in the state file"},
		{reportedRenewal, "c.example.com", "the renewal of the order the state file tracks as c; certform tracks it for c itself"},
		{cOrder, "c.example.com", "tracked as c in the state file"},
		{renewsTracked, "tracked.example.com", fmt.Sprintf("the renewal of order %d, tracked as a in the state file; certform tracks it for a itself", tracked)},
		{inFlight, "d.example.com", "placed by certform for d (alternative order id cf-d-0123456789ab); apply records it"},
		{named, "named.example.com", "named by order_id in spec file named.yaml"},
		{sameNames, "shop.example.com", fmt.Sprintf("spec shop (shop.yaml) has exactly its names; to track this order for it, run certform import shop %d", sameNames)},
		{badName, "bad_name.example.com", `common name "bad_name.example.com" is not a DNS name: "_" is not allowed (use a-z, 0-9 and '-'); write its spec by hand`},
		{noOrg, "noorg.example.com", "CertCentral reports no organization id; write its spec by hand"},
		{dv, "dv.example.com", "product ssl_dv is not one certform knows (ov, ev, grid, private); write its spec by hand"},
	}
	if diff := cmp.Diff(wantSkipped, rep.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if len(rep.Written) != 1 || rep.Written[0].OrderID != fine || rep.Written[0].File != "adopted/fine-example-com.yaml" || len(rep.Failed) != 0 || len(rep.Invalid) != 0 {
		t.Errorf("written %+v, failed %+v, invalid %v", rep.Written, rep.Failed, rep.Invalid)
	}
	// The orders skipped after the list (bad name, no organization, and
	// the one in flight, whose list entry lacks its alternative order id
	// as a real listing does) were read; those skipped on the list alone
	// were not.
	var gets []string
	for _, c := range srv.Calls() {
		if c != "GET /order/certificate?limit=1000&offset=0" {
			gets = append(gets, c)
		}
	}
	if len(gets) != 4 || len(writes(srv)) != 0 {
		t.Errorf("calls after the list: %v", gets)
	}
}

// TestBulk_refused: a spec directory with errors, or a folder outside
// it or hidden, stops adopt before any call.
func TestBulk_refused(t *testing.T) {
	srv, client := startAdoptFake(t)
	srv.AddOrder(digicerttest.Order{CommonName: "www.example.com", ProductType: "ov", OrganizationID: 1})
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "bad.yaml"), []byte("name: bad\ncommon_nme: x.example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := t.TempDir()
	tests := []struct {
		name, dir, out, want string
	}{
		{name: "spec errors", dir: broken, out: "adopted", want: "bad.yaml:1:1: common_name: is required: the domain the certificate secures, such as `common_name: shop.example.com`\n" +
			"bad.yaml:1:1: csr: is required: give the PEM request inline as csr, or a path to it as csr_file (a spec with order_id may leave it out); hint: or let certform make the key and the CSR with key_type, such as `key_type: ecdsa-p256` (here or in a defaults.yaml)\n" +
			"bad.yaml:1:1: organization_id: is required: the CertCentral organization id, such as `organization_id: 112233` (here or in a defaults.yaml)\n" +
			"bad.yaml:2:1: common_nme: unknown key; did you mean common_name?\n" +
			"1 spec in 1 file: 4 errors in 1 file; nothing adopted: adopt needs every spec's name and order_id to know which orders the specs name\n" +
			"hint: fix them first (certform validate --dir " + broken + ")"},
		{name: "outside", dir: good, out: "../elsewhere", want: "--out ../elsewhere: it is outside the spec directory " + good + "; adopt writes specs below --dir only"},
		{name: "hidden", dir: good, out: ".adopted", want: `--out .adopted: ".adopted" is hidden or an editor leftover, so certform would not read the specs there`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetRequests()
			job := &Bulk{API: client, Dir: tt.dir, Out: tt.out, Known: &state.File{}, Parallelism: 4}
			_, err := job.Run(context.Background())
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n%v\nwant:\n%s", err, tt.want)
			}
			if len(srv.Calls()) != 0 {
				t.Errorf("calls %v", srv.Calls())
			}
		})
	}
}

// BenchmarkBulk1000 runs adopt in-process over an account of 1,000 live
// orders that nothing tracks: one paged list call, then one GET per order,
// 4 at a time, and 1,000 files written. "fake": no latency and no client
// limits, certform's own cost. "latency50ms-limits/10": 50 ms an answer and
// CertCentral's windows scaled by 1/10 (100 per 0.5 s, 1000 per 18 s), as
// BenchmarkApply1000 does: the 1,001st call waits for the 18-second window.
// Reported: ns/op (wall time of one adopt), calls/op, writes/op (calls
// other than GET: 0) and files/op.
func BenchmarkBulk1000(b *testing.B) {
	scaled := []digicert.Limit{{N: 100, Per: 500 * time.Millisecond}, {N: 1000, Per: 18 * time.Second}}
	for _, bc := range []struct {
		name    string
		latency time.Duration
		limits  []digicert.Limit
	}{
		{name: "fake"},
		{name: "latency50ms-limits/10", latency: 50 * time.Millisecond, limits: scaled},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := digicerttest.New(testKey, digicerttest.WithLatency(bc.latency))
			url := srv.Start()
			defer srv.Close()
			for i := 0; i < 1000; i++ {
				srv.AddOrder(digicerttest.Order{CommonName: fmt.Sprintf("host%04d.example.com", i), DNSNames: []string{fmt.Sprintf("www.host%04d.example.com", i)},
					ProductType: "ov", OrganizationID: 112233, DisableCT: i%2 == 0})
			}
			var calls, writeCalls, files int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				srv.ResetRequests()
				client, err := digicert.New(testKey, digicert.WithBaseURL(url), digicert.WithLimits(bc.limits...))
				if err != nil {
					b.Fatal(err)
				}
				job := &Bulk{API: client, Dir: b.TempDir(), Out: "adopted", Known: &state.File{Version: state.Version, Entries: map[string]*state.Entry{}}, Parallelism: 4}
				b.StartTimer()
				rep, err := job.Run(context.Background())
				b.StopTimer()
				if err != nil || len(rep.Failed) > 0 || len(rep.Invalid) > 0 || len(rep.Written) != 1000 {
					b.Fatalf("%v; %d written, failed %v, invalid %v", err, len(rep.Written), rep.Failed, rep.Invalid)
				}
				calls += len(srv.Calls())
				writeCalls += len(writes(srv))
				files += len(rep.Written)
				b.StartTimer()
			}
			b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
			b.ReportMetric(float64(writeCalls)/float64(b.N), "writes/op")
			b.ReportMetric(float64(files)/float64(b.N), "files/op")
		})
	}
}

// writes returns the calls the fake answered other than GET.
func writes(srv *digicerttest.Server) []string {
	var out []string
	for _, c := range srv.Calls() {
		if !strings.HasPrefix(c, "GET ") {
			out = append(out, c)
		}
	}
	return out
}
