package diagnose

import (
	"encoding/json"
	"time"
)

// MarshalJSON writes the window as Go's duration text ("1h0m0s"), as the
// cost report writes its step, not as nanoseconds.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		plain
		Window string `json:"window"`
	}{plain(r), r.Window.String()})
}

// MarshalJSON writes the step as duration text ("1m0s").
func (w Window) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
		Step  string    `json:"step"`
	}{w.Start, w.End, w.Step.String()})
}
