package reconcile

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/internal/nameset"
	"github.com/certform/certform/state"
)

// ErrBlocked is matched (errors.Is) by a *BlockedError.
var ErrBlocked = errors.New("blocked")

// BlockedError is the result of an action that a safety rail held back
// when it was about to be sent: what CertCentral reported in the read just
// before the call (see "Read before acting" in README.md) did not allow
// it. Nothing was sent. By is the rail, one of the Blocked* values the
// plan's blocked_by uses; Hint says what to do.
type BlockedError struct {
	By   string
	Why  string
	Hint string
}

// Error says why the call was not sent, with the hint.
func (e *BlockedError) Error() string {
	msg := "blocked (" + e.By + "): " + e.Why
	if e.Hint != "" {
		msg += "; hint: " + e.Hint
	}
	return msg
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// BlockedBy returns the rail that held a result's action back when it
// was about to be sent (a *BlockedError in err's chain), or "".
func BlockedBy(err error) string {
	var be *BlockedError
	if errors.As(err, &be) {
		return be.By
	}
	return ""
}

// revokesPrevious reports whether a reissue from the names have to the
// names want makes DigiCert revoke the order's earlier certificates: the
// common name changes or a name is removed. Unknown names (nil) do not.
func revokesPrevious(have, want []string) bool {
	return len(have) > 0 && len(want) > 0 && (have[0] != want[0] || len(removedNames(have, want)) > 0)
}

// takeRevocation records, in f, a revocation of order id by spec name at
// now in the --max-revocations budget, and reports whether it fits: an
// order already counted in the rolling 24 hours takes nothing more; max
// below 0 means no limit. When it does not fit, nothing is recorded and
// the number of orders counted is returned.
func takeRevocation(f *state.File, name string, id int, now time.Time, max int) (fits bool, used int) {
	counted := map[int]bool{}
	for _, r := range f.RevocationsSince(now.Add(-revocationWindow)) {
		counted[r.OrderID] = true
	}
	if !counted[id] && max >= 0 && len(counted)+1 > max {
		return false, len(counted)
	}
	f.Revocations = append(f.Revocations, state.Revocation{Name: name, OrderID: id, Time: now})
	return true, len(counted)
}

// budgetBlocked is the error of a revoking call that the budget no longer
// allows when it is about to be sent.
func budgetBlocked(what string, max, used int) *BlockedError {
	return &BlockedError{By: BlockedMaxRevocations,
		Why:  fmt.Sprintf("%s, and %d of the %d revocation requests --max-revocations allows in 24 hours %s used already; nothing was sent", what, used, max, wasWere(used)),
		Hint: fmt.Sprintf("revocation is irreversible: check the spec, then run again with --max-revocations=%d", used+1)}
}

// namesOf returns an order's names as certform compares them.
func namesOf(o *digicert.Order) []string {
	if o.Certificate.CommonName == "" {
		return nil
	}
	return nameset.List(o.Certificate.CommonName, o.Certificate.DNSNames)
}

// describeNames says how the names have differ from want: the names only
// on the order, only in the spec, and a different common name.
func describeNames(have, want []string) string {
	var parts []string
	if len(have) == 0 {
		return "the order reports no names"
	}
	extra, missing := nameset.Diff(want, have)
	if len(extra) > 0 {
		parts = append(parts, "only on the order: "+strings.Join(extra, ", "))
	}
	if len(missing) > 0 {
		parts = append(parts, "only in the spec: "+strings.Join(missing, ", "))
	}
	if len(want) > 0 && have[0] != want[0] {
		parts = append(parts, fmt.Sprintf("the order's common name is %s, the spec's %s", have[0], want[0]))
	}
	return strings.Join(parts, "; ")
}
