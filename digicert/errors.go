package digicert

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrorDetail is one {code, message} pair DigiCert sent.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// APIError is any non-2xx answer from CertCentral: the HTTP status and every
// error DigiCert listed. Its message reads like
// "digicert: 400 invalid_dns_name: Invalid domain name: ...". Callers use
// errors.As, or the helpers IsNotFound, IsUnauthorized and IsRateLimited.
type APIError struct {
	Status int
	Errors []ErrorDetail
}

// Error reads "digicert: STATUS code: message; code: message".
func (e *APIError) Error() string {
	if len(e.Errors) == 0 {
		return fmt.Sprintf("digicert: %d %s", e.Status, strings.ToLower(http.StatusText(e.Status)))
	}
	parts := make([]string, len(e.Errors))
	for i, d := range e.Errors {
		switch {
		case d.Code != "" && d.Message != "":
			parts[i] = d.Code + ": " + d.Message
		case d.Code != "":
			parts[i] = d.Code
		default:
			parts[i] = d.Message
		}
	}
	return fmt.Sprintf("digicert: %d %s", e.Status, strings.Join(parts, "; "))
}

// Code returns the first error code DigiCert sent, or "".
func (e *APIError) Code() string {
	if len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

// HasCode reports whether any of DigiCert's errors has the code.
func (e *APIError) HasCode(code string) bool {
	for _, d := range e.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

// Transient reports whether retrying the same call may succeed: 408, 429 and
// 5xx. Any other 4xx is final.
func (e *APIError) Transient() bool {
	return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// NotFoundCodes are the error codes with which a 404 means that no such
// order (or alternative order id) exists: not_found and not_found|order
// (shared/digicert-api.md). Other 404s, such as not_found|route (no such
// endpoint: a wrong --api-url or a proxy) or one without DigiCert's error
// body, prove nothing about the order.
var NotFoundCodes = []string{"not_found", "not_found|order"}

// IsNotFound reports whether err is CertCentral saying that the order (or
// whatever was looked up) does not exist: a 404 whose body is DigiCert's
// error document with a code in NotFoundCodes. Any other 404 is not: a
// caller that acts on "none" (orders again, marks an order missing) must
// not act on a route or a proxy's page.
func IsNotFound(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		return false
	}
	for _, code := range NotFoundCodes {
		if ae.HasCode(code) {
			return true
		}
	}
	return false
}

// IsUnauthorized reports whether err is a 401 (missing or invalid API key)
// or a 403 (the key lacks a permission, or, see IsInvalidKey, is invalid).
func IsUnauthorized(err error) bool {
	s := statusOf(err)
	return s == http.StatusUnauthorized || s == http.StatusForbidden
}

// InvalidKeyCode is the code of a 403 with which CertCentral refuses an
// invalid API key, as a real recording shows (shared/realdata,
// jupiterone_403_invalid_key.json); other 403s mean the key lacks a
// permission.
const InvalidKeyCode = "access_denied|access_denied_invalid_key"

// IsInvalidKey reports whether err is CertCentral refusing the API key
// itself: any 401, or a 403 with InvalidKeyCode. Both call for the same
// fix (another key), unlike a 403 for a missing permission.
func IsInvalidKey(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden && ae.HasCode(InvalidKeyCode)
}

// RenewalConflictCodes are the error codes with which CertCentral refuses
// a renewal because the order is renewed already or cannot be renewed:
// order_already_renewed (the fake's), and order_renewed_already and
// order_not_eligible_for_renewal, seen in a production client
// (shared/digicert-api.md, interop).
var RenewalConflictCodes = []string{"order_already_renewed", "order_renewed_already", "order_not_eligible_for_renewal"}

// IsRenewalConflict reports whether err is a 4xx refusal of a renewal
// with one of RenewalConflictCodes: the order may have been renewed
// meanwhile, so the caller reads it and adopts the renewal it names.
func IsRenewalConflict(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 {
		return false
	}
	for _, code := range RenewalConflictCodes {
		if ae.HasCode(code) {
			return true
		}
	}
	return false
}

// IsRateLimited reports whether err is a 429 request_limit_exceeded.
func IsRateLimited(err error) bool { return statusOf(err) == http.StatusTooManyRequests }

// ErrOutcomeUnknown is matched (errors.Is) by an error from a call whose
// request may have reached CertCentral and been carried out although no
// answer that proves what happened came back: a dropped connection, a
// timeout or a 5xx after the request was sent, a redirect (the server that
// redirected may have acted), or a 2xx answer that could not be understood
// (then ErrBadAnswer matches too). Only PlaceOrder, Reissue and Revoke
// return it. The client never repeats such a call by itself; for an order,
// look it up by its alternative order id before ordering again, and for a
// reissue read the order or its reissues before asking again.
var ErrOutcomeUnknown = errors.New("outcome unknown")

// OutcomeUnknownError is the error behind ErrOutcomeUnknown: the call and
// what went wrong.
type OutcomeUnknownError struct {
	Call string // such as "POST /order/certificate/ssl"
	Err  error
}

// Error names the call, says its outcome is unknown, and gives the cause.
func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("digicert: %s: outcome unknown, the request may have been carried out: %v", e.Call, e.Err)
}

// Unwrap returns the cause.
func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrOutcomeUnknown) true.
func (e *OutcomeUnknownError) Is(target error) bool { return target == ErrOutcomeUnknown }

// IsAlternativeIDTaken reports whether err is CertCentral refusing an order
// because another order already carries its alternative order id: a 400 or
// 409 with an error code that names the alternative order id (it contains
// "alternative") and says it is taken (it contains "duplicate", "exist",
// "taken", "already" or "unique"), such as duplicate_alternative_order_id.
// Accounts reject such orders only with "Require unique alternative order
// IDs" set. DigiCert does not document the code, so the test is by these
// words rather than one exact code; the caller should look the id up
// (FindByAlternativeID) and adopt the order it finds.
func IsAlternativeIDTaken(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) || (ae.Status != http.StatusBadRequest && ae.Status != http.StatusConflict) {
		return false
	}
	for _, d := range ae.Errors {
		code := strings.ToLower(d.Code)
		if !strings.Contains(code, "alternative") {
			continue
		}
		for _, w := range []string{"duplicate", "exist", "taken", "already", "unique"} {
			if strings.Contains(code, w) {
				return true
			}
		}
	}
	return false
}

// ErrBadAnswer is matched (errors.Is) by every error about a 2xx answer that
// could not be understood: an empty body, a body that is not the JSON
// document the call returns (truncated, HTML from a proxy, another shape),
// or one that lacks what it must have, such as an order id > 0. For
// PlaceOrder, Reissue and Revoke such an error is also an
// *OutcomeUnknownError: the server said yes, but not to what.
var ErrBadAnswer = errors.New("the answer could not be understood")

// badAnswerError says what was wrong with a 2xx answer; Err is the JSON
// decoder's error, if any.
type badAnswerError struct {
	reason string
	err    error
}

func (e *badAnswerError) Error() string {
	if e.err != nil {
		return e.reason + ": " + e.err.Error()
	}
	return e.reason
}

func (e *badAnswerError) Unwrap() error { return e.err }

func (e *badAnswerError) Is(target error) bool { return target == ErrBadAnswer }

func badAnswer(format string, args ...any) error {
	return &badAnswerError{reason: fmt.Sprintf(format, args...)}
}
