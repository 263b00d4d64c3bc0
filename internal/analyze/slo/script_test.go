package slo

import (
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/testutil/script"
)

// TestScripts runs testdata/*.test: series loaded as promqltest loads them
// (from Unix time 0), then `slo <duration>` evaluates scriptSet at that
// time and checks each line under it:
//
//	<objective> <model> firing <alert>... | none   the burn-rate alerts that hold, exactly
//	<objective> <model> budget <remaining>         error budget remaining (±0.01)
//	<objective> <model> absent                     the model is not reported
func TestScripts(t *testing.T) {
	t.Parallel()
	cat := catalog(t)
	set := Set{MinRequestRate: 0.1, Objectives: []Objective{
		{Name: "ttft-500ms", Model: AllModels, Indicator: "ttft", Threshold: 500 * time.Millisecond, Target: 0.99, Window: 28 * 24 * time.Hour, Engine: "vllm"},
	}}
	script.Run(t, filepath.Join("testdata", "*.test"), map[string]script.Verb{
		"slo": func(t *testing.T, q query.Querier, s *script.Script, c *script.Command) any {
			if len(c.Args) != 1 {
				t.Fatalf("%s: want slo <duration since 0>", c.Where(s))
			}
			d, err := time.ParseDuration(c.Args[0])
			if err != nil {
				t.Fatalf("%s: %v", c.Where(s), err)
			}
			sts, err := Evaluate(t.Context(), q, cat, set, time.Unix(0, 0).Add(d))
			if err != nil {
				t.Fatalf("%s: %v", c.Where(s), err)
			}
			for _, l := range c.Body {
				where := s.Path + ":" + strconv.Itoa(l.Line)
				if len(l.Fields) < 3 {
					t.Fatalf("%s: want <objective> <model> firing|budget|absent ...", where)
				}
				i := slices.IndexFunc(sts, func(st Status) bool { return st.Objective.Name == l.Fields[0] && st.Model == l.Fields[1] })
				if l.Fields[2] == "absent" {
					if i >= 0 {
						t.Errorf("%s: %s %s reported: %+v", where, l.Fields[0], l.Fields[1], sts[i])
					}
					continue
				}
				if i < 0 {
					t.Errorf("%s: %s %s not reported (have %d statuses)", where, l.Fields[0], l.Fields[1], len(sts))
					continue
				}
				st := sts[i]
				switch l.Fields[2] {
				case "firing":
					var got []string
					for _, b := range st.Firing {
						got = append(got, b.Alert)
					}
					want := l.Fields[3:]
					if slices.Equal(want, []string{"none"}) {
						want = nil
					}
					slices.Sort(got)
					slices.Sort(want)
					if !slices.Equal(got, want) {
						t.Errorf("%s: firing %v, want %v (windows %+v)", where, got, want, st.Windows)
					}
				case "budget":
					want, err := strconv.ParseFloat(l.Fields[3], 64)
					if err != nil {
						t.Fatalf("%s: %v", where, err)
					}
					if math.Abs(st.BudgetRemaining-want) > 0.01 {
						t.Errorf("%s: budget remaining %.4f, want %s", where, st.BudgetRemaining, l.Fields[3])
					}
				default:
					t.Fatalf("%s: unknown expectation %q", where, strings.Join(l.Fields[2:], " "))
				}
			}
			return nil
		},
	})
}
