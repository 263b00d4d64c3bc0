package diagnose

import (
	"strings"
)

// Group is one line of a findings list: identical findings (same state,
// severity and action) on the pods of one deployment, shown once with
// the count; any other finding is a group of one.
type Group struct {
	// Finding is the group's first finding (the most impact).
	Finding Finding `json:"finding"`
	// Subject names the group: the finding's subject, or for several pods
	// namespace/deployment.
	Subject string `json:"subject"`
	// Count is how many findings the group holds; Subjects names them.
	Count    int      `json:"count"`
	Subjects []string `json:"subjects"`
	// GPUHours is the GPU-hours at stake over the group.
	GPUHours float64 `json:"gpu_hours_at_stake"`
}

// Visible is the findings a list shows by default, in the order given
// (by impact, as Analyze sorts them), grouped: healthy ones are left out
// and counted. healthy counts the healthy pods' findings.
func Visible(fs []Finding) (groups []Group, healthy int) {
	idx := map[string]int{}
	for _, f := range fs {
		if f.State == StateHealthy {
			healthy++
			continue
		}
		subj := f.Subject.String()
		key := ""
		if f.Subject.Level == LevelPod {
			if d := Deployment(f.Subject.Pod); d != "" {
				key = f.Subject.Namespace + "/" + d + "\xff" + string(f.State) + "\xff" + string(f.Severity) + "\xff" + f.Action
			}
		}
		if i, ok := idx[key]; ok && key != "" {
			g := &groups[i]
			g.Count++
			g.Subjects = append(g.Subjects, subj)
			g.GPUHours = round(g.GPUHours + f.GPUHours)
			g.Subject = f.Subject.Namespace + "/" + Deployment(f.Subject.Pod)
			continue
		}
		if key != "" {
			idx[key] = len(groups)
		}
		groups = append(groups, Group{Finding: f, Subject: subj, Count: 1, Subjects: []string{subj}, GPUHours: f.GPUHours})
	}
	return groups, healthy
}

// Deployment is the Deployment a pod's name says it belongs to: the name
// without the ReplicaSet's pod-template hash and the pod's suffix
// (chat-llama-7d9f8c6b5-x2k4q → chat-llama); "" when the name does not
// have that shape.
func Deployment(pod string) string {
	parts := strings.Split(pod, "-")
	if len(parts) < 3 {
		return ""
	}
	hash, suffix := parts[len(parts)-2], parts[len(parts)-1]
	if !alnum(hash) || !alnum(suffix) || len(suffix) != 5 || len(hash) < 5 || len(hash) > 10 {
		return ""
	}
	return strings.Join(parts[:len(parts)-2], "-")
}

func alnum(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return s != ""
}
