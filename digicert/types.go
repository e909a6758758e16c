package digicert

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// OrderRequest is the body of POST /order/certificate/ssl, with fields and
// JSON names exactly as DigiCert's "Order SSL (type_hint)" page documents
// them, in the order of its example. Integers that DigiCert takes as 0/1
// (auto_renew, auto_reissue) are ints, not bools.
type OrderRequest struct {
	Certificate                 CertificateRequest `json:"certificate"`
	OrderValidity               Validity           `json:"order_validity"`
	Container                   *IDRef             `json:"container,omitempty"`
	Product                     Product            `json:"product"`
	AutoRenew                   int                `json:"auto_renew"`
	AutoReissue                 int                `json:"auto_reissue"`
	DisableRenewalNotifications bool               `json:"disable_renewal_notifications"`
	AdditionalEmails            []string           `json:"additional_emails,omitempty"`
	DisableCT                   bool               `json:"disable_ct"`
	SkipApproval                bool               `json:"skip_approval"`
	Organization                IDRef              `json:"organization"`
	DCVMethod                   string             `json:"dcv_method,omitempty"`
	Comments                    string             `json:"comments,omitempty"`
	AlternativeOrderID          string             `json:"alternative_order_id,omitempty"`
	// RenewalOfOrderID makes the order a renewal of that order, which must
	// belong to the same account; 0 (not sent) for a new order. CertCentral
	// then reports the old order with is_renewed true.
	RenewalOfOrderID int `json:"renewal_of_order_id,omitempty"`
}

// CertificateRequest is the certificate object of an order.
type CertificateRequest struct {
	CommonName     string   `json:"common_name"`
	DNSNames       []string `json:"dns_names,omitempty"`
	CSR            string   `json:"csr"`
	SignatureHash  string   `json:"signature_hash"`
	ServerPlatform *IDRef   `json:"server_platform,omitempty"`
}

// Validity is order_validity: Years (1-3) or Days (1-1095), one of them.
type Validity struct {
	Years int `json:"years,omitempty"`
	Days  int `json:"days,omitempty"`
}

// IDRef is an object that names an existing entity by id, such as
// {"id": 112233}.
type IDRef struct {
	ID int `json:"id"`
}

// Product is the product object; TypeHint is ov, ev, grid or private.
type Product struct {
	TypeHint string `json:"type_hint,omitempty"`
	NameID   string `json:"name_id,omitempty"`
	Type     string `json:"type,omitempty"`
}

// OrderResponse is the 201 answer to an order. DCVRandomValue is the token
// to publish for domain control validation when the order's dcv_method is
// dns-txt-token, dns-cname-token or http-token; "" otherwise.
type OrderResponse struct {
	ID             int             `json:"id"`
	Requests       []RequestStatus `json:"requests"`
	CertificateID  int             `json:"certificate_id,omitempty"`
	Domains        []Domain        `json:"domains,omitempty"`
	DCVRandomValue string          `json:"dcv_random_value,omitempty"`
}

// RequestStatus is one request on an order: status is pending, submitted,
// approved or rejected.
type RequestStatus struct {
	ID     int    `json:"id"`
	Status string `json:"status"`
}

// Domain is a domain submitted for validation with an order.
type Domain struct {
	ID      int    `json:"id"`
	Name    string `json:"name"`
	DNSName string `json:"dns_name"`
}

// RevokeRequest is the request object PUT .../revoke answers with (201).
// Status is submitted, pending, approved or rejected.
type RevokeRequest struct {
	ID       int    `json:"id"`
	Date     string `json:"date"`
	Type     string `json:"type"`
	Status   string `json:"status"`
	Comments string `json:"comments"`
}

// ReissueRequest is the body of POST /order/certificate/{id}/reissue: the
// certificate the order is to carry from now on (common name, names, CSR,
// signature hash) and, with SkipApproval, a request that no administrator
// has to approve it.
type ReissueRequest struct {
	Certificate  CertificateRequest `json:"certificate"`
	SkipApproval bool               `json:"skip_approval,omitempty"`
}

// ReissueResponse is the 201 answer to a reissue: the order's id and the
// reissue's request, whose status is approved when the certificate was
// issued at once and pending (or submitted) while it waits for approval or
// validation.
type ReissueResponse struct {
	ID       int             `json:"id"`
	Requests []RequestStatus `json:"requests"`
}

// Reissue is one entry of GET /order/certificate/{id}/reissue (its
// "certificates" array): a certificate requested by a reissue of the
// order. ListReissues drops blank entries from DNSNames.
type Reissue struct {
	ID           int      `json:"id"`     // the certificate's id
	Status       string   `json:"status"` // issued, pending or rejected
	CommonName   string   `json:"common_name"`
	DNSNames     []string `json:"dns_names"`
	SerialNumber string   `json:"serial_number,omitempty"` // hexadecimal, once issued
	CSR          string   `json:"csr,omitempty"`
	DateCreated  string   `json:"date_created"`          // ISO 8601 in UTC, such as 2019-04-08T17:33:26+00:00
	DateIssued   string   `json:"date_issued,omitempty"` // as DateCreated; absent while pending or rejected
	ValidTill    string   `json:"valid_till,omitempty"`  // the certificate's last day, such as 2020-04-08
}

