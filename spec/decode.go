package spec

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// kind is the YAML type a spec key takes.
type kind int

const (
	kString kind = iota
	kInt
	kBool
	kStrings
)

func (k kind) String() string {
	switch k {
	case kInt:
		return "an integer"
	case kBool:
		return "true or false"
	case kStrings:
		return "a list of strings"
	}
	return "a string"
}

// value is one decoded key with where it was written.
type value struct {
	v    any // string, int, bool or []string
	file string
	// line and col are 32 bits (a spec file is 1 MiB at most), which
	// makes a value 64 bytes, not 80 (issue 27).
	line, col int32
	// items holds the position of each list element (kStrings only).
	items []*yaml.Node
}

// fields is a decoded mapping: key to value.
type fields map[string]*value

// docErrors collects errors for one file.
type docErrors struct {
	file string
	errs []*Error
}

func (d *docErrors) add(n *yaml.Node, field, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Column: n.Column, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// describe names a node's YAML type for "must be X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int":
		return "the integer " + n.Value
	case "!!float":
		return "the number " + n.Value
	case "!!bool":
		return n.Value
	case "!!null":
		return "nothing"
	case "!!str":
		return strconv.Quote(n.Value)
	}
	return n.ShortTag()
}

// decodeMapping decodes a spec or defaults mapping strictly: unknown keys,
// repeated keys, keys defaults may not set, and wrong types are errors. The
// keys that decoded cleanly are laid over out as merge lays a level over
// the levels above it; the keys m writes are returned.
func decodeMapping(m *yaml.Node, d *docErrors, isDefaults bool, out fields) keySet {
	written := keySet{m: m}
	if len(m.Content) > 2*fewKeys {
		written.many = map[string]bool{}
	}
	validitySet := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := resolve(m.Content[i]), resolve(m.Content[i+1])
		if kn == nil || vn == nil {
			continue
		}
		if kn.Kind != yaml.ScalarNode {
			d.add(kn, "", "keys must be plain words such as common_name, got %s", describe(kn))
			continue
		}
		key := kn.Value
		if key == "<<" {
			d.add(kn, key, "YAML merge keys are not supported; put shared values in a defaults.yaml file")
			continue
		}
		if written.before(i, key) {
			d.add(kn, key, "repeated key (first at line %d); keep one", firstKey(m, key).Line)
			continue
		}
		if written.many != nil {
			written.many[key] = true
		}
		info := allowedKey(kn, isDefaults, d)
		if info == nil {
			continue
		}
		if v := decodeValue(key, info.kind, vn, d); v != nil {
			if isValidity(key) && !validitySet {
				// As merge: a level that sets either replaces both.
				delete(out, "validity_years")
				delete(out, "validity_days")
				validitySet = true
			}
			out[key] = v
		}
	}
	return written
}

// allowedKey returns the field of key node kn, or nil, with an error in d,
// when the key is unknown or one a defaults file may not set.
func allowedKey(kn *yaml.Node, isDefaults bool, d *docErrors) *field {
	key := kn.Value
	info, ok := keys[key]
	switch {
	case !ok:
		if s := suggest(key); s != "" {
			d.add(kn, key, "unknown key; did you mean %s?", s)
		} else {
			d.add(kn, key, "unknown key; see \"Spec reference\" in docs/specs.md for the keys a spec may hold")
		}
		return nil
	case isDefaults && info.noDefaults && info.why != "":
		d.add(kn, key, "cannot be set in defaults.yaml: %s", info.why)
		return nil
	case isDefaults && info.noDefaults:
		d.add(kn, key, "cannot be set in defaults.yaml; set it in each spec")
		return nil
	}
	return info
}

// fewKeys is the most keys a mapping has for keySet to look its keys up in
// the mapping itself rather than in a map: a spec writes a dozen at most,
// and a mapping of many more (a 1 MiB file can hold 100,000) would make
// the look-ups quadratic.
var fewKeys = 32 // a variable for TestKeySet_bothWays

// keySet is the set of keys a spec or defaults mapping writes, valid or
// not: every scalar key of a pair, but the merge key "<<". For a mapping of
// fewKeys keys or fewer it is the mapping itself, searched on each look-up
// (a map per spec was 3% of what a load allocated, issue 27).
type keySet struct {
	m    *yaml.Node
	many map[string]bool // the keys of a larger mapping; nil otherwise
}

// has reports whether the mapping writes key.
func (w keySet) has(key string) bool { return w.before(len(w.m.Content), key) }

