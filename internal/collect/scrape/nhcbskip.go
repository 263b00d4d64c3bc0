package scrape

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
	pscrape "github.com/prometheus/prometheus/scrape"
)

// A job that converts classic histograms to native histograms with custom
// buckets (NHCB) parses every scrape through Prometheus's NHCB parser, which
// builds the labels of every sample line, histogram or not: a third of the
// parse of a vLLM pod, most of a dcgm-exporter's. A target whose
// expositions declare no histogram (dcgm-exporter, kube-state-metrics) has
// nothing to convert, so once the filter has read histogramFreeScrapes
// bodies of it in a row without one, it is scraped with the converter off
// (Prometheus's per-target label __convert_classic_histograms_to_nhcb__):
// what is stored is the same, the parse is cheaper.
//
// The label is given to the target as discovered, so the scrape manager
// replaces the target's scrape loop: the old loop's staleness markers come
// after the new loop's first samples and are refused, so no series of the
// target goes stale, and until the new loop's first scrape the target's
// status and metadata are the old loop's (TestNHCBSkip). A target that
// then declares a histogram goes back to the converter for good; the
// scrapes before its loop is replaced (the scrape manager applies target
// updates every 5 s) store that histogram as classic series, which every
// catalog query reads as well.

// histogramFreeScrapes is how many filtered bodies in a row must declare no
// histogram before a target is scraped without the converter.
const histogramFreeScrapes = 3

// nhcbSkipLabel is Prometheus's per-target switch of the converter
// (scrape/target.go, convertClassicHistogramsToNHCBLabel).
const nhcbSkipLabel = "__convert_classic_histograms_to_nhcb__"

// nhcbSkip tracks, by job and scrape URL, the targets scraped without the
// converter. It is safe for concurrent use.
type nhcbSkip struct {
	mu   sync.Mutex
	free map[string]int  // bodies in a row without a histogram
	seen map[string]bool // targets that declared one: never skipped
	skip map[string]bool // targets scraped without the converter
	// changed has a value when skip changed since the relay last read it.
	changed chan struct{}
}

func newNHCBSkip() *nhcbSkip {
	return &nhcbSkip{free: map[string]int{}, seen: map[string]bool{}, skip: map[string]bool{}, changed: make(chan struct{}, 1)}
}

func skipKey(job, url string) string { return job + "\x00" + url }

// observe records a filtered body of a target of a converting job: whether
// it may declare a histogram.
func (s *nhcbSkip) observe(job, url string, histograms bool) {
	k := skipKey(job, url)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case histograms:
		s.seen[k] = true
		delete(s.free, k)
		if s.skip[k] {
			delete(s.skip, k)
			s.notify()
		}
	case s.seen[k] || s.skip[k]:
	default:
		if s.free[k]++; s.free[k] >= histogramFreeScrapes {
			delete(s.free, k)
			s.skip[k] = true
			s.notify()
		}
	}
}

func (s *nhcbSkip) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// skipped returns the keys of the targets scraped without the converter,
// and whether anything is known of any target.
func (s *nhcbSkip) skipped() (map[string]bool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.skip), len(s.free)+len(s.seen)+len(s.skip) > 0
}

