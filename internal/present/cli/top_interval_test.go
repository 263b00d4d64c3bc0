package cli

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/collect/scrape"
	"github.com/servescope/servescope/internal/present/api"
)

// targets is a fixed target list for servescope's API.
type targets []scrape.Target

func (ts targets) Active() []scrape.Target                        { return ts }
func (targets) Dropped() ([]scrape.DroppedTarget, map[string]int) { return nil, map[string]int{} }
func (targets) Metadata(string) []scrape.Metadata                 { return nil }

func TestScrapeInterval(t *testing.T) {
	t.Parallel()
	// prometheus serves the two endpoints as Prometheus 2.42 does.
	prometheus := func(targets, config string) http.Handler {
		mux := http.NewServeMux()
		if targets != "" {
			mux.HandleFunc("/api/v1/targets", func(w http.ResponseWriter, _ *http.Request) {
				w.Write([]byte(`{"status":"success","data":{"activeTargets":[` + targets + `],"droppedTargets":[]}}`))
			})
		}
		if config != "" {
			mux.HandleFunc("/api/v1/status/config", func(w http.ResponseWriter, _ *http.Request) {
				w.Write([]byte(`{"status":"success","data":{"yaml":` + config + `}}`))
			})
		}
		return mux
	}
	for _, tc := range []struct {
		name    string
		h       http.Handler
		want    time.Duration
		err     error
		errText string
	}{
		{"servescope: shortest target", api.New(api.Options{Targets: targets{{ScrapeInterval: "30s"}, {ScrapeInterval: "10s"}, {ScrapeInterval: "1m"}}}), 10 * time.Second, nil, ""},
		{"prometheus targets", prometheus(`{"labels":{"job":"a"},"scrapeInterval":"7s","scrapeTimeout":"7s"}`, `"global:\n  scrape_interval: 1m\n"`), 7 * time.Second, nil, ""},
		{"no targets yet: the global config", prometheus(`{"labels":{"job":"a"}}`, `"global:\n  scrape_interval: 20s\n  scrape_timeout: 10s\n"`), 20 * time.Second, nil, ""},
		{"servescope without targets or config", api.New(api.Options{Targets: targets{}}), 0, ErrNoScrapeInterval, ""},
		{"query-only API", prometheus("", ""), 0, ErrNoScrapeInterval, "does not serve /api/v1/targets"},
		{"bad config", prometheus(`{}`, `"global: ["`), 0, ErrNoScrapeInterval, "config: yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.h)
			t.Cleanup(srv.Close)
			server, err := query.NewRemote(srv.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			got, err := ScrapeInterval(t.Context(), server)
			if got != tc.want || !errors.Is(err, tc.err) || (tc.err != nil) != (err != nil) || !strings.Contains(errText(err), tc.errText) {
				t.Errorf("ScrapeInterval = %s, %v; want %s, %v containing %q", got, err, tc.want, tc.err, tc.errText)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
