package digicert

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// Domain control validation (DCV): the calls certform makes to have
// DigiCert validate a name without a person (shared/digicert-api.md,
// "Domain control validation"). Every call here but CheckDCV and
// ValidateDomainToken is a GET or returns an existing value again, so all
// are retried as a GET is: asking DigiCert to check twice changes nothing.

// DCV methods that certform can carry out by publishing a value.
const (
	DCVDNSTXT   = "dns-txt-token"
	DCVDNSCNAME = "dns-cname-token"
	DCVHTTP     = "http-token"
)

// OrderValidation is an order's validation status, as GET
// /order/certificate/{id}/validation answers it.
type OrderValidation struct {
	// DCVMethod is the order's method (order_dcv_method).
	DCVMethod string `json:"order_dcv_method"`
	// Names are the names of the order and their status (pending,
	// approved, expired...).
	Names []NameValidation `json:"dns_name_validations"`
}

// NameValidation is one name of an order and its validation status.
type NameValidation struct {
	DNSName string `json:"dns_name"`
	Status  string `json:"status"`
	// DCVMethod is the name's own method when DigiCert gives one.
	DCVMethod string `json:"dcv_method,omitempty"`
}

// Validated reports whether DigiCert reports the name validated
// ("approved", "completed", "validated" or "active").
func (n NameValidation) Validated() bool {
	switch n.Status {
	case "approved", "completed", "validated", "active":
		return true
	}
	return false
}

// Pending returns the names DigiCert still reports pending.
func (v *OrderValidation) Pending() []NameValidation {
	var out []NameValidation
	for _, n := range v.Names {
		if n.Status == "pending" {
			out = append(out, n)
		}
	}
	return out
}

// RandomValue is an order's DCV random value with its expiry.
type RandomValue struct {
	Value          string `json:"dcv_random_value"`
	ExpirationDate string `json:"expiration_date,omitempty"`
}

// CheckResult is the answer of PUT /order/certificate/{id}/check-dcv.
type CheckResult struct {
	OrderStatus   string           `json:"order_status"`
	CertificateID int              `json:"certificate_id,omitempty"`
	DCVStatus     string           `json:"dcv_status"`
	Names         []NameValidation `json:"dns_name_validations"`
}

// AccountDomain is one domain of the account as GET /domain (with
// include_validation=true) and GET /domain/{id} answer it. The names of the
// validation fields are not on a public page (shared/digicert-api.md):
// both dcv_expiration {ov, ev} and validations[].validated_until are read,
// and ValidationEnds takes the earliest.
type AccountDomain struct {
	ID            int                `json:"id"`
	Name          string             `json:"name"`
	IsActive      bool               `json:"is_active"`
	DCVMethod     string             `json:"dcv_method,omitempty"`
	DCVExpiration map[string]string  `json:"dcv_expiration,omitempty"`
	Validations   []DomainValidation `json:"validations,omitempty"`
	DCVToken      *DomainToken       `json:"dcv_token,omitempty"`
}

// DomainValidation is one validation type of a domain (ov, ev) and when it
// ends.
type DomainValidation struct {
	Type           string `json:"type"`
	Status         string `json:"status,omitempty"`
	ValidatedUntil string `json:"validated_until,omitempty"`
}

// DomainToken is a domain's DCV token.
type DomainToken struct {
	Token          string `json:"token"`
	Status         string `json:"status,omitempty"`
	ExpirationDate string `json:"expiration_date,omitempty"`
}

// Expired reports whether the token has an expiration date at or before
// now. A token without a readable date is taken as valid.
func (t *DomainToken) Expired(now time.Time) bool {
	end, ok := ParseDate(t.ExpirationDate)
	return ok && !end.After(now)
}

