package schema

import (
	"regexp"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
)

// Scrape job names of the exporters servescope's generated stack scrapes:
// the job_name of each generated scrape config and the job label the
// generated monitors set, so that alerts on `up` can be scoped to them
// instead of every target of a shared Prometheus.
const (
	JobEngines          = "servescope-engines"
	JobDCGM             = "dcgm-exporter"
	JobKueue            = "kueue"
	JobKubeStateMetrics = "kube-state-metrics"
	// The inference gateways: llm-d's endpoint picker and Dynamo's frontend.
	JobEPP            = "llm-d-epp"
	JobDynamoFrontend = "dynamo-frontend"
)

// ScrapeJobs returns the job names above in the order the scrape configs
// list them.
func ScrapeJobs() []string {
	return []string{JobEngines, JobDCGM, JobKueue, JobKubeStateMetrics, JobEPP, JobDynamoFrontend}
}

// ScrapeJobMatcher matches the job label of servescope's scrape jobs.
func ScrapeJobMatcher() *labels.Matcher {
	jobs := ScrapeJobs()
	for i, j := range jobs {
		jobs[i] = regexp.QuoteMeta(j)
	}
	return labels.MustNewMatcher(labels.MatchRegexp, "job", strings.Join(jobs, "|"))
}