// Created returns when the reissue was requested, parsed from
// date_created by ParseDate, and false when it is empty or cannot be
// parsed.
func (r Reissue) Created() (time.Time, bool) { return ParseDate(r.DateCreated) }

// Names returns the common name and DNS names of the reissue, lower-cased,
// without blanks or repeats, as Order.Names does.
func (r Reissue) Names() []string { return names(r.CommonName, r.DNSNames) }

// Order is what GET /order/certificate/{id} reports, reduced to the fields
// certform uses. The entries of ListOrders are decoded into it too; a list
// entry carries id, status, date_created and the certificate's id,
// common_name and dns_names, and may lack the settings (disable_ct,
// auto_reissue), so read those with GetOrder.
//
// DisableCT and AutoReissue are nil when the answer leaves them out (or
// sends null): unknown, never false. DigiCert's order-info page does not
// show disable_ct, and list entries carry neither; a caller keeps what it
// knew before (see Flag.Or) and never changes a setting on such a guess.
//
// The fields from OrderValidTill on are read when present and never
// required: an answer without them decodes to their zero values. Dates are
// kept as DigiCert sends them, such as "2026-11-25"; ValidTill and
// OrderEnds parse them.
type Order struct {
	ID                 int       `json:"id"`
	Status             string    `json:"status"`
	DateCreated        string    `json:"date_created,omitempty"` // as DigiCert sends it, such as 2026-03-02T10:00:00+00:00
	DisableCT          *Flag     `json:"disable_ct,omitempty"`
	AutoReissue        *Flag     `json:"auto_reissue,omitempty"`
	AlternativeOrderID string    `json:"alternative_order_id,omitempty"`
	Certificate        OrderCert `json:"certificate"`
	Product            Product   `json:"product"`
	// Organization is the top-level organization; real answers may carry
	// its id only under certificate.organization (see OrganizationID).
	Organization IDRef `json:"organization"`
	// OrderValidTill is the day the order (its plan) ends, such as
	// "2026-11-25": no certificate of the order outlives it, and a renewal
	// (a new order) is due before it.
	OrderValidTill string `json:"order_valid_till,omitempty"`
	// IsRenewed reports whether the order has been renewed: a new order
	// names it in renewal_of_order_id. RenewedOrderID is that order's id,
	// 0 when unknown.
	IsRenewed      Flag `json:"is_renewed"` // absent reads as false: not renewed as far as the answer says
	RenewedOrderID int  `json:"renewed_order_id,omitempty"`
	// RenewalOfOrderID is the order this one renews, 0 for none or when
	// the answer does not say: DigiCert's order-info page does not
	// document it, but the request field of that name does.
	RenewalOfOrderID int `json:"renewal_of_order_id,omitempty"`
	// DCVMethod is the domain control validation method, such as email,
	// dns-txt-token, dns-cname-token or http-token; DCVRandomValue is the
	// token to publish for the token methods.
	DCVMethod      string `json:"dcv_method,omitempty"`
	DCVRandomValue string `json:"dcv_random_value,omitempty"`
}

// OrderCert is the certificate part of an order. ID is the current
// certificate's id, 0 before one is issued; the fields from SerialNumber on
// describe that certificate and are empty or 0 before one is issued.
type OrderCert struct {
	ID            int      `json:"id,omitempty"`
	CommonName    string   `json:"common_name"`
	DNSNames      []string `json:"dns_names"`
	SignatureHash string   `json:"signature_hash"`
	// Organization is the certificate's organization, where real answers
	// (order info, order lists) carry its id; see Order.OrganizationID.
	Organization IDRef `json:"organization"`
	// SerialNumber is the certificate's serial number in hexadecimal, as
	// DigiCert shows it (upper case, no separators).
	SerialNumber string `json:"serial_number,omitempty"`
	// Thumbprint is the certificate's SHA-1 fingerprint in hexadecimal.
	Thumbprint string `json:"thumbprint,omitempty"`
	// ValidFrom and ValidTill are the first and last days of the
	// certificate's validity, such as "2026-11-25"; see Order.ValidTill.
	ValidFrom string `json:"valid_from,omitempty"`
	ValidTill string `json:"valid_till,omitempty"`
	// DaysRemaining is how many whole days the certificate has left.
	DaysRemaining int `json:"days_remaining,omitempty"`
}

