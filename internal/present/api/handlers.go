package api

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/collect/scrape"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// queryData is the data of a query response.
type queryData struct {
	ResultType model.ValueType `json:"resultType"`
	Result     model.Value     `json:"result"`
}

func (a *API) query(r *http.Request) (any, []string, []string, error) {
	t, err := parseTime(r.FormValue("time"), a.opts.Now())
	if err != nil {
		return nil, nil, nil, badData("invalid parameter \"time\": %v", err)
	}
	q := r.FormValue("query")
	if q == "" {
		return nil, nil, nil, badData("invalid parameter \"query\": empty query")
	}
	ctx, cancel, err := withTimeout(r)
	if err != nil {
		return nil, nil, nil, err
	}
	defer cancel()
	res, err := a.opts.Querier.Query(ctx, q, t)
	if err != nil {
		return nil, nil, nil, err
	}
	return queryData{ResultType: res.Value.Type(), Result: res.Value}, res.Warnings, res.Infos, nil
}

func (a *API) queryRange(r *http.Request) (any, []string, []string, error) {
	start, err := parseTime(r.FormValue("start"), minTime)
	if err != nil || r.FormValue("start") == "" {
		return nil, nil, nil, badData("invalid parameter \"start\": %v", orMissing(err))
	}
	end, err := parseTime(r.FormValue("end"), maxTime)
	if err != nil || r.FormValue("end") == "" {
		return nil, nil, nil, badData("invalid parameter \"end\": %v", orMissing(err))
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		return nil, nil, nil, badData("invalid parameter \"step\": %v", err)
	}
	ctx, cancel, err := withTimeout(r)
	if err != nil {
		return nil, nil, nil, err
	}
	defer cancel()
	res, err := a.opts.Querier.QueryRange(ctx, r.FormValue("query"), query.Range{Start: start, End: end, Step: step})
	if err != nil {
		return nil, nil, nil, err
	}
	return queryData{ResultType: res.Value.Type(), Result: res.Value}, res.Warnings, res.Infos, nil
}

func orMissing(err error) error {
	if err == nil {
		return errorf("missing value")
	}
	return err
}

func (a *API) span(r *http.Request) (start, end time.Time, err error) {
	s, err := parseTime(r.FormValue("start"), minTime)
	if err != nil {
		return start, end, badData("invalid parameter \"start\": %v", err)
	}
	e, err := parseTime(r.FormValue("end"), maxTime)
	if err != nil {
		return start, end, badData("invalid parameter \"end\": %v", err)
	}
	return s, e, nil
}

func (a *API) series(r *http.Request) (any, []string, []string, error) {
	start, end, err := a.span(r)
	if err != nil {
		return nil, nil, nil, err
	}
	out, err := a.opts.Querier.Series(r.Context(), r.Form["match[]"], start, end)
	if err != nil {
		return nil, nil, nil, err
	}
	if limit, ok := limitParam(r); ok && len(out) > limit {
		return out[:limit], []string{"results truncated due to limit"}, nil, nil
	}
	return out, nil, nil, nil
}

func (a *API) labelNames(r *http.Request) (any, []string, []string, error) {
	start, end, err := a.span(r)
	if err != nil {
		return nil, nil, nil, err
	}
	out, err := a.opts.Querier.LabelNames(r.Context(), r.Form["match[]"], start, end)
	if err != nil {
		return nil, nil, nil, err
	}
	return truncate(r, out)
}

func (a *API) labelValues(r *http.Request) (any, []string, []string, error) {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	start, end, err := a.span(r)
	if err != nil {
		return nil, nil, nil, err
	}
	out, err := a.opts.Querier.LabelValues(r.Context(), name, r.Form["match[]"], start, end)
	if err != nil {
		return nil, nil, nil, err
	}
	return truncate(r, out)
}

func truncate(r *http.Request, out []string) (any, []string, []string, error) {
	if out == nil {
		out = []string{}
	}
	if limit, ok := limitParam(r); ok && len(out) > limit {
		return out[:limit], []string{"results truncated due to limit"}, nil, nil
	}
	return out, nil, nil, nil
}

func limitParam(r *http.Request) (int, bool) {
	n, err := strconv.Atoi(r.FormValue("limit"))
	return n, err == nil && n > 0
}

type metadataEntry struct {
	Type string `json:"type"`
	Help string `json:"help"`
	Unit string `json:"unit"`
}

func (a *API) metadata(r *http.Request) (any, []string, []string, error) {
	out := map[string][]metadataEntry{}
	limit, hasLimit := limitParam(r)
	for _, md := range a.opts.Targets.Metadata(r.FormValue("metric")) {
		e := metadataEntry{Type: md.Type, Help: md.Help, Unit: md.Unit}
		if !slices.Contains(out[md.Metric], e) {
			out[md.Metric] = append(out[md.Metric], e)
		}
	}
	if hasLimit && len(out) > limit {
		keys := make([]string, 0, len(out))
		for k := range out {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys[limit:] {
			delete(out, k)
		}
	}
	return out, nil, nil, nil
}

type targetsData struct {
	ActiveTargets       []scrape.Target        `json:"activeTargets"`
	DroppedTargets      []scrape.DroppedTarget `json:"droppedTargets"`
	DroppedTargetCounts map[string]int         `json:"droppedTargetCounts"`
}

func (a *API) targets(r *http.Request) (any, []string, []string, error) {
	state := r.FormValue("state")
	out := targetsData{ActiveTargets: []scrape.Target{}, DroppedTargets: []scrape.DroppedTarget{}}
	if state == "" || state == "any" || state == "active" {
		out.ActiveTargets = append(out.ActiveTargets, a.opts.Targets.Active()...)
	}
	dropped, counts := a.opts.Targets.Dropped()
	if state == "" || state == "any" || state == "dropped" {
		out.DroppedTargets = append(out.DroppedTargets, dropped...)
	}
	out.DroppedTargetCounts = counts
	if pool := r.FormValue("scrapePool"); pool != "" {
		out.ActiveTargets = slices.DeleteFunc(out.ActiveTargets, func(t scrape.Target) bool { return t.ScrapePool != pool })
		out.DroppedTargets = slices.DeleteFunc(out.DroppedTargets, func(t scrape.DroppedTarget) bool { return t.ScrapePool != pool })
	}
	return out, nil, nil, nil
}
