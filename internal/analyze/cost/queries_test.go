package cost

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/golden"
)

// TestQueriesGolden pins the rendered text of every cost query, for the
// team label key "team" and a dotted key.
func TestQueriesGolden(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	for _, key := range []string{"team", "team.example.com/owner"} {
		cat, err := schema.New(schema.Options{TeamLabel: key})
		if err != nil {
			t.Fatal(err)
		}
		q, err := buildQueries(cat, key)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("# team label " + key + "\n")
		for _, l := range []struct{ name, q string }{
			{"requests", q.requests}, {"running", q.running}, {"podLabels", q.podLabels}, {"nsTeam", q.nsTeam},
			{"nodes", q.nodes}, {"alloc", q.alloc}, {"busy", q.busy}, {"busyUtil", q.busyUtil},
			{"lqUsage", q.lqUsage}, {"cqUsage", q.cqUsage}, {"quota", q.quota}, {"cqReserve", q.cqReserve},
		} {
			b.WriteString(l.name + ": " + l.q + "\n")
		}
	}
	golden.Compare(t, filepath.Join("testdata", "queries.golden"), b.Bytes())
}
