package rules

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves goroutines behind: ApplyConfig
// and EvalAt start none, and Run stops its groups when its context ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
