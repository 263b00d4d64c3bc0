package diagnose

import (
	"encoding/json"
	"fmt"
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

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Report) UnmarshalJSON(b []byte) error {
	type plain Report
	var v struct {
		plain
		Window string `json:"window"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Report(v.plain)
	if v.Window == "" {
		return nil
	}
	d, err := time.ParseDuration(v.Window)
	if err != nil {
		return fmt.Errorf("report window: %w", err)
	}
	r.Window = d
	return nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (w *Window) UnmarshalJSON(b []byte) error {
	var v struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
		Step  string    `json:"step"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	w.Start, w.End, w.Step = v.Start, v.End, 0
	if v.Step == "" {
		return nil
	}
	d, err := time.ParseDuration(v.Step)
	if err != nil {
		return fmt.Errorf("window step: %w", err)
	}
	w.Step = d
	return nil
}
