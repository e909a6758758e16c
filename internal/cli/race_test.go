//go:build race

package cli

// raceEnabled: the tests were built with -race, so the end-to-end binary is
// built with it too.
const raceEnabled = true
