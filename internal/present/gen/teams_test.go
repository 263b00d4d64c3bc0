package gen

import (
	"errors"
	"strings"
	"testing"
)

const goodTeams = `flavors:
  - name: h100
    nodeLabels: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
teams:
  - name: search
    namespaces: [search]
    quota:
      - flavor: h100
        gpus: 4
`

// TestParseTeamsRefuses checks that every bad teams file is refused with
// the file, the line and the reason.
func TestParseTeamsRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"duplicate team", goodTeams + `  - name: search
    namespaces: [search-2]
    quota: [{flavor: h100, gpus: 1}]
`, []string{`teams.yml:10: duplicate team "search" (first at line 5)`}},
		{"unknown flavor", strings.Replace(goodTeams, "flavor: h100", "flavor: a100", 1),
			[]string{`teams.yml:8: team "search": unknown GPU flavor "a100" (declared: h100)`}},
		{"invalid team name", strings.Replace(goodTeams, "name: search", "name: Search_Team", 1),
			[]string{`teams.yml:5: team "Search_Team" is not a valid Kubernetes name`}},
		{"invalid namespace", strings.Replace(goodTeams, "[search]", "[search, -bad-]", 1),
			[]string{`teams.yml:6: namespace "-bad-" is not a valid Kubernetes name`}},
		{"invalid flavor name", strings.Replace(strings.Replace(goodTeams, "name: h100", "name: H100!", 1), "flavor: h100", "flavor: H100!", 1),
			[]string{`teams.yml:2: flavor "H100!" is not a valid Kubernetes name`}},
		{"unknown field", strings.Replace(goodTeams, "gpus: 4", "gpus: 4\n        gpu: 4", 1),
			[]string{`teams.yml:10: field gpu not found in type gen.Quota`}},
		{"wrong type", strings.Replace(goodTeams, "gpus: 4", "gpus: four", 1),
			[]string{`teams.yml:9: cannot unmarshal !!str ` + "`four`" + ` into int64`}},
		{"namespace in two teams", goodTeams + `  - name: ads
    namespaces: [search]
    quota: [{flavor: h100, gpus: 1}]
`, []string{`teams.yml:11: namespace "search" belongs to team "search" already`}},
		{"negative quota", strings.Replace(goodTeams, "gpus: 4", "gpus: -1", 1),
			[]string{`teams.yml:9: team "search": negative GPU quota -1`}},
		{"bad memory", strings.Replace(goodTeams, "gpus: 4", "gpus: 4\n        memory: lots", 1),
			[]string{`teams.yml:10: team "search": memory quota "lots" is not a non-negative Kubernetes quantity`}},
		{"duplicate flavor", strings.Replace(goodTeams, "teams:", "  - name: h100\nteams:", 1),
			[]string{`teams.yml:4: duplicate flavor "h100" (first at line 2)`}},
		{"bad node label", strings.Replace(goodTeams, "nvidia.com/gpu.product", "bad key!", 1),
			[]string{`teams.yml:3: flavor "h100": node label key "bad key!"`}},
		{"syntax error", "teams: [\n", []string{"teams.yml:1: did not find expected node content"}},
		{"empty", "", []string{"teams.yml:1: empty teams file"}},
		{"two documents", goodTeams + "---\nteams: []\n", []string{"teams.yml:", "more than one YAML document"}},
		{"several problems at once", strings.Replace(strings.Replace(goodTeams, "flavor: h100", "flavor: a100", 1), "[search]", "[Search]", 1),
			[]string{`teams.yml:6: namespace "Search"`, `teams.yml:8: team "search": unknown GPU flavor "a100"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			teams, err := ParseTeams("teams.yml", []byte(tc.content))
			if err == nil {
				t.Fatalf("accepted: %+v", teams)
			}
			var te *TeamsError
			if !errors.As(err, &te) {
				t.Fatalf("error %T, want *TeamsError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", err, w)
				}
			}
		})
	}
}

func TestParseTeamsAccepts(t *testing.T) {
	t.Parallel()
	teams, err := ParseTeams("teams.yml", []byte(goodTeams))
	if err != nil {
		t.Fatal(err)
	}
	if len(teams.Teams) != 1 || teams.Teams[0].Quota[0].GPUs != 4 {
		t.Fatalf("decoded %+v", teams)
	}
}
