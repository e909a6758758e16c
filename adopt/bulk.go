package adopt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/fsx"
	"github.com/certform/certform/internal/nameset"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// API is what bulk adoption calls on CertCentral: GET calls only.
// *digicert.Client implements it.
type API interface {
	ListOrders(ctx context.Context, f digicert.OrderFilter) ([]digicert.Order, error)
	GetOrder(ctx context.Context, orderID int) (*digicert.Order, error)
}

// Bulk is one certform adopt without its command line: it lists the
// account's orders, picks the live ones that neither the state nor a spec
// tracks, reads each (Parallelism at a time) and writes a spec for it into
// Out, or with DryRun returns the files without writing them. It never
// calls a write endpoint and never changes the state.
type Bulk struct {
	API API
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

// Report is what a Bulk did.
type Report struct {
	// Written are the files written (with DryRun: to write), by order id;
	// File is relative to Dir, with forward slashes.
	Written []File
	// Skipped are orders left alone on purpose, by order id, with why.
	Skipped []Skip
	// NotLive counts the orders left out for not being live, by status.
	NotLive map[string]int
	// Failed are orders that could not be read or written, with the error.
	Failed []Skip
	// Invalid are errors Load reports, after writing, in the files
	// written: a bug, never expected.
	Invalid []*spec.Error
}

// File is one spec file adopt wrote.
type File struct {
	File       string
	OrderID    int
	CommonName string
	Content    []byte
}

// Skip is an order adopt left alone, or failed on, and why.
type Skip struct {
	OrderID    int
	CommonName string
	Reason     string
}

// specErrors is the error for a spec directory with errors: adopt needs
// every spec's name and order_id to know which orders are taken.
type specErrors struct {
	dir string
	res *spec.Result
}

func (e *specErrors) Error() string {
	var b strings.Builder
	for _, se := range e.res.Errors {
		fmt.Fprintln(&b, se)
	}
	fmt.Fprintf(&b, "%s; nothing adopted: adopt needs every spec's name and order_id to know which orders the specs name\n", e.res.Summary())
	fmt.Fprintf(&b, "hint: fix them first (certform validate --dir %s)", e.dir)
	return b.String()
}

// bulkRun is one Run of a Bulk: where it writes and what it has done.
type bulkRun struct {
	*Bulk
	// out is the folder written into; folder the same relative to Dir,
	// with forward slashes.
	out, folder string
	defaults    map[string]any
	idx         *index
	rep         *Report
	// taken are the spec names in use: the specs', the state's and those
	// written in this run.
	taken map[string]bool
	date  string
	made  bool // out exists (made or found)
}

// Run does the job. Its error means nothing was written: the spec
// directory has errors, Out is not a folder below Dir, or the account's
// orders could not be listed. Failures on single orders are in the
// report, and the other orders are still adopted.
func (j *Bulk) Run(ctx context.Context) (*Report, error) {
	r, err := j.start()
	if err != nil {
		return nil, err
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
	picked := r.pick(listed)
	got, errs := fetchOrders(ctx, j.API, picked, max(1, j.Parallelism))
	for i := range picked {
		if err := r.adoptOne(&picked[i], got[i], errs[i]); err != nil {
			return nil, err
		}
	}
	r.finish()
	return r.rep, nil
}

// start loads the specs and checks the folder to write into, before any
// call.
func (j *Bulk) start() (*bulkRun, error) {
	specs, err := spec.Load(j.Dir)
	if err != nil {
		return nil, err
	}
	if len(specs.Errors) > 0 {
		return nil, &specErrors{dir: j.Dir, res: specs}
	}
	r := &bulkRun{Bulk: j, out: j.Out, rep: &Report{NotLive: map[string]int{}}, idx: newIndex(j.Known, specs)}
	if !filepath.IsAbs(r.out) {
		r.out = filepath.Join(j.Dir, r.out)
	}
	if r.folder, err = relFolder(j.Dir, r.out); err != nil {
		return nil, fmt.Errorf("--out %s: %w", j.Out, err)
	}
	defaults, derrs, err := spec.DefaultsFor(j.Dir, r.out)
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w", j.Out, err)
	}
	if len(derrs) > 0 { // Load reported them already; kept for safety
		return nil, &specErrors{dir: j.Dir, res: &spec.Result{Errors: derrs}}
	}
	if fi, err := os.Stat(r.out); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("--out %s is not a folder", j.Out)
	}
	r.defaults, r.taken, r.date = defaults, takenNames(specs, j.Known), j.today()
	return r, nil
}

// today is the date for the files' header, YYYY-MM-DD in UTC.
func (j *Bulk) today() string {
	now := time.Now
	if j.Now != nil {
		now = j.Now
	}
	return now().UTC().Format("2006-01-02")
}

