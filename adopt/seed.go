package adopt

import (
	"log/slog"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// Seed makes certform run --dev's fake look like an account that has been
// used: for every valid spec in dir that asks for revocation and has no
// state entry, place creates an issued order with the spec's names in the
// fake and returns its id, and the order is adopted into the state as
// import adopts one (Entry), so that the demo shows a revocation. Seed
// reports what it did, and what failed, on log only: the first cycle
// reports a spec directory it cannot read.
func Seed(dir string, store *state.Store, log *slog.Logger, place func(*spec.Order) int) {
	res, err := spec.Load(dir)
	if err != nil {
		log.Warn("dev mode: the specs could not be read to seed the fake; the first cycle reports why", "error", err.Error())
		return
	}
	for _, d := range res.Orders {
		if !d.Revoke || store.Entry(d.Name) != nil {
			continue
		}
		id := place(d)
		o := &digicert.Order{ID: id, Status: "issued"}
		err := store.Update(d.Name, func(e *state.Entry) bool {
			*e = Entry(d, o, time.Now().UTC())
			return true
		})
		if err != nil {
			log.Warn("dev mode: seeding the fake failed", "spec", d.Name, "error", err.Error())
			continue
		}
		log.Info("dev mode: seeded the fake with an order this spec asks to revoke, as if ordered earlier", "spec", d.Name, "order_id", id)
	}
}