// before reports whether a pair of the mapping before its content's index
// i writes key (during decodeMapping, many holds just those keys).
func (w keySet) before(i int, key string) bool {
	if w.many != nil {
		return w.many[key]
	}
	return key != "<<" && keyBefore(w.m, i, key) != nil
}

// isValidity reports whether key is validity_years or validity_days, one
// setting (see merge).
func isValidity(key string) bool { return key == "validity_years" || key == "validity_days" }

// firstKey returns the first key node of mapping m that reads key: the
// one decodeMapping took (written), since it takes every scalar key but
// the merge key "<<" when first seen.
func firstKey(m *yaml.Node, key string) *yaml.Node {
	if kn := keyBefore(m, len(m.Content), key); kn != nil {
		return kn
	}
	return m // not reached: written holds only keys seen in m
}

// keyBefore returns the first scalar key node that reads key among the
// pairs of mapping m before its content's index end, nil when none does.
func keyBefore(m *yaml.Node, end int, key string) *yaml.Node {
	for i := 0; i < end && i+1 < len(m.Content); i += 2 {
		kn, vn := resolve(m.Content[i]), resolve(m.Content[i+1])
		if kn != nil && vn != nil && kn.Kind == yaml.ScalarNode && kn.Value == key {
			return kn
		}
	}
	return nil
}

// decodeValue decodes one key's value n as kind k, or adds an error saying
// what it should be and returns nil.
func decodeValue(key string, k kind, n *yaml.Node, d *docErrors) *value {
	var got any
	var msg string
	switch {
	case k == kStrings && n.Kind == yaml.SequenceNode:
		return decodeStrings(key, n, d)
	case k == kStrings || n.Kind != yaml.ScalarNode:
		msg = wrongType
	case k == kString:
		got = n.Value
		if n.ShortTag() != "!!str" {
			msg = wrongType
		}
	case k == kBool:
		got, msg = plainBool(n)
	case k == kInt:
		got, msg = plainInt(n)
	}
	switch {
	case msg == wrongType && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		d.add(n, key, "has no value; give %s or remove the key", k)
		return nil
	case msg == wrongType:
		d.add(n, key, "must be %s, got %s", k, describe(n))
		return nil
	case msg != "":
		d.add(n, key, "%s", msg)
		return nil
	}
	return &value{v: got, file: d.file, line: int32(n.Line), col: int32(n.Column)}
}

// decodeStrings decodes a list of strings, each item's position kept.
func decodeStrings(key string, n *yaml.Node, d *docErrors) *value {
	v := &value{file: d.file, line: int32(n.Line), col: int32(n.Column)}
	list := make([]string, 0, len(n.Content))
	ok := true
	for i, item := range n.Content {
		item = resolve(item)
		if item == nil || item.Kind != yaml.ScalarNode || item.ShortTag() != "!!str" {
			if item != nil {
				d.add(item, fmt.Sprintf("%s[%d]", key, i), "must be a string, got %s", describe(item))
			}
			ok = false
			continue
		}
		list = append(list, item.Value)
		v.items = append(v.items, item)
	}
	if !ok {
		return nil
	}
	v.v = list
	return v
}

// wrongType is what plainInt and plainBool return for a value that is not
// even written like one of their type; the caller then says "must be X,
// got Y".
const wrongType = "wrong type"

// Styles that make a scalar something other than plain.
const (
	quotedStyles = yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle
	blockStyles  = yaml.LiteralStyle | yaml.FoldedStyle
)

