package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/certform/certform/internal/cli/view"
	"github.com/certform/certform/internal/fsx"
	"github.com/spf13/pflag"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// adoptClosed are the statuses of orders that are not live. certform
// adopts none of them.
var adoptClosed = map[string]bool{"revoked": true, "canceled": true, "rejected": true, "expired": true}

// adoptAPI is what adopt calls on CertCentral: GET calls only.
// *digicert.Client implements it.
type adoptAPI interface {
	ListOrders(ctx context.Context, f digicert.OrderFilter) ([]digicert.Order, error)
	GetOrder(ctx context.Context, orderID int) (*digicert.Order, error)
}

// adoptJob is one certform adopt without its command line: it lists the
// account's orders, picks the live ones that neither the state nor a spec
// tracks, reads each (Parallelism at a time) and writes a spec for it into
// Out, or with DryRun returns the files without writing them. It never
// calls a write endpoint and never changes the state.
type adoptJob struct {
	API adoptAPI
	// Dir is the spec directory; Out the folder to write into, relative
	// to Dir or absolute, and inside Dir.
	Dir, Out string
	// Known is the state file's content, only read.
	Known *state.File
	// Statuses, when not nil, are the statuses to adopt (all live).
	// CommonName, when not "", is a path.Match pattern, in lower case,
	// that the order's common name must match.
	Statuses   map[string]bool
	CommonName string
	DryRun     bool
	// Parallelism is how many orders are read at once (at least 1).
	Parallelism int
	// Now dates the files' header (time.Now when nil).
	Now func() time.Time
	// Check, when set, runs once the command line and the spec directory
	// are found good, before the first call: the CLI's preflight.
	Check func(context.Context) error
}

// errReported is an error already told to the user.
var errReported = errors.New("reported")

// adoptReport is what an adoptJob did.
type adoptReport struct {
	// Written are the files written (with DryRun: to write), by order id;
	// File is relative to Dir, with forward slashes.
	Written []adoptFile
	// Skipped are orders left alone on purpose, by order id, with why.
	Skipped []adoptSkip
	// NotLive counts the orders left out for not being live, by status.
	NotLive map[string]int
	// Failed are orders that could not be read or written, with the error.
	Failed []adoptSkip
	// Invalid are errors Load reports, after writing, in the files
	// written: a bug, never expected.
	Invalid []*spec.Error
}

// adoptFile is one spec file adopt wrote.
type adoptFile struct {
	File       string
	OrderID    int
	CommonName string
	Content    []byte
}

// adoptSkip is an order adopt left alone, or failed on, and why.
type adoptSkip struct {
	OrderID    int
	CommonName string
	Reason     string
}

// adoptSpecErrors is the error for a spec directory with errors: adopt
// needs every spec's name and order_id to know which orders are taken.
type adoptSpecErrors struct {
	dir string
	res *spec.Result
}

func (e *adoptSpecErrors) Error() string {
	var b strings.Builder
	for _, se := range e.res.Errors {
		fmt.Fprintln(&b, se)
	}
	fmt.Fprintf(&b, "%s; nothing adopted: adopt needs every spec's name and order_id to know which orders the specs name\n", e.res.Summary())
	fmt.Fprintf(&b, "hint: fix them first (certform validate --dir %s)", e.dir)
	return b.String()
}

