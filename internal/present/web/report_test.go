package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/health"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/counts"
	"github.com/servescope/servescope/internal/testutil/golden"
)

// reportHostile is a label value a hostile target could report: markup,
// both quotes, Markdown table and code syntax, a link, and length.
var reportHostile = `<script>alert(1)</script> "dq" 'sq' |pipe| ` + "`tick`" + ` *star* [link](http://evil.example/x) ` + strings.Repeat("x", 200)

// reportSeries is two hours of one node with three H100s: GPU-0 held by
// chat/llama-0, busy and memory-bound, serving with a growing KV cache and
// a queue; GPU-1 held by a pod with a hostile name, idle; GPU-2 held by
// no pod. HOSTILE is replaced by the quoted hostile value.
const reportSeries = `load 1m
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="n1",UUID="GPU-0",gpu="0",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="llama-0",container="vllm"} 0.85+0.001x120
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="n1",UUID="GPU-1",gpu="1",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod=HOSTILE,container="vllm"} 0.02x120
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="n1",UUID="GPU-2",gpu="2",modelName="NVIDIA H100 80GB HBM3"} 0x120
  DCGM_FI_PROF_DRAM_ACTIVE{Hostname="n1",UUID="GPU-0",gpu="0",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="llama-0",container="vllm"} 0.6x120
  DCGM_FI_PROF_DRAM_ACTIVE{Hostname="n1",UUID="GPU-1",gpu="1",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod=HOSTILE,container="vllm"} 0.01x120
  DCGM_FI_PROF_DRAM_ACTIVE{Hostname="n1",UUID="GPU-2",gpu="2",modelName="NVIDIA H100 80GB HBM3"} 0x120
  vllm:num_requests_running{namespace="chat",pod="llama-0",instance="10.0.0.1:8000",model_name="llama-8b"} 8+0.1x120
  vllm:num_requests_waiting{namespace="chat",pod="llama-0",instance="10.0.0.1:8000",model_name="llama-8b"} 0+0.05x120
  vllm:generation_tokens_total{namespace="chat",pod="llama-0",instance="10.0.0.1:8000",model_name="llama-8b"} 0+6000x120
  vllm:kv_cache_usage_perc{namespace="chat",pod="llama-0",instance="10.0.0.1:8000",model_name="llama-8b"} 0.5+0.004x120
  vllm:time_to_first_token_seconds_bucket{namespace="chat",pod="llama-0",instance="10.0.0.1:8000",model_name="llama-8b",le="0.1"} 0+50x120
  vllm:time_to_first_token_seconds_bucket{namespace="chat",pod="llama-0",instance="10.0.0.1:8000",model_name="llama-8b",le="0.5"} 0+80x120
  vllm:time_to_first_token_seconds_bucket{namespace="chat",pod="llama-0",instance="10.0.0.1:8000",model_name="llama-8b",le="1"} 0+100x120
  vllm:time_to_first_token_seconds_bucket{namespace="chat",pod="llama-0",instance="10.0.0.1:8000",model_name="llama-8b",le="+Inf"} 0+100x120
  vllm:time_to_first_token_seconds_count{namespace="chat",pod="llama-0",instance="10.0.0.1:8000",model_name="llama-8b"} 0+100x120
  vllm:num_requests_running{namespace="chat",pod=HOSTILE,instance="10.0.0.2:8000",model_name="llama-8b"} 0x120
  vllm:num_requests_waiting{namespace="chat",pod=HOSTILE,instance="10.0.0.2:8000",model_name="llama-8b"} 0x120
  vllm:kv_cache_usage_perc{namespace="chat",pod=HOSTILE,instance="10.0.0.2:8000",model_name="llama-8b"} 0x120
  llm_d_epp_flow_control_queue_size{namespace="chat",pod="chat-epp-0",instance="10.0.1.1:9090",fairness_id="tenant-a",priority="0",inference_pool="chat-pool",model_name="llama",target_model_name="llama-8b"} 0+0.1x120
  llm_d_epp_flow_control_queue_size{namespace="chat",pod="chat-epp-0",instance="10.0.1.1:9090",fairness_id="tenant-b",priority="0",inference_pool="chat-pool",model_name="llama",target_model_name="llama-8b"} 3x120
`

