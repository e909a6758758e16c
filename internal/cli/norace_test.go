//go:build !race

package cli

// raceEnabled: the tests were built without -race.
const raceEnabled = false
