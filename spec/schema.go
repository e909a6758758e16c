package spec

import (
	"encoding/json"
	"sort"

	"github.com/certform/certform/keys/keytype"
)

// SchemaID is the $id of the JSON Schema Schema returns: where the
// repository keeps it (schema/spec.json).
const SchemaID = "https://github.com/certform/certform/raw/main/schema/spec.json"

// keyConstraint is what the JSON Schema says of a key beyond its type
// (keys gives the type and whether defaults.yaml may set it): its enum and
// range, from the same lists and bounds validate checks, and a
// description. Every key of keys has one (TestSchema_everyKeyDescribed).
type keyConstraint struct {
	enum     []string
	min, max int // an integer's range; both zero: none
	notZero  bool
	desc     string
}

var keyConstraints = map[string]keyConstraint{
	"name":                          {desc: "The spec's name, unique in the directory: 1 to 63 lower-case letters, digits, '.', '_' or '-'."},
	"common_name":                   {desc: "The domain the certificate secures (lower case; quote a wildcard: \"*.example.com\")."},
	"dns_names":                     {desc: "More names for the certificate (subject alternative names), lower case."},
	"csr":                           {desc: "The PEM certificate request, inline (csr: |)."},
	"csr_file":                      {desc: "A path to the PEM certificate request, relative to this file, inside the spec directory."},
	"signature_hash":                {enum: signatureHashes, desc: "The certificate's signature hash (default sha256)."},
	"product":                       {enum: products, desc: "The CertCentral product (default ov). A change needs a new order."},
	"validity_years":                {min: 1, max: 3, desc: "The order's validity in years (default 1); not with validity_days."},
	"validity_days":                 {min: 1, max: 1095, desc: "The order's validity in days; not with validity_years."},
	"organization_id":               {min: 1, max: 0, desc: "The CertCentral organization id (here or in a defaults.yaml)."},
	"container_id":                  {min: 1, max: 0, desc: "The CertCentral container (division) id."},
	"server_platform_id":            {min: -1, notZero: true, desc: "The server platform id: -1 (other) or a positive id."},
	"disable_ct":                    {desc: "Keep the certificate out of Certificate Transparency logs (private products)."},
	"auto_reissue":                  {desc: "Let DigiCert reissue the certificate on its own before it ends."},
	"auto_renew":                    {desc: "Let DigiCert renew the order on its own."},
	"skip_approval":                 {desc: "Skip the CertCentral approval step."},
	"disable_renewal_notifications": {desc: "Turn off DigiCert's renewal e-mails for the order."},
	"dcv_method":                    {enum: dcvMethods, desc: "The domain control validation method."},
	"key_type":                      {enum: keyTypeNames(), desc: "certform makes the private key and the CSR on the server, of this type; not with csr/csr_file in the same file (a defaults.yaml's key_type gives way to a spec's own CSR)."},
	"key_rotation":                  {enum: keyRotations, desc: "always (default): a new key for every reissue and renewal; never: the key is kept for the order's life. Only with key_type."},
	"additional_emails":             {desc: "More e-mail addresses DigiCert writes to about the order, bare (pki-team@example.com)."},
	"comments":                      {desc: "Comments on the order, for CertCentral."},
	"revoke":                        {desc: "Revoke the order's certificate (irreversible; needs revoke_comments and --max-revocations)."},
	"revoke_comments":               {desc: "Why the order is revoked; sent to DigiCert."},
	"allow_existing_names":          {desc: "Order even when CertCentral already has a live order with exactly these names (spec only)."},
	"order_id":                      {min: 1, max: 0, desc: "Adopt existing CertCentral order N instead of ordering (spec only)."},
	"reissue_before_days":           {min: 1, max: 90, desc: "Reissue when the certificate ends within this many days (default 30)."},
	"reissue_on_ct_change":          {desc: "Reissue when disable_ct changes (default true)."},
	"renew_before_days":             {min: 1, max: 90, desc: "Renew when the order ends within this many days (default 30)."},
}

// Schema returns the JSON Schema (2020-12) of a spec document and of a
// defaults.yaml, generated from the loader's key table (keys) and the
// lists and bounds validate checks: every key with its type, enum, range
// and description, and no other key. A document with name is a spec; one
// without is a defaults.yaml, which may not set the spec-only keys. It
// checks types, enums, ranges and key names; what needs more than one key
// or a file (names against the CSR, unique names) is the loader's alone.
func Schema() ([]byte, error) {
	props := map[string]any{}
	var specOnly []any
	for _, k := range sortedKeys {
		info := keys[k]
		c := keyConstraints[k] // a key without one gets its type only (TestSchema_everyKeyDescribed)
		p := map[string]any{"description": c.desc}
		switch info.kind {
		case kString:
			p["type"] = "string"
		case kInt:
			p["type"] = "integer"
		case kBool:
			p["type"] = "boolean"
		case kStrings:
			p["type"], p["items"] = "array", map[string]any{"type": "string"}
		}
		if c.enum != nil {
			p["enum"] = c.enum
		}
		if c.min != 0 || c.max != 0 {
			p["minimum"] = c.min
			if c.max != 0 {
				p["maximum"] = c.max
			}
		}
		if c.notZero {
			p["not"] = map[string]any{"const": 0}
		}
		if info.noDefaults {
			p["description"] = c.desc + " Not in defaults.yaml."
			specOnly = append(specOnly, k)
		}
		props[k] = p
	}
	sort.Slice(specOnly, func(i, j int) bool { return specOnly[i].(string) < specOnly[j].(string) })
	forbidden := make([]any, 0, len(specOnly))
	for _, k := range specOnly {
		forbidden = append(forbidden, map[string]any{"required": []any{k}})
	}
	s := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  SchemaID,
		"title":                "certform spec or defaults.yaml",
		"description":          "One YAML document of a certform spec file (it has name), or a defaults.yaml (no name; the spec-only keys are not allowed). Generated by certform schema; see docs/specs.md.",
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
		"if":                   map[string]any{"required": []any{"name"}},
		"else":                 map[string]any{"not": map[string]any{"anyOf": forbidden}},
	}
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// keyTypeNames returns the key_type values, as keytype.Types gives them.
func keyTypeNames() []string {
	var out []string
	for _, t := range keytype.Types() {
		out = append(out, string(t))
	}
	return out
}
