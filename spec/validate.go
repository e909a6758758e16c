package spec

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/mail"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/certform/certform/internal/nameset"
	"github.com/certform/certform/keys/keytype"
	"go.yaml.in/yaml/v3"
	"golang.org/x/net/idna"
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// DefaultBeforeDays is reissue_before_days and renew_before_days when a
// spec (and its defaults) leaves them out.
const DefaultBeforeDays = 30

// Allowed values of the enumerated keys, in the order README lists them.
var (
	signatureHashes = []string{"sha256", "sha384", "sha512"}
	products        = []string{"ov", "ev", "grid", "private"}
	dcvMethods      = []string{"email", "dns-txt-token", "dns-cname-token", "http-token"}
)

// at adds an error at a decoded value's position.
func (d *docErrors) at(v *value, field, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: v.file, Line: int(v.line), Column: int(v.col), Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (f fields) str(key string) string {
	if v := f[key]; v != nil {
		return v.v.(string)
	}
	return ""
}

func (f fields) int(key string) int {
	if v := f[key]; v != nil {
		return v.v.(int)
	}
	return 0
}

func (f fields) bool(key string) bool {
	if v := f[key]; v != nil {
		return v.v.(bool)
	}
	return false
}

func (f fields) strs(key string) []string {
	if v := f[key]; v != nil {
		return v.v.([]string)
	}
	return nil
}

// validate turns effective fields into an Order, adding an error for every
// rule broken. m is the spec's own mapping, where missing keys are reported.
//
// written holds the keys the spec itself wrote, valid or not: a required
// key written with a bad value already has its error and is not also
// reported missing.
func (l *fileCtx) validate(rel string, m *yaml.Node, f fields, written keySet, d *docErrors) *Order {
	o := orderFromFields(rel, m, f)
	checkIdentity(o, m, f, written, d)
	req := l.checkCSR(o, m, f, written, d)
	checkProduct(o, f, d)
	checkIDs(o, m, f, written, d)
	checkKeepAlive(o, f, d)
	if len(d.errs) > 0 {
		if req.v != nil {
			req.run(d)
		}
		return o
	}
	fp := o.fingerprint()
	switch {
	case req.v == nil:
	case l.verified == nil || !l.verified(fp):
		// The request is checked unless a valid spec with the same
		// fixed fields (the same request bytes, names, product...)
		// was checked before: the check depends on nothing else, so
		// it would pass again.
		if req.run(d); len(d.errs) > 0 {
			return o
		}
	case l.dropChecked:
		// Its digest is in csrSum, which FixedFields reads.
		o.CSR, o.csrDropped = "", true
	}
	o.Fingerprint = fp
	return o
}

// orderFromFields builds the Order of a spec's effective fields, as
// written (defaults and checks come after).
func orderFromFields(rel string, m *yaml.Node, f fields) *Order {
	return &Order{
		File: rel, Line: m.Line, Column: m.Column,
		Name:                        f.str("name"),
		OrderID:                     f.int("order_id"),
		CommonName:                  f.str("common_name"),
		DNSNames:                    f.strs("dns_names"),
		SignatureHash:               f.str("signature_hash"),
		Product:                     f.str("product"),
		ValidityYears:               f.int("validity_years"),
		ValidityDays:                f.int("validity_days"),
		OrganizationID:              f.int("organization_id"),
		ContainerID:                 f.int("container_id"),
		DisableCT:                   f.bool("disable_ct"),
		AutoReissue:                 f.bool("auto_reissue"),
		AutoRenew:                   f.bool("auto_renew"),
		SkipApproval:                f.bool("skip_approval"),
		DisableRenewalNotifications: f.bool("disable_renewal_notifications"),
		DCVMethod:                   f.str("dcv_method"),
		AdditionalEmails:            f.strs("additional_emails"),
		Comments:                    f.str("comments"),
		Revoke:                      f.bool("revoke"),
		RevokeComments:              f.str("revoke_comments"),
		AllowExistingNames:          f.bool("allow_existing_names"),
		ReissueBeforeDays:           f.int("reissue_before_days"),
		RenewBeforeDays:             f.int("renew_before_days"),
		ReissueOnCTChange:           f["reissue_on_ct_change"] == nil || f.bool("reissue_on_ct_change"),
	}
}

// missing reports a required key the spec does not write (one written with
// a bad value already has its error).
func (d *docErrors) missing(m *yaml.Node, written keySet, key, what string) {
	if !written.has(key) {
		d.add(m, key, "is required: %s", what)
	}
}

// checkIdentity checks the keys that say which certificate the spec is:
// name, common_name, dns_names and order_id.
func checkIdentity(o *Order, m *yaml.Node, f fields, written keySet, d *docErrors) {
	if v := f["name"]; v == nil {
		d.missing(m, written, "name", "add a name such as `name: shop-example-com` (lower case letters, digits, '.', '_', '-')")
	} else {
		o.nameLine, o.nameCol = int(v.line), int(v.col)
		if !nameRE.MatchString(o.Name) {
			d.at(v, "name", "%q is not a valid name: use 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", o.Name)
		}
	}

	if v := f["common_name"]; v == nil {
		d.missing(m, written, "common_name", "the domain the certificate secures, such as `common_name: shop.example.com`")
	} else if msg := checkDNSName(o.CommonName); msg != "" {
		d.at(v, "common_name", "%q %s", o.CommonName, msg)
	}
	if v := f["dns_names"]; v != nil {
		first := map[string]int{}
		for i, n := range o.DNSNames {
			item := &value{file: v.file, line: int32(v.items[i].Line), col: int32(v.items[i].Column)}
			field := fmt.Sprintf("dns_names[%d]", i)
			if msg := checkDNSName(n); msg != "" {
				d.at(item, field, "%q %s", n, msg)
				continue
			}
			if j, ok := first[n]; ok {
				d.at(item, field, "%q is listed twice (also dns_names[%d]); remove one", n, j)
				continue
			}
			first[n] = i
		}
	}
	if v := f["order_id"]; v != nil && o.OrderID < 1 {
		d.at(v, "order_id", "%d is not an order id: use the id CertCentral shows for the order, a number above 0", o.OrderID)
	}
}

// checkProduct checks the certificate's kind and gives it its defaults:
// signature_hash, product and validity.
func checkProduct(o *Order, f fields, d *docErrors) {
	if o.SignatureHash == "" {
		o.SignatureHash = "sha256"
	} else if !contains(signatureHashes, o.SignatureHash) {
		d.at(f["signature_hash"], "signature_hash", "%q is not allowed; use one of %s", o.SignatureHash, strings.Join(signatureHashes, ", "))
	}
	if o.Product == "" {
		o.Product = "ov"
	} else if !contains(products, o.Product) {
		d.at(f["product"], "product", "%q is not allowed; use one of %s", o.Product, strings.Join(products, ", "))
	}

	years, days := f["validity_years"], f["validity_days"]
	switch {
	case years != nil && days != nil:
		d.at(days, "validity_days", "set either validity_years or validity_days, not both")
	case years != nil && (o.ValidityYears < 1 || o.ValidityYears > 3):
		d.at(years, "validity_years", "%d is out of range; use 1, 2 or 3", o.ValidityYears)
	case days != nil && (o.ValidityDays < 1 || o.ValidityDays > 1095):
		d.at(days, "validity_days", "%d is out of range; use 1 to 1095 days", o.ValidityDays)
	case years == nil && days == nil:
		o.ValidityYears = 1
	}
}

// checkIDs checks the CertCentral ids and the ordering settings:
// organization, container, server platform, DCV method and e-mails.
func checkIDs(o *Order, m *yaml.Node, f fields, written keySet, d *docErrors) {
	if v := f["organization_id"]; v == nil {
		d.missing(m, written, "organization_id", "the CertCentral organization id, such as `organization_id: 112233` (here or in a defaults.yaml)")
	} else if o.OrganizationID <= 0 {
		d.at(v, "organization_id", "%d is not an organization id; it must be greater than 0", o.OrganizationID)
	}
	if v := f["container_id"]; v != nil && o.ContainerID <= 0 {
		d.at(v, "container_id", "%d is not a container id; it must be greater than 0", o.ContainerID)
	}
	if v := f["server_platform_id"]; v != nil {
		id := f.int("server_platform_id")
		if id < -1 || id == 0 {
			d.at(v, "server_platform_id", "%d is not a server platform id; use -1 (other) or a positive id", id)
		}
		o.ServerPlatformID = &id
	}
	if v := f["dcv_method"]; v != nil && !contains(dcvMethods, o.DCVMethod) {
		d.at(v, "dcv_method", "%q is not allowed; use one of %s", o.DCVMethod, strings.Join(dcvMethods, ", "))
	}
	if v := f["additional_emails"]; v != nil {
		for i, e := range o.AdditionalEmails {
			if a, err := mail.ParseAddress(e); err != nil || a.Address != e || a.Name != "" {
				item := &value{file: v.file, line: int32(v.items[i].Line), col: int32(v.items[i].Column)}
				d.at(item, fmt.Sprintf("additional_emails[%d]", i), "%q is not an e-mail address; write it bare, such as pki-team@example.com", e)
			}
		}
	}
}

// checkKeepAlive checks the reissue and renewal windows (giving them
// their defaults) and revoke's comments.
func checkKeepAlive(o *Order, f fields, d *docErrors) {
	for _, k := range []struct {
		key  string
		days *int
		why  string
	}{
		{"reissue_before_days", &o.ReissueBeforeDays, "days before the certificate ends"},
		{"renew_before_days", &o.RenewBeforeDays, "days before the order ends (DigiCert renews from 90 days before)"},
	} {
		if v := f[k.key]; v == nil {
			*k.days = DefaultBeforeDays
		} else if *k.days < 1 || *k.days > 90 {
			d.at(v, k.key, "%d is out of range; use 1 to 90 %s", *k.days, k.why)
		}
	}
	checkRenewBefore(o, f, d)
	if o.Revoke && strings.TrimSpace(o.RevokeComments) == "" {
		if v := f["revoke_comments"]; v != nil {
			d.at(v, "revoke_comments", "is empty: say why the order is revoked; it is sent to DigiCert with the request")
		} else {
			d.at(f["revoke"], "revoke_comments", "is required when revoke is true: say why the order is revoked; it is sent to DigiCert with the request")
		}
	}
}

// checkRenewBefore refuses a renew_before_days (given, or the default)
// that is not shorter than the order's validity in days: every new order
// would be due for renewal once issued, and every renewal again, a
// purchase each cycle. Only validity_days can be that short (a year is
// longer than the 90 days renew_before_days allows). reissue_before_days
// is not checked against the certificate's lifetime: the spec cannot know
// it (DigiCert and the CA/Browser Forum set it, shorter over the years),
// and a certificate never outlives its order, so the order's validity
// bounds nothing there; plan guards that loop (no reissue for expiry
// before the certificate has lived half its lifetime).
func checkRenewBefore(o *Order, f fields, d *docErrors) {
	days := f["validity_days"]
	if days == nil || f["validity_years"] != nil || o.ValidityDays < 1 || o.ValidityDays > 1095 || o.RenewBeforeDays < 1 || o.RenewBeforeDays > 90 ||
		o.RenewBeforeDays < o.ValidityDays {
		return
	}
	const loop = "every order would be due for renewal as soon as it is issued, and each renewal again"
	if v := f["renew_before_days"]; v != nil {
		d.at(v, "renew_before_days", "%d is not shorter than the order's validity (validity_days: %d): %s; "+
			"use fewer days than validity_days, or a longer validity", o.RenewBeforeDays, o.ValidityDays, loop)
		return
	}
	d.at(days, "validity_days", "%d days is not longer than renew_before_days (%d when not set): %s; "+
		"give a longer validity, or a renew_before_days below %d", o.ValidityDays, DefaultBeforeDays, loop, o.ValidityDays)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkDNSName returns why name is not a valid DNS name for a certificate,
// or "" when it is: lower-case LDH labels of 1-63 characters, at least two
// labels, at most 253 characters, an optional leading "*." wildcard label.
func checkDNSName(name string) string {
	if name == "" {
		return "is not a DNS name: it is empty"
	}
	if lower := strings.ToLower(name); lower != name && checkDNSName(lower) == "" {
		return fmt.Sprintf("is not a DNS name: write it in lower case, %q", lower)
	}
	if len(name) > 253 {
		return "is not a DNS name: longer than 253 characters"
	}
	labels := strings.TrimPrefix(name, "*.")
	if !strings.Contains(labels, ".") {
		return "is not a DNS name: it needs at least two labels, such as example.com"
	}
	for label := range strings.SplitSeq(labels, ".") {
		if label == "" {
			return "is not a DNS name: it has an empty label"
		}
		if len(label) > 63 {
			return fmt.Sprintf("is not a DNS name: label %q is longer than 63 characters", label)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				if c == '*' {
					return "is not a DNS name: a wildcard is allowed only as the whole first label, as in *.example.com"
				}
				if c >= utf8.RuneSelf {
					return nonASCIIName(name, c)
				}
				return fmt.Sprintf("is not a DNS name: %q is not allowed (use a-z, 0-9 and '-')", string(c))
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Sprintf("is not a DNS name: label %q starts or ends with '-'", label)
		}
	}
	return ""
}

// nonASCIIName says why name, which holds the non-ASCII character c, is
// not a DNS name for a certificate, naming c itself (not one of its UTF-8
// bytes) and the name's punycode (IDNA 2008, the form certificates carry)
// when it has one.
func nonASCIIName(name string, c rune) string {
	msg := fmt.Sprintf("is not a DNS name: %q is not allowed (use a-z, 0-9 and '-')", string(c))
	if ascii, err := idna.Lookup.ToASCII(name); err == nil && ascii != name && checkDNSName(ascii) == "" {
		msg += fmt.Sprintf("; an internationalized name is written in punycode: %q", ascii)
	}
	return msg
}

// requestCheck is the rest of a request's check once checkCSR has read it
// (parse, signature, key type and size, and that its names agree with the
// spec's); v is nil when there is no request to check. A value, not a
// closure: a closure per spec was allocated (issue 27).
type requestCheck struct {
	o     *Order
	der   []byte
	v     *value
	field string
}

// run makes the check, adding its errors to d.
func (c requestCheck) run(d *docErrors) { checkRequest(c.o, c.der, c.v, c.field, d) }

// checkCSR reads csr or csr_file and checks its PEM framing. It returns
// the rest of the request's check, which the caller runs unless a
// fingerprint it knows as verified (LoadOptions.Verified) makes it moot.
func (l *fileCtx) checkCSR(o *Order, m *yaml.Node, f fields, written keySet, d *docErrors) requestCheck {
	if !l.checkKeyType(o, f, written, d) {
		return requestCheck{}
	}
	v, field := l.readCSR(o, m, f, written, d)
	if v == nil {
		return requestCheck{}
	}
	typ, der, ok := decodePEM(o.CSR, &l.buf.der)
	if !ok {
		d.at(v, field, "is not a PEM certificate request: expected a -----BEGIN CERTIFICATE REQUEST----- block")
		return requestCheck{}
	}
	if typ != "CERTIFICATE REQUEST" && typ != "NEW CERTIFICATE REQUEST" {
		d.at(v, field, "holds a PEM %q block, not a CERTIFICATE REQUEST", typ)
		return requestCheck{}
	}
	o.csrSum = hexString("", sha256.Sum256(der))
	// der may be the worker's buffer: validate runs this before the
	// worker's next spec, and nothing keeps der (see scratch.der).
	return requestCheck{o: o, der: der, v: v, field: field}
}

// stringBytes returns the bytes of s without a copy, for a reader that
// never writes them: pem.Decode reads a spec's CSR in place (a copy per
// spec was a tenth of what a load of 10,000 specs allocates).
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// readCSR sets the order's CSR from csr or csr_file (read from its file)
// and returns the value and key it came from, or nil when there is none
// (an error says why, unless the spec needs none).
func (l *fileCtx) readCSR(o *Order, m *yaml.Node, f fields, written keySet, d *docErrors) (*value, string) {
	inline, file := f["csr"], f["csr_file"]
	switch {
	case inline != nil && file != nil:
		d.at(file, "csr_file", "give either csr or csr_file, not both")
		return nil, ""
	case inline == nil && file == nil:
		if written.has("csr") || written.has("csr_file") || written.has("order_id") || written.has("key_type") {
			// A spec adopting an order needs a CSR only for a reissue
			// or a renewal, which say so.
			return nil, ""
		}
		d.add(m, "csr", "is required: give the PEM request inline as csr, or a path to it as csr_file (a spec with order_id may leave it out)"+
			"; hint: or let certform make the key and the CSR with key_type, such as `key_type: ecdsa-p256` (here or in a defaults.yaml)")
		return nil, ""
	case inline != nil:
		o.CSR = inline.v.(string)
		return inline, "csr"
	}
	o.CSRFile = file.v.(string)
	data, src, msg := l.readCSRFile(o.File, o.CSRFile)
	if msg != "" {
		d.at(file, "csr_file", "%s", msg)
		return nil, ""
	}
	o.CSR = string(data)
	o.sources = []source{src}
	return file, "csr_file"
}

// checkRequest checks a certificate request's DER bytes: it parses, its
// signature verifies, its key is one DigiCert takes, and its names agree
// with the spec's. Errors are at v, for field.
func checkRequest(o *Order, der []byte, v *value, field string, d *docErrors) {
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		d.at(v, field, "the certificate request does not parse: %v", err)
		return
	}
	if err := req.CheckSignature(); err != nil {
		d.at(v, field, "the certificate request's signature does not verify: %v", err)
		return
	}
	checkRequestKey(req, v, field, d)
	checkRequestNames(o, req, v, field, d)
}

// checkRequestKey checks the request's key type and size.
func checkRequestKey(req *x509.CertificateRequest, v *value, field string, d *docErrors) {
	switch k := req.PublicKey.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < 2048 {
			d.at(v, field, "the RSA key has %d bits; DigiCert needs at least 2048", bits)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			d.at(v, field, "the ECDSA key is on curve %s; use P-256 or P-384", k.Curve.Params().Name)
		}
	default:
		d.at(v, field, "the key is %s; use RSA (2048 bits or more) or ECDSA P-256/P-384", req.PublicKeyAlgorithm)
	}
}

