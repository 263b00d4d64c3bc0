package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/slo"
	"github.com/servescope/servescope/internal/config"
)

// Settings are what every command reads from servescope.yml's servescope
// section, the same way serve does: the team label, the price book, the
// ClusterQueue → team map and the diagnosis thresholds. Flags override
// them; what neither sets keeps the analysis packages' defaults.
type Settings struct {
	// File is the config read; "" when none was.
	File      string
	TeamLabel string
	// ClusterLabel is the external label naming each series' cluster.
	ClusterLabel string
	PriceBook    string
	QueueTeams   map[string]string
	// TenantTeams is the config's gateway tenant → team map.
	TenantTeams map[string]string
	// CarbonIntensity is the config's g CO2e per kWh (0 when unset).
	CarbonIntensity float64
	// ReferencePrices are the config's per-model reference prices per
	// million input and output tokens.
	ReferencePrices []config.ReferencePrice
	// LentQuotaIsIdle is the config's lent_quota_is_idle.
	LentQuotaIsIdle bool
	// MonitorLabels are the config's monitor selector labels for
	// `generate` (nil when it sets none).
	MonitorLabels map[string]string
	Thresholds    diagnose.Thresholds
	// Objectives are the config's latency objectives, checked against
	// the catalog's bucket layouts.
	Objectives slo.Set
}

// LoadSettings reads the settings of the config at path. A missing file is
// no error unless required (the person named it), and gives the defaults.
func LoadSettings(path string, required bool) (Settings, error) {
	s := Settings{Thresholds: diagnose.DefaultThresholds(), QueueTeams: map[string]string{}}
	if path == "" {
		return s, nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && !required {
		return s, nil
	}
	cfg, err := config.LoadFile(path, nil)
	if err != nil {
		return s, err
	}
	th, err := Thresholds(cfg)
	if err != nil {
		return s, err
	}
	s.File, s.TeamLabel, s.PriceBook, s.Thresholds = cfg.File, cfg.Servescope.TeamLabel, cfg.Servescope.PriceBook, th
	s.ClusterLabel = cfg.Servescope.ClusterLabel
	s.MonitorLabels = cfg.Servescope.MonitorLabels
	s.CarbonIntensity = cfg.Servescope.CarbonIntensity
	s.ReferencePrices = cfg.Servescope.ReferencePrices
	s.LentQuotaIsIdle = cfg.Servescope.LentQuotaIsIdle
	s.TenantTeams = cfg.Servescope.TenantTeams
	for q, t := range cfg.Servescope.QueueTeams {
		s.QueueTeams[q] = t
	}
	cat, err := Catalog(s)
	if err != nil {
		return s, err
	}
	if s.Objectives, err = Objectives(cfg, cat); err != nil {
		return s, err
	}
	return s, nil
}

// Override applies the flags a person gave over the file's values: a
// non-empty team label or price book, and CLUSTERQUEUE=TEAM pairs.
func (s *Settings) Override(teamLabel, priceBook string, queueTeams map[string]string) {
	if teamLabel != "" {
		s.TeamLabel = teamLabel
	}
	if priceBook != "" {
		s.PriceBook = priceBook
	}
	for q, t := range queueTeams {
		s.QueueTeams[q] = t
	}
}

// Cost is the cost options of the settings.
func (s Settings) Cost() CostOptions {
	return CostOptions{TeamLabel: s.TeamLabel, ClusterLabel: s.ClusterLabel, PriceBook: s.PriceBook, QueueTeams: s.QueueTeams, TenantTeams: s.TenantTeams, CarbonIntensity: s.CarbonIntensity,
		ReferencePrices: s.ReferencePrices, LentQuotaIsIdle: s.LentQuotaIsIdle}
}

// String says where the settings came from, for messages.
func (s Settings) String() string {
	if s.File == "" {
		return "defaults (no config file)"
	}
	return fmt.Sprintf("config %s", s.File)
}
