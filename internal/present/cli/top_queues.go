package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	smodel "github.com/servescope/servescope/internal/model"
)

// queueLine is `top`'s short queue section: each ClusterQueue that is not
// healthy with its state, admission wait p95 and GPUs pending (from the
// diagnosis's queue view), then how many are healthy; "" without queues.
func queueLine(qs []diagnose.QueueStatus) string {
	if len(qs) == 0 {
		return ""
	}
	secs := func(x float64) string { return (time.Duration(x * float64(time.Second))).Round(time.Second).String() }
	num := func(x float64) string { return fmt.Sprintf("%.3g", x) }
	var parts []string
	healthy := 0
	for _, q := range qs {
		if q.Primary == diagnose.StateHealthy || q.Primary == "" {
			healthy++
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s (wait p95 %s, GPUs pending %s)", smodel.TerminalSafe(q.Subject.ClusterQueue), q.Primary,
			q.WaitP95.Text(secs), q.PendingGPUs.Text(num)))
	}
	if healthy > 0 {
		parts = append(parts, fmt.Sprintf("%d healthy", healthy))
	}
	return "queues: " + strings.Join(parts, "; ")
}

// QueueLine is the queue section of the last diagnosis (queueLine).
func (t *Top) QueueLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.queues
}
