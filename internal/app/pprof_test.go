package app

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPprof: --web.enable-pprof serves Go's profiles under /debug/pprof/;
// without it they are not there.
func TestPprof(t *testing.T) {
	t.Parallel()
	const yml = "global: {scrape_interval: 15s}\nscrape_configs: []\n"
	for _, on := range []bool{true, false} {
		s := start(t, yml, t.TempDir(), func(o *Options) { o.Pprof = on })
		resp, err := http.Get(s.base + "/debug/pprof/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.StatusCode == http.StatusOK && strings.Contains(string(body), "app.test"); got != on {
			t.Errorf("pprof %v: /debug/pprof/cmdline answered %d %.100q", on, resp.StatusCode, body)
		}
	}
}
