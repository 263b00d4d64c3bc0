package schema

import (
	"strings"
	"testing"
	"time"
)

// TestWithRange checks that every range selector of the energy signal is
// set to the requested range and nothing else changes.
func TestWithRange(t *testing.T) {
	cat := newCatalog(t)
	q, err := cat.Query("gpu_energy_watts")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		r    time.Duration
		want string
	}{
		{time.Hour, "[1h]"},
		{90 * time.Second, "[1m30s]"},
	} {
		got, err := cat.WithRange(q, tt.r)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(got, "[5m]") || strings.Count(got, tt.want) != strings.Count(q, "[5m]") {
			t.Errorf("WithRange(%s): ranges not all %s: %s", tt.r, tt.want, got)
		}
		if strings.ReplaceAll(got, tt.want, "[5m]") != q {
			t.Errorf("WithRange(%s) changed more than the ranges", tt.r)
		}
	}
	if _, err := cat.WithRange("sum(", time.Hour); err == nil {
		t.Error("WithRange of a broken query: no error")
	}
}