// checkRequestNames checks that the request's subject CN and alternative
// names are the spec's.
func checkRequestNames(o *Order, req *x509.CertificateRequest, v *value, field string, d *docErrors) {
	// The names are compared only when the spec's are valid: an invalid
	// name has its own error, and comparing it would repeat it as request
	// errors. DNS names compare case-insensitively.
	if !namesValid(o) {
		return
	}
	cn := strings.ToLower(req.Subject.CommonName)
	if cn != "" && o.CommonName != "" && cn != strings.ToLower(o.CommonName) {
		d.at(v, field, "the request's subject CN is %q but common_name is %q; they must match: set common_name to %q, or make a new CSR with CN %q",
			req.Subject.CommonName, o.CommonName, cn, o.CommonName)
	}
	if len(req.DNSNames) == 0 || o.CommonName == "" || sameNames(o.CommonName, o.DNSNames, cn, req.DNSNames) {
		return
	}
	have := append([]string{cn}, req.DNSNames...)
	extra, lacking := nameset.Diff(append([]string{o.CommonName}, o.DNSNames...), have)
	if len(extra) > 0 {
		d.at(v, field, "the request names %s, which common_name and dns_names do not; add it to dns_names or make a new CSR", strings.Join(extra, ", "))
	}
	if len(lacking) > 0 {
		d.at(v, field, "the spec names %s, which the request's subject alternative names do not; make a new CSR with every name", strings.Join(lacking, ", "))
	}
}

