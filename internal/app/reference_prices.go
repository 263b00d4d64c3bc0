package app

import (
	"fmt"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/config"
)

// referencePrices turns the config's reference prices (validated, with
// their lines, by config) into the cost package's, by served model.
func referencePrices(ps []config.ReferencePrice) (map[string]cost.ReferencePrice, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	out := make(map[string]cost.ReferencePrice, len(ps))
	for _, p := range ps {
		in, err := cost.ParseMicros(p.Input)
		if err != nil {
			return nil, fmt.Errorf("reference price of %s: input: %w", p.Model, err)
		}
		o, err := cost.ParseMicros(p.Output)
		if err != nil {
			return nil, fmt.Errorf("reference price of %s: output: %w", p.Model, err)
		}
		out[p.Model] = cost.ReferencePrice{Input: in, Output: o}
	}
	return out, nil
}
