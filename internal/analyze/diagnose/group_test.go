package diagnose

import (
	"testing"
	"time"
)

// TestOrderAndGroup: findings by impact (severity, then GPU-hours at
// stake), healthy ones hidden and counted, identical findings on the pods
// of one deployment on one line with the count.
func TestOrderAndGroup(t *testing.T) {
	pod := func(name string, st State, sev Severity, hours float64) Finding {
		return Finding{Subject: Subject{Level: LevelPod, Namespace: "chat", Pod: name}, State: st, Severity: sev,
			Action: "do " + string(st), GPUHours: hours, Since: time.Unix(0, 0)}
	}
	fs := []Finding{
		pod("a-7d9f8c6b5-b5n7z", StateHealthy, SeverityInfo, 8),
		pod("web-5f6d7c8b9-b5n7z", StateIdle, SeverityWarning, 1),
		pod("web-5f6d7c8b9-q9wtv", StateIdle, SeverityWarning, 1),
		pod("web-5f6d7c8b9-x2k4q", StateIdle, SeverityWarning, 1),
		pod("big-6b7c8d9f4-b5n7z", StateKVSaturated, SeverityWarning, 8),
		pod("x-6b7c8d9f4-b5n7z", StateXID, SeverityCritical, 1),
		pod("b-7d9f8c6b5-q9wtv", StateHealthy, SeverityInfo, 8),
		{Subject: Subject{Level: LevelModel, Model: "m"}, State: StateConsolidate, Severity: SeverityWarning, GPUHours: 4},
	}
	sortFindings(fs)
	var got []string
	for _, f := range fs {
		got = append(got, f.Subject.String())
	}
	want := []string{"chat/x-6b7c8d9f4-b5n7z", "chat/big-6b7c8d9f4-b5n7z", "m",
		"chat/web-5f6d7c8b9-b5n7z", "chat/web-5f6d7c8b9-q9wtv", "chat/web-5f6d7c8b9-x2k4q",
		"chat/a-7d9f8c6b5-b5n7z", "chat/b-7d9f8c6b5-q9wtv"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
	groups, healthy := Visible(fs)
	if healthy != 2 || len(groups) != 4 {
		t.Fatalf("%d groups, %d healthy: %+v", len(groups), healthy, groups)
	}
	g := groups[3]
	if g.Subject != "chat/web" || g.Count != 3 || g.GPUHours != 3 || len(g.Subjects) != 3 {
		t.Errorf("grouped line %+v, want chat/web × 3 with 3 GPU-hours", g)
	}
}