// OrganizationID returns the order's organization id: organization.id, or
// certificate.organization.id when the top level has none (DigiCert's
// order-info examples carry it only there). 0 when neither is > 0.
func (o *Order) OrganizationID() int {
	if o.Organization.ID > 0 {
		return o.Organization.ID
	}
	if o.Certificate.Organization.ID > 0 {
		return o.Certificate.Organization.ID
	}
	return 0
}

// ValidTill returns when the order's current certificate ends, parsed from
// certificate.valid_till by ParseDate, and false when there is none or it
// cannot be parsed. A bare date is midnight UTC at its start, at or before
// the certificate's real end: early, never late, for deciding when to
// reissue. The certificate's own NotAfter is exact.
func (o *Order) ValidTill() (time.Time, bool) { return ParseDate(o.Certificate.ValidTill) }

// OrderEnds returns when the order ends, parsed from order_valid_till by
// ParseDate, and false when the answer has none or it cannot be parsed.
func (o *Order) OrderEnds() (time.Time, bool) { return ParseDate(o.OrderValidTill) }

// dateLayouts are the forms ParseDate reads: DigiCert's dates
// ("2026-11-25", used by valid_from, valid_till and order_valid_till), its
// timestamps ("2026-03-02T10:00:00+00:00", used by date_created) and the
// space-separated form some of its answers use ("2026-03-02 10:00:00", read
// as UTC).
var dateLayouts = []string{"2006-01-02", time.RFC3339, "2006-01-02 15:04:05"}

// ParseDate reads a date or time as DigiCert sends it (see dateLayouts:
// "2026-11-25", "2026-03-02T10:00:00+00:00" or "2026-03-02 10:00:00").
// A bare date is midnight UTC at its start. It returns false for "" and
// for anything else.
func ParseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// Names returns the common name and DNS names of the order, lower-cased,
// without blanks (DigiCert has been seen to report an empty list as [" "]).
func (o *Order) Names() []string { return names(o.Certificate.CommonName, o.Certificate.DNSNames) }

// names returns cn and dns, lower-cased and trimmed, without blanks or
// repeats, cn first.
func names(cn string, dns []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range append([]string{cn}, dns...) {
		n = strings.ToLower(strings.TrimSpace(n))
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// withoutBlanks returns dns without its blank entries (DigiCert has been
// seen to report an empty list as [" "]), trimmed, nil when none is left.
func withoutBlanks(dns []string) []string {
	var out []string
	for _, n := range dns {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// OrderRef is one entry of an alternative-id lookup or a status-changes
// list.
type OrderRef struct {
	OrderID       int    `json:"order_id"`
	CertificateID int    `json:"certificate_id"`
	Status        string `json:"status"`
}

// OrderFilter narrows ListOrders. An empty field does not filter.
type OrderFilter struct {
	// Status is an order status, such as issued or pending.
	Status string
	// CommonName is the certificate's common name, matched whole. DigiCert
	// does not document whether case matters; the fake ignores it.
	CommonName string
}

// RequestFilter narrows ListRequests. An empty Status lists every request.
type RequestFilter struct {
	// Status is submitted, pending, approved or rejected.
	Status string
}

// Request is an approval request as GET /request and GET /request/{id}
// report it. Type is new_request, revoke, duplicate or reissue; Status is
// submitted, pending, approved or rejected.
type Request struct {
	ID       int          `json:"id"`
	Date     string       `json:"date"`
	Type     string       `json:"type"`
	Status   string       `json:"status"`
	Comments string       `json:"comments"`
	Order    RequestOrder `json:"order"`
}

// RequestOrder is the order a request is about, reduced to its id.
type RequestOrder struct {
	ID int `json:"id"`
}

// Flag is a boolean DigiCert may report as true/false or as 1/0. A field
// that may be absent is a *Flag: nil is unknown.
type Flag bool

// KnownFlag returns a *Flag set to b: a value the answer stated.
func KnownFlag(b bool) *Flag { f := Flag(b); return &f }

// Or returns the flag's value, or def when f is nil (the answer did not
// say): the caller's own knowledge, never a guessed false.
func (f *Flag) Or(def bool) bool {
	if f == nil {
		return def
	}
	return bool(*f)
}

// UnmarshalJSON accepts true, false, 1, 0, "1", "0" and null (false; for
// a *Flag, encoding/json leaves null as nil, unknown).
func (f *Flag) UnmarshalJSON(b []byte) error {
	switch strings.TrimSpace(string(b)) {
	case "true", "1", `"1"`, `"true"`:
		*f = true
	case "false", "0", `"0"`, `"false"`, "null", `""`:
		*f = false
	default:
		return fmt.Errorf("digicert: %s is not a boolean", b)
	}
	return nil
}

// MarshalJSON writes a JSON boolean.
func (f Flag) MarshalJSON() ([]byte, error) { return json.Marshal(bool(f)) }

// Bool01 returns DigiCert's integer form of a boolean: 1 or 0.
func Bool01(b bool) int {
	if b {
		return 1
	}
	return 0
}
