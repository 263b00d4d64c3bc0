// Package web serves servescope's dashboard: HTML pages (Fleet, Serving,
// GPUs, Queues & teams, Findings, Query) rendered on the server with
// html/template, charts drawn as server-side SVG, and a small embedded
// script for auto-refresh and the theme. Every asset is embedded; the pages
// need no network beyond the server itself.
//
// The same panels make the report (report.go): one self-contained HTML or
// Markdown document over a window, answering the four questions.
//
// Pages read through a query.Querier and take every PromQL from the signal
// catalog; series are filtered and joined in Go, so no query text is ever
// assembled from strings. Findings and costs come through interfaces this
// package declares, and show "not available" when absent.
//
// It must not import the store, the collectors or the simulator.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/servescope/servescope/internal/analyze/cluster"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Finding is one diagnosis as the dashboard shows it.
type Finding struct {
	Subject    string
	State      string
	Severity   string
	Confidence float64
	Since      time.Time
	Summary    string
	Action     string
	Evidence   []Evidence
	// Count is how many identical findings (pods of one deployment) the
	// line stands for; GPUHours the GPU-hours at stake over them.
	Count    int
	GPUHours float64
}

// Evidence is one signal value behind a finding and the query producing it.
type Evidence struct {
	Signal string
	Value  string
	Query  string
}

// Findings supplies the diagnosis over the window ending at now.
type Findings interface {
	Findings(ctx context.Context, now time.Time, window time.Duration) ([]Finding, error)
}

// TeamCost is one team's GPU-hours and money over a window, in the
// glossary's words.
type TeamCost struct {
	Team                                    string
	Reserved, Allocated, Used, Unused, Idle float64 // GPU-hours
	// Cost is the allocated hours' money; all formatted with the currency,
	// "" when unpriced.
	Cost, UnusedCost, IdleCost string
	// EnergyKWh is the energy of the GPUs the team's pods held (the idle
	// row: of GPUs no pod held); EmissionsKgCO2e its emissions, 0 without
	// a configured carbon intensity.
	EnergyKWh, EmissionsKgCO2e float64
}

// Costs supplies the cost attribution over the window ending at now.
type Costs interface {
	TeamCosts(ctx context.Context, now time.Time, window time.Duration) ([]TeamCost, error)
}

// Live is implemented by diagnosis sources that keep recent evaluations.
// AsOf returns the time at which a page following the clock reads the
// diagnosis of the window ending at now: a kept evaluation at most a few
// minutes old (re-evaluated in the background), or now when none is kept.
type Live interface {
	AsOf(ctx context.Context, now time.Time, window time.Duration) time.Time
}

