//go:build !race

package diagnose_test

// raceEnabled: under the race detector the scenario suite runs a subset.
const raceEnabled = false
