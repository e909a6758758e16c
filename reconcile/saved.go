package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// SavedPlanKind marks a file written by plan --out.
const SavedPlanKind = "certform-plan"

// SavedPlan is what plan --out writes and apply FILE reads: the plan's
// calls, and the versions of the state and of the specs it was computed
// from. apply FILE makes exactly these calls, and refuses when the state,
// the specs or the plan computed now differ (see Differences). Its fields
// are a stable interface.
type SavedPlan struct {
	Kind          string    `json:"kind"`
	FormatVersion int       `json:"format_version"`
	CreatedAt     time.Time `json:"created_at"`
	// StateVersion and SpecsDigest are StateVersion and SpecsDigest of
	// what the plan was computed from.
	StateVersion string   `json:"state_version"`
	SpecsDigest  string   `json:"specs_digest"`
	Actions      []Action `json:"actions"`
	Blocked      []Action `json:"blocked"`
	Summary      string   `json:"summary"`
}

// NewSavedPlan returns the plan c, computed from known, to save.
func NewSavedPlan(c *Cycle, known *state.File, now time.Time) *SavedPlan {
	return &SavedPlan{Kind: SavedPlanKind, FormatVersion: 1, CreatedAt: now.UTC(), StateVersion: StateVersion(known),
		SpecsDigest: SpecsDigest(c.Specs), Actions: c.Plan.Actions, Blocked: c.Plan.Blocked, Summary: c.Plan.Summary()}
}

// ReadSavedPlan decodes a saved plan, refusing another kind of file or a
// format this certform does not know.
func ReadSavedPlan(data []byte) (*SavedPlan, error) {
	var p SavedPlan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("not a saved plan: %w", err)
	}
	if p.Kind != SavedPlanKind {
		return nil, fmt.Errorf("not a saved plan (kind %q, want %q): make one with certform plan --out FILE", p.Kind, SavedPlanKind)
	}
	if p.FormatVersion != 1 {
		return nil, fmt.Errorf("a saved plan of format %d, which this certform does not read", p.FormatVersion)
	}
	return &p, nil
}

// StateVersion is a digest of what in the state a plan depends on: every
// entry and the revocation log, without the times certform last read
// CertCentral (observed_at, refreshed_at), which change while nothing
// else does.
func StateVersion(f *state.File) string {
	if f == nil {
		f = &state.File{Entries: map[string]*state.Entry{}}
	}
	c := f.Clone()
	c.ObservedAt = time.Time{}
	for _, e := range c.Entries {
		e.ObservedAt, e.RefreshedAt = time.Time{}, time.Time{}
	}
	return digest(struct {
		Entries     map[string]*state.Entry
		Revocations []state.Revocation
	}{c.Entries, c.Revocations})
}

// SpecsDigest is a digest of the loaded specs: every valid order with all
// its values (and where it is written), and the names and errors of the
// invalid ones.
func SpecsDigest(r *spec.Result) string {
	if r == nil {
		return digest(nil)
	}
	var errs []string
	for _, e := range r.Errors {
		errs = append(errs, e.Error())
	}
	slices.Sort(errs)
	invalid := slices.Clone(r.Invalid)
	slices.Sort(invalid)
	return digest(struct {
		Orders  []*spec.Order
		Invalid []string
		Errors  []string
	}{r.Orders, invalid, errs})
}

func digest(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain data always encodes
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// actionKey is what identifies a call for comparing plans: its kind,
// spec, order and what it changes.
func actionKey(a Action) string {
	k := fmt.Sprintf("%s %s", a.Kind, a.Name)
	if a.OrderID != 0 {
		k += fmt.Sprintf(" order %d", a.OrderID)
	}
	if a.To != nil {
		k += fmt.Sprintf(" -> %v", *a.To)
	}
	if a.Reason != "" {
		k += " (" + a.Reason + ")"
	}
	if len(a.Changed) > 0 {
		k += " changed " + strings.Join(a.Changed, ",")
	}
	if a.Resume != "" {
		k += " resume " + a.Resume
	}
	if a.RenewedOrderID != 0 {
		k += fmt.Sprintf(" renewal %d", a.RenewedOrderID)
	}
	if a.BlockedBy != "" {
		k += " blocked by " + a.BlockedBy
	}
	return k
}

// Differences says why the plan now (c, from known) is not the saved one:
// the state or the specs changed since, or the calls differ. It returns
// nil when apply may make the saved calls.
func (p *SavedPlan) Differences(c *Cycle, known *state.File) []string {
	var out []string
	if v := StateVersion(known); v != p.StateVersion {
		out = append(out, "the state changed since the plan was made")
	}
	if d := SpecsDigest(c.Specs); d != p.SpecsDigest {
		out = append(out, "the specs changed since the plan was made")
	}
	keys := func(as []Action) []string {
		var ks []string
		for _, a := range as {
			ks = append(ks, actionKey(a))
		}
		return ks
	}
	saved, now := append(keys(p.Actions), keys(p.Blocked)...), append(keys(c.Plan.Actions), keys(c.Plan.Blocked)...)
	for _, k := range saved {
		if !slices.Contains(now, k) {
			out = append(out, "no longer planned: "+k)
		}
	}
	for _, k := range now {
		if !slices.Contains(saved, k) {
			out = append(out, "planned now, not in the saved plan: "+k)
		}
	}
	return out
}
