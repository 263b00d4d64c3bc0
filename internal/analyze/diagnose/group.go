package diagnose

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
			key = f.Subject.Cluster + "\xff" + f.Subject.Namespace + "/" + Deployment(f.Subject.Pod) + "\xff" + string(f.State) + "\xff" + string(f.Severity) + "\xff" + f.Action
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
