package main

import (
	"fmt"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/servescope/servescope/internal/app"
)

// settingsFlags are --config and the overrides of its servescope section
// a command takes: one definition, one help text, one way to read them
// (app.LoadSettings) for every command.
type settingsFlags struct {
	config     string
	configSet  bool
	teamLabel  string
	prices     string
	queueTeams []string
}

// Which overrides a command takes.
const (
	withTeamLabel = 1 << iota
	withPrices
	withQueueTeams
)

// addSettings registers --config and the overrides in which.
func addSettings(c *kingpin.CmdClause, s *settingsFlags, which int) {
	c.Flag("config", "servescope.yml whose servescope section (team_label, price_book, queue_teams, diagnosis thresholds) this command reads; flags override it. Read when present.").
		Default("servescope.yml").IsSetByUser(&s.configSet).StringVar(&s.config)
	if which&withTeamLabel != 0 {
		c.Flag("team-label", "Pod and namespace label key naming the team, as kube-state-metrics exposes it (default: the config's team_label, else team).").StringVar(&s.teamLabel)
	}
	if which&withPrices != 0 {
		c.Flag("prices", "Price book (YAML), e.g. examples/scenarios/prices.yml (default: the config's price_book); without one, hours are unpriced.").StringVar(&s.prices)
	}
	if which&withQueueTeams != 0 {
		c.Flag("queue-team", "CLUSTERQUEUE=TEAM: a ClusterQueue's team when no pod or namespace label says (repeatable; adds to the config's queue_teams).").StringsVar(&s.queueTeams)
	}
}

// addCluster registers --cluster: one cluster of many sending to one
// backend.
func addCluster(c *kingpin.CmdClause, name *string) {
	c.Flag("cluster", "Only this cluster: the value of the cluster label (the config's cluster_label, default cluster) each cluster's series carry in one backend; default every cluster.").StringVar(name)
}

// resolve reads the config (when present, or when named) and applies the
// flags over it.
func (s *settingsFlags) resolve() (app.Settings, error) {
	st, err := app.LoadSettings(s.config, s.configSet)
	if err != nil {
		return st, err
	}
	qt := map[string]string{}
	for _, pair := range s.queueTeams {
		q, t, ok := strings.Cut(pair, "=")
		if !ok || q == "" || t == "" {
			return st, fmt.Errorf("--queue-team %q: want CLUSTERQUEUE=TEAM", pair)
		}
		qt[q] = t
	}
	st.Override(s.teamLabel, s.prices, qt)
	return st, nil
}
