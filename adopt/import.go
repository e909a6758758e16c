package adopt

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/nameset"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// Getter reads one order: GET /order/certificate/{id}. *digicert.Client
// implements it.
type Getter interface {
	GetOrder(ctx context.Context, orderID int) (*digicert.Order, error)
}

// Refusal is why an adoption did nothing: Msg, the lines that go under it
// (a spec's errors), and Hint, what to do, when there is one. It holds no
// secret.
type Refusal struct {
	Msg     string
	Details []string
	Hint    string
}

func (e *Refusal) Error() string { return e.Msg }

// Import is one certform import without its command line: it adopts order
// OrderID for the spec Name in Dir, after checking that neither the spec's
// entry nor another entry tracks an order already (before any call), and
// that the order, read with one GET, has the spec's names. It writes the
// entry Entry builds and nothing else.
type Import struct {
	API   Getter
	Store *state.Store
	// Dir is the spec directory; Name the spec's name.
	Dir, Name string
	OrderID   int
	// Check, when set, runs once the spec and the state are found good,
	// before the call: the CLI's preflight.
	Check func(context.Context) error
	// Now is the time recorded (time.Now when nil).
	Now func() time.Time
}

// Run does the import and returns the order as read. Its error is a
// *Refusal when the spec, the state or the order's names stop it, the
// wrapped error of the GET (a *digicert.CheckError when CertCentral cannot
// be reached), or the state's; nothing is written then.
func (im *Import) Run(ctx context.Context) (*digicert.Order, error) {
	d, err := im.spec()
	if err != nil {
		return nil, err
	}
	if err := im.free(); err != nil {
		return nil, err
	}
	if im.Check != nil {
		if err := im.Check(ctx); err != nil {
			return nil, err
		}
	}
	got, err := im.API.GetOrder(ctx, im.OrderID)
	if err != nil {
		return nil, fmt.Errorf("reading order %d: %w", im.OrderID, err)
	}
	if msg := namesDiffer(d, got); msg != "" {
		return nil, &Refusal{Msg: fmt.Sprintf("order %d does not match spec %s: %s; nothing imported", im.OrderID, im.Name, msg)}
	}
	now := time.Now
	if im.Now != nil {
		now = im.Now
	}
	at := now().UTC()
	err = im.Store.Update(im.Name, func(e *state.Entry) bool {
		*e = Entry(d, got, at)
		return true
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}

// spec returns the valid spec named Name, or a Refusal with its errors.
func (im *Import) spec() (*spec.Order, error) {
	specs, err := spec.Load(im.Dir)
	if err != nil {
		return nil, err
	}
	for _, o := range specs.Orders {
		if o.Name == im.Name {
			return o, nil
		}
	}
	r := &Refusal{Msg: fmt.Sprintf("no valid spec named %q in %s", im.Name, im.Dir)}
	for _, e := range specs.Errors {
		if e.Spec == im.Name {
			r.Details = append(r.Details, e.Error())
		}
	}
	return nil, r
}

// free refuses when Name's entry tracks an order (or one in flight), or
// another entry tracks OrderID: one order is tracked by one spec.
func (im *Import) free() error {
	if e := im.Store.Entry(im.Name); e != nil && (e.OrderID != 0 || e.Intent != nil) {
		return &Refusal{Msg: fmt.Sprintf("%s already tracks order %d", im.Name, e.OrderID),
			Hint: fmt.Sprintf("run certform forget %s first to track another order", im.Name)}
	}
	var other string
	im.Store.View(func(f *state.File) {
		for _, n := range f.Names() {
			if f.Entries[n].OrderID == im.OrderID && n != im.Name {
				other = n
				break
			}
		}
	})
	if other != "" {
		return &Refusal{Msg: fmt.Sprintf("order %d is already tracked as %s; one order is tracked by one spec; nothing imported", im.OrderID, other),
			Hint: fmt.Sprintf("to move it to %s, run certform forget %s, then certform import %s %d", im.Name, other, im.Name, im.OrderID)}
	}
	return nil
}

// namesDiffer compares an order's names with a spec's and says which differ.
func namesDiffer(o *spec.Order, got *digicert.Order) string {
	extra, missing := nameset.Diff(append([]string{o.CommonName}, o.DNSNames...), got.Names())
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "the order lacks "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "the order also names "+strings.Join(extra, ", "))
	}
	if cn := strings.ToLower(got.Certificate.CommonName); len(parts) == 0 && cn != o.CommonName {
		parts = append(parts, fmt.Sprintf("its common name is %s, the spec's %s", cn, o.CommonName))
	}
	return strings.Join(parts, "; ")
}