// run does the job. Its error means nothing was written: the spec
// directory has errors, Out is not a folder below Dir, or the account's
// orders could not be listed. Failures on single orders are in the
// report, and the other orders are still adopted.
func (j *adoptJob) run(ctx context.Context) (*adoptReport, error) {
	specs, err := spec.Load(j.Dir)
	if err != nil {
		return nil, err
	}
	if len(specs.Errors) > 0 {
		return nil, &adoptSpecErrors{dir: j.Dir, res: specs}
	}
	out := j.Out
	if !filepath.IsAbs(out) {
		out = filepath.Join(j.Dir, out)
	}
	folder, err := relFolder(j.Dir, out)
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w", j.Out, err)
	}
	defaults, derrs, err := spec.DefaultsFor(j.Dir, out)
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w", j.Out, err)
	}
	if len(derrs) > 0 { // Load reported them already; kept for safety
		return nil, &adoptSpecErrors{dir: j.Dir, res: &spec.Result{Errors: derrs}}
	}
	if fi, err := os.Stat(out); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("--out %s is not a folder", j.Out)
	}

	if j.Check != nil {
		if err := j.Check(ctx); err != nil {
			return nil, err
		}
	}
	listed, err := j.API.ListOrders(ctx, digicert.OrderFilter{})
	if err != nil {
		return nil, fmt.Errorf("listing the account's orders: %w", err)
	}
	sort.Slice(listed, func(a, b int) bool { return listed[a].ID < listed[b].ID })
	idx := newAdoptIndex(j.Known, specs)
	rep := &adoptReport{NotLive: map[string]int{}}
	var picked []digicert.Order
	for _, o := range listed {
		cn := strings.ToLower(strings.TrimSpace(o.Certificate.CommonName))
		if j.Statuses != nil && !j.Statuses[o.Status] {
			continue
		}
		if j.CommonName != "" {
			if ok, _ := path.Match(j.CommonName, cn); !ok {
				continue
			}
		}
		if adoptClosed[o.Status] {
			rep.NotLive[o.Status]++
			continue
		}
		reason := idx.taken(&o)
		if reason == "" && o.Product.NameID != "" {
			if _, ok := adoptProduct(o.Product.NameID); !ok {
				reason = unknownProduct(o.Product.NameID)
			}
		}
		if reason != "" {
			rep.Skipped = append(rep.Skipped, adoptSkip{o.ID, cn, reason})
			continue
		}
		picked = append(picked, o)
	}

	got, errs := fetchOrders(ctx, j.API, picked, max(1, j.Parallelism))
	now := time.Now
	if j.Now != nil {
		now = j.Now
	}
	date := now().UTC().Format("2006-01-02")
	taken := map[string]bool{}
	for _, o := range specs.Orders {
		taken[o.Name] = true
	}
	if j.Known != nil {
		for n := range j.Known.Entries {
			taken[n] = true
		}
	}
	made := false
	for i, listedOrder := range picked {
		cn := strings.ToLower(strings.TrimSpace(listedOrder.Certificate.CommonName))
		if errs[i] != nil {
			rep.Failed = append(rep.Failed, adoptSkip{listedOrder.ID, cn, fmt.Sprintf("reading the order: %v", errs[i])})
			continue
		}
		o := mergeListed(got[i], &listedOrder)
		if o.ID != listedOrder.ID {
			rep.Failed = append(rep.Failed, adoptSkip{listedOrder.ID, cn, fmt.Sprintf("reading the order: CertCentral answered with order %d", o.ID)})
			continue
		}
		s, reason := buildAdoptSpec(o)
		if reason == "" {
			reason = idx.taken(o)
		}
		if reason != "" {
			rep.Skipped = append(rep.Skipped, adoptSkip{o.ID, cn, reason})
			continue
		}
		s.Date = date
		s.Name = uniqueName(adoptName(s.CommonName, o.ID), taken)
		file := path.Join(folder, s.Name+".yaml")
		target := filepath.Join(out, s.Name+".yaml")
		if _, err := os.Lstat(target); err == nil {
			rep.Skipped = append(rep.Skipped, adoptSkip{o.ID, cn, file + " exists; it is not overwritten"})
			continue
		}
		content := renderAdoptSpec(s, defaults)
		if !j.DryRun {
			if !made {
				if err := os.MkdirAll(out, 0o700); err != nil {
					return nil, fmt.Errorf("--out %s: %w", j.Out, err)
				}
				fsx.RemoveStale(out, adoptTempPattern, staleTempAge)
				made = true
			}
			if err := writeNewFile(out, s.Name+".yaml", content); errors.Is(err, fs.ErrExist) {
				rep.Skipped = append(rep.Skipped, adoptSkip{o.ID, cn, file + " exists; it is not overwritten"})
				continue
			} else if err != nil {
				rep.Failed = append(rep.Failed, adoptSkip{o.ID, cn, fmt.Sprintf("writing %s: %v", file, err)})
				continue
			}
		}
		taken[s.Name] = true
		rep.Written = append(rep.Written, adoptFile{File: file, OrderID: o.ID, CommonName: s.CommonName, Content: content})
	}
	if !j.DryRun && len(rep.Written) > 0 {
		rep.Invalid = invalidWritten(j.Dir, rep.Written)
	}
	byID := func(list []adoptSkip) func(a, b int) bool {
		return func(a, b int) bool { return list[a].OrderID < list[b].OrderID }
	}
	sort.SliceStable(rep.Skipped, byID(rep.Skipped))
	sort.SliceStable(rep.Failed, byID(rep.Failed))
	return rep, nil
}

