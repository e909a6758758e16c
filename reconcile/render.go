package reconcile

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/certform/certform/spec"
)

// ANSI colours used by WriteText when colour is on.
const (
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	red    = "\x1b[31m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

// WriteText writes the plan for people, in the style of Terraform: one line
// per call ("+ order", "~ update", "- revoke", "! blocked"), details
// indented below, then the notes with their hints, then the summary line.
// color adds ANSI colours; callers turn it on only for a terminal and never
// when NO_COLOR is set.
func (p *Plan) WriteText(w io.Writer, color bool) error {
	c := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + reset
	}
	var b strings.Builder
	if len(p.Actions)+len(p.Blocked) > 0 {
		b.WriteString("certform will make these calls:\n\n")
	}
	for _, a := range p.Actions {
		writeAction(&b, a, c, "")
	}
	for _, a := range p.Blocked {
		writeAction(&b, a, c, "blocked")
	}
	if len(p.Notes) > 0 {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString("Notes:\n")
		for _, n := range p.Notes {
			who := n.Name
			if n.OrderID != 0 {
				who += fmt.Sprintf(" (order %d)", n.OrderID)
			}
			if who != "" {
				who += ": "
			}
			fmt.Fprintf(&b, "  %s %s%s\n", c(yellow, fmt.Sprintf("%-15s", n.Kind)), who, n.Message)
			if n.Hint != "" {
				fmt.Fprintf(&b, "  %-15s hint: %s\n", "", n.Hint)
			}
		}
	}
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	if len(p.Actions) == 0 && len(p.Blocked) == 0 {
		b.WriteString("No calls to make.\n")
	}
	b.WriteString(c(bold, p.Summary()) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func onOff(b *bool) string {
	if b == nil {
		return "?"
	}
	return fmt.Sprint(*b)
}

// writeAction shows one action of the plan (blocked, when blocked is
// not "") with what it does.
func writeAction(b *strings.Builder, a Action, c func(string, string) string, blocked string) {
	where := fmt.Sprintf("(%s:%d)", a.File, a.Line)
	switch {
	case blocked != "" && a.Kind == KindOrder:
		fmt.Fprintf(b, "  %s %s  %s\n", c(red, "! blocked order"), a.Name, where)
	case blocked != "":
		fmt.Fprintf(b, "  %s %s order %d  %s\n", c(red, "! blocked "+string(a.Kind)), a.Name, a.OrderID, where)
		writeOrderNames(b, a)
		switch a.Kind {
		case KindReissue:
			writeReissue(b, a, c)
		case KindRenew:
			writeRenewal(b, a)
		}
	case a.Kind == KindOrder:
		fmt.Fprintf(b, "  %s %s  %s\n", c(green, "+ order "), a.Name, where)
		writeOrder(b, a)
	case isDCV(a):
		writeValidation(b, a, c)
	case a.Kind == KindAdopt:
		fmt.Fprintf(b, "  %s %s order %d  %s\n", c(green, "= adopt "), a.Name, a.OrderID, where)
		writeAdopt(b, a)
	case a.Kind == KindRenew:
		fmt.Fprintf(b, "  %s %s order %d  %s\n", c(green, "+ renew "), a.Name, a.OrderID, where)
		writeRenewal(b, a)
	case a.Kind == KindAdoptRenewal:
		fmt.Fprintf(b, "  %s %s order %d  %s\n", c(yellow, "~ adopt renewal"), a.Name, a.OrderID, where)
		fmt.Fprintf(b, "        CertCentral renewed order %d as order %d: certform tracks order %d from now on and leaves order %d as it is\n",
			a.OrderID, a.RenewedOrderID, a.RenewedOrderID, a.OrderID)
	case a.Kind == KindSetCT:
		fmt.Fprintf(b, "  %s %s order %d  %s\n        disable_ct: %s -> %s\n", c(yellow, "~ update"), a.Name, a.OrderID, where, onOff(a.From), onOff(a.To))
	case a.Kind == KindSetAutoReissue:
		fmt.Fprintf(b, "  %s %s order %d  %s\n        auto_reissue: %s -> %s\n", c(yellow, "~ update"), a.Name, a.OrderID, where, onOff(a.From), onOff(a.To))
	case a.Kind == KindReissue:
		fmt.Fprintf(b, "  %s %s order %d  %s\n", c(yellow, "~ reissue"), a.Name, a.OrderID, where)
		writeReissue(b, a, c)
	case a.Kind == KindRevoke:
		fmt.Fprintf(b, "  %s %s order %d  %s\n        comments: %q\n", c(red, "- revoke"), a.Name, a.OrderID, where, a.Comments)
		writeOrderNames(b, a)
		if a.Recheck {
			b.WriteString("        an earlier revoke request's outcome is unknown: the order is read first\n")
		}
	}
}

// writeOrder shows how a new order is sent (resumed, or after CertCentral
// is asked for live orders with its names) and what it buys.
func writeOrder(b *strings.Builder, a Action) {
	switch {
	case a.Resume != "":
		fmt.Fprintf(b, "        an earlier order's outcome is unknown: alternative order id %s is looked up first and adopted if found;\n", a.Resume)
		fmt.Fprintf(b, "        if it is not found, the order is sent again no earlier than %s\n", a.ResendAt.Format(time.RFC3339))
	case !a.Consulted:
		b.WriteString("        before ordering, CertCentral is asked for live orders with these names\n")
	}
	if o := a.Spec; o != nil {
		writeOrderDetails(b, o)
	}
}

// writeAdopt shows what an adoption checks of the order it tracks.
func writeAdopt(b *strings.Builder, a Action) {
	if a.Verified {
		fmt.Fprintf(b, "        order %d (%s) has exactly the spec's names: %s; certform tracks it from now on and orders nothing\n", a.OrderID, a.OrderStatus, strings.Join(specNames(a.Spec), ", "))
	} else {
		fmt.Fprintf(b, "        order %d is read and its names checked before it is adopted; nothing is ordered\n", a.OrderID)
	}
}

// writeRenewal shows why a renewal order is placed and what it buys.
func writeRenewal(b *strings.Builder, a Action) {
	ends := a.OrderEnds.UTC().Format(time.RFC3339)
	switch a.Reason {
	case RenewEnding:
		fmt.Fprintf(b, "        order %d ends at %s, within renew_before_days: a new order with renewal_of_order_id %d; order %d is left as it is\n", a.OrderID, ends, a.OrderID, a.OrderID)
	case RenewExpired:
		fmt.Fprintf(b, "        order %d has expired: a new order with renewal_of_order_id %d\n", a.OrderID, a.OrderID)
	case RenewResume:
		fmt.Fprintf(b, "        an earlier renewal's outcome is unknown: alternative order id %s is looked up first and tracked if found;\n", a.Resume)
		fmt.Fprintf(b, "        if it is not found, the renewal is sent again no earlier than %s\n", a.ResendAt.Format(time.RFC3339))
	}
	if a.Resume == "" && !a.Consulted && a.BlockedBy == "" {
		b.WriteString("        before renewing, CertCentral is asked for live orders with these names\n")
	}
	if o := a.Spec; o != nil {
		writeOrderDetails(b, o)
	}
}

// writeReissue shows why a reissue is made and what it changes.
func writeReissue(b *strings.Builder, a Action, c func(string, string) string) {
	switch a.Reason {
	case ReissueChanged, ReissueCT:
		fmt.Fprintf(b, "        changed: %s\n", strings.Join(a.Changed, ", "))
	case ReissueExpiring:
		b.WriteString("        the certificate ends within reissue_before_days: same names and CSR\n")
	case ReissueResume:
		b.WriteString("        an earlier reissue's outcome is unknown: the order is read first, and the reissue is sent again only if it did not land\n")
	case ReissueReplace:
		b.WriteString("        reason: replace (--replace): a new certificate now")
		if a.Spec != nil && a.Spec.KeyType != "" {
			b.WriteString(", with a new key")
		}
		b.WriteString("\n")
		if len(a.Changed) > 0 {
			fmt.Fprintf(b, "        changed: %s\n", strings.Join(a.Changed, ", "))
		}
	case ReissueKey:
		b.WriteString("        reason: key: the certificate's public key is neither the spec's nor a key certform holds for it; reissued with the desired key\n")
	}
	if a.Spec != nil && a.Reason != ReissueResume {
		fmt.Fprintf(b, "        names: %s\n", strings.Join(specNames(a.Spec), ", "))
	}
	if a.RevokesPrevious {
		fmt.Fprintf(b, "        %s: the common name changes or a name is removed, so DigiCert revokes them 48-72 hours after the new one is issued (counts against --max-revocations)\n",
			c(red, "! revokes earlier certificates"))
	}
}

// writeOrderNames shows the names of the order a revoke acts on.
func writeOrderNames(b *strings.Builder, a Action) {
	if a.Kind == KindRevoke && len(a.OrderNames) > 0 {
		fmt.Fprintf(b, "        order names: %s\n", strings.Join(a.OrderNames, ", "))
	}
}

func writeOrderDetails(b *strings.Builder, o *spec.Order) {
	fmt.Fprintf(b, "        common_name: %s\n", o.CommonName)
	if len(o.DNSNames) > 0 {
		fmt.Fprintf(b, "        dns_names: %s\n", strings.Join(o.DNSNames, ", "))
	}
	validity := fmt.Sprintf("%d year", o.ValidityYears)
	if o.ValidityYears > 1 {
		validity += "s"
	}
	if o.ValidityDays > 0 {
		validity = fmt.Sprintf("%d days", o.ValidityDays)
	}
	fmt.Fprintf(b, "        product: %s, validity: %s, organization: %d, signature_hash: %s\n", o.Product, validity, o.OrganizationID, o.SignatureHash)
	fmt.Fprintf(b, "        disable_ct: %v, auto_reissue: %v\n", o.DisableCT, o.AutoReissue)
}

// JSONPlan is the --json form of a plan. Its fields are a stable interface,
// documented in README.md; FormatVersion changes when they do.
type JSONPlan struct {
	FormatVersion int           `json:"format_version"`
	Actions       []Action      `json:"actions"`
	Blocked       []Action      `json:"blocked"`
	Notes         []Note        `json:"notes"`
	Errors        []*spec.Error `json:"errors"`
	Summary       JSONSummary   `json:"summary"`
	// Results, in apply's output only: one per action, in plan order.
	Results []JSONResult `json:"results,omitempty"`
}

// JSONResult is the outcome of one action in apply --json.
type JSONResult struct {
	Kind    Kind   `json:"kind"`
	Name    string `json:"name"`
	OrderID int    `json:"order_id,omitempty"`
	OK      bool   `json:"ok"`
	Detail  string `json:"detail,omitempty"`
	Error   string `json:"error,omitempty"`
	// BlockedBy is set when a safety rail held the call back just before
	// it was sent (see BlockedError): a value of Action.BlockedBy, such as
	// "exists" (a live order with the names appeared since the plan, or
	// another spec ordered them in this run), "max_purchases" or "names".
	BlockedBy string `json:"blocked_by,omitempty"`
}

// JSONSummary counts the calls by kind: Order counts new orders and
// renewals, Adopt the orders adopted by order_id, Validate and Revalidate
// the domain validation steps (present only when not zero).
type JSONSummary struct {
	Order      int `json:"order"`
	Update     int `json:"update"`
	Revoke     int `json:"revoke"`
	Adopt      int `json:"adopt"`
	Validate   int `json:"validate,omitempty"`
	Revalidate int `json:"revalidate,omitempty"`
}

// WriteJSON writes the plan and the spec errors as a JSONPlan.
func (p *Plan) WriteJSON(w io.Writer, specErrors []*spec.Error) error {
	return p.WriteJSONResults(w, specErrors, nil)
}

// WriteJSONResults writes the plan, the spec errors and what Apply did as
// a JSONPlan.
func (p *Plan) WriteJSONResults(w io.Writer, specErrors []*spec.Error, results []Result) error {
	n := p.counts()
	out := JSONPlan{FormatVersion: 1, Actions: p.Actions, Blocked: p.Blocked, Notes: p.Notes, Errors: specErrors,
		Summary: JSONSummary{Order: n.order, Update: n.update, Revoke: n.revoke, Adopt: n.adopt, Validate: n.validate, Revalidate: n.revalidate}}
	for _, res := range results {
		jr := JSONResult{Kind: res.Action.Kind, Name: res.Action.Name, OrderID: res.Action.OrderID, OK: res.Err == nil, Detail: res.Detail}
		if res.Err != nil {
			jr.Error, jr.BlockedBy = res.Err.Error(), BlockedBy(res.Err)
		}
		out.Results = append(out.Results, jr)
	}
	if out.Errors == nil {
		out.Errors = []*spec.Error{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
