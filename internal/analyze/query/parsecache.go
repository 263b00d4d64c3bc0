package query

import (
	"slices"
	"sync"

	"github.com/prometheus/prometheus/promql/parser"
)

// parseCacheMax bounds the query texts whose trees are kept; when full,
// the cache starts again empty.
const parseCacheMax = 2048

// parseCache is the engine's parser: it keeps the tree of each query text
// it parsed and answers the same text again with a copy of it, so a text
// queried again (a dashboard's refresh, a long report's range cut into
// chunks, the catalog's queries at every evaluation) is lexed, parsed and
// its regular expressions compiled once. Prometheus's engine writes into
// the tree it is given (offsets, @ times, step-invariant wrappers), so every
// caller gets its own copy; label matchers, immutable, are shared. A tree
// with a node the copy does not know (a duration expression) is parsed
// every time.
type parseCache struct {
	parser.Parser

	mu    sync.Mutex
	trees map[string]parser.Expr // never handed out
}

func newParseCache(p parser.Parser) *parseCache {
	return &parseCache{Parser: p, trees: map[string]parser.Expr{}}
}

// ParseExpr parses q, from the kept tree when q was parsed before.
func (c *parseCache) ParseExpr(q string) (parser.Expr, error) {
	c.mu.Lock()
	kept, ok := c.trees[q]
	c.mu.Unlock()
	if ok {
		if e, ok := cloneExpr(kept); ok {
			return e, nil
		}
	}
	e, err := c.Parser.ParseExpr(q)
	if err != nil {
		return e, err
	}
	if keep, ok := cloneExpr(e); ok {
		c.mu.Lock()
		if len(c.trees) >= parseCacheMax {
			clear(c.trees)
		}
		c.trees[q] = keep
		c.mu.Unlock()
	}
	return e, nil
}

// cloneExpr copies a parsed tree deep enough that evaluating the copy
// leaves e as it was: every node and every slice the engine may write,
// sharing label matchers, functions and @ timestamps (replaced, never
// written through). ok is false for a node it does not copy.
func cloneExpr(e parser.Expr) (_ parser.Expr, ok bool) {
	if e == nil {
		return nil, true
	}
	switch n := e.(type) {
	case *parser.VectorSelector:
		if n.OriginalOffsetExpr != nil || n.UnexpandedSeriesSet != nil || n.Series != nil {
			return nil, false
		}
		cp := *n
		cp.LabelMatchers = slices.Clone(n.LabelMatchers)
		return &cp, true
	case *parser.MatrixSelector:
		if n.RangeExpr != nil {
			return nil, false
		}
		cp := *n
		if cp.VectorSelector, ok = cloneExpr(n.VectorSelector); !ok {
			return nil, false
		}
		return &cp, true
	case *parser.SubqueryExpr:
		if n.RangeExpr != nil || n.OriginalOffsetExpr != nil || n.StepExpr != nil {
			return nil, false
		}
		cp := *n
		if cp.Expr, ok = cloneExpr(n.Expr); !ok {
			return nil, false
		}
		return &cp, true
	case *parser.Call:
		cp := *n
		cp.Args = make(parser.Expressions, len(n.Args))
		for i, a := range n.Args {
			if cp.Args[i], ok = cloneExpr(a); !ok {
				return nil, false
			}
		}
		return &cp, true
	case *parser.AggregateExpr:
		cp := *n
		cp.Grouping = slices.Clone(n.Grouping)
		if cp.Expr, ok = cloneExpr(n.Expr); !ok {
			return nil, false
		}
		if cp.Param, ok = cloneExpr(n.Param); !ok {
			return nil, false
		}
		return &cp, true
	case *parser.BinaryExpr:
		cp := *n
		if vm := n.VectorMatching; vm != nil {
			v := *vm
			v.MatchingLabels, v.Include = slices.Clone(vm.MatchingLabels), slices.Clone(vm.Include)
			cp.VectorMatching = &v
		}
		if cp.LHS, ok = cloneExpr(n.LHS); !ok {
			return nil, false
		}
		if cp.RHS, ok = cloneExpr(n.RHS); !ok {
			return nil, false
		}
		return &cp, true
	case *parser.ParenExpr:
		cp := *n
		if cp.Expr, ok = cloneExpr(n.Expr); !ok {
			return nil, false
		}
		return &cp, true
	case *parser.UnaryExpr:
		cp := *n
		if cp.Expr, ok = cloneExpr(n.Expr); !ok {
			return nil, false
		}
		return &cp, true
	case *parser.NumberLiteral:
		cp := *n
		return &cp, true
	case *parser.StringLiteral:
		cp := *n
		return &cp, true
	}
	return nil, false
}