// Options configure the dashboard.
type Options struct {
	// Querier is what every panel reads through.
	Querier query.Querier
	// Catalog gives every panel's query.
	Catalog *schema.Catalog
	// Recorded selects servescope's recorded series instead of the full
	// catalog queries (the backend evaluates servescope's rules over all
	// the history shown).
	Recorded bool
	// Findings and Costs may be nil: their panels then say "not available".
	Findings Findings
	Costs    Costs
	// Queues supplies the Kueue queue view; nil makes its panel say "not
	// available".
	Queues Queues
	// Fleet supplies the report's utilisation summary and capacity advice;
	// nil makes those panels say "not available".
	Fleet Fleet
	// Live, if set, lets a page following the clock (no end= in its URL)
	// read the Findings, Costs, Queues and Fleet of a kept evaluation
	// (Live.AsOf); the panels then say as of when. Nil evaluates them at
	// every page's end.
	Live Live
	// Objectives supplies the latency objectives' budgets and burn rates;
	// nil makes their panel say "not available".
	Objectives Objectives
	// Regions are the GPU quadrant's thresholds; zero means DefaultRegions.
	Regions Regions
	// ForCluster, if set, returns the options of the dashboard of one
	// cluster (every source reading that cluster's series only): the
	// cluster= URL state. Nil leaves the cluster picker out.
	ForCluster func(name string) (Options, error)
	// ClusterLabel names the cluster label the picker lists the values of
	// (default cluster).
	ClusterLabel string
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler serves the dashboard.
type Handler struct {
	opts   Options
	logger *slog.Logger
	tmpl   *template.Template
	mux    *http.ServeMux
}

// New builds the dashboard handler.
func New(opts Options) (*Handler, error) {
	if opts.Querier == nil || opts.Catalog == nil {
		return nil, errors.New("web dashboard: querier and catalog are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Regions == (Regions{}) {
		opts.Regions = DefaultRegions()
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tmpl, err := template.New("").Funcs(template.FuncMap{
		"pct":      func(v float64) string { return formatValue(v, "ratio") },
		"glossary": define,
	}).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web dashboard templates: %w", err)
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, fmt.Errorf("web dashboard assets: %w", err)
	}
	h := &Handler{opts: opts, logger: logger.With("component", "web"), tmpl: tmpl, mux: http.NewServeMux()}
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	for _, p := range h.pages() {
		h.mux.HandleFunc("GET "+p.Path, func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, p) })
	}
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

// state is a page's state, kept in the URL.
type state struct {
	Range   time.Duration
	End     time.Time // zero: now
	Refresh time.Duration
	Model   string
	Pod     string
	Q       string
	// Cluster selects one cluster of many sending to one backend.
	Cluster string
	raw     url.Values
}

// rangeChoices and refreshChoices are the picker's options.
func rangeChoices() []string   { return []string{"15m", "1h", "3h", "6h", "12h", "24h", "2d", "7d"} }
func refreshChoices() []string { return []string{"off", "15s", "30s", "1m", "5m"} }

const defaultRange = time.Hour

// parseState reads the page state from the query string; malformed values
// fall back to defaults with a note.
func parseState(v url.Values) (state, []string) {
	st := state{Range: defaultRange, raw: v}
	var notes []string
	if s := v.Get("range"); s != "" {
		d, err := parseDuration(s)
		if err != nil || d <= 0 || d > 31*24*time.Hour {
			notes = append(notes, "bad range "+strconv.Quote(s)+": showing 1h")
		} else {
			st.Range = d
		}
	}
	if s := v.Get("end"); s != "" {
		t, err := parseTime(s)
		if err != nil {
			notes = append(notes, "bad end "+strconv.Quote(s)+": showing now")
		} else {
			st.End = t
		}
	}
	if s := v.Get("refresh"); s != "" && s != "off" {
		d, err := parseDuration(s)
		if err != nil || d < 5*time.Second {
			notes = append(notes, "bad refresh "+strconv.Quote(s)+": off")
		} else {
			st.Refresh = d
		}
	}
	st.Model, st.Pod, st.Q, st.Cluster = v.Get("model"), v.Get("pod"), v.Get("q"), v.Get("cluster")
	return st, notes
}

func parseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err == nil {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	return 0, fmt.Errorf("duration %q: not a Go duration or a number of days", s)
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: not RFC 3339 or Unix seconds: %w", s, err)
	}
	return time.UnixMilli(int64(f * 1000)).UTC(), nil
}

