//go:build !race

package simcheck

// raceEnabled shortens the simulated span under the race detector, which
// slows the simulator several times over.
const raceEnabled = false
