//go:build !unix

package slo_test

import "time"

// cpuTime is not measured outside Unix: the CPU metrics read 0.
func cpuTime() time.Duration { return 0 }
