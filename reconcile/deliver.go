package reconcile

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certform/certform/deliver"
	"github.com/certform/certform/keys"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// Delivery is what delivering one order's certificate came to.
type Delivery struct {
	Name    string
	OrderID int
	// Serial and NotAfter describe the certificate delivered (or, on
	// failure, the one that was refused, when it could be read).
	Serial   string
	NotAfter time.Time
	// Dir is the certificate's folder, CertDir/NAME.
	Dir string
	// Delivered is true when this cycle delivered the certificate (false
	// for a deploy hook run again for an earlier delivery).
	Delivered bool
	// Err is why the certificate was not delivered; nothing was written.
	Err error
	// Hook says whether the deploy hook ran for it: "" (not run), "ok" or
	// "failed"; HookErr and HookOutput tell a failed run's story.
	Hook       string
	HookErr    error
	HookOutput []byte
	// RetryAt is when a failed hook runs again.
	RetryAt time.Time
}

// DefaultHookBackoff is the first wait before a failed deploy hook runs
// again when DeliveryOptions.HookBackoff is zero; the wait doubles with each
// failure in a row, up to hookRetryMax.
const (
	DefaultHookBackoff = 30 * time.Second
	hookRetryMax       = time.Hour
)

// deliverable reports whether e, the entry of the spec d, has a current
// certificate that may be delivered: the spec asks for the order
// (not its revocation), nothing is in flight, and the order is issued
// with a certificate certform knows.
func deliverable(e *state.Entry, d *spec.Order) bool {
	return d != nil && !d.Revoke && e.Intent == nil && e.OrderID != 0 && e.Status == "issued" && e.CertificateID != 0
}

// specsMap returns the specs by name.
func specsMap(specs []*spec.Order) map[string]*spec.Order {
	m := make(map[string]*spec.Order, len(specs))
	for _, o := range specs {
		m[o.Name] = o
	}
	return m
}

// HookDue returns when the next deploy hook that failed earlier runs
// again, for the specs of c (the zero time if none waits): the daemon
// wakes then. A hook whose spec is gone or asks for revocation does not
// run again, and so is not counted; nor is one that has not run yet (no
// retry time: recorded with its delivery, its first run is the next
// Deliver's), which would otherwise hide the others' times.
func (r *Reconciler) HookDue(c *Cycle) time.Time {
	var due time.Time
	if r.CertDir == "" || r.Hook == nil || r.DryRun || r.Store == nil || c == nil || c.Specs == nil {
		return due
	}
	// The specs by name only once a hook waits: the daemon asks after
	// every cycle, and almost always none does (issue 27: no map of every
	// spec an idle cycle).
	var desired map[string]*spec.Order
	r.Store.View(func(f *state.File) {
		for n, e := range f.Entries {
			if e.HookPending == "" || e.HookRetryAt.IsZero() || e.DeliveredCertificateID != e.CertificateID || (!due.IsZero() && !e.HookRetryAt.Before(due)) {
				continue
			}
			if desired == nil {
				desired = specsMap(c.Specs.Orders)
			}
			if deliverable(e, desired[n]) {
				due = e.HookRetryAt
			}
		}
	})
	return due
}

