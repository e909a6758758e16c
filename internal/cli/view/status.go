package view

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/certform/certform/status"
)

// StatusText is certform status's text: the table of Status, or a line
// saying that the state named name tracks no orders.
func StatusText(w io.Writer, name string, rows []status.Entry, observedAt, now time.Time) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintf(w, "The %s tracks no orders.\n", name)
		return err
	}
	return Status(w, rows, observedAt, now)
}

// Status writes certform status's table: one row per entry, then when the
// state last observed CertCentral (unless never). now dates the days left.
func Status(w io.Writer, rows []status.Entry, observedAt, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tORDER\tSTATUS\tCERT_DAYS\tORDER_DAYS\tDISABLE_CT\tAUTO_REISSUE\tREVOKE\tNOTE")
	for _, r := range rows {
		order, revoke := "-", "-"
		if r.OrderID != 0 {
			order = strconv.Itoa(r.OrderID)
		}
		if r.Revoke != nil {
			revoke = r.Revoke.Status
			if r.Revoke.RequestID != 0 {
				revoke += fmt.Sprintf(" (request %d)", r.Revoke.RequestID)
			}
		}
		certDays, orderDays := "-", "-"
		if r.NotAfter != nil {
			certDays = DaysUntil(*r.NotAfter, now)
		}
		if r.OrderValidTill != nil {
			orderDays = DaysUntil(*r.OrderValidTill, now)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%v\t%s\t%s\n", r.Name, order, orDash(r.Status), certDays, orderDays,
			r.DisableCT, r.AutoReissue, revoke, strings.Join(statusNotes(r, now), "; "))
	}
	if !observedAt.IsZero() {
		fmt.Fprintf(tw, "\nLast observed in CertCentral: %s\n", observedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// statusNotes is the NOTE column of an entry: what is unusual about it.
func statusNotes(r status.Entry, now time.Time) []string {
	var notes []string
	if r.Intent != nil {
		notes = append(notes, fmt.Sprintf("%s outcome unknown since %s", r.Intent.Action, r.Intent.Started.Format(time.RFC3339)))
	}
	if r.Orphan {
		notes = append(notes, "orphan: no valid spec")
	}
	if r.KeyType != "" && r.KeyCreatedAt != nil {
		notes = append(notes, fmt.Sprintf("key %s made %s", r.KeyType, r.KeyCreatedAt.UTC().Format(time.RFC3339)))
	}
	if r.Imported {
		notes = append(notes, "imported")
	}
	if n := len(r.PreviousOrderIDs); n > 0 {
		notes = append(notes, fmt.Sprintf("renews order %d", r.PreviousOrderIDs[n-1]))
	}
	if r.DeliveryError != "" {
		notes = append(notes, "delivery failed: "+r.DeliveryError)
	}
	if r.HookPending != "" {
		notes = append(notes, fmt.Sprintf("deploy hook for serial %s failed %s", r.HookPending, CountOf(r.HookAttempts, "time")))
	}
	return append(notes, DomainNotes(r.DomainValidationEnds, now)...)
}

// DomainNotes are the status notes of the domains a spec uses: "domain
// example.com validated until 2027-01-10 (34 days)", by domain name.
func DomainNotes(ends map[string]time.Time, now time.Time) []string {
	var out []string
	for _, d := range slices.Sorted(maps.Keys(ends)) {
		out = append(out, fmt.Sprintf("domain %s validated until %s (%s days)", d, ends[d].UTC().Format("2006-01-02"), DaysUntil(ends[d], now)))
	}
	return out
}

// DaysUntil is the whole days from now to t, rounded down ("-3" when t
// has passed; "-" when t is unknown).
func DaysUntil(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return strconv.Itoa(int(math.Floor(t.Sub(now).Hours() / 24)))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