// invalidWritten loads dir again and returns the errors in the files
// written, if any.
func invalidWritten(dir string, written []adoptFile) []*spec.Error {
	files := map[string]bool{}
	for _, w := range written {
		files[w.File] = true
	}
	res, err := spec.Load(dir)
	if err != nil {
		return []*spec.Error{{File: ".", Line: 1, Column: 1, Msg: err.Error()}}
	}
	var out []*spec.Error
	for _, e := range res.Errors {
		if files[e.File] {
			out = append(out, e)
		}
	}
	return out
}

// relFolder returns folder relative to dir, with forward slashes and
// symlinks resolved where they exist ("." for dir itself). It refuses a
// folder outside dir, and one that certform's loader does not read (hidden
// or an editor leftover).
func relFolder(dir, folder string) (string, error) {
	rel, ok := fsx.Rel(dir, folder)
	if !ok {
		return "", fmt.Errorf("it is outside the spec directory %s; adopt writes specs below --dir only", dir)
	}
	rel = filepath.ToSlash(rel)
	if rel != "." {
		for _, part := range strings.Split(rel, "/") {
			if spec.IgnoredName(part) {
				return "", fmt.Errorf("%q is hidden or an editor leftover, so certform would not read the specs there", part)
			}
		}
	}
	return rel, nil
}

// fetchOrders reads each order with GET /order/certificate/{id},
// parallelism at a time; got[i] and errs[i] are the answer for orders[i].
func fetchOrders(ctx context.Context, api adoptAPI, orders []digicert.Order, parallelism int) (got []*digicert.Order, errs []error) {
	got, errs = make([]*digicert.Order, len(orders)), make([]error, len(orders))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(parallelism, len(orders)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				got[i], errs[i] = api.GetOrder(ctx, orders[i].ID)
			}
		}()
	}
	for i := range orders {
		next <- i
	}
	close(next)
	wg.Wait()
	return got, errs
}

// mergeListed returns the order as GET answered it, with the values only
// the list entry carries filled in.
func mergeListed(got, listed *digicert.Order) *digicert.Order {
	o := *got
	if strings.TrimSpace(o.Certificate.CommonName) == "" {
		o.Certificate.CommonName, o.Certificate.DNSNames = listed.Certificate.CommonName, listed.Certificate.DNSNames
	}
	if o.Product.NameID == "" {
		o.Product = listed.Product
	}
	if o.OrganizationID() == 0 {
		o.Organization, o.Certificate.Organization = listed.Organization, listed.Certificate.Organization
	}
	if o.DisableCT == nil {
		o.DisableCT = listed.DisableCT
	}
	if o.AutoReissue == nil {
		o.AutoReissue = listed.AutoReissue
	}
	if o.DateCreated == "" {
		o.DateCreated = listed.DateCreated
	}
	if o.OrderValidTill == "" {
		o.OrderValidTill = listed.OrderValidTill
	}
	if o.AlternativeOrderID == "" {
		o.AlternativeOrderID = listed.AlternativeOrderID
	}
	if o.RenewalOfOrderID == 0 {
		o.RenewalOfOrderID = listed.RenewalOfOrderID
	}
	return &o
}

// adoptIndex says which orders are taken already: by the state, or by a
// spec.
type adoptIndex struct {
	tracked  map[int]string    // order id -> entry tracking it
	previous map[int]string    // an entry's earlier (renewed) order -> entry
	renewals map[int]string    // the renewal CertCentral reported for an entry's order -> entry
	altIDs   map[string]string // alternative order id of an entry or its intent -> entry
	specIDs  map[int]string    // order_id -> spec file naming it
	names    map[string]*spec.Order
}