// plainInt reads an integer field. Only a plain (unquoted, untagged)
// decimal integer is taken: an optional '-' then digits, without a leading
// zero unless the number is 0. YAML would also read 0112233 (as octal),
// 0x10, 0o17, 0b101, 1_000, +5 and tagged or quoted forms as integers;
// each is refused with a message that says what to write instead, so that
// a value never means something other than what it looks like. msg is ""
// when n holds a valid integer, wrongType when n is not written like an
// integer at all.
func plainInt(n *yaml.Node) (i int, msg string) {
	switch {
	case n.Style&yaml.TaggedStyle != 0:
		hint := "a plain decimal integer such as 112233"
		if canon, _, ok := intForm(n.Value); ok {
			hint = canon
		}
		return 0, fmt.Sprintf("%s is not a plain decimal integer: explicit tags are not allowed (write %s)", asWritten(n), hint)
	case n.Style&quotedStyles != 0:
		if canon, _, ok := intForm(n.Value); ok {
			return 0, fmt.Sprintf("%s is not a plain decimal integer: quotes are not allowed (write %s)", asWritten(n), canon)
		}
		return 0, wrongType
	case n.Style&blockStyles != 0 || n.ShortTag() == "!!null":
		return 0, wrongType
	}
	canon, reason, ok := intForm(n.Value)
	switch {
	case !ok:
		return 0, wrongType
	case reason != "":
		return 0, fmt.Sprintf("%s is not a plain decimal integer: %s (write %s)", n.Value, reason, canon)
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil || v > math.MaxInt32 || v < math.MinInt32 {
		return 0, fmt.Sprintf("%s is out of range", n.Value)
	}
	return int(v), ""
}

// intForm reads s as any of the integer forms YAML knows: decimal with an
// optional sign, digit separators '_' and leading zeros, or hexadecimal
// (0x), octal (0o) or binary (0b). ok is false when s is none of them.
// Otherwise canon is its value in plain decimal, and reason is "" when s
// is written that way already, or why it is not. Leading zeros are read as
// decimal (0112233 is 112233), as a reader of the spec would.
func intForm(s string) (canon, reason string, ok bool) {
	body, sign := s, ""
	if body != "" && (body[0] == '+' || body[0] == '-') {
		sign, body = body[:1], body[1:]
	}
	base := 10
	if len(body) > 2 && body[0] == '0' {
		switch body[1] {
		case 'x', 'X':
			base, reason = 16, "hexadecimal (0x) is not allowed"
		case 'o', 'O':
			base, reason = 8, "octal (0o) is not allowed"
		case 'b', 'B':
			base, reason = 2, "binary (0b) is not allowed"
		}
		if base != 10 {
			body = body[2:]
		}
	}
	digits := strings.ReplaceAll(body, "_", "")
	if digits == "" {
		return "", "", false
	}
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i], base) {
			return "", "", false
		}
	}
	switch {
	case reason != "":
	case len(digits) != len(body):
		reason = "digit separators (_) are not allowed"
	case sign == "+":
		reason = "a + sign is not allowed"
	case len(body) > 1 && body[0] == '0':
		reason = "leading zeros are not allowed"
	default:
		return s, "", true
	}
	v, _ := new(big.Int).SetString(digits, base)
	if sign == "-" {
		v.Neg(v)
	}
	return v.String(), reason, true
}

func isDigit(c byte, base int) bool {
	switch {
	case c >= '0' && c <= '9':
		return int(c-'0') < base
	case base == 16 && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'):
		return true
	}
	return false
}

// plainBool reads a boolean field: only plain (unquoted, untagged) true or
// false is taken. Other spellings YAML accepts (True, FALSE, tagged or
// quoted values) are refused with a message that says what to write; msg
// is "" for a valid boolean and wrongType for a value that is not written
// like one (yes, 1, a list).
func plainBool(n *yaml.Node) (b bool, msg string) {
	lower := strings.ToLower(n.Value)
	isBool := lower == "true" || lower == "false"
	switch {
	case n.Style&yaml.TaggedStyle != 0:
		hint := "true or false"
		if isBool {
			hint = lower
		}
		return false, fmt.Sprintf("%s is not a plain boolean: explicit tags are not allowed (write %s)", asWritten(n), hint)
	case n.Style&quotedStyles != 0:
		if isBool {
			return false, fmt.Sprintf("%s is not a plain boolean: quotes are not allowed (write %s)", asWritten(n), lower)
		}
		return false, wrongType
	case n.Style&blockStyles != 0 || !isBool:
		return false, wrongType
	case n.Value != lower:
		return false, fmt.Sprintf("%s is not a plain boolean: write it in lower case (write %s)", n.Value, lower)
	}
	return lower == "true", ""
}

// asWritten renders a scalar about as the spec wrote it: its explicit tag,
// if any, then the value in its quotes.
func asWritten(n *yaml.Node) string {
	s := n.Value
	switch {
	case n.Style&yaml.SingleQuotedStyle != 0:
		s = "'" + strings.ReplaceAll(s, "'", "''") + "'"
	case n.Style&(yaml.DoubleQuotedStyle|blockStyles) != 0:
		s = strconv.Quote(s)
	}
	if n.Style&yaml.TaggedStyle != 0 {
		s = n.Tag + " " + s
	}
	return s
}

// suggest returns the known key nearest to an unknown one, or "" when none
// is close enough to be a likely typo.
func suggest(key string) string {
	best, bestDist := "", 4
	for _, k := range sortedKeys {
		if dist := EditDistance(key, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" && bestDist > len(key)/2 {
		return ""
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b (insertions,
// deletions, substitutions; bytes, since keys, flags and commands are
// ASCII): the "did you mean" of spec keys and of the command line.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
