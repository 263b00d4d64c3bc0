package scrape

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/servescope/servescope/internal/collect/parse"
	"github.com/servescope/servescope/internal/schema"
)

// benchBodies are one vLLM and one dcgm-exporter body: the simulator's when
// SERVESCOPE_BENCH_BODIES names a directory holding vllm.prom and
// dcgm.prom (curl two targets of `servescope sim serve`), else the real
// samples under ../shared/samples.
func benchBodies(b *testing.B) [][]byte {
	b.Helper()
	files := []string{"../../../../shared/samples/dynamo-vllm-worker-2026-01-metrics_examples-vllm-ai-dynamo.prom", "../../../../shared/samples/dcgm-nvidia-aicr-h100.prom"}
	if dir := os.Getenv("SERVESCOPE_BENCH_BODIES"); dir != "" {
		files = []string{filepath.Join(dir, "vllm.prom"), filepath.Join(dir, "dcgm.prom")}
	}
	var out [][]byte
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			b.Skipf("no bodies to measure: %v", err)
		}
		out = append(out, body)
	}
	return out
}

// scrapeParse parses body as the scrape loop does after a few scrapes (the
// NHCB parser, the keep decided once per series and cached by the series'
// text) and returns the samples kept.
func scrapeParse(b *testing.B, body []byte, keep *relabel.Config, dropped map[string]bool) int {
	p, err := textparse.New(body, parse.TextContentType, labels.NewSymbolTable(), textparse.ParserOptions{ConvertClassicHistogramsToNHCB: true})
	if err != nil {
		b.Fatal(err)
	}
	var lset labels.Labels
	kept := 0
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			return kept
		}
		if err != nil {
			b.Fatal(err)
		}
		if e != textparse.EntrySeries && e != textparse.EntryHistogram {
			continue
		}
		series := string(append([]byte(nil), func() []byte {
			if e == textparse.EntryHistogram {
				s, _, _, _ := p.Histogram()
				return s
			}
			s, _, _ := p.Series()
			return s
		}()...))
		drop, ok := dropped[series]
		if !ok {
			p.Labels(&lset)
			drop = !relabel.ProcessBuilder(labels.NewBuilder(lset), keep)
			dropped[series] = drop
		}
		if !drop {
			kept++
		}
	}
}

// BenchmarkScrapeFilter: the CPU of one scrape of a vLLM and a dcgm body,
// parsed whole with the keep after the parser (parse), and through the
// pre-filter first (filter+parse).
func BenchmarkScrapeFilter(b *testing.B) {
	bodies := benchBodies(b)
	cat, err := schema.New(schema.Options{})
	if err != nil {
		b.Fatal(err)
	}
	keep, err := keepRule(cat.Reads(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, body := range bodies {
		size += len(body)
	}
	b.Run("parse", func(b *testing.B) {
		caches := []map[string]bool{{}, {}}
		b.SetBytes(int64(size))
		for b.Loop() {
			for i, body := range bodies {
				scrapeParse(b, body, keep, caches[i])
			}
		}
	})
	b.Run("filter+parse", func(b *testing.B) {
		caches := []map[string]bool{{}, {}}
		filters := []*lineFilter{newLineFilter(newNameDecisions(func(n string) bool { return keepsName(keep.Regex, n) })), newLineFilter(newNameDecisions(func(n string) bool { return keepsName(keep.Regex, n) }))}
		var buf bytes.Buffer
		b.SetBytes(int64(size))
		for b.Loop() {
			for i, body := range bodies {
				buf.Reset()
				if _, err := filters[i].copy(&buf, bytes.NewReader(body), 0); err != nil {
					b.Fatal(err)
				}
				scrapeParse(b, buf.Bytes(), keep, caches[i])
			}
		}
	})
	b.Run("filter", func(b *testing.B) {
		filters := []*lineFilter{newLineFilter(newNameDecisions(func(n string) bool { return keepsName(keep.Regex, n) })), newLineFilter(newNameDecisions(func(n string) bool { return keepsName(keep.Regex, n) }))}
		var buf bytes.Buffer
		b.SetBytes(int64(size))
		for b.Loop() {
			for i, body := range bodies {
				buf.Reset()
				if _, err := filters[i].copy(&buf, bytes.NewReader(body), 0); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkScrapeFilterHTTP: one scrape of the vLLM and the dcgm body over
// loopback HTTP as Prometheus's client makes it, read and parsed with the
// keep after the parser: straight from the targets (direct), and through
// the filter proxy as the scrape manager reaches it (proxy: its conn
// answers in the client's goroutines, conn.go).
func BenchmarkScrapeFilterHTTP(b *testing.B) {
	bodies := benchBodies(b)
	cat, err := schema.New(schema.Options{})
	if err != nil {
		b.Fatal(err)
	}
	keep, err := keepRule(cat.Reads(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	var urls []string
	for _, body := range bodies {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", parse.TextContentType)
			_, _ = w.Write(body)
		}))
		b.Cleanup(srv.Close)
		urls = append(urls, srv.URL+"/metrics")
	}
	p := newFilterProxy(slog.New(slog.DiscardHandler))
	go p.serve()
	b.Cleanup(func() { _ = p.close() })
	p.setJobs(map[string]*jobFilter{"j": {keep: newNameDecisions(func(n string) bool { return keepsName(keep.Regex, n) }), nhcb: true}}, keep.Regex.String())
	for _, tc := range []struct {
		name  string
		proxy func(*http.Request) (*url.URL, error)
	}{{"direct", nil}, {"proxy", http.ProxyURL(p.proxyURL("j"))}} {
		b.Run(tc.name, func(b *testing.B) {
			// The scrape manager's transport (prometheus/common's) with
			// the filter's dial function.
			c := &http.Client{Transport: &http.Transport{Proxy: tc.proxy, DisableCompression: true, DialContext: p.dialContext, MaxIdleConnsPerHost: 1000}}
			caches := []map[string]bool{{}, {}}
			var buf bytes.Buffer
			cpu0 := processCPU(b)
			for b.Loop() {
				for i, u := range urls {
					resp, err := c.Get(u)
					if err != nil {
						b.Fatal(err)
					}
					buf.Reset()
					_, err = buf.ReadFrom(resp.Body)
					_ = resp.Body.Close()
					if err != nil {
						b.Fatal(err)
					}
					scrapeParse(b, buf.Bytes(), keep, caches[i])
				}
			}
			// The process's CPU (client, proxy and targets), not the
			// wall time: the machine is shared.
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the CPU time the process used so far, in nanoseconds.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
