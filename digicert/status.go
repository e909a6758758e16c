package digicert

// IsClosed reports whether an order status is one after which nothing can
// change on the order: revoked, canceled, rejected or expired. certform
// plans nothing for such an order but a new one, and adopts none of them.
// Any other status, including one this package does not know, is live.
func IsClosed(status string) bool {
	switch status {
	case "revoked", "canceled", "rejected", "expired":
		return true
	}
	return false
}