// reportEnd is the end of reportSeries.
var reportEnd = time.Unix(0, 0).UTC().Add(2 * time.Hour)

// reportSources are fakes of the diagnosis, cost and fleet summary that
// carry the hostile value, and say nothing outside reportSeries' span.
type reportFakes struct{}

func inData(now time.Time) bool { return now.Equal(reportEnd) }

func (reportFakes) Findings(_ context.Context, now time.Time, _ time.Duration) ([]Finding, error) {
	if !inData(now) {
		return nil, nil
	}
	return []Finding{
		{Subject: "chat/llama-0", State: "healthy", Severity: "info", Confidence: 1, Summary: "serving"},
		{Subject: "n1/GPU-2", State: "idle", Severity: "info", Confidence: 0.9, Since: reportEnd.Add(-2 * time.Hour),
			Summary: "- held by no pod", Action: "Release or schedule onto it."},
		{Subject: "chat/" + reportHostile, State: "idle", Severity: "warning", Confidence: 0.95, Since: reportEnd.Add(-90 * time.Minute),
			Summary: "GPU 2% busy: " + reportHostile, Action: "Scale " + reportHostile + " to zero.",
			Evidence: []Evidence{{Signal: "gpu_busy_ratio", Value: "0.02 (mean)", Query: "avg_over_time(x{pod=\"" + reportHostile + "\"}[5m])"}}},
		{Subject: "chat/llama-0", State: "memory_bound", Severity: "warning", Confidence: 0.8,
			Summary: "memory-bound at small batches", Action: "Raise max-num-seqs.",
			Evidence: []Evidence{{Signal: "gpu_memory_bandwidth_ratio", Value: "0.6 (mean)", Query: "DCGM_FI_PROF_DRAM_ACTIVE"}}},
	}, nil
}

func (reportFakes) TeamCosts(_ context.Context, now time.Time, _ time.Duration) ([]TeamCost, error) {
	if !inData(now) {
		return nil, nil
	}
	return []TeamCost{
		{Team: reportHostile, Reserved: 6, Allocated: 4, Used: 1.74, Unused: 2.26, Idle: 0, Cost: "12.00 USD", UnusedCost: "6.78 USD", IdleCost: "0.00 USD", EnergyKWh: 1.44, EmissionsKgCO2e: 0.55},
		{Team: "__idle__", Reserved: 0, Allocated: 0, Used: 0, Idle: 2, Cost: "0.00 USD", UnusedCost: "0.00 USD", IdleCost: "6.00 USD", EnergyKWh: 0.31, EmissionsKgCO2e: 0.12},
	}, nil
}

func (reportFakes) QueueRows(_ context.Context, now time.Time, _ time.Duration) ([]QueueRow, error) {
	if !inData(now) {
		return nil, nil
	}
	return []QueueRow{
		{Queue: "queue/" + reportHostile, Cohort: "research", Teams: reportHostile, State: "stranded_quota", WaitP50: "4m0s", WaitP95: "10m24s",
			UntilReadyP95: "not reported", PendingGPUs: "8", Idle: "h100 0", CohortIdle: "h100 6", Unadmitted: "NoReservation/WaitingForQuota: 4",
			Borrowed: "0", Lent: "0"},
		{Queue: "queue/vision", Cohort: "research", State: "healthy", WaitP50: "not reported", WaitP95: "not reported",
			UntilReadyP95: "not reported", PendingGPUs: "0", Idle: "h100 6", CohortIdle: "h100 0", Unadmitted: "none", Borrowed: "0", Lent: "0"},
	}, nil
}

