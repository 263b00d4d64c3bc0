package config

import (
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// ReferencePrice is one served model's reference price in the price book's
// currency per million input (prompt) and output (generation) tokens, as
// the user enters it (servescope ships none): cost per million tokens is
// shown beside it. Amounts are decimals such as "0.20", at most six
// fraction digits (cost.ParseMicros reads them).
type ReferencePrice struct {
	// Model is the served model's name (the engines' model_name label).
	Model  string `yaml:"model"`
	Input  string `yaml:"input"`
	Output string `yaml:"output"`
}

// amount is the grammar of a money amount: a non-negative decimal with at
// most six fraction digits.
var amount = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,6})?$`)

// checkReferencePrices validates each entry (a model, both amounts, no
// model twice), an error located at its entry's line.
func checkReferencePrices(file string, ext *yaml.Node, prices []ReferencePrice) error {
	node := sectionKey(ext, "reference_prices")
	var out Errors
	seen := map[string]int{}
	for i, p := range prices {
		line := node.Line
		if i < len(node.Content) {
			line = node.Content[i].Line
		}
		bad := func(format string, args ...any) {
			out = append(out, &Error{File: file, Line: line, Reason: fmt.Sprintf("%s.reference_prices: ", ExtensionKey) + fmt.Sprintf(format, args...)})
		}
		if p.Model == "" {
			bad("entry %d: model is required (the served model_name)", i+1)
			continue
		}
		if first, ok := seen[p.Model]; ok {
			bad("model %q: listed twice (first at line %d)", p.Model, first)
			continue
		}
		seen[p.Model] = line
		for _, a := range []struct{ key, v string }{{"input", p.Input}, {"output", p.Output}} {
			if a.v == "" {
				bad("model %q: %s is required (money per million %s tokens)", p.Model, a.key, a.key)
			} else if !amount.MatchString(a.v) {
				bad("model %q: %s %q: want money per million tokens, a decimal ≥ 0 such as 0.20 (at most 6 fraction digits)", p.Model, a.key, a.v)
			}
		}
	}
	return oneOrAll(out)
}
