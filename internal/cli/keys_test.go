package cli

import (
	"slices"
	"testing"

	"github.com/certform/certform/state"
)

// TestRecipientsFlag: --key-recipient is repeatable, a value may list
// several recipients (CERTFORM_KEY_RECIPIENT gives them all), and an
// empty value gives none.
func TestRecipientsFlag(t *testing.T) {
	var r recipientsFlag
	for _, v := range []string{"age1a", "age1b, age1c", " age1d\tage1e ", ""} {
		if err := r.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"age1a", "age1b", "age1c", "age1d", "age1e"}; !slices.Equal(r, want) {
		t.Errorf("recipients %q, want %q", r, want)
	}
	if got := r.String(); got != "age1a,age1b,age1c,age1d,age1e" {
		t.Errorf("String: %q", got)
	}
}

// TestEntryKeys: forget removes the keys the entry records (its key, its
// previous keys, its intent's key), each once, and none for an entry
// without keys.
func TestEntryKeys(t *testing.T) {
	rec := func(fp string) state.KeyRecord { return state.KeyRecord{Type: "ecdsa-p256", CSRFingerprint: fp} }
	cur, prev, next := rec("cur"), rec("prev"), rec("next")
	tests := []struct {
		name string
		e    *state.Entry
		want []string
	}{
		{name: "nil", e: nil},
		{name: "csr spec", e: &state.Entry{OrderID: 1}},
		{name: "current", e: &state.Entry{Key: &cur}, want: []string{"cur"}},
		{name: "all", e: &state.Entry{Key: &cur, PreviousKeys: []state.KeyRecord{prev, rec("")}, Intent: &state.Intent{Action: state.IntentReissue, Key: &next}}, want: []string{"cur", "prev", "next"}},
		{name: "intent of the current key", e: &state.Entry{Key: &cur, Intent: &state.Intent{Action: state.IntentOrder, Key: &cur}}, want: []string{"cur"}},
		{name: "intent only", e: &state.Entry{Intent: &state.Intent{Action: state.IntentOrder, Key: &next}}, want: []string{"next"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := entryKeys(tt.e); !slices.Equal(got, tt.want) {
				t.Errorf("entryKeys: %q, want %q", got, tt.want)
			}
		})
	}
}
