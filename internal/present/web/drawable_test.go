package web

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
)

// TestDrawable: a chart with more series than it can draw averages GPU
// series per GPU model (every model appears) and says what it keeps of
// pod series.
func TestDrawable(t *testing.T) {
	var gpus, pods model.Matrix
	for i := range 14 {
		gm := "NVIDIA H200"
		if i%7 == 0 {
			gm = "NVIDIA L4"
		}
		gpus = append(gpus, &model.SampleStream{Metric: model.Metric{"uuid": model.LabelValue(fmt.Sprint(i)), "modelName": model.LabelValue(gm)},
			Values: []model.SamplePair{{Timestamp: 0, Value: model.SampleValue(i)}}})
		pods = append(pods, &model.SampleStream{Metric: model.Metric{"pod": model.LabelValue(fmt.Sprint("p", i))},
			Values: []model.SamplePair{{Timestamp: 0, Value: model.SampleValue(i)}}})
	}
	ss, note := drawable(gpus)
	if len(ss) != 2 || !strings.HasPrefix(ss[0].Name, "NVIDIA H200 (mean of 12)") || !strings.HasPrefix(ss[1].Name, "NVIDIA L4 (mean of 2)") {
		t.Errorf("GPU series: %d drawn %v", len(ss), ss)
	}
	if note != "mean per GPU model of 14 GPU series (each MIG slice one)" {
		t.Errorf("GPU note %q", note)
	}
	if ss, note := drawable(pods); len(ss) != 14 || note != "top 10 by mean of 14 pods" || ss[0].Name != "p13" {
		t.Errorf("pods: %d series, note %q, first %q", len(ss), note, ss[0].Name)
	}
	if _, note := drawable(pods[:3]); note != "" {
		t.Errorf("3 pods: note %q, want none", note)
	}
}
