package dnstest

import (
	"slices"
	"testing"
)

func TestStart(t *testing.T) {
	s := Start(t)
	if got := s.TXT(t, "example.com"); !slices.Equal(got, []string{SPF}) {
		t.Fatalf("apex TXT %q, want the SPF record", got)
	}
	s.Add(t, "example.com", `example.com. 60 IN TXT "other-ca-token"`)
	if got := s.TXT(t, "example.com"); !slices.Equal(got, []string{"other-ca-token", SPF}) {
		t.Fatalf("apex TXT after an update %q", got)
	}
}
