package main

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// targetSeries adds up servescope's /api/v1/targets: the series its
// targets sent and the series it kept in their last scrapes, over the
// targets scraped so far.
func targetSeries(base string) (sent, kept, scraped int, err error) {
	resp, err := http.Get(base + "/api/v1/targets?state=active")
	if err != nil {
		return 0, 0, 0, fmt.Errorf("targets: %w", err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			ActiveTargets []struct {
				SeriesScraped *int `json:"seriesScraped"`
				SeriesKept    *int `json:"seriesKept"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, 0, 0, fmt.Errorf("targets: %w", err)
	}
	for _, t := range r.Data.ActiveTargets {
		if t.SeriesScraped == nil || t.SeriesKept == nil {
			continue
		}
		sent += *t.SeriesScraped
		kept += *t.SeriesKept
		scraped++
	}
	return sent, kept, scraped, nil
}