// forget drops what is known of the targets whose keys keep rejects.
func (s *nhcbSkip) forget(keep func(string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	maps.DeleteFunc(s.free, func(k string, _ int) bool { return !keep(k) })
	for _, m := range []map[string]bool{s.seen, s.skip} {
		maps.DeleteFunc(m, func(k string, _ bool) bool { return !keep(k) })
	}
}

// sweepEvery is how often the relay lets go of the replaced targets whose
// successors have scraped (sweepRetired).
const sweepEvery = 5 * time.Second

// relay passes the discovery manager's target groups to the scrape
// manager, with the converter switched off for the skipped targets, and
// passes them again when the skipped targets change.
func (m *Manager) relay(ctx context.Context, in <-chan map[string][]*targetgroup.Group) <-chan map[string][]*targetgroup.Group {
	out := make(chan map[string][]*targetgroup.Group)
	go func() {
		var last map[string][]*targetgroup.Group
		sweep := time.NewTicker(sweepEvery)
		defer sweep.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-sweep.C:
				m.sweepRetired()
				continue
			case tsets, ok := <-in:
				if !ok {
					close(out)
					return
				}
				last = tsets
			case <-m.skips.changed:
				if last == nil {
					continue
				}
			}
			select {
			case out <- m.withSkips(last):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// withSkips returns tsets with the skip label on the skipped targets (new
// groups where one changes; tsets is not modified). It forgets the skipped
// targets no longer discovered.
func (m *Manager) withSkips(tsets map[string][]*targetgroup.Group) map[string][]*targetgroup.Group {
	skip, known := m.skips.skipped()
	if !known {
		return tsets
	}
	out := make(map[string][]*targetgroup.Group, len(tsets))
	present, applied := map[string]bool{}, map[string]bool{}
	lb := labels.NewBuilder(labels.EmptyLabels())
	for job, groups := range tsets {
		out[job] = groups
		cfg := m.applied(job)
		if cfg == nil {
			continue
		}
		var copied []*targetgroup.Group
		for gi, tg := range groups {
			var g *targetgroup.Group
			for ti, tl := range tg.Targets {
				k := targetKey(lb, cfg, tl, tg.Labels)
				if k == "" {
					continue
				}
				present[k] = true
				if !skip[k] || hasLabel(tl, tg.Labels, nhcbSkipLabel) {
					continue
				}
				if copied == nil {
					copied = append([]*targetgroup.Group(nil), groups...)
					out[job] = copied
				}
				if g == nil {
					g = &targetgroup.Group{Source: tg.Source, Labels: tg.Labels, Targets: append([]model.LabelSet(nil), tg.Targets...)}
					copied[gi] = g
				}
				l := maps.Clone(tl)
				l[nhcbSkipLabel] = "false"
				g.Targets[ti] = l
				applied[k] = true
			}
		}
	}
	m.skips.forget(func(k string) bool { return present[k] })
	m.retire(applied, present)
	return out
}

// retire keeps, for each target whose skip label changes with applied (the
// keys that now carry it), the target its new scrape loop replaces: until
// the new loop's first scrape, the target status and metadata are the old
// one's (handedOver), not those of a target never scraped. It forgets the
// targets not present.
func (m *Manager) retire(applied, present map[string]bool) {
	m.retiredMu.Lock()
	defer m.retiredMu.Unlock()
	maps.DeleteFunc(m.retired, func(k string, _ *pscrape.Target) bool { return !present[k] })
	changed := map[string]bool{}
	for k := range applied {
		if !m.sent[k] {
			changed[k] = true
		}
	}
	for k := range m.sent {
		if !applied[k] {
			changed[k] = true
		}
	}
	m.sent = applied
	if len(changed) == 0 {
		return
	}
	for pool, ts := range m.scrape.TargetsActive() {
		for _, t := range ts {
			if k := skipKey(pool, t.URL().String()); changed[k] {
				m.retired[k] = t
			}
		}
	}
}

// sweepRetired lets go of the replaced targets whose successors have
// scraped: a replaced target holds its loop's scrape cache, and nothing
// may ask for its state (handedOver) before its successor scrapes.
func (m *Manager) sweepRetired() {
	m.retiredMu.Lock()
	n := len(m.retired)
	m.retiredMu.Unlock()
	if n == 0 {
		return
	}
	for pool, ts := range m.scrape.TargetsActive() {
		for _, t := range ts {
			m.handedOver(pool, t)
		}
	}
}

// handedOver returns the target whose state stands for t (of scrape pool
// pool): the target t replaced, until t's first scrape; t itself
// otherwise.
func (m *Manager) handedOver(pool string, t *pscrape.Target) *pscrape.Target {
	m.retiredMu.Lock()
	defer m.retiredMu.Unlock()
	if len(m.retired) == 0 {
		return t
	}
	k := skipKey(pool, t.URL().String())
	old, ok := m.retired[k]
	switch {
	case !ok || old == t:
		return t
	case t.LastScrape().IsZero():
		return old
	default:
		delete(m.retired, k)
		return t
	}
}

// targetKey is the skip key of a discovered target as its job's scrape
// loop would scrape it ("" when relabelling drops it or it has no
// address): the job and the URL the filter proxy is asked for.
func targetKey(lb *labels.Builder, cfg *promconfig.ScrapeConfig, tl, tgl model.LabelSet) string {
	lset, err := pscrape.PopulateLabels(lb, cfg, tl, tgl)
	if err != nil || lset.IsEmpty() {
		return ""
	}
	return skipKey(cfg.JobName, pscrape.NewTarget(lset, cfg, tl, tgl).URL().String())
}

func hasLabel(tl, tgl model.LabelSet, name model.LabelName) bool {
	_, a := tl[name]
	_, b := tgl[name]
	return a || b
}