// takenNames returns the names of the specs and of the state's entries.
func takenNames(specs *spec.Result, known *state.File) map[string]bool {
	taken := map[string]bool{}
	for _, o := range specs.Orders {
		taken[o.Name] = true
	}
	if known != nil {
		for n := range known.Entries {
			taken[n] = true
		}
	}
	return taken
}

// pick returns the listed orders to read: those the filters select that
// are live, untaken, and of a product certform knows. The others are
// counted as not live or reported as skipped.
func (r *bulkRun) pick(listed []digicert.Order) []digicert.Order {
	var picked []digicert.Order
	for _, o := range listed {
		cn := nameset.Normal(o.Certificate.CommonName)
		if r.Statuses != nil && !r.Statuses[o.Status] {
			continue
		}
		if r.CommonName != "" {
			if ok, _ := path.Match(r.CommonName, cn); !ok {
				continue
			}
		}
		if digicert.IsClosed(o.Status) {
			r.rep.NotLive[o.Status]++
			continue
		}
		reason := r.idx.taken(&o)
		if reason == "" && o.Product.NameID != "" {
			if _, ok := product(o.Product.NameID); !ok {
				reason = unknownProduct(o.Product.NameID)
			}
		}
		if reason != "" {
			r.rep.Skipped = append(r.rep.Skipped, Skip{o.ID, cn, reason})
			continue
		}
		picked = append(picked, o)
	}
	return picked
}

// adoptOne writes the spec for a picked order from its GET answer got (or
// the error reading it), or reports why not. Its error, on making the
// folder, stops the run.
func (r *bulkRun) adoptOne(listed *digicert.Order, got *digicert.Order, readErr error) error {
	cn := nameset.Normal(listed.Certificate.CommonName)
	if readErr != nil {
		r.rep.Failed = append(r.rep.Failed, Skip{listed.ID, cn, fmt.Sprintf("reading the order: %v", readErr)})
		return nil
	}
	o := mergeListed(got, listed)
	if o.ID != listed.ID {
		r.rep.Failed = append(r.rep.Failed, Skip{listed.ID, cn, fmt.Sprintf("reading the order: CertCentral answered with order %d", o.ID)})
		return nil
	}
	s, reason := specFor(o)
	if reason == "" {
		reason = r.idx.taken(o)
	}
	if reason != "" {
		r.rep.Skipped = append(r.rep.Skipped, Skip{o.ID, cn, reason})
		return nil
	}
	s.Date = r.date
	s.Name = uniqueName(specName(s.CommonName, o.ID), r.taken)
	return r.place(s, cn)
}

// place writes the spec s for an order (with DryRun, only keeps it) unless
// its file exists.
func (r *bulkRun) place(s draft, cn string) error {
	file := path.Join(r.folder, s.Name+".yaml")
	exists := Skip{s.OrderID, cn, file + " exists; it is not overwritten"}
	if _, err := os.Lstat(filepath.Join(r.out, s.Name+".yaml")); err == nil {
		r.rep.Skipped = append(r.rep.Skipped, exists)
		return nil
	}
	content := render(s, r.defaults)
	if !r.DryRun {
		if err := r.makeFolder(); err != nil {
			return err
		}
		if err := writeNewFile(r.out, s.Name+".yaml", content); errors.Is(err, fs.ErrExist) {
			r.rep.Skipped = append(r.rep.Skipped, exists)
			return nil
		} else if err != nil {
			r.rep.Failed = append(r.rep.Failed, Skip{s.OrderID, cn, fmt.Sprintf("writing %s: %v", file, err)})
			return nil
		}
	}
	r.taken[s.Name] = true
	r.rep.Written = append(r.rep.Written, File{File: file, OrderID: s.OrderID, CommonName: s.CommonName, Content: content})
	return nil
}

// makeFolder makes the folder written into, mode 0700, before the first
// file, and removes the temporary files a killed adopt left there.
func (r *bulkRun) makeFolder() error {
	if r.made {
		return nil
	}
	if err := os.MkdirAll(r.out, 0o700); err != nil {
		return fmt.Errorf("--out %s: %w", r.Out, err)
	}
	fsx.RemoveStale(r.out, tempPattern, staleTempAge)
	r.made = true
	return nil
}

// finish checks the files written and sorts the report.
func (r *bulkRun) finish() {
	if !r.DryRun && len(r.rep.Written) > 0 {
		r.rep.Invalid = invalidWritten(r.Dir, r.rep.Written)
	}
	byID := func(list []Skip) func(a, b int) bool {
		return func(a, b int) bool { return list[a].OrderID < list[b].OrderID }
	}
	sort.SliceStable(r.rep.Skipped, byID(r.rep.Skipped))
	sort.SliceStable(r.rep.Failed, byID(r.rep.Failed))
}

// fetchOrders reads each order with GET /order/certificate/{id},
// parallelism at a time; got[i] and errs[i] are the answer for orders[i].
func fetchOrders(ctx context.Context, api API, orders []digicert.Order, parallelism int) (got []*digicert.Order, errs []error) {
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
