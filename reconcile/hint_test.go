package reconcile

import "testing"

func TestCommandLines(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{forgetCommand("shop", false).String(), "certform forget shop"},
		{forgetCommand("shop", true).String(), "certform forget shop --force"},
		{importOrder("shop", 100001).String(), "certform import shop 100001"},
		{importCommand("shop", anyOrderID).String(), "certform import shop ORDER_ID"},
		{moveCommands("old", "new", renewalOrderID), "certform forget old, then certform import new NEW_ORDER_ID"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
