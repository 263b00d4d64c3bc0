//go:build race

package simcheck

// raceEnabled: under the race detector the scenario suite runs a subset.
const raceEnabled = true
