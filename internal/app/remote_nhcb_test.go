package app

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/testutil/proc"
)

// histExposition is one TTFT histogram of three buckets.
const histExposition = `# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{model_name="llama",le="0.1"} 2
vllm:time_to_first_token_seconds_bucket{model_name="llama",le="0.5"} 5
vllm:time_to_first_token_seconds_bucket{model_name="llama",le="2.5"} 9
vllm:time_to_first_token_seconds_bucket{model_name="llama",le="+Inf"} 10
vllm:time_to_first_token_seconds_sum{model_name="llama"} 6.5
vllm:time_to_first_token_seconds_count{model_name="llama"} 10
`

// TestRemoteWriteNHCBAsClassic: servescope stores the histogram as one
// native histogram with custom buckets, and its remote_write (which says
// nothing about histograms) sends it as the classic series a Prometheus
// receiver (Debian's 2.42) stores and reads as before: the same quantile
// from both.
func TestRemoteWriteNHCBAsClassic(t *testing.T) {
	t.Parallel()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, histExposition) }))
	defer target.Close()
	dir, recvAddr := t.TempDir(), proc.FreeAddr(t)
	recv := startReceiver(t, recvAddr, dir)
	s := start(t, remoteConfig(strings.TrimPrefix(target.URL, "http://"), recvAddr), dir)
	const name = "vllm:time_to_first_token_seconds"
	proc.Eventually(t, "the receiver holds the classic series", 60*time.Second, func() (bool, string) {
		var names []string
		for _, ls := range receiverSeries(t, recv) {
			if n := string(ls[model.MetricNameLabel]); strings.HasPrefix(n, name) && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		return slices.Equal(names, []string{name + "_bucket", name + "_count", name + "_sum"}), fmt.Sprint(names)
	})
	stored, err := s.srv.Querier().Series(t.Context(), []string{`{__name__=~"` + name + `.*"}`}, time.Unix(0, 0), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || string(stored[0][model.MetricNameLabel]) != name {
		t.Errorf("servescope stores %v, want the one native histogram %s", stored, name)
	}
	now := time.Now()
	ours := instantQuery(t, s.base, `histogram_quantile(0.7, `+name+`)`, now)
	theirs := instantQuery(t, recv, `histogram_quantile(0.7, `+name+`_bucket)`, now)
	if len(ours) != 1 || len(theirs) != 1 {
		t.Fatalf("quantiles: servescope %v, receiver %v", ours, theirs)
	}
	// 7 of 10 observations: halfway through (0.5, 2.5], to rounding (a
	// native histogram's quantile above the median is counted from the top).
	// The receiver's series carry the external label cluster=a besides.
	for _, v := range []map[string]float64{ours, theirs} {
		for k, x := range v {
			if math.Abs(x-1.5) > 1e-9 {
				t.Errorf("p70 of %s: %v, want 1.5", k, x)
			}
		}
	}
}