func newAdoptIndex(known *state.File, specs *spec.Result) *adoptIndex {
	x := &adoptIndex{tracked: map[int]string{}, previous: map[int]string{}, renewals: map[int]string{},
		altIDs: map[string]string{}, specIDs: map[int]string{}, names: map[string]*spec.Order{}}
	hasOrder := map[string]bool{}
	if known != nil {
		for _, n := range known.Names() {
			e := known.Entries[n]
			if e.OrderID != 0 {
				x.tracked[e.OrderID] = n
			}
			for _, id := range e.PreviousOrderIDs {
				x.previous[id] = n
			}
			if e.RenewedOrderID != 0 {
				x.renewals[e.RenewedOrderID] = n
			}
			if e.AlternativeOrderID != "" {
				x.altIDs[e.AlternativeOrderID] = n
			}
			if e.Intent != nil && e.Intent.AlternativeOrderID != "" {
				x.altIDs[e.Intent.AlternativeOrderID] = n
			}
			hasOrder[n] = e.OrderID != 0 || e.Intent != nil
		}
	}
	for _, o := range specs.Orders {
		switch {
		case o.OrderID != 0:
			x.specIDs[o.OrderID] = o.File
		case !hasOrder[o.Name] && !o.AllowExistingNames:
			x.names[namesKey(o.CommonName, o.DNSNames)] = o
		}
	}
	return x
}

// namesKey is a set of names as one string: lower case, sorted, unique.
func namesKey(cn string, dns []string) string {
	set := map[string]bool{}
	for _, n := range append([]string{cn}, dns...) {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			set[n] = true
		}
	}
	list := make([]string, 0, len(set))
	for n := range set {
		list = append(list, n)
	}
	sort.Strings(list)
	return strings.Join(list, ",")
}

// taken returns why the order is not adopted, or "" when nothing tracks
// or names it.
func (x *adoptIndex) taken(o *digicert.Order) string {
	if n, ok := x.tracked[o.ID]; ok {
		return fmt.Sprintf("tracked as %s in the state file", n)
	}
	if n, ok := x.previous[o.ID]; ok {
		return fmt.Sprintf("an earlier order of %s in the state file, which tracks its renewal", n)
	}
	if n, ok := x.renewals[o.ID]; ok {
		return fmt.Sprintf("the renewal of the order the state file tracks as %s; certform tracks it for %s itself", n, n)
	}
	if n, ok := x.tracked[o.RenewalOfOrderID]; ok && o.RenewalOfOrderID != 0 {
		return fmt.Sprintf("the renewal of order %d, tracked as %s in the state file; certform tracks it for %s itself", o.RenewalOfOrderID, n, n)
	}
	if n, ok := x.altIDs[o.AlternativeOrderID]; ok && o.AlternativeOrderID != "" {
		return fmt.Sprintf("placed by certform for %s (alternative order id %s); apply records it", n, o.AlternativeOrderID)
	}
	if f, ok := x.specIDs[o.ID]; ok {
		return "named by order_id in spec file " + f
	}
	if s, ok := x.names[namesKey(o.Certificate.CommonName, o.Certificate.DNSNames)]; ok {
		return fmt.Sprintf("spec %s (%s) has exactly its names; to track this order for it, run certform import %s %d", s.Name, s.File, s.Name, o.ID)
	}
	return ""
}

// adoptSpec is the spec adopt writes for one order.
type adoptSpec struct {
	Name       string
	CommonName string
	// DNSNames are the order's other names: lower case, sorted, without
	// the common name or repeats.
	DNSNames       []string
	OrganizationID int
	Product        string
	// ValidityYears or ValidityDays, or neither when ValidityNote says
	// why the order's validity is unknown.
	ValidityYears, ValidityDays int
	ValidityNote                string
	// SignatureHash is the order's, one of those a spec takes; "" when
	// CertCentral reported none, or, with SignatureNote, one certform
	// does not take.
	SignatureHash, SignatureNote string
	DisableCT, AutoReissue       bool
	// DisableCTUnknown and AutoReissueUnknown say that CertCentral's
	// answer left the setting out (disable_ct is not on DigiCert's
	// order-info page): the spec leaves it out too, with a comment, and
	// the spec's value (its default) is then taken as the order's, so
	// certform changes nothing on a guess.
	DisableCTUnknown, AutoReissueUnknown bool
	OrderID                              int
	// Status and Date (YYYY-MM-DD) are for the header comment.
	Status, Date string
}

