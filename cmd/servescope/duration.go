package main

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"
)

// parseDuration reads a Prometheus duration (15d, 1h30m, 500ms).
func parseDuration(s string) (time.Duration, error) {
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w", s, err)
	}
	return time.Duration(d), nil
}
