// Package nameset is the one place certform compares the DNS names of a
// certificate, an order, a request or a spec. Names compare lower-cased
// and trimmed, blanks and repeats left out; a list made by List has the
// common name first and the other names sorted after it, so two lists
// name the same certificate exactly when they are equal.
package nameset

import (
	"sort"
	"strings"
)

// List returns the names of a certificate with common name cn and DNS
// names dns as certform compares them: cn lower-cased and trimmed first
// (even when blank), then the other names lower-cased, trimmed and
// sorted, without blanks, repeats or cn.
func List(cn string, dns []string) []string {
	cn = Normal(cn)
	seen := map[string]bool{cn: true}
	var rest []string
	for _, n := range dns {
		n = Normal(n)
		if n != "" && !seen[n] {
			seen[n] = true
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append([]string{cn}, rest...)
}

// Same reports whether a and b, each made by List, name the same
// certificate: the same common name and the same other names. An empty
// list (names not known) is the same as none.
func Same(a, b []string) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Diff compares two lists of DNS names as sets, ignoring case, blank
// entries, repeats and order: extra are the names in have that want
// lacks, missing the names in want that have lacks; both sorted, and both
// empty exactly when the sets are equal.
func Diff(want, have []string) (extra, missing []string) {
	w, h := set(want), set(have)
	for n := range h {
		if !w[n] {
			extra = append(extra, n)
		}
	}
	for n := range w {
		if !h[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	return extra, missing
}

// Key returns the names of a certificate with common name cn and DNS
// names dns as one string, a map key that two certificates share exactly
// when they name the same set of names (the common name counted among
// them): lower-cased, trimmed, without blanks or repeats, sorted, joined
// by commas.
func Key(cn string, dns []string) string {
	m := set(append([]string{cn}, dns...))
	list := make([]string, 0, len(m))
	for n := range m {
		list = append(list, n)
	}
	sort.Strings(list)
	return strings.Join(list, ",")
}

// set returns the names of list, normalised, without blanks.
func set(list []string) map[string]bool {
	m := map[string]bool{}
	for _, n := range list {
		if n = Normal(n); n != "" {
			m[n] = true
		}
	}
	return m
}

// Normal is a name as certform compares it: lower-cased, without
// surrounding space.
func Normal(n string) string { return strings.ToLower(strings.TrimSpace(n)) }
