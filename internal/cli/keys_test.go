package cli

import (
	"slices"
	"testing"
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
