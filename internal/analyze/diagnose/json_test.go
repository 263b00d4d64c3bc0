package diagnose

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDurationsAsText checks that no duration leaves as nanoseconds.
func TestDurationsAsText(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	b, err := json.Marshal(Report{At: at, Window: time.Hour, Findings: []Finding{}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"window":"1h0m0s"`) || strings.Contains(string(b), "3600000000000") {
		t.Errorf("report JSON %s: want the window as 1h0m0s", b)
	}
	b, err = json.Marshal(Window{Start: at, End: at.Add(time.Hour), Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"start":"2026-03-10T12:00:00Z","end":"2026-03-10T13:00:00Z","step":"1m0s"}`; string(b) != want {
		t.Errorf("window JSON %s, want %s", b, want)
	}
}

// TestJSONRoundTrip: what the API writes, a client reads back unchanged.
func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	in := Report{At: at, Window: 90 * time.Minute, Findings: []Finding{{State: StateIdle, Since: at}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Report
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Window != in.Window || !out.At.Equal(at) || len(out.Findings) != 1 || out.Findings[0].State != StateIdle {
		t.Errorf("round trip %+v, want %+v", out, in)
	}
	w := Window{Start: at, End: at.Add(time.Hour), Step: 2 * time.Minute}
	if b, err = json.Marshal(w); err != nil {
		t.Fatal(err)
	}
	var w2 Window
	if err := json.Unmarshal(b, &w2); err != nil || w2 != w {
		t.Errorf("window round trip %+v (%v), want %+v", w2, err, w)
	}
	if err := json.Unmarshal([]byte(`{"window":"soon"}`), &out); err == nil {
		t.Error("a bad window was accepted")
	}
}