// Deliver writes the current certificate of every issued order whose
// certificate is not delivered yet into CertDir (see package deliver):
// download (pem_all), check (names, the spec CSR's key, validity, chain),
// write atomically, record. After each new delivery, and when a hook that
// failed earlier is due again, it runs Hook. It does nothing without
// CertDir (but remove the keys the certificates of new keys replaced: see
// dropReplacedKeys), in a dry run or a PlanOnly cycle (whose specs may
// lack their CSR text), or without a Store and API.
func (r *Reconciler) Deliver(ctx context.Context, c *Cycle) []Delivery {
	if r.CertDir == "" && !r.DryRun && !r.PlanOnly && r.Store != nil {
		r.dropReplacedKeys()
	}
	if r.CertDir == "" || r.DryRun || r.PlanOnly || r.Store == nil || r.API == nil || c == nil || c.Specs == nil {
		return nil
	}
	// The specs by name, and the names in order, only for the entries
	// with something to do: a cycle with nothing to deliver (almost every
	// cycle of a daemon) builds no map of every spec and sorts no names
	// (issue 27).
	var desired map[string]*spec.Order
	var due, hooks []string
	now := r.now()
	r.Store.View(func(f *state.File) {
		for n, e := range f.Entries {
			delivery := e.DeliveredCertificateID != e.CertificateID
			if !delivery && (e.HookPending == "" || r.Hook == nil || now.Before(e.HookRetryAt)) {
				continue
			}
			if desired == nil {
				desired = specsMap(c.Specs.Orders)
			}
			switch {
			case !deliverable(e, desired[n]):
			case delivery:
				due = append(due, n)
			default:
				hooks = append(hooks, n)
			}
		}
	})
	slices.Sort(due)
	slices.Sort(hooks)
	out := r.deliverAll(ctx, due, hooks, desired)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// deliverAll delivers the certificates of the specs named in due and
// runs the hooks due again of those named in hooks, into a Delivery each
// (due first). Up to Parallelism certificates are downloaded, checked and
// written at once; each is then recorded in the state outside that
// count, so that the records of several deliveries share one state write
// (the Store's group commit) while the next ones download; then its hook
// runs, up to Parallelism hooks at once. The effects of one certificate
// keep their order: files written, state saved, hook run.
func (r *Reconciler) deliverAll(ctx context.Context, due, hooks []string, desired map[string]*spec.Order) []Delivery {
	w := &deliver.Writer{Dir: r.CertDir, KeyGroup: r.CertGroup}
	out := make([]Delivery, len(due)+len(hooks))
	sem := make(chan struct{}, max(r.Parallelism, 1))
	hookSem := make(chan struct{}, max(r.Parallelism, 1))
	var wg sync.WaitGroup
	for i, n := range append(due, hooks...) {
		wg.Add(1)
		if i < len(due) {
			sem <- struct{}{}
		}
		go func() {
			defer wg.Done()
			if i < len(due) {
				var once sync.Once
				written := func() { once.Do(func() { <-sem }) }
				defer written()
				out[i] = r.deliverOne(ctx, w, n, desired[n], written)
			} else {
				out[i] = Delivery{Name: n}
			}
			if r.Hook != nil && out[i].Err == nil {
				hookSem <- struct{}{}
				defer func() { <-hookSem }()
				r.runHook(ctx, &out[i])
			}
		}()
	}
	wg.Wait()
	return out
}

// deliverOne downloads, checks, writes and records one certificate. It
// calls written once nothing but the record is left (the files are
// written, or the delivery failed), before saving to the state.
func (r *Reconciler) deliverOne(ctx context.Context, w *deliver.Writer, name string, d *spec.Order, written func()) Delivery {
	e := r.Store.Entry(name)
	dv := Delivery{Name: name, OrderID: e.OrderID}
	foreign := false // the certificate is for a key that is not the spec's
	fail := func(err error) Delivery {
		written()
		return r.deliveryFailed(name, e.CertificateID, foreign, dv, err)
	}
	pemAll, err := r.API.DownloadCertificate(ctx, e.OrderID)
	if err != nil {
		return fail(fmt.Errorf("downloading the certificate of order %d: %w", e.OrderID, err))
	}
	b, err := deliver.Parse(pemAll)
	if err != nil {
		return fail(fmt.Errorf("the certificate of order %d: %w; nothing written", e.OrderID, err))
	}
	dv.Serial, dv.NotAfter = serialHex(b), b.Leaf.NotAfter.UTC()
	if pub, ok := csrPublicKey(d.CSR); ok {
		lp, ok := b.Leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
		foreign = !ok || !lp.Equal(pub)
	}
	if err := deliver.Check(b, specNames(d), d.CSR, r.now()); err != nil {
		return fail(fmt.Errorf("the certificate of order %d was refused: %w; nothing written", e.OrderID, err))
	}
	keyPEM, used, err := r.deliveryKey(name, d, e, b)
	foreign = foreign || errors.Is(err, errForeignKey)
	if err != nil {
		return fail(fmt.Errorf("the certificate of order %d was refused: %w; nothing written", e.OrderID, err))
	}
	dir, changed, err := w.WriteWithKey(name, b, keyPEM)
	dv.Dir = dir
	if err != nil && !changed {
		return fail(fmt.Errorf("writing the certificate of order %d: %w", e.OrderID, err))
	}
	written()
	uerr := r.recordDelivered(name, e.CertificateID, b, changed, used)
	switch {
	case uerr != nil:
		dv.Err = fmt.Errorf("certificate written to %s, but saving it failed: %w", dir, uerr)
	case err != nil:
		dv.Err = fmt.Errorf("certificate written to %s, but: %w", dir, err)
	default:
		dv.Delivered = true
	}
	return dv
}

// deliveryFailed returns dv failed with err, recorded as name's
// delivery error, with (when foreign) the certificate certID marked as
// one for a key that is not the spec's.
func (r *Reconciler) deliveryFailed(name string, certID int, foreign bool, dv Delivery, err error) Delivery {
	dv.Err = err
	if uerr := r.Store.Update(name, func(x *state.Entry) bool {
		x.DeliveryError = err.Error()
		if foreign && x.CertificateID == certID {
			x.ForeignKeyCertificateID = certID
		}
		return true
	}); uerr != nil {
		dv.Err = fmt.Errorf("%w (and saving it failed: %v)", err, uerr)
	}
	return dv
}

// recordDelivered records in name's entry the certificate b (of
// certificate id certID) delivered, with its deploy hook due when the
// files changed; once the certificate of the current key (used) is
// delivered, the keys before it go, from the state and the key store.
func (r *Reconciler) recordDelivered(name string, certID int, b *deliver.Bundle, changed bool, used *state.KeyRecord) error {
	now := r.now()
	serial, notAfter := serialHex(b), b.Leaf.NotAfter.UTC()
	var dropped []state.KeyRecord
	uerr := r.Store.Update(name, func(x *state.Entry) bool {
		x.DeliveredAt, x.DeliveredSerial, x.DeliveredCertificateID, x.DeliveryError = now, serial, certID, ""
		x.ForeignKeyCertificateID = 0
		x.SerialNumber, x.NotBefore, x.NotAfter = serial, b.Leaf.NotBefore.UTC(), notAfter
		if r.Hook != nil && changed {
			x.HookPending, x.HookAttempts, x.HookRetryAt = serial, 0, time.Time{}
		}
		if used != nil && x.Key != nil && x.Key.CSRFingerprint == used.CSRFingerprint {
			// The certificate of the current key is delivered: the
			// keys before it go (from the key store just after).
			dropped, x.PreviousKeys = x.PreviousKeys, nil
		}
		return true
	})
	if used != nil {
		r.deleteKeys(name, dropped, used.CSRFingerprint)
	}
	return uerr
}

// deliveryKey returns the private key (PKCS#8 PEM) to deliver with the
// certificate b of spec d, and which of the entry's keys it is: nil for a
// spec with its own CSR. A spec with key_type needs a key certform holds
// for the spec (the entry's current key, or one before it while a reissue
// is pending) whose public key is the certificate's; anything else refuses
// the delivery.
func (r *Reconciler) deliveryKey(name string, d *spec.Order, e *state.Entry, b *deliver.Bundle) ([]byte, *state.KeyRecord, error) {
	if d.CSR != "" || (d.KeyType == "" && e.Key == nil) {
		return nil, nil, nil
	}
	if r.Keys == nil {
		return nil, nil, ErrNoKeyStore
	}
	held := []state.KeyRecord{}
	if e.Key != nil {
		held = append(held, *e.Key)
	}
	held = append(held, e.PreviousKeys...)
	for i := range held {
		k, err := r.Keys.Get(name, held[i].CSRFingerprint)
		if err != nil {
			if errors.Is(err, keys.ErrNotFound) {
				continue
			}
			return nil, nil, fmt.Errorf("reading the key of %s: %w", name, err)
		}
		if !k.Matches(b.Leaf) {
			continue
		}
		data, err := k.PKCS8PEM()
		if err != nil {
			return nil, nil, fmt.Errorf("encoding the key of %s: %w", name, err)
		}
		return data, &held[i], nil
	}
	return nil, nil, fmt.Errorf("certificate for %s: public key: %w for %s (the plan reissues it with a key certform makes: reason key)", specNames(d)[0], errForeignKey, name)
}

// errForeignKey is a certificate for a key certform does not hold.
var errForeignKey = errors.New("it is not the key of a key certform holds")

// runHook runs the deploy hook for a delivered certificate whose hook is
// pending, and records the outcome: a failure is retried with backoff.
func (r *Reconciler) runHook(ctx context.Context, dv *Delivery) {
	e := r.Store.Entry(dv.Name)
	if e == nil || e.HookPending == "" {
		return
	}
	if dv.Dir == "" {
		dv.Dir = r.CertDir + "/" + dv.Name
	}
	dv.OrderID, dv.Serial, dv.NotAfter = e.OrderID, e.DeliveredSerial, e.NotAfter
	env := map[string]string{
		"CERTFORM_NAME":      dv.Name,
		"CERTFORM_ORDER_ID":  strconv.Itoa(e.OrderID),
		"CERTFORM_CERT_DIR":  dv.Dir,
		"CERTFORM_SERIAL":    e.DeliveredSerial,
		"CERTFORM_NOT_AFTER": e.NotAfter.UTC().Format(time.RFC3339),
		"CERTFORM_DNS_NAMES": strings.Join(entryNames(e), " "),
	}
	if e.Key != nil {
		// The path, never the key.
		env["CERTFORM_KEY_FILE"] = filepath.Join(dv.Dir, deliver.KeyFile)
	}
	out, err := r.Hook.Run(ctx, env)
	dv.HookOutput = out
	now := r.now()
	if err == nil {
		dv.Hook = "ok"
		if uerr := r.Store.Update(dv.Name, func(x *state.Entry) bool {
			x.HookPending, x.HookAttempts, x.HookRetryAt = "", 0, time.Time{}
			return true
		}); uerr != nil {
			dv.Hook, dv.HookErr = "failed", fmt.Errorf("the deploy hook succeeded, but saving it failed: %w", uerr)
		}
		return
	}
	dv.Hook, dv.HookErr = "failed", err
	first := r.HookBackoff
	if first <= 0 {
		first = DefaultHookBackoff
	}
	if uerr := r.Store.Update(dv.Name, func(x *state.Entry) bool {
		x.HookAttempts++
		wait := first << min(x.HookAttempts-1, 7)
		x.HookRetryAt = now.Add(min(wait, hookRetryMax))
		dv.RetryAt = x.HookRetryAt
		return true
	}); uerr != nil {
		dv.HookErr = fmt.Errorf("%w (and saving it failed: %v)", err, uerr)
	}
}

// serialHex is a certificate's serial number in certform's one spelling:
// upper-case hexadecimal without leading zeros (see canonicalSerial).
func serialHex(b *deliver.Bundle) string { return fmt.Sprintf("%X", b.Leaf.SerialNumber) }

// canonicalSerial spells a serial number CertCentral reports (hexadecimal,
// perhaps with leading zeros or in lower case) as serialHex does, so that
// the state, the delivered files and the deploy hook agree; a value that is
// not hexadecimal is kept as it is.
func canonicalSerial(s string) string {
	if n, ok := new(big.Int).SetString(s, 16); ok && n.Sign() >= 0 {
		return fmt.Sprintf("%X", n)
	}
	return s
}
