package cli

import (
	"fmt"
	"strings"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	smodel "github.com/servescope/servescope/internal/model"
)

// queueLine is `top`'s short queue section: each ClusterQueue that is not
// healthy with its state, admission wait p95 and GPUs pending (from the
// diagnosis's queue view, printed as the dashboard and the report print
// them), then how many are healthy; "" without queues.
func queueLine(qs []diagnose.QueueStatus) string {
	if len(qs) == 0 {
		return ""
	}
	var parts []string
	healthy := 0
	for _, q := range qs {
		if q.Primary == diagnose.StateHealthy || q.Primary == "" {
			healthy++
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s (wait p95 %s, GPUs pending %s)", smodel.TerminalSafe(q.Subject.ClusterQueue), q.Primary,
			q.WaitP95.Seconds(), q.PendingGPUs.Number()))
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
