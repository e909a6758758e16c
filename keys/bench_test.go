package keys

import "testing"

// BenchmarkGenerate measures key generation per type: the cost certform
// adds to an order or a reissue when it makes the key (README, "Keys").
func BenchmarkGenerate(b *testing.B) {
	for _, typ := range Types() {
		b.Run(string(typ), func(b *testing.B) {
			for b.Loop() {
				if _, err := Generate(typ); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCreateCSR measures building and signing a CSR of 10 names.
func BenchmarkCreateCSR(b *testing.B) {
	names := []string{"b.example.com", "c.example.com", "d.example.com", "e.example.com", "f.example.com", "g.example.com", "h.example.com", "i.example.com", "j.example.com"}
	for _, typ := range []Type{ECDSAP256, RSA2048} {
		k := testKey(b, typ)
		b.Run(string(typ), func(b *testing.B) {
			for b.Loop() {
				if _, err := CreateCSR(k, "a.example.com", names); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
