package notify

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// slot is where the value of one key goes: to is a pointer, want says what
// the value must be (for the error), quote puts a wrong value in the error.
// Only keys whose values are numbers, enums, event names or durations set
// quote: any free text (a URL, a file name, args) may hold a secret.
type slot struct {
	to    any
	want  string
	quote bool
}

// decodeConfig reads the YAML of the config. A syntax error ends it (nil,
// with the error recorded); a key that is unknown, written twice or holds
// a value of the wrong type is recorded, and every other key is still
// read, so that Load reports all problems at once.
func (l *loader) decodeConfig(data []byte) *configYAML {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		l.errs = append(l.errs, problem{err: yamlError(l.path, err)})
		return nil
	}
	raw := &configYAML{}
	if len(doc.Content) == 0 {
		return raw
	}
	root := resolve(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return raw
	}
	if root.Kind != yaml.MappingNode {
		l.at(root.Line, "the notification config is a mapping of keys (receivers:, failed_after:, ...), got %s", describe(root, false))
		raw.bad = map[string]bool{"receivers": true} // not "no receivers" too
		return raw
	}
	whole := "a whole number"
	raw.lines, raw.bad = l.decodeMapping(root, map[string]slot{
		"failed_after":      {to: &raw.FailedAfter, want: whole, quote: true},
		"expiring_days":     {to: &raw.ExpiringDays, want: whole, quote: true},
		"dcv_expiring_days": {to: &raw.DCVExpiringDays, want: whole, quote: true},
		"waiting_hours":     {to: &raw.WaitingHours, want: whole, quote: true},
		"reminder":          {to: &raw.Reminder, want: "a duration such as 24h", quote: true},
		"order_url":         {to: &raw.OrderURL, want: "an https URL"},
		"receivers":         {},
	}, func(k *yaml.Node) {
		l.at(k.Line, "unknown key %q (known: %s)", k.Value, strings.Join(configKeys, ", "))
	}, func(v *yaml.Node) bool {
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			return true
		}
		if v.Kind != yaml.SequenceNode {
			l.at(v.Line, "receivers: want a list of receivers (- name: ...), got %s", describe(v, false))
			return false
		}
		for _, item := range v.Content {
			if ry := l.decodeReceiver(resolve(item)); ry != nil {
				raw.Receivers = append(raw.Receivers, ry)
			}
		}
		return true
	})
	return raw
}

// decodeReceiver reads one receiver, or records why it is not one and
// returns nil.
func (l *loader) decodeReceiver(n *yaml.Node) *receiverYAML {
	if n.Kind != yaml.MappingNode {
		l.at(n.Line, "a receiver is a mapping (name:, type:, ...), got %s", describe(n, false))
		return nil
	}
	text, list := "a string", "a list of strings"
	r := &receiverYAML{line: n.Line}
	_, r.bad = l.decodeMapping(n, map[string]slot{
		"name":        {to: &r.Name, want: text},
		"type":        {to: &r.Type, want: text, quote: true},
		"url":         {to: &r.URL, want: "a URL"},
		"url_file":    {to: &r.URLFile, want: "a file name"},
		"secret_file": {to: &r.SecretFile, want: "a file name"},
		"command":     {to: &r.Command, want: "a file name"},
		"args":        {to: &r.Args, want: list},
		"events":      {to: &r.Events, want: list, quote: true},
		"timeout":     {to: &r.Timeout, want: "a duration such as 10s", quote: true},
		"retry_for":   {to: &r.RetryFor, want: "a duration such as 10m", quote: true},
	}, func(k *yaml.Node) {
		l.at(k.Line, "unknown key %q in a receiver (known: %s)", k.Value, strings.Join(receiverKeys, ", "))
	}, nil)
	return r
}

// decodeMapping decodes each key of the mapping n into its slot and
// returns the line of each key and the keys whose value has the wrong
// type. A slot with no to is decoded by custom, which reports whether the
// value was right. Merge keys (<<) are followed; a key the mapping itself
// writes wins over a merged one.
func (l *loader) decodeMapping(n *yaml.Node, slots map[string]slot, unknown func(k *yaml.Node), custom func(v *yaml.Node) bool) (map[string]int, map[string]bool) {
	lines, bad := map[string]int{}, map[string]bool{}
	for _, p := range l.pairs(n, map[string]int{}) {
		key, v := p[0].Value, resolve(p[1])
		s, ok := slots[key]
		if !ok {
			unknown(p[0])
			continue
		}
		lines[key] = p[0].Line
		if s.to == nil {
			bad[key] = !custom(v)
			continue
		}
		_, whole := s.to.(*int)
		if whole && v.Kind == yaml.ScalarNode && v.ShortTag() != "!!int" && v.ShortTag() != "!!null" {
			// yaml would cut 1.5 to 1. A number is plain decimal, as in
			// the specs: 30.0 and 1e1 are refused too, saying what to write.
			l.at(p[0].Line, "%s: want %s, got %s%s", key, s.want, describe(v, s.quote), wholeHint(v))
			bad[key] = true
		} else if err := v.Decode(s.to); err != nil {
			reflect.ValueOf(s.to).Elem().SetZero()
			l.at(p[0].Line, "%s: want %s, got %s", key, s.want, describe(v, s.quote))
			bad[key] = true
		}
	}
	return lines, bad
}

// pairs returns the key-value pairs of the mapping n, those of its merge
// keys (<<) after its own unless it writes the key itself. seen maps the
// keys n writes to their lines: a key written twice is recorded.
func (l *loader) pairs(n *yaml.Node, seen map[string]int) [][2]*yaml.Node {
	var own, merged [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			from := []*yaml.Node{resolve(v)}
			if from[0].Kind == yaml.SequenceNode {
				from = from[0].Content
			}
			for _, m := range from {
				if m = resolve(m); m.Kind == yaml.MappingNode {
					merged = append(merged, l.pairs(m, map[string]int{})...)
				} else {
					l.at(k.Line, "<<: want a mapping to merge, got %s", describe(m, false))
				}
			}
			continue
		}
		if first, dup := seen[k.Value]; dup {
			l.at(k.Line, "%q is written twice (first at line %d); keep one", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		own = append(own, [2]*yaml.Node{k, v})
	}
	for _, p := range merged {
		if _, dup := seen[p[0].Value]; !dup {
			seen[p[0].Value] = p[0].Line
			own = append(own, p)
		}
	}
	return own
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// describe names what n holds for an error: "a list", "a mapping", and
// for a scalar "text" unless quote, when it is the scalar quoted. Only a
// key whose values are numbers, enums or durations quotes: any other text
// may be a secret.
func describe(n *yaml.Node, quote bool) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	if !quote {
		return "text"
	}
	return fmt.Sprintf("%q", n.Value)
}

// wholeHint says what to write for a number written as a float with a
// whole value (30.0, 1e1): " (write 30)"; otherwise "".
func wholeHint(n *yaml.Node) string {
	if n.ShortTag() != "!!float" {
		return ""
	}
	f, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return ""
	}
	return fmt.Sprintf(" (write %d)", int64(f))
}

// yamlLineErr is a YAML syntax error at a line.
var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError rewrites a YAML syntax error as FILE:LINE: what.
func yamlError(path string, err error) error {
	if m := yamlLineErr.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s:%s: %s", path, m[1], m[2])
	}
	return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
}
