// Package api serves servescope's HTTP API: the Prometheus-compatible query
// endpoints (so Grafana's Prometheus datasource works against servescope
// unchanged), target status and metadata, build info, health and readiness,
// and servescope's own /metrics. Responses have the JSON shape of
// Prometheus's API, errors included.
//
// It reads through the analyze/query Querier and the collector's status
// methods; it never touches the store.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/collect/scrape"
)

// Targets is what the API reads about targets.
type Targets interface {
	Active() []scrape.Target
	Dropped() ([]scrape.DroppedTarget, map[string]int)
	Metadata(metric string) []scrape.Metadata
}

// BuildInfo is the build's identity, as /api/v1/status/buildinfo shows it.
type BuildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// Options configure the API.
type Options struct {
	Logger  *slog.Logger
	Querier query.Querier
	Targets Targets
	// Gatherer serves /metrics.
	Gatherer prometheus.Gatherer
	// Ready reports whether the server is ready to serve queries.
	Ready func() bool
	Build BuildInfo
	// Backend, when set (external mode), answers metadata, rules, alerts,
	// exemplars and the status pages but buildinfo: they are the
	// backend's. Nil serves them from the embedded components (Targets,
	// HandleRules's source, Exemplars, Status).
	Backend query.Backend
	// Exemplars answers exemplar queries in embedded mode; nil answers
	// none (after checking the query).
	Exemplars ExemplarSource
	// Status is what the embedded mode's status pages show.
	Status Status
	// Now is the clock for queries without a time; nil means time.Now.
	Now func() time.Time
	// MaxResponseBytes caps one JSON response: a larger one is refused
	// with 422 and a message to narrow the query. Zero means
	// DefaultMaxResponseBytes, negative no cap.
	MaxResponseBytes int
}

// DefaultMaxResponseBytes is the default cap of one API response.
const DefaultMaxResponseBytes = 64 << 20

// API is the HTTP handler set.
type API struct {
	opts Options
	mux  *http.ServeMux
	// routes are the registered patterns (Routes).
	routesMu sync.Mutex
	routes   []string
}

// New builds the API.
func New(opts Options) *API {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Ready == nil {
		opts.Ready = func() bool { return true }
	}
	if opts.MaxResponseBytes == 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.Build.GoVersion == "" {
		opts.Build.GoVersion = runtime.Version()
	}
	a := &API{opts: opts, mux: http.NewServeMux()}
	a.handle("/api/v1/query", a.query)
	a.handle("/api/v1/query_range", a.queryRange)
	a.handle("/api/v1/series", a.series)
	a.handle("/api/v1/labels", a.labelNames)
	a.handle("/api/v1/label/{name}/values", a.labelValues)
	a.handle("/api/v1/targets", a.targets)
	a.statusRoutes()
	a.Handle("/-/healthy", http.HandlerFunc(healthy))
	a.Handle("/-/ready", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !a.opts.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("servescope is not ready.\n"))
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("servescope is Ready.\n"))
	}))
	if opts.Gatherer != nil {
		a.Handle("/metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	}
	return a
}

// ServeHTTP implements http.Handler. Under /api/v1/ it sets the CORS
// headers as Prometheus does with its default --web.cors.origin='.*' and
// answers OPTIONS, on any path there, with 204 and no body.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/v1/") {
		setCORS(w, r)
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	a.mux.ServeHTTP(w, r)
}

// setCORS allows cross-origin reads from any origin (a request without an
// Origin header gets only Vary).
func setCORS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Add("Vary", "Origin")
	if r.Header.Get("Origin") == "" {
		return
	}
	h.Set("Access-Control-Allow-Headers", "Accept, Authorization, Content-Type, Origin")
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Expose-Headers", "Date")
	h.Set("Access-Control-Allow-Origin", "*")
}

// Handle adds a handler from another presentation package (the web UI,
// later API groups) to the same mux.
func (a *API) Handle(pattern string, h http.Handler) {
	a.routesMu.Lock()
	a.routes = append(a.routes, pattern)
	a.routesMu.Unlock()
	a.mux.Handle(pattern, h)
}

type apiFunc func(r *http.Request) (data any, warnings, infos []string, err error)

type response struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Infos     []string `json:"infos,omitempty"`
}

func (a *API) handle(pattern string, f apiFunc) { a.Handle(pattern, a.wrap(f)) }

