package cost

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/servescope/servescope/internal/located"
)

// Micros is an amount of money in millionths of the currency unit. Money is
// never held as a float: hours (floats) are multiplied by a price once per
// priced bucket and rounded to Micros, and only Micros are summed.
type Micros int64

// microsPerUnit is how many Micros make one currency unit.
const microsPerUnit = 1_000_000

// String formats m as a decimal with six fraction digits.
func (m Micros) String() string {
	sign := ""
	v := int64(m)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%06d", sign, v/microsPerUnit, v%microsPerUnit)
}

// MarshalJSON writes m as a decimal string, so no JSON reader turns it
// into a float.
func (m Micros) MarshalJSON() ([]byte, error) { return []byte(`"` + m.String() + `"`), nil }

// Cents formats m rounded half away from zero to two fraction digits.
func (m Micros) Cents() string {
	v := int64(m)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	c := (v + 5_000) / 10_000
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

// Format is the one way servescope shows money to a person: the amount
// rounded to cents and the currency ("12.34 USD"; no currency, no suffix).
func (m Micros) Format(currency string) string {
	if currency == "" {
		return m.Cents()
	}
	return m.Cents() + " " + currency
}

// ParseMicros parses a non-negative decimal amount such as "3.00" or "0.8"
// with at most six fraction digits.
func ParseMicros(s string) (Micros, error) {
	if s == "" {
		return 0, errors.New("empty amount")
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || strings.TrimLeft(whole, "0123456789") != "" || strings.TrimLeft(frac, "0123456789") != "" {
		return 0, fmt.Errorf("amount %q: want a non-negative decimal such as 3.00", s)
	}
	if len(frac) > 6 {
		return 0, fmt.Errorf("amount %q: at most 6 fraction digits", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > math.MaxInt64/microsPerUnit-1 {
		return 0, fmt.Errorf("amount %q: too large", s)
	}
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64) // digits checked above
	}
	return Micros(w*microsPerUnit + f), nil
}

// times returns hours × m rounded to the nearest micro, computed exactly
// with big.Rat from the float hours.
func (m Micros) times(hours float64) Micros {
	if hours == 0 || math.IsNaN(hours) || math.IsInf(hours, 0) {
		return 0
	}
	r := new(big.Rat).SetFloat64(hours)
	r.Mul(r, new(big.Rat).SetInt64(int64(m)))
	// Round half away from zero.
	num, den := r.Num(), r.Denom()
	q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(rem), big.NewInt(2)).Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return Micros(q.Int64())
}

// Price is one entry of the price book: the hourly price of one whole GPU,
// matched by Kueue flavor, by dcgm-exporter modelName, or by the short GPU
// name (H100) appearing in the model name.
type Price struct {
	GPU       string `yaml:"gpu"`
	ModelName string `yaml:"model_name"`
	Flavor    string `yaml:"flavor"`
	Hourly    Micros `yaml:"-"`
	// HourlyText is the amount as written.
	HourlyText string `yaml:"hourly"`
	line       int
}

// PriceBook is the price per GPU-hour by GPU model or Kueue flavor.
type PriceBook struct {
	Currency string  `yaml:"currency"`
	GPUs     []Price `yaml:"gpus"`
}

// PriceBookError is an invalid price book: the file, the line and the reason (the
// project's one located-error type).
type PriceBookError = located.Error

// LoadPriceBook reads and validates a price book file.
func LoadPriceBook(path string) (*PriceBook, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read price book %q: %w", path, err)
	}
	return ParsePriceBook(path, b)
}

// ParsePriceBook decodes data strictly (unknown keys are errors) and
// validates every price; file names the source in errors.
func ParsePriceBook(file string, data []byte) (*PriceBook, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(file, err)
	}
	var pb PriceBook
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&pb); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &PriceBookError{File: file, Reason: "empty price book"}
		}
		return nil, yamlError(file, err)
	}
	lines := entryLines(&root)
	if pb.Currency == "" {
		return nil, &PriceBookError{File: file, Line: 1, Reason: "currency is required (e.g. USD)"}
	}
	for i := range pb.GPUs {
		p := &pb.GPUs[i]
		if i < len(lines) {
			p.line = lines[i][0]
		}
		hourlyLine := p.line
		if i < len(lines) && lines[i][1] > 0 {
			hourlyLine = lines[i][1]
		}
		if p.GPU == "" && p.ModelName == "" && p.Flavor == "" {
			return nil, &PriceBookError{File: file, Line: p.line, Reason: "price without gpu, model_name or flavor"}
		}
		if strings.HasPrefix(strings.TrimSpace(p.HourlyText), "-") {
			return nil, &PriceBookError{File: file, Line: hourlyLine, Reason: fmt.Sprintf("negative price %q", p.HourlyText)}
		}
		m, err := ParseMicros(strings.TrimSpace(p.HourlyText))
		if err != nil {
			return nil, &PriceBookError{File: file, Line: hourlyLine, Reason: err.Error()}
		}
		p.Hourly = m
	}
	return &pb, nil
}

// entryLines returns, per gpus entry, the line of the entry and of its
// hourly key.
func entryLines(root *yaml.Node) [][2]int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	var out [][2]int
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "gpus" || n.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for _, e := range n.Content[i+1].Content {
			l := [2]int{e.Line, 0}
			if e.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(e.Content); j += 2 {
					if e.Content[j].Value == "hourly" {
						l[1] = e.Content[j+1].Line
					}
				}
			}
			out = append(out, l)
		}
	}
	return out
}

// yamlError turns a yaml.v3 error into a PriceBookError with its line.
func yamlError(file string, err error) error {
	return located.FromYAML(file, err)
}

// normalizeModel folds a GPU model name for matching: GPU feature
// discovery's product label writes spaces as hyphens
// (NVIDIA-H100-80GB-HBM3), dcgm-exporter keeps them.
func normalizeModel(s string) string {
	return strings.ToLower(strings.NewReplacer("-", " ", "_", " ").Replace(strings.TrimSpace(s)))
}

// Lookup returns the hourly price of a whole GPU for a flavor or model name:
// a flavor entry first, then an exact model name, then a short GPU name
// contained in the model name. ok is false when nothing matches.
func (pb *PriceBook) Lookup(flavor, modelName string) (Micros, bool) {
	if pb == nil {
		return 0, false
	}
	if flavor != "" {
		for _, p := range pb.GPUs {
			if p.Flavor == flavor {
				return p.Hourly, true
			}
		}
	}
	m := normalizeModel(modelName)
	if m == "" {
		return 0, false
	}
	for _, p := range pb.GPUs {
		if p.ModelName != "" && normalizeModel(p.ModelName) == m {
			return p.Hourly, true
		}
	}
	for _, p := range pb.GPUs {
		if p.GPU != "" && p.ModelName == "" && strings.Contains(" "+m+" ", " "+normalizeModel(p.GPU)+" ") {
			return p.Hourly, true
		}
	}
	return 0, false
}