// sameNames reports whether the names cnA, a and cnB, b are the same set
// of strings, compared exactly, without allocating. Equal sets are equal
// once normalised too, so nameset.Diff would find no difference; it is
// called only when this is false (it built two maps for every request
// checked, issue 27). Lists are a few names, at most a few hundred.
func sameNames(cnA string, a []string, cnB string, b []string) bool {
	in := func(x, cn string, list []string) bool { return x == cn || slices.Contains(list, x) }
	if !in(cnA, cnB, b) || !in(cnB, cnA, a) {
		return false
	}
	for _, x := range a {
		if !in(x, cnB, b) {
			return false
		}
	}
	for _, x := range b {
		if !in(x, cnA, a) {
			return false
		}
	}
	return true
}

// namesValid reports whether the spec's common name and DNS names are
// valid DNS names (each invalid one has its own error).
func namesValid(o *Order) bool {
	if o.CommonName != "" && checkDNSName(o.CommonName) != "" {
		return false
	}
	for _, n := range o.DNSNames {
		if checkDNSName(n) != "" {
			return false
		}
	}
	return true
}

// keyRotations are the values of key_rotation, the default first.
var keyRotations = []string{KeyRotationAlways, KeyRotationNever}

// checkKeyType reads key_type and key_rotation. It reports whether the
// spec's CSR is still to be read: false when the spec has a key_type and no
// csr/csr_file (certform makes the key and the CSR), or when key_type and
// csr/csr_file are both in the spec's own file (an error). A key_type from
// a defaults.yaml gives way to the spec's own csr or csr_file. key_rotation
// written in a spec that has no key_type (its own or a default) is an
// error: certform does not hold that spec's key.
func (l *fileCtx) checkKeyType(o *Order, f fields, written keySet, d *docErrors) bool {
	kt := f["key_type"]
	hasCSR := f["csr"] != nil || f["csr_file"] != nil || written.has("csr") || written.has("csr_file")
	own := written.has("key_type")
	readCSR := true
	switch {
	case own && hasCSR:
		if kt != nil {
			d.at(kt, "key_type", "give either csr/csr_file or key_type, not both: with key_type certform makes the key and the CSR; remove key_type to keep your CSR, or remove csr/csr_file")
		}
		readCSR = false
	case kt != nil && !hasCSR:
		readCSR = false
		t, err := keytype.Parse(kt.v.(string))
		if err != nil {
			d.at(kt, "key_type", "%v", err)
		}
		o.KeyType = t
	case own:
		readCSR = false // written with a bad type: already an error
	}
	o.KeyRotation = KeyRotationAlways
	if v := f["key_rotation"]; v != nil {
		r := v.v.(string)
		switch {
		case !contains(keyRotations, r):
			d.at(v, "key_rotation", "%q is not allowed; use one of %s", r, strings.Join(keyRotations, ", "))
		case written.has("key_rotation") && o.KeyType == "" && readCSR:
			d.at(v, "key_rotation", "applies only to keys certform makes: set key_type instead of csr/csr_file, or remove key_rotation")
		default:
			o.KeyRotation = r
		}
	}
	return readCSR
}

