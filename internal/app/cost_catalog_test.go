package app

import (
	"testing"

	"github.com/servescope/servescope/internal/schema"
)

// TestCostCatalog: the cost calculator uses the catalog it is given (a
// server start builds one for all its parts), and builds one with the
// options' cluster label without.
func TestCostCatalog(t *testing.T) {
	t.Parallel()
	cat, err := schema.New(schema.Options{ClusterLabel: "region"})
	if err != nil {
		t.Fatal(err)
	}
	if _, got, _, err := newCost(CostOptions{ClusterLabel: "region", Catalog: cat}); err != nil || got != cat {
		t.Errorf("with a catalog: %p (%v), want the one given %p", got, err, cat)
	}
	got, err := func() (*schema.Catalog, error) {
		_, c, _, err := newCost(CostOptions{ClusterLabel: "site"})
		return c, err
	}()
	if err != nil || got == nil || got == cat || got.ClusterLabel() != "site" {
		t.Errorf("without a catalog: %p (%v), want a new one with cluster label site", got, err)
	}
}
