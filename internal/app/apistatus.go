package app

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/present/api"
	"github.com/servescope/servescope/internal/store/tsdb"
)

// apiStatus is what the API's status pages show of the embedded server:
// the config in force (Prometheus's part, secrets masked as Prometheus
// masks them), the flags, the retention and the head's cardinality.
func (s *Server) apiStatus() api.Status {
	retention := s.opts.Retention
	if retention == 0 {
		retention = tsdb.DefaultRetention
	}
	return api.Status{
		Config: func() string {
			if cfg := s.loaded.Load(); cfg != nil && cfg.Prometheus != nil {
				return cfg.Prometheus.String()
			}
			return ""
		},
		Flags:     s.opts.Flags,
		Retention: model.Duration(retention).String(),
		TSDB: func(limit int) (api.TSDBStatus, error) {
			h := s.db.HeadStatus(limit)
			return api.TSDBStatus{
				HeadStats:               api.HeadStats{NumSeries: h.NumSeries, NumLabelPairs: h.NumLabelPairs, MinTime: h.MinTime, MaxTime: h.MaxTime},
				SeriesCountByMetricName: tsdbStats(h.SeriesByMetric), LabelValueCountByLabelName: tsdbStats(h.ValuesByLabel),
				MemoryInBytesByLabelName: tsdbStats(h.BytesByLabel), SeriesCountByLabelValuePair: tsdbStats(h.SeriesByPair),
			}, nil
		},
	}
}

func tsdbStats(in []tsdb.Count) []api.TSDBStat {
	out := make([]api.TSDBStat, 0, len(in))
	for _, c := range in {
		out = append(out, api.TSDBStat{Name: c.Name, Value: c.Value})
	}
	return out
}

// buildInfoMetric is servescope_build_info, 1 with the build's identity
// as labels, as Prometheus's prometheus_build_info.
func buildInfoMetric(b api.BuildInfo) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "servescope_build_info",
		Help: "A metric with a constant '1' value labeled by version, revision, branch, and goversion from which servescope was built.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "branch": b.Branch,
			"goversion": b.GoVersion, "builddate": b.BuildDate},
	})
	g.Set(1)
	return g
}
