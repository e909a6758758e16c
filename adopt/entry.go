package adopt

import (
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// Entry returns the state entry that tracks order o for spec d from now
// on, as adopted (Imported) rather than ordered by certform: the spec's
// fingerprint (recorded as checked too: the order's names were compared
// with the spec's) and fixed fields, the order's id, alternative order id
// and status, refreshed and ordered at now.
//
// disable_ct and auto_reissue are the order's. A setting CertCentral's
// answer leaves out (disable_ct is not on DigiCert's order-info page) is
// taken to be the spec's: certform never changes CT logging, which calls
// for a reissue, on a guess.
//
// The entry records no ordering-only options, names or certificate: the
// declarative adoption adds those in reconcile (the options, and what
// every read of an order records). An entry from import or the seed gets
// its names and certificate at the next refresh, and its options with the
// next order certform places for it; until then no change of an
// ordering-only option is reported for it, as before this package.
func Entry(d *spec.Order, o *digicert.Order, now time.Time) state.Entry {
	return state.Entry{OrderID: o.ID, AlternativeOrderID: o.AlternativeOrderID, Fingerprint: d.Fingerprint, Fixed: d.FixedFields(),
		Checked: d.Fingerprint, DisableCT: o.DisableCT.Or(d.DisableCT), AutoReissue: o.AutoReissue.Or(d.AutoReissue), Imported: true,
		File: d.File, OrderedAt: now, Status: o.Status, RefreshedAt: now}
}