// buildAdoptSpec derives a spec from a CertCentral order (without Name
// and Date), or returns why the order cannot be adopted.
func buildAdoptSpec(o *digicert.Order) (adoptSpec, string) {
	if adoptClosed[o.Status] {
		return adoptSpec{}, fmt.Sprintf("not live (%s)", o.Status)
	}
	cn := strings.ToLower(strings.TrimSpace(o.Certificate.CommonName))
	if cn == "" {
		return adoptSpec{}, "CertCentral reports no common name; write its spec by hand"
	}
	if err := spec.CheckDNSName(cn); err != nil {
		return adoptSpec{}, fmt.Sprintf("common name %v; write its spec by hand", err)
	}
	dns := adoptDNSNames(cn, o.Certificate.DNSNames)
	for _, n := range dns {
		if err := spec.CheckDNSName(n); err != nil {
			return adoptSpec{}, fmt.Sprintf("DNS name %v; write its spec by hand", err)
		}
	}
	product, ok := adoptProduct(o.Product.NameID)
	if !ok {
		return adoptSpec{}, unknownProduct(o.Product.NameID)
	}
	if o.OrganizationID() <= 0 {
		return adoptSpec{}, "CertCentral reports no organization id; write its spec by hand"
	}
	s := adoptSpec{CommonName: cn, DNSNames: dns, OrganizationID: o.OrganizationID(), Product: product,
		DisableCT: o.DisableCT.Or(false), AutoReissue: o.AutoReissue.Or(false), OrderID: o.ID, Status: o.Status,
		DisableCTUnknown: o.DisableCT == nil, AutoReissueUnknown: o.AutoReissue == nil}
	s.ValidityYears, s.ValidityDays, s.ValidityNote = adoptValidity(o.DateCreated, o.OrderValidTill)
	switch h := strings.ToLower(strings.TrimSpace(o.Certificate.SignatureHash)); h {
	case "":
	case "sha256", "sha384", "sha512":
		s.SignatureHash = h
	default:
		s.SignatureNote = fmt.Sprintf("CertCentral reports %s, which a spec cannot ask for", h)
	}
	return s, ""
}

func unknownProduct(nameID string) string {
	if nameID == "" {
		return "CertCentral reports no product; write its spec by hand"
	}
	return fmt.Sprintf("product %s is not one certform knows (ov, ev, grid, private); write its spec by hand", nameID)
}

