package app

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/servescope/servescope/internal/analyze/query"
)

// TestForegroundHandler: a dashboard request counts as in progress while
// it is served, so the rule manager's Yield waits for it, and no longer.
func TestForegroundHandler(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var pages query.Foreground
		h := foreground(&pages, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(3 * time.Second) }))
		go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		synctest.Wait()
		if got := pages.Wait(t.Context(), time.Now().Add(time.Hour)); got != 3*time.Second {
			t.Errorf("waited %v for the page, want 3s", got)
		}
		if got := pages.Wait(t.Context(), time.Now().Add(time.Hour)); got != 0 {
			t.Errorf("waited %v after the page, want 0", got)
		}
	})
}
