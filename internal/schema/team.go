package schema

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// defaultTeamLabel is kube-state-metrics' name for the namespace label team.
const defaultTeamLabel = "label_team"

// ksmLabelName is the name kube-state-metrics gives a Kubernetes label key:
// label_ plus the key in snake case with characters outside [a-zA-Z0-9_]
// replaced by _ (team.example.com/owner → label_team_example_com_owner).
func ksmLabelName(key string) string {
	var b strings.Builder
	b.WriteString("label_")
	rs := []rune(key)
	for i, r := range rs {
		switch {
		case unicode.IsUpper(r):
			if i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1])) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_'):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// renameTeamLabel rewrites, in the syntax tree of every source, the label
// label_team to name: in selector matchers and as a label_replace source.
func renameTeamLabel(p parser.Parser, sigs []Signal, name string) ([]Signal, error) {
	out := slices.Clone(sigs)
	for i := range out {
		out[i].Sources = slices.Clone(out[i].Sources)
		for j := range out[i].Sources {
			src := &out[i].Sources[j]
			if !strings.Contains(src.Expr, defaultTeamLabel) {
				continue
			}
			e, err := p.ParseExpr(src.Expr)
			if err != nil {
				return nil, fmt.Errorf("signal %q: parse source %s: %w", out[i].Name, src.Exporter, err)
			}
			var ierr error
			parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
				switch n := n.(type) {
				case *parser.VectorSelector:
					for k, m := range n.LabelMatchers {
						if m.Name == defaultTeamLabel {
							nm, err := labels.NewMatcher(m.Type, name, m.Value)
							if err != nil && ierr == nil {
								ierr = err
							}
							n.LabelMatchers[k] = nm
						}
					}
				case *parser.Call:
					if n.Func.Name == "label_replace" && len(n.Args) == 5 {
						if sl, ok := n.Args[3].(*parser.StringLiteral); ok && sl.Val == defaultTeamLabel {
							sl.Val = name
						}
					}
				}
				return nil
			})
			if ierr != nil {
				return nil, fmt.Errorf("signal %q: team label %q: %w", out[i].Name, name, ierr)
			}
			src.Expr = e.String()
		}
	}
	return out, nil
}