func (reportFakes) Fleet(_ context.Context, now time.Time, _ time.Duration) (*FleetSummary, error) {
	if !inData(now) {
		return &FleetSummary{}, nil
	}
	m := &fleet.Model{Currency: "USD", GPUs: cost.ModelGPUs{PhysicalGPUs: 3, MIGGPUs: 1, MIGSlices: 2, GPUEquivalents: 2 + 6.0/7},
		Hours: fleet.Quantities{Allocatable: 6, Reserved: 6, Allocated: 4, Used: 1.74, Idle: 2, Unused: 2.26},
		Money: fleet.MoneyQuantities{Allocatable: 18_000_000, Reserved: 18_000_000, Allocated: 12_000_000, Used: 5_220_000, Idle: 6_000_000, Unused: 6_780_000},
		Busy:  0.435, SavingsPer10Points: 2_250_000}
	f := func(v float64) *float64 { return &v }
	mc := func(v cost.Micros) *cost.Micros { return &v }
	llama := cost.TokenCost{Name: "llama-8b / NVIDIA H100 80GB HBM3", AllocatedGPUHours: 2, Cost: 6_000_000, PromptTokens: f(7.2e6), ComputedPromptTokens: f(4.32e6),
		CachedPromptTokens: f(2.88e6), GenerationTokens: f(1.8e6), CostPerMillionTokens: mc(666_667), UsedCostPerMillionTokens: mc(306_667),
		CostPerMillionGeneration: mc(3_333_333), ReferencePerMillionTokens: mc(280_000)}
	// A hostile model name, its engine exporting no token counter: not
	// reported, never 0.
	hostile := cost.TokenCost{Name: reportHostile + " / NVIDIA A100-SXM4-80GB", AllocatedGPUHours: 2, Cost: 3_600_000, PodsWithoutTokens: 1}
	m.TokenCost = &cost.TokenCosts{ByModelGPU: []cost.TokenCost{llama, hostile}, Totals: cost.TokenCost{Name: "__total__", AllocatedGPUHours: 4, Cost: 9_600_000,
		PromptTokens: f(7.2e6), GenerationTokens: f(1.8e6), CostPerMillionTokens: mc(666_667), UsedCostPerMillionTokens: mc(306_667), PodsWithoutTokens: 1}}
	return &FleetSummary{Model: m, MeanBusy: 0.435, LowBusy: 0.3, HighBusy: 0.7, BelowLow: 2.0 / 3, AboveHigh: 1.0 / 3,
		Capacity: []Capacity{
			{Model: "llama-8b", GPU: "NVIDIA H100 80GB HBM3 GPU", Held: 2, PeakDemand: 0.99, MeanBusy: 0.46, Needed: 2, Advice: "none: demand is met"},
			{Model: reportHostile, GPU: "NVIDIA A100-SXM4-80GB MIG slice", Held: 1, PeakDemand: 1, MeanBusy: 1, Needed: 2, Saturated: true, Advice: "add at least 1 × NVIDIA A100-SXM4-80GB MIG slice"},
		},
		Unusable: []health.Unusable{{Hostname: "node-2", UUID: "GPU-9", Namespace: "chat", Pod: reportHostile, XIDs: []int{48, 79},
			Reasons: []string{"HBM row remapping failed (gpu_row_remap_failure 1)", "XIDs repeat (3 within the exporter's 5m0s window)"}, Since: now.Add(-10 * time.Minute)}},
	}, nil
}

func newReportHandler(t *testing.T) *Handler {
	t.Helper()
	return newReportHandlerWith(t, reportFakes{})
}

