package sim

import (
	"math"
	"math/rand/v2"
)

// hist is a classic histogram kept as per-bucket counts, observed in bulk
// (one value n times) so that a tick costs one bucket search per kind of
// observation rather than one per token.
type hist struct {
	bounds []float64 // upper bounds, ascending, without +Inf
	counts []uint64  // per bucket (not cumulative); the last is +Inf
	sum    float64
	count  uint64
}

//go:norace
func newHist(bounds []float64) hist {
	return hist{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

// observeN records v n times.
//
//go:norace
func (h *hist) observeN(v float64, n uint64) {
	if n == 0 || math.IsNaN(v) {
		return
	}
	h.add(h.bucket(v), v, n)
}

// bucket returns the index of the bucket v falls in: the first bound >= v
// (sort.SearchFloat64s, written out so that it inlines), checking the first
// bucket first, where zero queue times and preemption counts land.
//
//go:norace
func (h *hist) bucket(v float64) int {
	if len(h.bounds) == 0 || v <= h.bounds[0] {
		return 0
	}
	lo, hi := 1, len(h.bounds)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if h.bounds[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// add records v n times in bucket i.
//
//go:norace
func (h *hist) add(i int, v float64, n uint64) {
	h.counts[i] += n
	h.sum += v * float64(n)
	h.count += n
}

// bucketSet holds the bucket edges of every family, built once per cluster.
type bucketSet struct {
	requestLatency  []float64
	ttft            []float64
	itl             []float64
	iterationTokens []float64
	paramsN         []float64
	numPreemptions  []float64
	requestTokens   []float64
	sglangTTFT      []float64
	sglangITL       []float64
	sglangE2E       []float64
	sglangQueue     []float64
	kueueWait       []float64
}

// newBucketSet returns vLLM's bucket edges (vllm/v1/metrics/buckets.py, see
// serving-metrics.md §1.3), SGLang's defaults and Kueue's 1, 2.5·2^n.
//
//go:norace
func newBucketSet(maxModelLen int) *bucketSet {
	b := &bucketSet{
		requestLatency:  []float64{0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680},
		ttft:            []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560},
		itl:             []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80},
		iterationTokens: []float64{1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384},
		paramsN:         []float64{1, 2, 5, 10, 20},
		numPreemptions:  []float64{1, 2, 3, 4, 5, 10, 20},
		sglangTTFT:      []float64{0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400},
		sglangITL:       []float64{0.002, 0.004, 0.006, 0.008, 0.010, 0.015, 0.020, 0.025, 0.030, 0.035, 0.040, 0.060, 0.080, 0.100, 0.200, 0.400, 0.600, 0.800, 1, 2, 4, 6, 8},
		sglangE2E:       []float64{0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600, 1200, 1800, 2400},
		sglangQueue:     []float64{0, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 3000},
	}
	// request_tokens: the 1-2-5 series capped at max_model_len.
	for m := 1; ; m *= 10 {
		done := false
		for _, f := range []int{1, 2, 5} {
			if v := f * m; v <= maxModelLen {
				b.requestTokens = append(b.requestTokens, float64(v))
			} else {
				done = true
				break
			}
		}
		if done {
			break
		}
	}
	b.kueueWait = []float64{1}
	for v := 2.5; len(b.kueueWait) < 15; v *= 2 {
		b.kueueWait = append(b.kueueWait, v)
	}
	return b
}

// poisson draws a Poisson variate; above 30 it uses the normal approximation.
//
//go:norace
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		v := math.Round(lambda + math.Sqrt(lambda)*r.NormFloat64())
		return max(0, int(v))
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// lengthDist is a log-normal length distribution with its parameters
// worked out once.
type lengthDist struct{ mu, sigma float64 }

//go:norace
func newLengthDist(t Tokens) lengthDist {
	return lengthDist{mu: math.Log(t.Mean) - t.Spread*t.Spread/2, sigma: t.Spread}
}

// draw returns a length with the distribution's mean and sigma, at least 1.
//
//go:norace
func (d lengthDist) draw(r *rand.Rand) int {
	return max(1, int(math.Round(math.Exp(d.mu+d.sigma*r.NormFloat64()))))
}
