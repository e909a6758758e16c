package spec

import (
	"fmt"
	"slices"
	"strings"
)

// Class says what a spec key is to a CertCentral order: whether it is sent,
// and whether and how certform may change it once the order is placed.
type Class int

const (
	// SpecOnly: certform's own setting (the spec's name, when to reissue
	// or renew, revoke, order_id...); never sent as a field of the order.
	SpecOnly Class = iota
	// Fixed: sent with the order and fixed once ordered; a change needs a
	// new order (product, validity, organization).
	Fixed
	// Reissuable: fixed once ordered, but a reissue of the same order
	// changes it (names, CSR, signature hash, server platform, key type).
	Reissuable
	// Toggle: a setting certform changes in place on the live order
	// (disable_ct, auto_reissue).
	Toggle
	// OrderingOnly: sent with the order and never changed afterwards
	// (comments, DCV method, e-mails...); a change is only noted.
	OrderingOnly
)

// String returns the class as the docs name it.
func (c Class) String() string {
	switch c {
	case Fixed:
		return "fixed"
	case Reissuable:
		return "reissuable"
	case Toggle:
		return "toggle"
	case OrderingOnly:
		return "ordering-only"
	}
	return "spec-only"
}

// field is one key of the spec format: its YAML type, its class, whether a
// defaults.yaml may set it, what the JSON Schema says of it, and for the
// fixed and ordering-only keys how it enters the order's recorded fields.
type field struct {
	key   string
	kind  kind
	class Class
	// noDefaults: a defaults.yaml may not set the key (why says why when
	// the key has a reason of its own).
	noDefaults bool
	why        string
	// fixedAs is the FixedFields key a fixed or reissuable key is recorded
	// under (csr_file is recorded as csr, validity_years and validity_days
	// as validity); empty otherwise.
	fixedAs string
	// option is an ordering-only key's value as Order.OrderingOptions
	// records it.
	option func(o *Order) string
	keyConstraint
}

// keyConstraint is what the JSON Schema says of a key beyond its type: its
// enum and range, from the same lists and bounds validate checks, and a
// description (every key has one: TestSchema_everyKeyDescribed).
type keyConstraint struct {
	enum     []string
	min, max int // an integer's range; both zero: none
	notZero  bool
	desc     string
}

