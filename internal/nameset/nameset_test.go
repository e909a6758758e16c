package nameset

import (
	"slices"
	"testing"
)

func TestList(t *testing.T) {
	got := List(" Shop.Example.COM ", []string{"b.example.com", "", "shop.example.com", "A.example.com ", "b.example.com"})
	want := []string{"shop.example.com", "a.example.com", "b.example.com"}
	if !slices.Equal(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
}

func TestSame(t *testing.T) {
	for _, c := range []struct {
		a, b []string
		want bool
	}{
		{List("a.com", []string{"b.com", "c.com"}), List("A.com", []string{"c.com", "b.com", "a.com"}), true},
		{List("a.com", []string{"b.com"}), List("b.com", []string{"a.com"}), false}, // another common name
		{List("a.com", []string{"b.com"}), List("a.com", nil), false},
		{nil, nil, false}, // names not known
	} {
		if got := Same(c.a, c.b); got != c.want {
			t.Errorf("Same(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestDiff(t *testing.T) {
	extra, missing := Diff([]string{"a.com", "B.com", " "}, []string{"b.com", "c.com", "C.com"})
	if !slices.Equal(extra, []string{"c.com"}) || !slices.Equal(missing, []string{"a.com"}) {
		t.Fatalf("Diff = %q, %q; want [c.com], [a.com]", extra, missing)
	}
	if extra, missing := Diff([]string{"a.com", "b.com"}, []string{"B.COM", "a.com"}); extra != nil || missing != nil {
		t.Fatalf("Diff of equal sets = %q, %q; want none", extra, missing)
	}
}

func TestKey(t *testing.T) {
	if got, want := Key(" B.com", []string{"a.com", "", "b.com"}), "a.com,b.com"; got != want {
		t.Fatalf("Key = %q, want %q", got, want)
	}
	if Key("a.com", []string{"b.com"}) != Key("b.com", []string{"a.com"}) {
		t.Fatal("Key differs for the same set of names")
	}
}
