package cost

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/servescope/servescope/internal/schema"
)

var updateQueries = flag.Bool("update-queries", false, "rewrite testdata/queries.golden")

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
			{"lqUsage", q.lqUsage}, {"cqUsage", q.cqUsage}, {"quota", q.quota},
		} {
			b.WriteString(l.name + ": " + l.q + "\n")
		}
	}
	path := filepath.Join("testdata", "queries.golden")
	if *updateQueries {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-queries)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("queries differ from %s (run with -update-queries and review):\n%s", path, b.String())
	}
}
