package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/servescope/servescope/internal/analyze/query"
)

// ExemplarSource answers exemplar queries in embedded mode
// (query.Engine).
type ExemplarSource interface {
	Exemplars(ctx context.Context, q string, start, end time.Time) ([]query.ExemplarSeries, error)
}

// Status is what the embedded mode's status pages show beyond what the
// API reads from its Gatherer (start time, reload status, head chunks).
type Status struct {
	// Config returns the loaded configuration as YAML, secrets masked.
	Config func() string
	// Flags are the command-line flags and their values.
	Flags map[string]string
	// Retention is the storage retention, as Prometheus's runtime info
	// shows it.
	Retention string
	// TSDB returns the head block's cardinality statistics, limit entries
	// per list.
	TSDB func(limit int) (TSDBStatus, error)
}

// TSDBStatus is the data of /api/v1/status/tsdb.
type TSDBStatus struct {
	HeadStats                   HeadStats  `json:"headStats"`
	SeriesCountByMetricName     []TSDBStat `json:"seriesCountByMetricName"`
	LabelValueCountByLabelName  []TSDBStat `json:"labelValueCountByLabelName"`
	MemoryInBytesByLabelName    []TSDBStat `json:"memoryInBytesByLabelName"`
	SeriesCountByLabelValuePair []TSDBStat `json:"seriesCountByLabelValuePair"`
}

// HeadStats describe the store's in-memory head block.
type HeadStats struct {
	NumSeries     uint64 `json:"numSeries"`
	NumLabelPairs int    `json:"numLabelPairs"`
	ChunkCount    int64  `json:"chunkCount"`
	MinTime       int64  `json:"minTime"`
	MaxTime       int64  `json:"maxTime"`
}

// TSDBStat is one entry of a cardinality list.
type TSDBStat struct {
	Name  string `json:"name"`
	Value uint64 `json:"value"`
}

// runtimeInfo is the data of /api/v1/status/runtimeinfo.
type runtimeInfo struct {
	StartTime           time.Time `json:"startTime"`
	CWD                 string    `json:"CWD"`
	Hostname            string    `json:"hostname"`
	ServerTime          time.Time `json:"serverTime"`
	ReloadConfigSuccess bool      `json:"reloadConfigSuccess"`
	LastConfigTime      time.Time `json:"lastConfigTime"`
	CorruptionCount     int64     `json:"corruptionCount"`
	GoroutineCount      int       `json:"goroutineCount"`
	GOMAXPROCS          int       `json:"GOMAXPROCS"`
	GOMEMLIMIT          int64     `json:"GOMEMLIMIT"`
	GOGC                string    `json:"GOGC"`
	GODEBUG             string    `json:"GODEBUG"`
	StorageRetention    string    `json:"storageRetention"`
}

// The metrics of the Gatherer that the status pages show.
const (
	metricStart        = "process_start_time_seconds"
	metricReloadOK     = "servescope_config_last_reload_successful"
	metricReloadTime   = "servescope_config_last_reload_success_timestamp_seconds"
	metricHeadChunks   = "prometheus_tsdb_head_chunks"
	maxTSDBStatusLimit = 10000
)

// statusRoutes registers the endpoints that are the backend's in external
// mode and the embedded components' otherwise (rules and alerts: see
// HandleRules), and the parser's, which are servescope's own in both.
func (a *API) statusRoutes() {
	a.handle("/api/v1/format_query", func(r *http.Request) (any, []string, []string, error) {
		s, err := query.Format(r.FormValue("query"))
		return s, nil, nil, err
	})
	a.handle("/api/v1/parse_query", func(r *http.Request) (any, []string, []string, error) {
		tree, err := query.Tree(r.FormValue("query"))
		return tree, nil, nil, err
	})
	a.handle("/api/v1/status/buildinfo", func(*http.Request) (any, []string, []string, error) { return a.opts.Build, nil, nil, nil })
	if a.opts.Backend != nil {
		for _, ep := range []query.Endpoint{query.EndpointMetadata, query.EndpointExemplars, query.EndpointConfig,
			query.EndpointFlags, query.EndpointRuntimeinfo, query.EndpointTSDB, query.EndpointRules, query.EndpointAlerts} {
			a.handle(string(ep), a.forward(ep))
		}
		return
	}
	a.handle(string(query.EndpointMetadata), a.metadata)
	a.handle(string(query.EndpointExemplars), a.exemplars)
	a.handle(string(query.EndpointConfig), func(*http.Request) (any, []string, []string, error) {
		yaml := ""
		if a.opts.Status.Config != nil {
			yaml = a.opts.Status.Config()
		}
		return map[string]string{"yaml": yaml}, nil, nil, nil
	})
	a.handle(string(query.EndpointFlags), func(*http.Request) (any, []string, []string, error) {
		flags := a.opts.Status.Flags
		if flags == nil {
			flags = map[string]string{}
		}
		return flags, nil, nil, nil
	})
	a.handle(string(query.EndpointRuntimeinfo), a.runtimeinfo)
	a.handle(string(query.EndpointTSDB), a.tsdbStatus)
}

