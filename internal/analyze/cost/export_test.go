package cost

import "time"

// SetChunk sets the longest span one range query covers, so tests can
// check that cutting the grid into range queries changes no answer.
func SetChunk(c *Calculator, d time.Duration) { c.chunk = d }
