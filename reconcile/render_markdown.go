package reconcile

import (
	"fmt"
	"io"
	"strings"
)

// MarkdownLimit is the most bytes WriteMarkdown writes: GitHub refuses a
// comment longer than 65,536 characters (GitLab allows 1,000,000); the
// margin leaves room for a CI job's own heading.
const MarkdownLimit = 60000

// Destructive reports whether a is a call a reviewer must not miss: a
// revoke, a renewal (a new order that costs money) or a reissue that makes
// DigiCert revoke the order's earlier certificates.
func Destructive(a Action) bool {
	return a.Kind == KindRevoke || a.Kind == KindRenew || (a.Kind == KindReissue && a.RevokesPrevious)
}

// WriteCompact writes the plan one line an action (and one a note, without
// its hint), for plans too long to read in full: the summary line first,
// then the calls, the blocked calls and the notes, then the summary again.
func (p *Plan) WriteCompact(w io.Writer, color bool) error {
	c := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + reset
	}
	var b strings.Builder
	b.WriteString(c(bold, p.Summary()) + "\n")
	if len(p.Actions)+len(p.Blocked) == 0 {
		b.WriteString("No calls to make.\n")
	} else {
		b.WriteString("\n")
	}
	for _, line := range p.compactLines(c) {
		b.WriteString(line + "\n")
	}
	if len(p.Notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range p.Notes {
			fmt.Fprintf(&b, "  %s %s\n", c(yellow, fmt.Sprintf("%-15s", n.Kind)), noteLine(n))
		}
	}
	if len(p.Actions)+len(p.Blocked)+len(p.Notes) > 0 {
		b.WriteString("\n" + c(bold, p.Summary()) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// compactLines are the first lines of the calls (then the blocked calls)
// as WriteText writes them, with a mark on the destructive ones.
func (p *Plan) compactLines(c func(string, string) string) []string {
	var lines []string
	add := func(a Action, blocked string) {
		var b strings.Builder
		writeAction(&b, a, c, blocked)
		line, _, _ := strings.Cut(b.String(), "\n")
		if a.Kind == KindReissue && a.RevokesPrevious {
			line += "  " + c(red, "! revokes earlier certificates")
		}
		lines = append(lines, line)
	}
	for _, a := range p.Actions {
		add(a, "")
	}
	for _, a := range p.Blocked {
		add(a, "blocked")
	}
	return lines
}

func noteLine(n Note) string {
	who := n.Name
	if n.OrderID != 0 {
		who += fmt.Sprintf(" (order %d)", n.OrderID)
	}
	if who != "" {
		who += ": "
	}
	return who + n.Message
}

// WriteMarkdown writes the plan as a merge-request comment: the summary
// line first (bold), then the destructive calls (Destructive) and the
// blocked ones called out as lists, then the whole plan as WriteText
// prints it folded in a <details> block, and the notes folded in another.
// It stays within MarkdownLimit: a plan too long for it is folded in its
// compact form (WriteCompact), and cut with a line saying so if even that
// is too long.
func (p *Plan) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**", p.Summary())
	if len(p.Actions)+len(p.Blocked) == 0 {
		b.WriteString(" No calls to make.")
	}
	b.WriteString("\n")
	p.writeCalledOut(&b)
	tail := p.markdownNotes()
	if n := len(p.Actions) + len(p.Blocked); n > 0 {
		b.WriteString(p.markdownCalls(n, MarkdownLimit-b.Len()-len(tail)))
	}
	b.WriteString(tail)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeCalledOut writes the destructive calls and the blocked ones as
// lists.
func (p *Plan) writeCalledOut(b *strings.Builder) {
	var destructive []Action
	for _, a := range p.Actions {
		if Destructive(a) {
			destructive = append(destructive, a)
		}
	}
	if len(destructive) > 0 {
		fmt.Fprintf(b, "\n:warning: **Destructive: %s** (revocations, reissues that revoke earlier certificates, paid renewals):\n\n", plural(len(destructive), "call"))
		for _, a := range destructive {
			fmt.Fprintf(b, "- %s\n", markdownItem(a))
		}
	}
	if len(p.Blocked) > 0 {
		fmt.Fprintf(b, "\n:no_entry: **%s blocked by a safety rail (the run fails):**\n\n", plural(len(p.Blocked), "call"))
		for _, a := range p.Blocked {
			fmt.Fprintf(b, "- %s (blocked_by: `%s`)\n", markdownItem(a), a.BlockedBy)
		}
	}
}

// markdownNotes is the notes folded in a <details> block, "" without
// notes.
func (p *Plan) markdownNotes() string {
	if len(p.Notes) == 0 {
		return ""
	}
	var tail strings.Builder
	fmt.Fprintf(&tail, "\n<details><summary>%s</summary>\n\n```text\n", plural(len(p.Notes), "note"))
	for _, n := range p.Notes {
		fmt.Fprintf(&tail, "%-15s %s\n", n.Kind, noteLine(n))
		if n.Hint != "" {
			fmt.Fprintf(&tail, "%-15s hint: %s\n", "", n.Hint)
		}
	}
	tail.WriteString("```\n\n</details>\n")
	return tail.String()
}

// markdownCalls is the plan's n calls as WriteText prints them folded in
// a <details> block, in the compact form when they do not fit in left
// characters, and cut with a line saying so if even that does not fit.
func (p *Plan) markdownCalls(n, left int) string {
	plain := func(_, s string) string { return s }
	var full strings.Builder
	without := *p
	without.Notes = nil
	without.WriteText(&full, false)
	body := strings.TrimSuffix(strings.TrimPrefix(full.String(), "certform will make these calls:\n\n"), "\n"+p.Summary()+"\n")
	head := fmt.Sprintf("\n<details><summary>%s</summary>\n\n```diff\n", plural(n, "call"))
	foot := "```\n\n</details>\n"
	room := left - len(head) - len(foot) - 200
	if len(body) > room {
		head = fmt.Sprintf("\n<details><summary>%s (one line each: the plan is too long for a comment)</summary>\n\n```diff\n", plural(n, "call"))
		body = strings.Join(p.compactLines(plain), "\n") + "\n"
	}
	if len(body) > room {
		cut := strings.LastIndex(body[:max(room, 0)], "\n") + 1
		lines := strings.Count(body[cut:], "\n")
		body = body[:cut] + fmt.Sprintf("... %s more: see the saved plan (certform show PLAN_FILE)\n", plural(lines, "line"))
	}
	return head + dedent(body) + foot
}

// markdownItem is one call in a Markdown list: its kind, spec, order and
// where the spec is written.
func markdownItem(a Action) string {
	s := fmt.Sprintf("`%s` **%s**", a.Kind, a.Name)
	if a.OrderID != 0 {
		s += fmt.Sprintf(" order %d", a.OrderID)
	}
	switch {
	case a.Kind == KindReissue && a.RevokesPrevious:
		s += ": DigiCert revokes the earlier certificates 48-72 hours after the new one is issued"
	case a.Kind == KindRenew:
		s += ": a renewal order (paid)"
	case a.Kind == KindRevoke && len(a.OrderNames) > 0:
		s += ": " + strings.Join(a.OrderNames, ", ")
	}
	return s + fmt.Sprintf(" (`%s:%d`)", a.File, a.Line)
}

// dedent removes the two spaces WriteText puts before every call, so
// that a Markdown diff block colours "+ order" and "- revoke" lines.
func dedent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "  ")
	}
	return strings.Join(lines, "")
}
