package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/proc"
)

const hostile = `<script>alert("x")</script>'"&`

// fakeQuerier answers every query with the same series, labelled with a
// hostile value, and fails the query "bad(".
type fakeQuerier struct {
	end  time.Time
	none bool
}

func (f fakeQuerier) metric() model.Metric {
	return model.Metric{"pod": model.LabelValue(hostile + strings.Repeat("x", 300)), "model_name": hostile, "namespace": "chat", "instance": "i:1",
		"hostname": "node-1", "uuid": "GPU-1", "gpu": "0", "team": hostile, "cluster_queue": "q"}
}

func (f fakeQuerier) Query(_ context.Context, q string, t time.Time) (query.Result, error) {
	if f.none || t.Before(f.end.Add(-24*time.Hour)) { // as QueryRange: no data long before the end
		return query.Result{Value: model.Vector{}}, nil
	}
	return query.Result{Value: model.Vector{&model.Sample{Metric: f.metric(), Value: 0.6, Timestamp: model.TimeFromUnixNano(t.UnixNano())}}}, nil
}

func (f fakeQuerier) QueryRange(_ context.Context, q string, r query.Range) (query.Result, error) {
	if q == "bad(" {
		return query.Result{}, &query.Error{Type: query.ErrBadData, Err: errors.New(`parse error: unexpected end of input`)}
	}
	if f.none || r.End.Before(f.end.Add(-24*time.Hour)) {
		return query.Result{Value: model.Matrix{}}, nil
	}
	s := &model.SampleStream{Metric: f.metric()}
	for t := r.Start; !t.After(r.End); t = t.Add(r.Step) {
		s.Values = append(s.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(t.UnixNano()), Value: model.SampleValue(0.5 + 0.1*float64(t.Unix()%7))})
	}
	return query.Result{Value: model.Matrix{s}}, nil
}

func (fakeQuerier) Series(context.Context, []string, time.Time, time.Time) ([]model.LabelSet, error) {
	return nil, nil
}

func (fakeQuerier) LabelNames(context.Context, []string, time.Time, time.Time) ([]string, error) {
	return nil, nil
}

func (fakeQuerier) LabelValues(context.Context, string, []string, time.Time, time.Time) ([]string, error) {
	return nil, nil
}

type fakeFindings struct{}

func (fakeFindings) Findings(context.Context, time.Time, time.Duration) ([]Finding, error) {
	return []Finding{{Subject: hostile, State: "idle", Severity: "warning", Confidence: 0.9, Summary: hostile,
		Evidence: []Evidence{{Signal: "gpu_busy_ratio", Value: "2%", Query: `x{a="<b>"}`}}}}, nil
}

type fakeCosts struct{}

func (fakeCosts) TeamCosts(context.Context, time.Time, time.Duration) ([]TeamCost, error) {
	return []TeamCost{{Team: hostile, Reserved: 10, Allocated: 8, Used: 5, Idle: 3, Cost: "24.00 USD"}}, nil
}

func newTest(t *testing.T, q query.Querier, f Findings) (*httptest.Server, time.Time) {
	t.Helper()
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	opts := Options{Querier: q, Catalog: cat, Findings: f, Now: func() time.Time { return now }}
	if f != nil {
		opts.Costs = fakeCosts{}
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, now
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	return proc.Get(t, u)
}

func TestPagesEscapeHostileLabels(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	srv, _ := newTest(t, fakeQuerier{end: now}, fakeFindings{})
	for _, p := range []string{"/", "/serving", "/gpus", "/queues", "/findings", "/query?q=up"} {
		t.Run(p, func(t *testing.T) {
			code, body := get(t, srv.URL+p)
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			if strings.Contains(body, "<script>alert") || strings.Contains(body, `alert("x")`) {
				t.Error("hostile label value written unescaped")
			}
			if !strings.Contains(body, "&lt;script&gt;alert(") {
				t.Error("hostile label value not shown as text")
			}
			if strings.Contains(body, `data-state="error"`) {
				t.Errorf("a panel failed: %s", body)
			}
		})
	}
}

func TestQueryErrorAndNoData(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	srv, _ := newTest(t, fakeQuerier{end: now}, nil)
	_, body := get(t, srv.URL+"/query?"+url.Values{"q": {"bad("}}.Encode())
	if !strings.Contains(body, `data-error>parse error: unexpected end of input`) || !strings.Contains(body, `<textarea name="q"`) {
		t.Errorf("malformed query: want the engine's error beside the form:\n%s", body)
	}
	_, body = get(t, srv.URL+"/serving?end=2020-01-01T00:00:00Z")
	if !strings.Contains(body, "no data in range") || strings.Contains(body, `data-state="ok"`) {
		t.Errorf("range outside the data: want \"no data in range\" on every panel")
	}
	_, body = get(t, srv.URL+"/findings")
	if !strings.Contains(body, `data-state="unavailable"`) || !strings.Contains(body, "diagnosis: not available") {
		t.Errorf("nil Findings: want \"not available\":\n%s", body)
	}
}

func TestStateRoundTrip(t *testing.T) {
	for _, raw := range []string{
		"",
		"range=3h&refresh=30s",
		"end=2026-03-02T11%3A00%3A00Z&model=Llama&pod=p-1&range=2d",
		"model=%3Cscript%3E&pod=%22q%22",
	} {
		v, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatal(err)
		}
		st, notes := parseState(v)
		if len(notes) > 0 {
			t.Errorf("%q: notes %v", raw, notes)
		}
		back, _ := parseState(st.values())
		if back.Range != st.Range || !back.End.Equal(st.End) || back.Refresh != st.Refresh || back.Model != st.Model || back.Pod != st.Pod {
			t.Errorf("%q: round trip %+v, want %+v", raw, back, st)
		}
		if got := st.values().Encode(); got != v.Encode() {
			t.Errorf("%q: encoded %q", raw, got)
		}
	}
	st, notes := parseState(url.Values{"range": {"-1h"}, "refresh": {"1ms"}, "end": {"yesterday"}})
	if len(notes) != 3 || st.Range != defaultRange || st.Refresh != 0 || !st.End.IsZero() {
		t.Errorf("bad values: %+v %v", st, notes)
	}
}

func TestUnknownPathAndAssets(t *testing.T) {
	srv, _ := newTest(t, fakeQuerier{none: true}, nil)
	if code, _ := get(t, srv.URL+"/nope"); code != http.StatusNotFound {
		t.Errorf("/nope: %d", code)
	}
	for _, p := range []string{"/static/app.js", "/static/style.css"} {
		if code, _ := get(t, srv.URL+p); code != 200 {
			t.Errorf("%s: %d", p, code)
		}
	}
}
