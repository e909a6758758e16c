package state

import "time"

// DCVRecord is a domain validation record certform publishes through a DNS
// or web provider (package dcv): written to the state before the record is
// published and removed once it is cleaned up, so a run killed in between
// removes it on the next run. It never holds a secret: Value is the public
// random value DigiCert looks for.
type DCVRecord struct {
	// Provider is the provider's name in the --dcv-config file.
	Provider string `json:"provider"`
	// Type is TXT, CNAME or HTTP; Zone the configured zone; Name the
	// record's name (or host); Value the TXT string, CNAME target or
	// file line.
	Type  string `json:"type"`
	Zone  string `json:"zone"`
	Name  string `json:"name"`
	Value string `json:"value"`
	// Since is when certform logged it, before publishing it.
	Since time.Time `json:"since"`
}