// adoptDNSNames returns an order's DNS names for a spec: trimmed, lower
// case, sorted, without blanks (DigiCert has been seen to send an empty
// list as [" "]), repeats or the common name cn.
func adoptDNSNames(cn string, dns []string) []string {
	seen := map[string]bool{cn: true}
	var out []string
	for _, n := range dns {
		n = strings.ToLower(strings.TrimSpace(n))
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// adoptProducts maps CertCentral's product name_id to certform's product
// (its type_hint). The fake answers "ssl_" and the type hint; the others
// are DigiCert's OV and EV SSL products. Names containing "private" or
// "grid" are those families; anything else is unknown, never guessed.
var adoptProducts = map[string]string{
	"ssl_ov": "ov", "ssl_ev": "ev", "ssl_grid": "grid", "ssl_private": "private",
	"ssl_plus": "ov", "ssl_multi_domain": "ov", "ssl_wildcard": "ov", "ssl_cloud_wildcard": "ov",
	"ssl_basic": "ov", "ssl_securesite_pro": "ov", "ssl_securesite_flex": "ov",
	"ssl_ev_plus": "ev", "ssl_ev_multi_domain": "ev", "ssl_ev_basic": "ev", "ssl_ev_securesite_pro": "ev", "ssl_ev_securesite_flex": "ev",
}

// adoptProduct returns certform's product for a name_id, and false when
// certform does not know it.
func adoptProduct(nameID string) (string, bool) {
	id := strings.ToLower(strings.TrimSpace(nameID))
	if p, ok := adoptProducts[id]; ok {
		return p, true
	}
	switch {
	case strings.Contains(id, "private"):
		return "private", true
	case strings.Contains(id, "grid"):
		return "grid", true
	}
	return "", false
}

// adoptValidity derives an order's validity from its date_created and
// order_valid_till (compared as days, UTC): whole years, 1 to 3, when the
// end is within 31 days of that many years after the start, else days, 1
// to 1095. When neither fits or a date is missing, both are 0 and why
// says so.
func adoptValidity(created, validTill string) (years, days int, why string) {
	start, ok := digicert.ParseDate(created)
	if !ok {
		return 0, 0, "CertCentral reported no date_created"
	}
	end, ok := digicert.ParseDate(validTill)
	if !ok {
		return 0, 0, "CertCentral reported no order_valid_till"
	}
	day := func(t time.Time) time.Time {
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	start, end = day(start), day(end)
	const slack = 31 * 24 * time.Hour
	for y := 1; y <= 3; y++ {
		if d := end.Sub(start.AddDate(y, 0, 0)); d >= -slack && d <= slack {
			return y, 0, ""
		}
	}
	n := int(end.Sub(start).Hours() / 24)
	if n < 1 || n > 1095 {
		return 0, 0, fmt.Sprintf("the order runs %d days, from %s to %s, which is not 1 to 1095 days", n, start.Format("2006-01-02"), end.Format("2006-01-02"))
	}
	return 0, n, ""
}

// nameLimit is the longest spec name (spec's name rule: 1 to 63
// characters).
const nameLimit = 63

var specNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// adoptName derives a spec name from a common name: lower case, "*."
// becomes "wildcard-", every character but a-z, 0-9, '_' and '-' becomes
// '-' (www.example.com -> www-example-com), at most 63 characters. It
// falls back to "order-ID" when nothing usable is left.
func adoptName(cn string, orderID int) string {
	cn = strings.ToLower(strings.TrimSpace(cn))
	if rest, ok := strings.CutPrefix(cn, "*."); ok {
		cn = "wildcard-" + rest
	}
	b := []byte(cn)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	name := strings.TrimLeft(string(b), "-_")
	if len(name) > nameLimit {
		name = name[:nameLimit]
	}
	name = strings.TrimRight(name, "-_.")
	if !specNameRE.MatchString(name) {
		return fmt.Sprintf("order-%d", orderID)
	}
	return name
}

// uniqueName returns base, or base with -2, -3, ... appended (shortened
// to stay within 63 characters), whichever taken does not hold first.
func uniqueName(base string, taken map[string]bool) string {
	if !taken[base] {
		return base
	}
	for i := 2; ; i++ {
		suffix := "-" + strconv.Itoa(i)
		b := base
		if len(b)+len(suffix) > nameLimit {
			b = strings.TrimRight(b[:nameLimit-len(suffix)], "-_.")
		}
		if n := b + suffix; !taken[n] {
			return n
		}
	}
}

// renderAdoptSpec writes s as a spec file: a header comment, then name,
// common_name, dns_names (left out when empty), organization_id, product,
// signature_hash (only when it differs from what the spec would get
// otherwise), validity, disable_ct, auto_reissue and order_id. A value the
// effective defaults (spec.DefaultsFor) give already is left out.
func renderAdoptSpec(s adoptSpec, defaults map[string]any) []byte {
	same := func(key string, v any) bool {
		d, ok := defaults[key]
		return ok && d == v
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Generated by certform adopt from CertCentral order %d (status %s) on %s.\n", s.OrderID, s.Status, s.Date)
	b.WriteString("# Review it; certform plan shows it as an adopt action.\n")
	fmt.Fprintf(&b, "name: %s\n", yamlString(s.Name))
	fmt.Fprintf(&b, "common_name: %s\n", yamlString(s.CommonName))
	if len(s.DNSNames) > 0 {
		b.WriteString("dns_names:\n")
		for _, n := range s.DNSNames {
			fmt.Fprintf(&b, "  - %s\n", yamlString(n))
		}
	}
	if !same("organization_id", s.OrganizationID) {
		fmt.Fprintf(&b, "organization_id: %d\n", s.OrganizationID)
	}
	if !same("product", s.Product) {
		fmt.Fprintf(&b, "product: %s\n", s.Product)
	}
	hash, _ := defaults["signature_hash"].(string)
	if hash == "" {
		hash = "sha256"
	}
	switch {
	case s.SignatureHash != "" && s.SignatureHash != hash:
		fmt.Fprintf(&b, "signature_hash: %s\n", s.SignatureHash)
	case s.SignatureNote != "":
		fmt.Fprintf(&b, "# signature_hash: left out: %s; %s applies.\n", s.SignatureNote, hash)
	}
	_, defaultDays := defaults["validity_days"]
	_, defaultYears := defaults["validity_years"]
	switch {
	case s.ValidityYears != 0:
		if !same("validity_years", s.ValidityYears) || defaultDays {
			fmt.Fprintf(&b, "validity_years: %d\n", s.ValidityYears)
		}
	case s.ValidityDays != 0:
		if !same("validity_days", s.ValidityDays) || defaultYears {
			fmt.Fprintf(&b, "validity_days: %d\n", s.ValidityDays)
		}
	default:
		applies := "the spec default, 1 year, applies"
		switch {
		case defaultYears:
			applies = fmt.Sprintf("validity_years: %v from a defaults.yaml applies", defaults["validity_years"])
		case defaultDays:
			applies = fmt.Sprintf("validity_days: %v from a defaults.yaml applies", defaults["validity_days"])
		}
		fmt.Fprintf(&b, "# validity: left out: %s; %s.\n", s.ValidityNote, applies)
	}
	unknown := func(key string) {
		v, ok := defaults[key]
		if !ok {
			v = false
		}
		fmt.Fprintf(&b, "# %s: left out: CertCentral's answer does not say; the spec's value (%v) is taken as the order's and certform does not change it. Write the order's setting here if it differs.\n", key, v)
	}
	switch {
	case s.DisableCTUnknown:
		unknown("disable_ct")
	case !same("disable_ct", s.DisableCT):
		fmt.Fprintf(&b, "disable_ct: %t\n", s.DisableCT)
	}
	switch {
	case s.AutoReissueUnknown:
		unknown("auto_reissue")
	case !same("auto_reissue", s.AutoReissue):
		fmt.Fprintf(&b, "auto_reissue: %t\n", s.AutoReissue)
	}
	fmt.Fprintf(&b, "order_id: %d\n", s.OrderID)
	return b.Bytes()
}

// yamlString writes s as a YAML scalar: plain when YAML reads it back as
// this string, quoted otherwise (such as '*.example.com').
func yamlString(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// adoptTempPattern names adopt's temporary files: hidden, so that
// certform's loader and watcher ignore them.
const adoptTempPattern = ".adopt-*.tmp"

// writeNewFile writes data to dir/name atomically and never over an
// existing file (fsx.WriteFile with NoReplace), mode 0600. An existing
// name, even one created a moment before, is an error matching
// fs.ErrExist.
func writeNewFile(dir, name string, data []byte) error {
	_, err := fsx.WriteFile(filepath.Join(dir, name), data, fsx.Options{NoReplace: true, TempPattern: adoptTempPattern})
	return err
}

// parseStatuses reads --status: comma-separated order statuses, each a
// live one. It returns nil for "".
func parseStatuses(s string) (map[string]bool, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]bool{}
	for _, st := range strings.Split(s, ",") {
		st = strings.ToLower(strings.TrimSpace(st))
		switch {
		case st == "" || strings.Trim(st, "abcdefghijklmnopqrstuvwxyz_") != "":
			return nil, fmt.Errorf("--status %q: give order statuses separated by commas, such as issued,pending", s)
		case adoptClosed[st]:
			return nil, fmt.Errorf("--status %s: %s orders are not live, and adopt writes specs for live orders only", st, st)
		}
		out[st] = true
	}
	return out, nil
}

// adoptCmd is certform adopt.
var adoptCmd = &command{
	name: "adopt", args: 0,
	short:    "generate specs for the account's orders that certform does not track",
	synopsis: "--dir DIR --state FILE --out FOLDER [--status S,...] [--common-name GLOB] [--dry-run]",
	long:     "write a spec with order_id for every live CertCentral order that neither the state file tracks nor a spec names; GET calls only, the state is only read",
	setup:    adoptSetup,
}

func adoptSetup(fs *pflag.FlagSet, s *streams) func(args []string) int {
	stdout, stderr := s.stdout, s.stderr
	dir := fs.String("dir", "", specDirUsage)
	var st stateFlags
	st.register(fs, "state file or postgres:// URL, only read (required)")
	out := fs.String("out", "", "folder for the new specs, relative to --dir or absolute, inside --dir; created with mode 0700 (required)")
	statuses := fs.String("status", "", "only orders with one of these comma-separated statuses, such as issued,pending (default: every live status)")
	cn := fs.String("common-name", "", "only orders whose common name matches this pattern (Go's path.Match, whole name, lower case: * any characters, dots included; ? one; [...] a class; \\ escapes), such as '*.example.com'")
	dryRun := fs.Bool("dry-run", false, "print the files on stdout instead of writing them")
	parallelism := fs.Int("parallelism", 4, "orders read at once")
	st.registerAccountMoved(fs, "the state's orders moved to the CertCentral at --api-url: compare with its orders anyway")
	var api apiFlags
	api.register(fs)
	api.env = s.env
	var lf logFlags
	lf.register(fs)
	return func(args []string) int {
		if !requireFlags(fs, stderr, "dir", *dir, "state", st.state, "out", *out) {
			return exitUsage
		}
		loc, ok := checkLocation("adopt", st.state, st.workspace, stderr)
		if !ok {
			return exitUsage
		}
		if *parallelism < 1 {
			fmt.Fprintf(stderr, "certform adopt: --parallelism %d: it must be at least 1\n", *parallelism)
			return exitUsage
		}
		want, err := parseStatuses(*statuses)
		if err != nil {
			fmt.Fprintf(stderr, "certform adopt: %v\n", err)
			return exitUsage
		}
		pattern := strings.ToLower(*cn)
		if _, err := path.Match(pattern, ""); err != nil {
			fmt.Fprintf(stderr, "certform adopt: --common-name %q: %v\n", *cn, err)
			return exitUsage
		}
		logger, client, code := loggerAndClient("adopt", &lf, &api, stderr, s)
		if code != 0 {
			return code
		}
		known, err := loc.Read()
		if err != nil {
			fmt.Fprintf(stderr, "certform adopt: %v\n%s", err, stateHint(err))
			return exitError
		}
		if err := checkAPIURL(nil, known, loc.Name(), client.BaseURL(), st.accountMoved, logger); err != nil {
			fmt.Fprintf(stderr, "certform adopt: %v\n", err)
			return exitError
		}
		ctx := s.ctx
		job := &adoptJob{API: client, Dir: *dir, Out: *out, Known: known, Statuses: want, CommonName: pattern,
			DryRun: *dryRun, Parallelism: *parallelism, Check: func(context.Context) error {
				preflight(client)
				return nil
			}}
		rep, err := job.run(ctx)
		if errors.Is(err, errReported) || unreachable("adopt", stderr, err) {
			return exitError
		}
		if err != nil {
			fmt.Fprintf(stderr, "certform adopt: %v\n", err)
			return exitError
		}
		return printAdopt(stdout, stderr, rep, *dryRun)
	}
}

// printAdopt prints an adopt's report and returns the exit code. Without
// dry run the summary goes to stdout; with it stdout holds the files, each
// after a "# FILE" line, and the summary goes to stderr. Failures go to
// stderr.
func printAdopt(stdout, stderr io.Writer, rep *adoptReport, dryRun bool) int {
	summary, verb := stdout, "Wrote"
	if dryRun {
		summary, verb = stderr, "Would write"
		for _, w := range rep.Written {
			fmt.Fprintf(stdout, "# %s\n%s", w.File, w.Content)
		}
	}
	for _, w := range rep.Written {
		fmt.Fprintf(summary, "%s %s (order %d, %s).\n", verb, w.File, w.OrderID, w.CommonName)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(summary, "Skipped order %d (%s): %s.\n", s.OrderID, s.CommonName, s.Reason)
	}
	if len(rep.NotLive) > 0 {
		var statuses, counts []string
		n := 0
		for st, c := range rep.NotLive {
			statuses = append(statuses, st)
			n += c
		}
		sort.Strings(statuses)
		for _, st := range statuses {
			counts = append(counts, fmt.Sprintf("%d %s", rep.NotLive[st], st))
		}
		that := "orders that are"
		if n == 1 {
			that = "order that is"
		}
		fmt.Fprintf(summary, "Left out %d %s not live: %s.\n", n, that, strings.Join(counts, ", "))
	}
	done := "written"
	if dryRun {
		done = "to write (dry run: nothing written)"
	}
	fmt.Fprintf(summary, "Adopt: %s %s, %s skipped%s.\n", view.CountOf(len(rep.Written), "spec"), done, view.CountOf(len(rep.Skipped), "order"), view.FailedCount(len(rep.Failed)))
	code := exitOK
	for _, e := range rep.Invalid {
		fmt.Fprintf(stderr, "certform adopt: %v\n", e)
		code = exitError
	}
	if len(rep.Failed) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "certform adopt: %d failed:", len(rep.Failed))
		for _, f := range rep.Failed {
			fmt.Fprintf(&b, "\n  order %d (%s): %s", f.OrderID, f.CommonName, f.Reason)
		}
		fmt.Fprintf(stderr, "%s\nhint: run certform adopt again for them; the files written stay, and the orders they name are skipped\n", b.String())
		code = exitError
	}
	return code
}