// wrap turns an apiFunc into a handler: GET or POST only, form values
// parsed, the result or error in Prometheus's envelope.
func (a *API) wrap(f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			a.write(w, http.StatusMethodNotAllowed, response{Status: "error", ErrorType: string(query.ErrBadData), Error: "method not allowed"})
			return
		}
		if err := r.ParseForm(); err != nil {
			a.fail(w, badData("error parsing form values: %v", err))
			return
		}
		data, warnings, infos, err := f(r)
		if err != nil {
			a.fail(w, err)
			return
		}
		a.write(w, http.StatusOK, response{Status: "success", Data: data, Warnings: warnings, Infos: infos})
	})
}

// statusClientClosed is the code Prometheus answers a canceled query with
// (nginx's 499).
const statusClientClosed = 499

// fail answers err in Prometheus's error envelope with Prometheus's HTTP
// code for its type (unavailable, like internal, is 500 there). The full
// cause of a backend error, which may name its address, goes to the log
// only.
func (a *API) fail(w http.ResponseWriter, err error) {
	typ := query.TypeOf(err)
	code := http.StatusInternalServerError
	switch typ {
	case query.ErrBadData:
		code = http.StatusBadRequest
	case query.ErrExec, query.ErrCostLimit:
		code = http.StatusUnprocessableEntity
	case query.ErrCanceled:
		code = statusClientClosed
	case query.ErrTimeout:
		code = http.StatusServiceUnavailable
	case query.ErrNotFound:
		code = http.StatusNotFound
	}
	var qe *query.Error
	if errors.As(err, &qe) && qe.Detail != nil {
		a.opts.Logger.Warn("query backend", "type", typ, "err", qe.Detail)
	}
	a.write(w, code, response{Status: "error", ErrorType: string(typ), Error: err.Error()})
}

func (a *API) write(w http.ResponseWriter, code int, resp response) {
	b, err := encode(resp)
	if err != nil {
		a.opts.Logger.Error("encode API response", "err", err)
		b = []byte(`{"status":"error","errorType":"internal","error":"cannot encode the response"}`)
		code = http.StatusInternalServerError
	}
	if max := a.opts.MaxResponseBytes; max > 0 && len(b) > max {
		b, _ = json.Marshal(response{Status: "error", ErrorType: string(query.ErrCostLimit), // a response of strings always encodes
			Error: sprintf("the response would be %d bytes, over the limit of %d (--web.max-response-bytes); narrow the query (fewer series, a larger step or a limit)", len(b), max)})
		code = http.StatusUnprocessableEntity
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if _, err := w.Write(b); err != nil {
		a.opts.Logger.Debug("write API response", "err", err)
	}
}

func badData(format string, args ...any) error {
	return &query.Error{Type: query.ErrBadData, Err: errorf(format, args...)}
}

func errorf(format string, args ...any) error {
	return &plainError{msg: strings.TrimSpace(sprintf(format, args...))}
}

type plainError struct{ msg string }

func (e *plainError) Error() string { return e.msg }

// The bounds Prometheus uses for "all time".
var (
	minTime = time.Unix(math.MinInt64/1000+62135596801, 0).UTC()
	maxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC()
)

// parseTime reads a Unix timestamp in seconds (with fractions) or RFC 3339.
func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		// Round the fraction to milliseconds, as Prometheus does: 0.3 is
		// 0.29999995 in binary and must not become 299 ms.
		sec, frac := math.Modf(f)
		frac = math.Round(frac*1000) / 1000
		return time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("cannot parse " + strconv.Quote(s) + " to a valid timestamp")
}

// parseDuration reads seconds (with fractions) or a Prometheus duration.
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		d := f * float64(time.Second)
		if d > float64(math.MaxInt64) || d < float64(math.MinInt64) {
			return 0, errors.New("cannot parse " + strconv.Quote(s) + " to a valid duration. It overflows int64")
		}
		return time.Duration(d), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, errors.New("cannot parse " + strconv.Quote(s) + " to a valid duration")
}

// withTimeout applies the request's timeout parameter.
func withTimeout(r *http.Request) (context.Context, context.CancelFunc, error) {
	if s := r.FormValue("timeout"); s != "" {
		d, err := parseDuration(s)
		if err != nil {
			return nil, nil, badData("invalid parameter \"timeout\": %v", err)
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		return ctx, cancel, nil
	}
	ctx, cancel := context.WithCancel(r.Context())
	return ctx, cancel, nil
}
