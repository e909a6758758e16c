package view

import (
	"fmt"
	"io"

	"github.com/certform/certform/state"
)

// Forgotten tells what certform forget dropped: the state entry e of spec
// name, and what the next apply does about the spec.
func Forgotten(w io.Writer, name string, e *state.Entry) {
	switch {
	case e.Intent != nil && e.Intent.Action == state.IntentOrder:
		fmt.Fprintf(w, "Forgot %s. Its order was in flight with an unknown outcome (alternative order id %s): check CertCentral for it.\n", name, e.Intent.AlternativeOrderID)
	case e.Intent != nil:
		fmt.Fprintf(w, "Forgot %s. Its %s request on order %d was in flight with an unknown outcome: check CertCentral for it.\n", name, e.Intent.Action, e.OrderID)
	case e.OrderID != 0:
		fmt.Fprintf(w, "Forgot %s; order %d is untouched in CertCentral.\n", name, e.OrderID)
	default:
		fmt.Fprintf(w, "Forgot %s.\n", name)
	}
	fmt.Fprintf(w, "If a spec named %s still exists, the next apply consults CertCentral and orders it again only if no live order has its names; to track the order again, run certform import.\n", name)
}