// ValidationEnds returns when the domain's validation ends: the earliest
// of its dcv_expiration dates and validations' validated_until; false when
// the answer gives none (the domain has no validation, or it was not
// asked for).
func (d *AccountDomain) ValidationEnds() (time.Time, bool) {
	var end time.Time
	found := false
	take := func(s string) {
		if t, ok := ParseDate(s); ok && (!found || t.Before(end)) {
			end, found = t, true
		}
	}
	for _, s := range d.DCVExpiration {
		take(s)
	}
	for _, v := range d.Validations {
		take(v.ValidatedUntil)
	}
	return end, found
}

// OrderValidation reads an order's validation status: GET
// /order/certificate/{id}/validation.
func (c *Client) OrderValidation(ctx context.Context, orderID int) (*OrderValidation, error) {
	const endpoint = "GET /order/certificate/{id}/validation"
	return callJSON[OrderValidation](ctx, c, "GET", fmt.Sprintf("/order/certificate/%d/validation", orderID), endpoint, "", nil)
}

// RandomValue returns the order's DCV random value: PUT
// /order/certificate/{id}/dcv-random-value (no body). DigiCert returns the
// existing value while it is valid and a new one once it expired, so the
// call is repeatable. An answer without a value matches ErrBadAnswer.
func (c *Client) RandomValue(ctx context.Context, orderID int) (*RandomValue, error) {
	const endpoint = "PUT /order/certificate/{id}/dcv-random-value"
	return callJSON(ctx, c, "PUT", fmt.Sprintf("/order/certificate/%d/dcv-random-value", orderID), endpoint, "no dcv_random_value", func(o *RandomValue) bool { return o.Value == "" })
}

// CheckDCV asks DigiCert to check the order's validation now: PUT
// /order/certificate/{id}/check-dcv. For http-token DigiCert answers 400
// when the file is not found; the *APIError says so.
func (c *Client) CheckDCV(ctx context.Context, orderID int) (*CheckResult, error) {
	const endpoint = "PUT /order/certificate/{id}/check-dcv"
	return callJSON[CheckResult](ctx, c, "PUT", fmt.Sprintf("/order/certificate/%d/check-dcv", orderID), endpoint, "", nil)
}

// ListDomains lists the account's domains with their validations: every
// page of GET /domain?include_validation=true, as ListOrders reads orders.
func (c *Client) ListDomains(ctx context.Context) ([]AccountDomain, error) {
	q := url.Values{}
	q.Set("include_validation", "true")
	return listAll(ctx, c, "/domain", "GET /domain", "domains", q, func(d *AccountDomain) int { return d.ID })
}

// GetDomain reads one domain with its DCV token and validations: GET
// /domain/{id}?include_dcv=true&include_validation=true.
func (c *Client) GetDomain(ctx context.Context, domainID int) (*AccountDomain, error) {
	const endpoint = "GET /domain/{id}"
	return callJSON(ctx, c, "GET", fmt.Sprintf("/domain/%d?include_dcv=true&include_validation=true", domainID), endpoint, "no domain id > 0", func(o *AccountDomain) bool { return o.ID <= 0 })
}

// NewDomainToken makes a new DCV token for a domain: POST
// /domain/{id}/dcv/token. It invalidates the domain's previous token (order
// tokens stay valid), so it is called only when the domain has no valid
// one; it is repeatable for that reason.
func (c *Client) NewDomainToken(ctx context.Context, domainID int) (*DomainToken, error) {
	const endpoint = "POST /domain/{id}/dcv/token"
	return callJSON(ctx, c, "POST", fmt.Sprintf("/domain/%d/dcv/token", domainID), endpoint, "no token", func(o *DomainToken) bool { return o.Token == "" })
}

// ValidateDomainToken asks DigiCert to check a domain's token now: PUT
// /domain/{id}/dcv/validate-token. DigiCert answers 400 invalid_dns_txt or
// file_random_value_not_found when it does not find the value.
func (c *Client) ValidateDomainToken(ctx context.Context, domainID int) (*DomainToken, error) {
	const endpoint = "PUT /domain/{id}/dcv/validate-token"
	return callJSON[DomainToken](ctx, c, "PUT", fmt.Sprintf("/domain/%d/dcv/validate-token", domainID), endpoint, "", nil)
}