// readCSRFile reads csr_file relative to the spec file, refusing a path
// that leaves the spec directory and anything but a regular file. It
// returns the data, which is the worker's buffer (scratch.csr) until its
// next CSR file, and the file as read, or a message on failure.
func (l *fileCtx) readCSRFile(specRel, p string) ([]byte, source, string) {
	if p == "" {
		return nil, source{}, "is empty: give a path relative to this spec file"
	}
	if filepath.IsAbs(p) {
		return nil, source{}, fmt.Sprintf("%q is absolute; give a path relative to this spec file, inside the spec directory", p)
	}
	rel := path.Join(path.Dir(specRel), filepath.ToSlash(p))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, source{}, fmt.Sprintf("%q leads outside the spec directory; keep CSR files inside it", p)
	}
	full := filepath.Join(l.root, filepath.FromSlash(rel))
	l.depend(full)
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		return nil, source{}, fmt.Sprintf("%q cannot be read: %v", p, unwrapPathError(err))
	}
	if !l.within(real) {
		return nil, source{}, fmt.Sprintf("%q is a symlink that leads outside the spec directory; keep CSR files inside it", p)
	}
	data, _, err := l.readScratch(l.rel(real), &l.buf.csr)
	var nr *notRegularError
	if errors.As(err, &nr) {
		return nil, source{}, fmt.Sprintf("%q %v", p, err)
	}
	if err != nil {
		return nil, source{}, fmt.Sprintf("%q cannot be read: %v", p, err)
	}
	// Recorded under the path the spec names, with the stamp taken before
	// reading (following a symlink, so that pointing it elsewhere counts
	// as a change).
	src := source{rel: rel, full: full, st: l.deps[full]}
	l.reads = append(l.reads, src)
	return data, src, ""
}

// csrDigest returns the hex SHA-256 of the request's DER bytes, computed
// while checking it, or of the text itself when it is not PEM.
func (o *Order) csrDigest() string {
	if o.CSR == "" && !o.csrDropped {
		return "" // unknown: a spec adopting an order without its CSR
	}
	if o.csrSum == "" {
		data := []byte(o.CSR)
		if block, _ := pem.Decode(data); block != nil {
			data = block.Bytes
		}
		sum := sha256.Sum256(data)
		o.csrSum = hex.EncodeToString(sum[:])
	}
	return o.csrSum
}
