package reconcile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
	"github.com/google/go-cmp/cmp"
)

// markdownInputs are the plans of the Markdown and compact golden tests:
// one with every kind of destructive call, a blocked one and notes, and
// one with nothing to do.
func markdownInputs() []struct {
	name string
	in   planInput
} {
	shop := mkOrder("shop")
	return []struct {
		name string
		in   planInput
	}{
		{"mixed", planInput{
			Desired: []*spec.Order{
				mkOrder("api"),
				shop,
				mkOrder("www", func(o *spec.Order) { o.CommonName = "w2.example.com" }),
				mkOrder("old", withRevoke),
				mkOrder("gone", withRevoke),
				mkOrder("ct", withCT),
			},
			Known: known(map[string]*state.Entry{
				"shop":   entryFor(shop, 100001, func(e *state.Entry) { e.OrderValidTill = revokedAt.Add(10 * 24 * time.Hour) }),
				"www":    entryFor(mkOrder("www"), 100002),
				"old":    entryFor(mkOrder("old"), 100003),
				"gone":   entryFor(mkOrder("gone"), 100004),
				"ct":     entryFor(mkOrder("ct"), 100005),
				"orphan": entryFor(mkOrder("orphan"), 100006),
			}),
			Consulted: true, MaxRevocations: 3, MaxPurchases: 1,
			Live: []liveOrder{{ID: 100001, Status: "issued", Names: []string{"shop.example.com"}}},
		}},
		{"nothing", planInput{Desired: []*spec.Order{shop}, Known: known(map[string]*state.Entry{"shop": entryFor(shop, 100001)})}},
	}
}

func TestChanges_WriteMarkdown_golden(t *testing.T) {
	for _, tt := range markdownInputs() {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Now, tt.in.ResendAfter = revokedAt.Add(2*time.Minute), 5*time.Minute
			if tt.in.MaxPurchases == 0 {
				tt.in.MaxPurchases = -1
			}
			p := plan(tt.in)
			var b bytes.Buffer
			if err := p.WriteMarkdown(&b); err != nil {
				t.Fatal(err)
			}
			b.WriteString("--- compact\n")
			if err := p.WriteCompact(&b, false); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("..", "testdata", "plans", "markdown", tt.name+".golden"), b.String())
		})
	}
}

func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		os.MkdirAll(filepath.Dir(golden), 0o755)
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// TestChanges_WriteMarkdown_long: a 3,000-order plan stays within
// MarkdownLimit, the summary first, the calls folded one line each and
// cut with a line saying how many more there are.
func TestChanges_WriteMarkdown_long(t *testing.T) {
	var desired []*spec.Order
	for i := range 3000 {
		desired = append(desired, mkOrder(fmt.Sprintf("site%04d", i)))
	}
	p := plan(planInput{Desired: desired, Known: known(nil), Now: revokedAt, ResendAfter: 5 * time.Minute, MaxPurchases: -1})
	var b bytes.Buffer
	if err := p.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if b.Len() > MarkdownLimit {
		t.Errorf("%d bytes, more than %d", b.Len(), MarkdownLimit)
	}
	if first, _, _ := strings.Cut(out, "\n"); first != "**Plan: 3000 to order, 0 to update, 0 to revoke.**" {
		t.Errorf("first line %q", first)
	}
	for _, want := range []string{
		"<details><summary>3000 calls (one line each: the plan is too long for a comment)</summary>\n\n```diff\n+ order  site0000  (site0000.yaml:1)\n",
		" more: see the saved plan (certform show PLAN_FILE)\n```\n\n</details>\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out[len(out)-2000:])
		}
	}
}