// forward answers ep with the backend's answer to the same parameters.
func (a *API) forward(ep query.Endpoint) apiFunc {
	return func(r *http.Request) (any, []string, []string, error) {
		raw, err := a.opts.Backend.Read(r.Context(), ep, url.Values(r.Form))
		if err != nil {
			return nil, nil, nil, err
		}
		data := raw.Data
		if len(data) == 0 {
			data = json.RawMessage("null")
		}
		return data, raw.Warnings, raw.Infos, nil
	}
}

func (a *API) exemplars(r *http.Request) (any, []string, []string, error) {
	start, end, err := a.span(r)
	if err != nil {
		return nil, nil, nil, err
	}
	if end.Before(start) {
		return nil, nil, nil, badData("end timestamp must not be before start timestamp")
	}
	if a.opts.Exemplars == nil {
		// Still parse the query: a bad one is bad data, as in Prometheus.
		if _, err := query.Format(r.FormValue("query")); err != nil {
			return nil, nil, nil, err
		}
		return []query.ExemplarSeries{}, nil, nil, nil
	}
	out, err := a.opts.Exemplars.Exemplars(r.Context(), r.FormValue("query"), start, end)
	return out, nil, nil, err
}

func (a *API) runtimeinfo(*http.Request) (any, []string, []string, error) {
	m, err := a.gauges(metricStart, metricReloadOK, metricReloadTime)
	if err != nil {
		return nil, nil, nil, err
	}
	out := runtimeInfo{
		StartTime: unixTime(m[metricStart]), ServerTime: a.opts.Now().UTC(),
		ReloadConfigSuccess: m[metricReloadOK] == 1, LastConfigTime: unixTime(m[metricReloadTime]),
		GoroutineCount: runtime.NumGoroutine(), GOMAXPROCS: runtime.GOMAXPROCS(0), GOMEMLIMIT: debug.SetMemoryLimit(-1),
		GOGC: os.Getenv("GOGC"), GODEBUG: os.Getenv("GODEBUG"), StorageRetention: a.opts.Status.Retention,
	}
	// Best effort, as in Prometheus: an unknown directory or host name
	// leaves the field empty.
	out.CWD, _ = os.Getwd()
	out.Hostname, _ = os.Hostname()
	return out, nil, nil, nil
}

func (a *API) tsdbStatus(r *http.Request) (any, []string, []string, error) {
	limit := 10
	if s := r.FormValue("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 {
			return nil, nil, nil, badData("limit must be a positive number")
		}
		if limit > maxTSDBStatusLimit {
			return nil, nil, nil, badData("limit must not exceed %d", maxTSDBStatusLimit)
		}
	}
	if a.opts.Status.TSDB == nil {
		return nil, nil, nil, &query.Error{Type: query.ErrNotFound, Err: errors.New("this servescope has no embedded store")}
	}
	st, err := a.opts.Status.TSDB(limit)
	if err != nil {
		return nil, nil, nil, &query.Error{Type: query.ErrInternal, Err: err}
	}
	m, err := a.gauges(metricHeadChunks)
	if err != nil {
		return nil, nil, nil, err
	}
	st.HeadStats.ChunkCount = int64(m[metricHeadChunks])
	for _, l := range []*[]TSDBStat{&st.SeriesCountByMetricName, &st.LabelValueCountByLabelName, &st.MemoryInBytesByLabelName, &st.SeriesCountByLabelValuePair} {
		if *l == nil {
			*l = []TSDBStat{}
		}
	}
	return st, nil, nil, nil
}

// gauges reads the first value of each named gauge from the Gatherer, the
// same numbers /metrics shows; a missing metric reads 0.
func (a *API) gauges(names ...string) (map[string]float64, error) {
	out := make(map[string]float64, len(names))
	if a.opts.Gatherer == nil {
		return out, nil
	}
	families, err := a.opts.Gatherer.Gather()
	if err != nil {
		return nil, &query.Error{Type: query.ErrInternal, Err: fmt.Errorf("gather the server's metrics: %w", err)}
	}
	for _, f := range families {
		for _, n := range names {
			if f.GetName() == n && len(f.GetMetric()) > 0 {
				out[n] = f.GetMetric()[0].GetGauge().GetValue()
			}
		}
	}
	return out, nil
}

// unixTime turns seconds since the epoch into a time; 0 is the zero time.
func unixTime(sec float64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(sec * 1000)).UTC()
}