// fieldTable is the spec format: every key a spec may hold, sorted by key.
// It is the contract users write; the README's spec reference lists the
// same keys, and the loader, the JSON Schema, FixedFields, OrderingOptions
// and the planner's reissue-or-new-order choice all read it.
var fieldTable = []field{
	{key: "additional_emails", kind: kStrings, class: OrderingOnly, option: func(o *Order) string { return strings.Join(o.AdditionalEmails, ",") },
		keyConstraint: keyConstraint{desc: "More e-mail addresses DigiCert writes to about the order, bare (pki-team@example.com)."}},
	// allow_existing_names: order anew even when CertCentral already has a
	// live order with exactly these names (Order.AllowExistingNames). A
	// spec-only key: in a defaults file one line would turn the check off
	// for a whole tree.
	{key: "allow_existing_names", kind: kBool, noDefaults: true, why: "it would turn off the check for live orders with the same names for every spec below it; " +
		"set it only in the spec that truly wants a second order",
		keyConstraint: keyConstraint{desc: "Order even when CertCentral already has a live order with exactly these names (spec only)."}},
	{key: "auto_reissue", kind: kBool, class: Toggle,
		keyConstraint: keyConstraint{desc: "Let DigiCert reissue the certificate on its own before it ends."}},
	{key: "auto_renew", kind: kBool, class: OrderingOnly, option: func(o *Order) string { return fmt.Sprint(o.AutoRenew) },
		keyConstraint: keyConstraint{desc: "Let DigiCert renew the order on its own."}},
	{key: "comments", kind: kString, class: OrderingOnly, option: func(o *Order) string { return o.Comments },
		keyConstraint: keyConstraint{desc: "Comments on the order, for CertCentral."}},
	{key: "common_name", kind: kString, class: Reissuable, noDefaults: true, fixedAs: "common_name",
		keyConstraint: keyConstraint{desc: "The domain the certificate secures (lower case; quote a wildcard: \"*.example.com\")."}},
	{key: "container_id", kind: kInt, class: OrderingOnly, option: func(o *Order) string { return fmt.Sprint(o.ContainerID) },
		keyConstraint: keyConstraint{min: 1, max: 0, desc: "The CertCentral container (division) id."}},
	{key: "csr", kind: kString, class: Reissuable, noDefaults: true, fixedAs: "csr",
		keyConstraint: keyConstraint{desc: "The PEM certificate request, inline (csr: |)."}},
	{key: "csr_file", kind: kString, class: Reissuable, noDefaults: true, fixedAs: "csr",
		keyConstraint: keyConstraint{desc: "A path to the PEM certificate request, relative to this file, inside the spec directory."}},
	{key: "dcv_method", kind: kString, class: OrderingOnly, option: func(o *Order) string { return o.DCVMethod },
		keyConstraint: keyConstraint{enum: dcvMethods, desc: "The domain control validation method."}},
	{key: "disable_ct", kind: kBool, class: Toggle,
		keyConstraint: keyConstraint{desc: "Keep the certificate out of Certificate Transparency logs (private products)."}},
	{key: "disable_renewal_notifications", kind: kBool, class: OrderingOnly, option: func(o *Order) string { return fmt.Sprint(o.DisableRenewalNotifications) },
		keyConstraint: keyConstraint{desc: "Turn off DigiCert's renewal e-mails for the order."}},
	{key: "dns_names", kind: kStrings, class: Reissuable, noDefaults: true, fixedAs: "dns_names",
		keyConstraint: keyConstraint{desc: "More names for the certificate (subject alternative names), lower case."}},
	// key_type: certform makes the key and the CSR (Order.KeyType);
	// key_rotation: a new key on every reissue and renewal, or not
	// (Order.KeyRotation).
	{key: "key_rotation", kind: kString,
		keyConstraint: keyConstraint{enum: keyRotations, desc: "always (default): a new key for every reissue and renewal; never: the key is kept for the order's life. Only with key_type."}},
	{key: "key_type", kind: kString, class: Reissuable, fixedAs: "key_type",
		keyConstraint: keyConstraint{enum: keyTypeNames(), desc: "certform makes the private key and the CSR on the server, of this type; not with csr/csr_file in the same file (a defaults.yaml's key_type gives way to a spec's own CSR)."}},
	{key: "name", kind: kString, noDefaults: true,
		keyConstraint: keyConstraint{desc: "The spec's name, unique in the directory: 1 to 63 lower-case letters, digits, '.', '_' or '-'."}},
	// order_id: this spec is existing CertCentral order N (Order.OrderID).
	{key: "order_id", kind: kInt, noDefaults: true,
		keyConstraint: keyConstraint{min: 1, max: 0, desc: "Adopt existing CertCentral order N instead of ordering (spec only)."}},
	{key: "organization_id", kind: kInt, class: Fixed, fixedAs: "organization_id",
		keyConstraint: keyConstraint{min: 1, max: 0, desc: "The CertCentral organization id (here or in a defaults.yaml)."}},
	{key: "product", kind: kString, class: Fixed, fixedAs: "product",
		keyConstraint: keyConstraint{enum: products, desc: "The CertCentral product (default ov). A change needs a new order."}},
	// Keeping the certificate alive (Order.ReissueBeforeDays,
	// ReissueOnCTChange, RenewBeforeDays).
	{key: "reissue_before_days", kind: kInt,
		keyConstraint: keyConstraint{min: 1, max: 90, desc: "Reissue when the certificate ends within this many days (default 30)."}},
	{key: "reissue_on_ct_change", kind: kBool,
		keyConstraint: keyConstraint{desc: "Reissue when disable_ct changes (default true)."}},
	{key: "renew_before_days", kind: kInt,
		keyConstraint: keyConstraint{min: 1, max: 90, desc: "Renew when the order ends within this many days (default 30)."}},
	{key: "revoke", kind: kBool, noDefaults: true,
		keyConstraint: keyConstraint{desc: "Revoke the order's certificate (irreversible; needs revoke_comments and --max-revocations)."}},
	{key: "revoke_comments", kind: kString, noDefaults: true,
		keyConstraint: keyConstraint{desc: "Why the order is revoked; sent to DigiCert."}},
	{key: "server_platform_id", kind: kInt, class: Reissuable, fixedAs: "server_platform_id",
		keyConstraint: keyConstraint{min: -1, notZero: true, desc: "The server platform id: -1 (other) or a positive id."}},
	{key: "signature_hash", kind: kString, class: Reissuable, fixedAs: "signature_hash",
		keyConstraint: keyConstraint{enum: signatureHashes, desc: "The certificate's signature hash (default sha256)."}},
	{key: "skip_approval", kind: kBool, class: OrderingOnly, option: func(o *Order) string { return fmt.Sprint(o.SkipApproval) },
		keyConstraint: keyConstraint{desc: "Skip the CertCentral approval step."}},
	{key: "validity_days", kind: kInt, class: Fixed, fixedAs: "validity",
		keyConstraint: keyConstraint{min: 1, max: 1095, desc: "The order's validity in days; not with validity_years."}},
	{key: "validity_years", kind: kInt, class: Fixed, fixedAs: "validity",
		keyConstraint: keyConstraint{min: 1, max: 3, desc: "The order's validity in years (default 1); not with validity_days."}},
}

