package scrape

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	config_util "github.com/prometheus/common/config"
	promconfig "github.com/prometheus/prometheus/config"

	"github.com/servescope/servescope/internal/collect/parse"
	"github.com/servescope/servescope/internal/config"
)

// MaxErrorLength is about the most bytes of a scrape error /api/v1/targets
// shows: a parser's message can quote the rest of a huge body.
const MaxErrorLength = 512

// Truncate cuts s to at most n bytes on a rune boundary and says how much
// was cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
}

// errorLocator finds the line of targets' parse errors. The scrape
// manager keeps only the parser's message, so the locator, run by the
// collector (never by a reader of the status), fetches a failing target
// once more for each new parse error and finds the line with the parse
// package; readers see the stored result.
type errorLocator struct {
	mu     sync.Mutex
	cache  map[string]located // by scrape URL
	client map[string]*http.Client
}

// located is the located form of one error of one target.
type located struct {
	// key identifies the raw error (a hash: the raw message can be huge).
	key uint64
	msg string
}

func newErrorLocator() *errorLocator {
	return &errorLocator{cache: map[string]located{}, client: map[string]*http.Client{}}
}

// notParse are scrape errors that are not about the exposition's content.
var notParse = []string{"server returned HTTP status", "limit exceeded", "context deadline exceeded", "connection refused", "no such host", "EOF", "body size"}

// isParseError says whether a scrape error comes from parsing the body.
func isParseError(msg string) bool {
	if !strings.Contains(msg, "while parsing") && !strings.Contains(msg, "expected") && !strings.Contains(msg, "invalid") {
		return false
	}
	for _, s := range notParse {
		if strings.Contains(msg, s) {
			return false
		}
	}
	return true
}

func errorKey(msg string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(msg)) // a hash never fails to write
	return h.Sum64()
}

// describe is the message /api/v1/targets shows for a target's error: the
// stored located form of a parse error, the limit that was broken, and
// never more than about MaxErrorLength bytes of the raw message.
func (l *errorLocator) describe(sc *promconfig.ScrapeConfig, url string, err error) string {
	msg := err.Error()
	if isParseError(msg) {
		l.mu.Lock()
		c, ok := l.cache[url]
		l.mu.Unlock()
		if ok && c.key == errorKey(msg) {
			return c.msg
		}
		return Truncate(msg, MaxErrorLength)
	}
	return Truncate(msg, MaxErrorLength) + limitHint(sc, msg)
}

// limitHint names the configured value of the limit an error broke.
func limitHint(sc *promconfig.ScrapeConfig, msg string) string {
	if sc == nil {
		return ""
	}
	switch {
	case strings.Contains(msg, "sample limit exceeded"):
		return fmt.Sprintf(" (sample_limit: %d; raise it for job %q, 0 is unlimited)", sc.SampleLimit, sc.JobName)
	case strings.Contains(msg, "body size limit exceeded"):
		return fmt.Sprintf(" (body_size_limit: %s; raise it for job %q, 0 is unlimited)", sc.BodySizeLimit, sc.JobName)
	}
	return ""
}

// pending is one parse error to locate.
type pending struct {
	sc  *promconfig.ScrapeConfig
	url string
	key uint64
	msg string
	// keep is the pre-filter's decision on names when the job is
	// pre-filtered: the body is located as Prometheus parsed it.
	keep *nameDecisions
}

// todo lists the targets whose current parse error is not located yet.
func (m *Manager) todo() []pending {
	var out []pending
	for pool, ts := range m.scrape.TargetsActive() {
		sc := m.config(pool)
		if sc == nil {
			continue
		}
		for _, t := range ts {
			err := t.LastError()
			if err == nil || !isParseError(err.Error()) {
				continue
			}
			msg, url := err.Error(), t.URL().String()
			key := errorKey(msg)
			m.errs.mu.Lock()
			c, ok := m.errs.cache[url]
			m.errs.mu.Unlock()
			if !ok || c.key != key {
				pe := pending{sc: sc, url: url, key: key, msg: msg}
				if jf, ok := m.filter.filters(pool); ok {
					pe.keep = jf.keep
				}
				out = append(out, pe)
			}
		}
	}
	return out
}

// locateErrors locates new parse errors every interval until ctx ends.
func (m *Manager) locateErrors(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, p := range m.todo() {
			m.errs.locate(ctx, p)
		}
	}
}

// locate fetches the target once, within its scrape timeout and body
// size limit, and stores the error with its line.
func (l *errorLocator) locate(ctx context.Context, p pending) {
	timeout := time.Duration(p.sc.ScrapeTimeout)
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := Truncate(p.msg, MaxErrorLength)
	if line, err := l.fetchAndLocate(ctx, p.sc, p.url, p.keep); err == nil && line > 0 {
		out = fmt.Sprintf("parse error at line %d: %s", line, out)
	}
	l.mu.Lock()
	l.cache[p.url] = located{key: p.key, msg: out}
	l.mu.Unlock()
}

func (l *errorLocator) fetchAndLocate(ctx context.Context, sc *promconfig.ScrapeConfig, url string, keep *nameDecisions) (int, error) {
	l.mu.Lock()
	client, ok := l.client[sc.JobName]
	l.mu.Unlock()
	if !ok {
		c, err := config_util.NewClientFromConfig(sc.HTTPClientConfig, sc.JobName)
		if err != nil {
			return 0, fmt.Errorf("client for job %s: %w", sc.JobName, err)
		}
		l.mu.Lock()
		l.client[sc.JobName] = c
		l.mu.Unlock()
		client = c
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return 0, fmt.Errorf("request %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1")
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	limit := int64(sc.BodySizeLimit)
	if limit <= 0 {
		limit = int64(config.DefaultScrapeLimits().BodySizeLimit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", url, err)
	}
	var lines []int // the target's line of each line parsed
	if ct := resp.Header.Get("Content-Type"); keep != nil && isTextFormat(ct) {
		f := newLineFilter(keep)
		f.lines = &lines
		var kept bytes.Buffer
		if _, err := f.copy(&kept, bytes.NewReader(body), 0); err != nil {
			return 0, fmt.Errorf("filter %s: %w", url, err)
		}
		body = kept.Bytes()
	}
	err = parse.Each(body, resp.Header.Get("Content-Type"), func(parse.Sample) error { return nil })
	var pe *parse.Error
	if !errors.As(err, &pe) {
		return 0, nil
	}
	if lines != nil {
		switch {
		case pe.Line < 1 || len(lines) == 0:
			return 0, nil
		case pe.Line > len(lines): // past the last line
			return lines[len(lines)-1] + pe.Line - len(lines), nil
		}
		return lines[pe.Line-1], nil
	}
	return pe.Line, nil
}