// values returns the state as query parameters, defaults left out.
func (s state) values() url.Values {
	v := url.Values{}
	if s.Range != defaultRange {
		v.Set("range", s.raw.Get("range"))
	}
	if !s.End.IsZero() {
		v.Set("end", s.End.UTC().Format(time.RFC3339))
	}
	if s.Refresh > 0 {
		v.Set("refresh", s.raw.Get("refresh"))
	}
	for k, x := range map[string]string{"model": s.Model, "pod": s.Pod, "cluster": s.Cluster} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// Link returns path with the state's range, refresh and selection.
func (s state) Link(path string) string {
	if q := s.values().Encode(); q != "" {
		return path + "?" + q
	}
	return path
}

// With returns a link to path with one parameter changed.
func (s state) With(path, key, value string) string {
	v := s.values()
	if value == "" {
		v.Del(key)
	} else {
		v.Set(key, value)
	}
	if q := v.Encode(); q != "" {
		return path + "?" + q
	}
	return path
}

// RangeValue and RefreshValue are the picker's selected options.
func (s state) RangeValue() string {
	if r := s.raw.Get("range"); r != "" && s.Range != defaultRange {
		return r
	}
	return "1h"
}

func (s state) RefreshValue() string {
	if s.Refresh > 0 {
		return s.raw.Get("refresh")
	}
	return "off"
}

// RefreshSeconds is read by the page script.
func (s state) RefreshSeconds() int { return int(s.Refresh.Seconds()) }

// EndValue is the end field's value: empty for now.
func (s state) EndValue() string {
	if s.End.IsZero() {
		return ""
	}
	return s.End.UTC().Format(time.RFC3339)
}

// pageData is what the layout template renders.
type pageData struct {
	Title     string
	Path      string
	Nav       []navItem
	State     state
	Ranges    []string
	Refreshes []string
	Models    []string
	Pods      []string
	// Clusters are the picker's clusters; the picker shows with two or
	// more (or one selected).
	Clusters []string
	Notes    []string
	Start    time.Time
	End      time.Time
	Panels   []panelView
	Query    *queryView
}

type navItem struct {
	Title, Href string
	Current     bool
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, p page) {
	if r.URL.Path != p.Path {
		http.NotFound(w, r)
		return
	}
	st, notes := parseState(r.URL.Query())
	end := st.End
	if end.IsZero() {
		end = h.opts.Now()
	}
	ctx := r.Context()
	hc, clusters, note := h.forCluster(ctx, st, end.Add(-st.Range), end)
	if note != "" {
		notes = append(notes, note)
	}
	env := &env{h: hc, st: st, end: end, start: end.Add(-st.Range), step: stepFor(st.Range)}
	d := pageData{Title: p.Title, Path: p.Path, State: st, Ranges: rangeChoices(), Refreshes: refreshChoices(), Notes: notes, Start: env.start, End: end, Clusters: clusters}
	for _, q := range h.pages() {
		d.Nav = append(d.Nav, navItem{Title: q.Title, Href: st.Link(q.Path), Current: q.Path == p.Path})
	}
	d.Models, d.Pods = env.selection(ctx)
	if p.Query {
		d.Query = env.queryPage(ctx)
	}
	d.Panels = env.render(ctx, p.Panels)
	if failed := failures(d.Panels); len(failed) > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("Partial page: %d of %d panels could not be read (%s).", len(failed), len(d.Panels), strings.Join(failed, "; ")))
	}
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, "layout.html", d); err != nil {
		h.logger.Error("render page", "page", p.Path, "err", err)
		http.Error(w, "render page "+p.Path+": internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if _, err := buf.WriteTo(w); err != nil {
		h.logger.Debug("write page", "page", p.Path, "err", err)
	}
}

// forCluster is the handler reading the state's cluster (h itself for
// every cluster) and the clusters the picker offers; note says why a
// selection could not be applied.
func (h *Handler) forCluster(ctx context.Context, st state, start, end time.Time) (*Handler, []string, string) {
	if h.opts.ForCluster == nil {
		return h, nil, ""
	}
	names, err := cluster.Names(ctx, h.opts.Querier, h.opts.ClusterLabel, start, end)
	if err != nil {
		h.logger.Debug("list clusters", "err", err)
	}
	if st.Cluster == "" {
		return h, names, ""
	}
	if !slices.Contains(names, st.Cluster) {
		names = append(names, st.Cluster)
	}
	o, err := h.opts.ForCluster(st.Cluster)
	if err != nil {
		return h, names, "cluster " + strconv.Quote(st.Cluster) + ": " + err.Error() + "; showing every cluster"
	}
	hc := *h
	hc.opts = o
	return &hc, names, ""
}

// stepFor picks a range query resolution of about 240 points, at least 15s.
func stepFor(r time.Duration) time.Duration {
	return max((r / 240).Truncate(time.Second), 15*time.Second)
}

// QueryHidden are the state's parameters the Query form carries along.
func (s state) QueryHidden() map[string]string {
	out := map[string]string{}
	for k, v := range s.values() {
		out[k] = v[0]
	}
	return out
}
