package query

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// TestRemoteRead passes a backend's data on untouched, keeps its error
// type and message, and never names its address.
func TestRemoteRead(t *testing.T) {
	t.Parallel()
	var srvURL string
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/rules", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("type") != "alert" {
			t.Errorf("rules asked with type=%q", r.FormValue("type"))
		}
		w.Write([]byte(`{"status":"success","data":{"groups":[{"name":"g","limit":0,"rules":[]}]},"warnings":["w"]}`))
	})
	mux.HandleFunc("/api/v1/query_exemplars", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"}`))
	})
	mux.HandleFunc("/api/v1/status/config", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"status":"error","errorType":"internal","error":"store at ` + srvURL + ` failed"}`))
	})
	mux.HandleFunc("/api/v1/status/flags", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html>bad gateway</html>"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	srvURL = srv.URL
	r, err := NewRemote(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := r.Read(t.Context(), EndpointRules, url.Values{"type": {"alert"}})
	if err != nil || string(raw.Data) != `{"groups":[{"name":"g","limit":0,"rules":[]}]}` || len(raw.Warnings) != 1 {
		t.Errorf("rules = %s %v, %v", raw.Data, raw.Warnings, err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tt := range []struct {
		ep   Endpoint
		typ  ErrorType
		text string
	}{
		{EndpointExemplars, ErrBadData, `invalid parameter "query": 1:5: parse error: unclosed left parenthesis`},
		{EndpointConfig, ErrInternal, "store at the query backend failed"},
		{EndpointFlags, ErrUnavailable, "the query backend answered 502 Bad Gateway to /api/v1/status/flags"},
		{EndpointTSDB, ErrNotFound, "the query backend does not serve /api/v1/status/tsdb"},
	} {
		_, err := r.Read(t.Context(), tt.ep, nil)
		if TypeOf(err) != tt.typ || err == nil || err.Error() != tt.text || strings.Contains(err.Error(), host) {
			t.Errorf("%s: %v (%s), want %s %q", tt.ep, err, TypeOf(err), tt.typ, tt.text)
		}
	}
}

// TestRemoteDown says the backend did not answer and why, without its
// address, and keeps the cause for the log and the command line.
func TestRemoteDown(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r, err := NewRemote("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	_, qerr := r.Query(t.Context(), "up", time.Now())
	_, rerr := r.Read(t.Context(), EndpointMetadata, nil)
	for _, err := range []error{qerr, rerr} {
		var ue *url.Error
		var qe *Error
		if TypeOf(err) != ErrUnavailable || err.Error() != "the query backend did not answer: connection refused" ||
			!errors.As(err, &ue) || !errors.As(err, &qe) || qe.Detail == nil || !strings.Contains(qe.Detail.Error(), addr) {
			t.Errorf("backend down: %v (%s)", err, TypeOf(err))
		}
	}
}

// TestEngineExemplars reads exemplars from the embedded store (the
// promqltest storage keeps them) and answers a query that does not parse
// as bad data, as Prometheus does.
func TestEngineExemplars(t *testing.T) {
	e := newEngine(t, load, 1e6)
	st := e.queryable.(storage.Appendable)
	app := st.Appender(t.Context())
	ls := labels.FromStrings("__name__", "vllm:e2e_request_latency_seconds_bucket", "pod", "a", "le", "1")
	ref, err := app.Append(0, ls, 60_000, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.AppendExemplar(ref, ls, exemplar.Exemplar{Labels: labels.FromStrings("trace_id", "abc"), Value: 0.7, Ts: 59_500, HasTs: true}); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := e.Exemplars(t.Context(), `histogram_quantile(0.9, rate(vllm:e2e_request_latency_seconds_bucket{pod="a"}[5m]))`, time.Unix(0, 0), time.Unix(120, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	want := `[{"seriesLabels":{"__name__":"vllm:e2e_request_latency_seconds_bucket","le":"1","pod":"a"},"exemplars":[{"labels":{"trace_id":"abc"},"value":"0.7","timestamp":59.5}]}]`
	if string(b) != want {
		t.Errorf("exemplars:\n got %s\nwant %s", b, want)
	}
	if got, err := e.Exemplars(t.Context(), `vllm:num_requests_running`, time.Unix(0, 0), time.Unix(120, 0)); err != nil || len(got) != 0 {
		t.Errorf("no exemplars: %v, %v", got, err)
	}
	if _, err := e.Exemplars(t.Context(), "sum(", time.Unix(0, 0), time.Unix(1, 0)); TypeOf(err) != ErrBadData || !strings.HasPrefix(err.Error(), `invalid parameter "query": `) {
		t.Errorf("sum( = %v", err)
	}
}

// TestFormatAndTree checks format_query's pretty-printing and parse_query's
// tree against the shapes Prometheus 3 answers.
func TestFormatAndTree(t *testing.T) {
	t.Parallel()
	if s, err := Format(`sum by(job)(rate(up{job="a"}[5m]))`); err != nil || s != `sum by (job) (rate(up{job="a"}[5m]))` {
		t.Errorf("format = %q, %v", s, err)
	}
	if _, err := Format("sum("); TypeOf(err) != ErrBadData || !strings.HasPrefix(err.Error(), `invalid parameter "query": `) {
		t.Errorf("format sum( = %v", err)
	}
	for _, tt := range []struct{ q, want string }{
		{`up`, `{"type":"vectorSelector","name":"up","offset":0,"offsetExpr":null,"matchers":[{"name":"__name__","value":"up","type":"="}],"timestamp":null,"startOrEnd":null,"anchored":false,"smoothed":false}`},
		{`foo[5m] offset 1m`, `{"type":"matrixSelector","name":"foo","range":300000,"rangeExpr":null,"offset":60000,"offsetExpr":null,"matchers":[{"name":"__name__","value":"foo","type":"="}],"timestamp":null,"startOrEnd":null,"anchored":false,"smoothed":false}`},
		{`foo[5m+1m]`, `{"type":"matrixSelector","name":"foo","range":0,"rangeExpr":{"type":"durationExpr","op":"+","lhs":{"type":"numberLiteral","val":"300","duration":true},"rhs":{"type":"numberLiteral","val":"60","duration":true},"wrapped":false},"offset":0,"offsetExpr":null,"matchers":[{"name":"__name__","value":"foo","type":"="}],"timestamp":null,"startOrEnd":null,"anchored":false,"smoothed":false}`},
		{`foo[5m:1m] @ end()`, `{"type":"subquery","expr":{"type":"vectorSelector","name":"foo","offset":0,"offsetExpr":null,"matchers":[{"name":"__name__","value":"foo","type":"="}],"timestamp":null,"startOrEnd":null,"anchored":false,"smoothed":false},"range":300000,"rangeExpr":null,"offset":0,"offsetExpr":null,"step":60000,"stepExpr":null,"timestamp":null,"startOrEnd":"end"}`},
		{`-topk(2, x) > bool on(a) group_left(b) y`, `{"type":"binaryExpr","op":"\u003e","lhs":{"type":"unaryExpr","op":"-","expr":{"type":"aggregation","op":"topk","expr":{"type":"vectorSelector","name":"x","offset":0,"offsetExpr":null,"matchers":[{"name":"__name__","value":"x","type":"="}],"timestamp":null,"startOrEnd":null,"anchored":false,"smoothed":false},"param":{"type":"numberLiteral","val":"2"},"grouping":[],"without":false}},"rhs":{"type":"vectorSelector","name":"y","offset":0,"offsetExpr":null,"matchers":[{"name":"__name__","value":"y","type":"="}],"timestamp":null,"startOrEnd":null,"anchored":false,"smoothed":false},"matching":{"card":"many-to-one","labels":["a"],"on":true,"include":["b"],"fillValues":{"lhs":null,"rhs":null}},"bool":true}`},
		{`label_replace((x), "a", "$1", "b", "(.*)")`, `{"type":"call","func":{"name":"label_replace","argTypes":["vector","string","string","string","string"],"variadic":0,"returnType":"vector"},"args":[{"type":"parenExpr","expr":{"type":"vectorSelector","name":"x","offset":0,"offsetExpr":null,"matchers":[{"name":"__name__","value":"x","type":"="}],"timestamp":null,"startOrEnd":null,"anchored":false,"smoothed":false}},{"type":"stringLiteral","val":"a"},{"type":"stringLiteral","val":"$1"},{"type":"stringLiteral","val":"b"},{"type":"stringLiteral","val":"(.*)"}]}`},
	} {
		tree, err := Tree(tt.q)
		if err != nil {
			t.Errorf("%s: %v", tt.q, err)
			continue
		}
		b, _ := json.Marshal(tree)
		if string(b) != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.q, b, tt.want)
		}
	}
	if _, err := Tree("sum("); TypeOf(err) != ErrBadData {
		t.Errorf("tree sum( = %v", err)
	}
}

// FuzzTree: any query either fails as bad data or gives a tree that
// encodes as JSON, and format_query's output parses, to the same tree
// when the query has no parentheses (the pretty-printer may add or drop
// them).
func FuzzTree(f *testing.F) {
	for _, q := range []string{`up`, `sum by (job) (rate(x[5m] offset 1m))`, `foo[5m+1m:1m] @ start()`, `-a > bool on(b) group_left(c) d`,
		`label_replace(x, "a", "$1", "b", "(.*)")`, `"s"`, `1.5e3`, `(x)`, `sum(`, `x{a=~"b|c"}[1m] @ 100`} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		tree, err := Tree(q)
		if err != nil {
			if TypeOf(err) != ErrBadData {
				t.Fatalf("%q: %v is not bad data", q, err)
			}
			return
		}
		b, err := json.Marshal(tree)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		pretty, err := Format(q)
		if err != nil {
			t.Fatalf("%q parses for the tree but not for format: %v", q, err)
		}
		again, err := Tree(pretty)
		if err != nil {
			t.Fatalf("%q formats as %q, which does not parse: %v", q, pretty, err)
		}
		if b2, _ := json.Marshal(again); string(b2) != string(b) && !strings.Contains(q, "(") {
			t.Errorf("%q and its formatted %q have different trees:\n%s\n%s", q, pretty, b, b2)
		}
	})
}