// newReportHandlerWith is newReportHandler with another diagnosis.
func newReportHandlerWith(t *testing.T, findings Findings) *Handler {
	t.Helper()
	st := promqltest.LoadedStorage(t, strings.ReplaceAll(reportSeries, "HOSTILE", strconv.Quote(reportHostile)))
	eng := query.NewEngine(st, query.EngineOptions{Timeout: time.Minute, MaxSamples: 1e7, Registerer: prometheus.NewRegistry()})
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Querier: eng, Catalog: cat, Findings: findings, Costs: reportFakes{}, Fleet: reportFakes{}, Queues: reportFakes{},
		Objectives: evalObjectives{q: eng, cat: cat, set: reportObjectives}, Now: func() time.Time { return reportEnd }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// reportPanels is how many panels a report has.
const reportPanels = 18

// reportOptionalPanels are the report's panels left out without data (the
// inference gateways').
const reportOptionalPanels = 2

func TestReport(t *testing.T) {
	t.Parallel()
	h := newReportHandler(t)
	tests := []struct {
		name   string
		format string
		end    time.Time
		golden string
	}{
		{"html", FormatHTML, time.Time{}, "report.html.golden"},
		{"md", FormatMarkdown, reportEnd, "report.md.golden"},
		// Past the latency objectives' 28-day window too, whose budget
		// still counts a day-old history.
		{"html no data", FormatHTML, reportEnd.Add(30 * 24 * time.Hour), ""},
		{"md no data", FormatMarkdown, reportEnd.Add(30 * 24 * time.Hour), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := h.Report(t.Context(), &buf, ReportOptions{Window: 2 * time.Hour, End: tc.end, Format: tc.format, Source: "http://servescope:9464"}); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			checkSelfContained(t, tc.format, out)
			if tc.golden == "" {
				if n := strings.Count(out, "no data in range"); n != reportPanels-reportOptionalPanels {
					t.Errorf("outside the data: %d panels say \"no data in range\", want %d:\n%s", n, reportPanels-reportOptionalPanels, out)
				}
				if strings.Contains(out, `data-state="ok"`) || strings.Contains(out, "data:image") {
					t.Error("outside the data: a panel has data")
				}
				return
			}
			if strings.Contains(out, `data-state="nodata"`) || strings.Contains(out, `data-state="error"`) || strings.Contains(out, "no data in range") {
				t.Errorf("a panel has no data or failed:\n%s", out)
			}
			checkHostile(t, tc.format, out)
			golden.Compare(t, filepath.Join("testdata", tc.golden), []byte(readable(t, out)))
		})
	}
}