// keys indexes fieldTable by key.
var keys = func() map[string]*field {
	m := make(map[string]*field, len(fieldTable))
	for i := range fieldTable {
		m[fieldTable[i].key] = &fieldTable[i]
	}
	return m
}()

// sortedKeys lists the keys alphabetically (fieldTable's order), for
// suggestions that do not depend on map order.
var sortedKeys = func() []string {
	ks := make([]string, len(fieldTable))
	for i, f := range fieldTable {
		ks[i] = f.key
	}
	return ks
}()

// Keys returns every key a spec may hold, sorted: the field table the
// loader decodes with (documentation tests and the JSON Schema use it).
func Keys() []string { return slices.Clone(sortedKeys) }

// ClassOf returns the class of spec key key, and false for a key that is
// not in the spec format.
func ClassOf(key string) (Class, bool) {
	f, ok := keys[key]
	if !ok {
		return SpecOnly, false
	}
	return f.class, true
}

// ReissueChanges reports whether a reissue of the same order changes the
// fixed field fixedKey (a key of FixedFields): true for the names, the CSR,
// the signature hash, the server platform and the key type; false for the
// product, validity and organization, which need a new order.
func ReissueChanges(fixedKey string) bool {
	for _, f := range fieldTable {
		if f.fixedAs == fixedKey {
			return f.class == Reissuable
		}
	}
	return false
}

// OrderingOptions returns the order's ordering-only settings by spec key,
// as strings (lists joined with ","): what was sent with the order and is
// never changed on it, recorded so that a later change can be noted.
func (o *Order) OrderingOptions() map[string]string {
	out := map[string]string{}
	for _, f := range fieldTable {
		if f.class == OrderingOnly {
			out[f.key] = f.option(o)
		}
	}
	return out
}

// OrderingOption returns the order's ordering-only setting key as
// OrderingOptions records it (OrderingOptions()[key]) without building
// the map, and false for a key that is not an ordering-only key.
func (o *Order) OrderingOption(key string) (string, bool) {
	f, ok := keys[key]
	if !ok || f.class != OrderingOnly {
		return "", false
	}
	return f.option(o), true
}