func TestReportOptions(t *testing.T) {
	t.Parallel()
	h := newReportHandler(t)
	for _, o := range []ReportOptions{{Window: 0, Format: FormatHTML}, {Window: time.Hour, Format: "pdf"}} {
		if err := h.Report(t.Context(), io.Discard, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	// A backend failing every query makes an error, not a report of errors.
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	down, err := New(Options{Querier: downQuerier{}, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	if err := down.Report(t.Context(), io.Discard, ReportOptions{Window: time.Hour, Format: FormatHTML}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("backend down: %v", err)
	}
	if err := h.Report(t.Context(), failingWriter{}, ReportOptions{Window: time.Hour, Format: FormatMarkdown}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("write error: %v", err)
	}
}

// downQuerier fails every query, as an unreachable backend does.
type downQuerier struct{ query.Querier }

func (downQuerier) Query(context.Context, string, time.Time) (query.Result, error) {
	return query.Result{}, errors.New("connection refused")
}

func (downQuerier) QueryRange(context.Context, string, query.Range) (query.Result, error) {
	return query.Result{}, errors.New("connection refused")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// checkHostile fails when the hostile value became markup or a link, or
// is not shown as text.
func checkHostile(t *testing.T, format, out string) {
	t.Helper()
	want := []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}
	if format == FormatMarkdown {
		out = withoutCodeSpans(out)
		want = append(want, `\|pipe\|`, "\\`tick\\`", `\*star\*`, `\[link\](http\://evil.example/x)`)
	} else {
		want = append(want, `&#34;dq&#34; &#39;sq&#39; |pipe|`)
	}
	for _, bad := range []string{"<script>", "alert(1)</script>", "<http"} {
		if strings.Contains(out, bad) {
			t.Errorf("hostile label written unescaped: %q", bad)
		}
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("hostile label not shown as escaped text %q", w)
		}
	}
}

// withoutCodeSpans cuts CommonMark code spans out of Markdown: a run of
// backticks not escaped by a backslash, to the next run of the same length.
func withoutCodeSpans(md string) string {
	var b strings.Builder
	for i := 0; i < len(md); {
		switch {
		case md[i] == '\\' && i+1 < len(md):
			b.WriteString(md[i : i+2])
			i += 2
		case md[i] == '`':
			n := len(md[i:]) - len(strings.TrimLeft(md[i:], "`"))
			fence := md[i : i+n]
			j := i + n
			for {
				k := strings.Index(md[j:], fence)
				if k < 0 {
					b.WriteString(fence) // no closing run: literal backticks
					i += n
					break
				}
				after := j + k + n
				if (after >= len(md) || md[after] != '`') && md[j+k-1] != '`' {
					b.WriteString("(code)")
					i = after
					break
				}
				j += k + n
			}
		default:
			b.WriteByte(md[i])
			i++
		}
	}
	return b.String()
}

var (
	reference = regexp.MustCompile(`(?i)\b(src|href|xlink:href|action|srcset|poster|data)\s*=\s*["']?([^"'\s>]*)`)
	mdLink    = regexp.MustCompile(`(?:^|[^\\])\]\(([^)\s]*)`)
	dataImage = regexp.MustCompile(`data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)`)
)

// checkSelfContained fails on anything that would load from outside the
// document: a script, a stylesheet link, an import, a URL other than an
// in-page anchor or a data: image; every embedded SVG must be well-formed
// XML.
func checkSelfContained(t *testing.T, format, out string) {
	t.Helper()
	text := out
	if format == FormatMarkdown {
		text = withoutCodeSpans(out) // literal: rendered as text
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			if !strings.HasPrefix(m[1], "#") && !strings.HasPrefix(m[1], "data:image/svg+xml;base64,") {
				t.Errorf("md report links to %q", m[1])
			}
		}
	}
	for _, bad := range []string{"<script", "<link", "@import", "url(", "<iframe", "<object", "<embed"} {
		if strings.Contains(strings.ToLower(text), bad) {
			t.Errorf("%s report contains %q", format, bad)
		}
	}
	for _, m := range reference.FindAllStringSubmatch(text, -1) {
		if !strings.HasPrefix(m[2], "#") {
			t.Errorf("%s report references %s=%q", format, m[1], m[2])
		}
	}
	if format != FormatMarkdown {
		if strings.Contains(out, "http://www.w3.org") || strings.Contains(out, "data:") {
			t.Errorf("html report: want inline SVG, no namespaces or data: URLs")
		}
		return
	}
	for _, m := range dataImage.FindAllStringSubmatch(out, -1) {
		svg, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			t.Fatalf("embedded image: %v", err)
		}
		if err := wellFormed(svg); err != nil {
			t.Errorf("embedded SVG: %v\n%s", err, svg)
		}
		if strings.Contains(string(svg), "<script") || reference.MatchString(string(svg)) {
			t.Errorf("embedded SVG has a script or a reference:\n%s", svg)
		}
	}
}

func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := d.Token(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// readable makes a report diffable: the embedded stylesheet (golden in
// static/) is cut, and each data: image is replaced by a name, its SVG
// appended in full.
func readable(t *testing.T, out string) string {
	t.Helper()
	css, err := fs.ReadFile(assets, "static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	out = strings.Replace(out, string(css), "/* static/style.css */\n", 1)
	var svgs []string
	out = dataImage.ReplaceAllStringFunc(out, func(s string) string {
		b, err := base64.StdEncoding.DecodeString(dataImage.FindStringSubmatch(s)[1])
		if err != nil {
			t.Fatal(err)
		}
		svgs = append(svgs, string(b))
		return fmt.Sprintf("data:image/svg+xml;base64,(svg %d)", len(svgs))
	})
	for i, s := range svgs {
		out += fmt.Sprintf("\n==== svg %d ====\n%s\n", i+1, s)
	}
	return out
}

func TestMarkdownEscaping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fn       func(string) string
		in, want string
	}{
		{mdText, "a|b", `a\|b`},
		{mdText, "<b>&amp;", "&lt;b&gt;&amp;amp;"},
		{mdText, "`x` *y* _z_ [l](u) ~s~ #h \\", "\\`x\\` \\*y\\* \\_z\\_ \\[l\\](u) \\~s\\~ \\#h \\\\"},
		{mdText, "two\nlines", "two lines"},
		{mdText, "see https://x.example", `see https\://x.example`},
		{mdLine, "- item", `\- item`},
		{mdLine, "12. item", `12\. item`},
		{mdLine, "> quote", "&gt; quote"},
		{mdLine, "plain 1. text", "plain 1. text"},
		{mdCode, "rate(x[5m])", "`rate(x[5m])`"},
		{mdCode, "a ``b`` c", "```a ``b`` c```"},
		{mdCode, "`x`", "`` `x` ``"},
		{mdCode, "a\n  b", "`a b`"},
		{slug, "Are the GPUs used?", "are-the-gpus-used"},
	}
	for _, tc := range tests {
		if got := tc.fn(tc.in); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// failingFindings is a diagnosis that fails, as one over a window too long
// for the backend did.
type failingFindings struct{}

func (failingFindings) Findings(context.Context, time.Time, time.Duration) ([]Finding, error) {
	return nil, errors.New("exceeded maximum resolution of 11,000 points per timeseries")
}

// TestReportPartial: one failing part fails the report and writes
// nothing; with AllowPartial the document says it is partial, in a banner
// naming the failed panels, in both formats.
func TestReportPartial(t *testing.T) {
	t.Parallel()
	h := newReportHandlerWith(t, failingFindings{})
	for _, format := range []string{FormatHTML, FormatMarkdown} {
		var buf strings.Builder
		err := h.Report(t.Context(), &buf, ReportOptions{Window: time.Hour, Format: format})
		if err == nil || !strings.Contains(err.Error(), "11,000 points") || buf.Len() > 0 {
			t.Errorf("%s: a failing part: err %v, %d bytes written; want an error naming it and nothing written", format, err, buf.Len())
		}
		buf.Reset()
		if err := h.Report(t.Context(), &buf, ReportOptions{Window: time.Hour, Format: format, AllowPartial: true}); err != nil {
			t.Fatalf("%s: allow partial: %v", format, err)
		}
		out := buf.String()
		if !strings.Contains(out, "Partial report") || !strings.Contains(out, "Top findings: diagnosis: exceeded maximum resolution") {
			t.Errorf("%s: no partial banner naming the failed panel:\n%s", format, out[:min(len(out), 3000)])
		}
	}
	// A complete report has no banner.
	var buf strings.Builder
	if err := newReportHandler(t).Report(t.Context(), &buf, ReportOptions{Window: time.Hour, Format: FormatMarkdown, AllowPartial: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "Partial report") {
		t.Error("a complete report says it is partial")
	}
}

// TestReportProgress: the report says after each panel how many of its
// panels are read, one call per panel, counting up to every panel, and
// the document is the same as without a progress callback.
func TestReportProgress(t *testing.T) {
	t.Parallel()
	h := newReportHandler(t)
	var plain bytes.Buffer
	if err := h.Report(t.Context(), &plain, ReportOptions{Window: 2 * time.Hour, End: reportEnd, Format: FormatMarkdown}); err != nil {
		t.Fatal(err)
	}
	var (
		buf bytes.Buffer
		rec counts.Recorder
	)
	o := ReportOptions{Window: 2 * time.Hour, End: reportEnd, Format: FormatMarkdown, Progress: rec.Record}
	if err := h.Report(t.Context(), &buf, o); err != nil {
		t.Fatal(err)
	}
	if total := rec.CheckComplete(t, reportPanels); total != reportPanels {
		t.Errorf("total %d, want every panel (%d)", total, reportPanels)
	}
	if buf.String() != plain.String() {
		t.Error("the report differs with a progress callback")
	}
}
