package gen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Teams is a validated teams file: the GPU flavors of the cluster and, per
// team, its namespaces and GPU quota per flavor. Generated from it: one
// ResourceFlavor per flavor, and per team a ClusterQueue (named after the
// team, labelled with the team label), a LocalQueue in each of its
// namespaces and the team label on those namespaces.
type Teams struct {
	// Cohort, if set, puts every team's ClusterQueue in this cohort so
	// teams can borrow each other's idle quota.
	Cohort  string   `yaml:"cohort"`
	Flavors []Flavor `yaml:"flavors"`
	Teams   []Team   `yaml:"teams"`
}

// Flavor is a kind of GPU node, mapped by node labels.
type Flavor struct {
	Name       string            `yaml:"name"`
	NodeLabels map[string]string `yaml:"nodeLabels"`
}

// Team is one team's namespaces and quota.
type Team struct {
	Name       string   `yaml:"name"`
	Namespaces []string `yaml:"namespaces"`
	Quota      []Quota  `yaml:"quota"`
}

// Quota is a team's guaranteed share of one flavor.
type Quota struct {
	Flavor string `yaml:"flavor"`
	// GPUs is the nominal quota of nvidia.com/gpu.
	GPUs int64 `yaml:"gpus"`
	// BorrowingLimit caps the GPUs borrowed from the cohort; nil means no
	// limit.
	BorrowingLimit *int64 `yaml:"borrowingLimit"`
	// CPU and Memory, if set, add cpu and memory quota (Kubernetes
	// quantities such as "64" and "512Gi").
	CPU    string `yaml:"cpu"`
	Memory string `yaml:"memory"`
}

// TeamsError lists every problem found in a teams file, each with its line.
type TeamsError struct {
	File     string
	Problems []Problem
}

// Problem is one reason a teams file is refused.
type Problem struct {
	Line   int
	Reason string
}

func (e *TeamsError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = e.File + ":" + strconv.Itoa(p.Line) + ": " + p.Reason
	}
	return strings.Join(msgs, "\n")
}

// ParseTeams decodes and validates a teams file strictly: unknown fields,
// duplicate teams, flavors or namespaces, quota on an undeclared flavor,
// invalid Kubernetes names and bad quantities are refused, all at once, as
// a *TeamsError naming file and line. file is used in messages only.
func ParseTeams(file string, content []byte) (*Teams, error) {
	terr := &TeamsError{File: file}
	var root yaml.Node
	if err := yaml.Unmarshal(content, &root); err != nil {
		terr.Problems = append(terr.Problems, yamlProblems(err)...)
		return nil, terr
	}
	if len(root.Content) == 0 {
		terr.Problems = append(terr.Problems, Problem{Line: 1, Reason: "empty teams file"})
		return nil, terr
	}
	dec := yaml.NewDecoder(bytes.NewReader(content))
	dec.KnownFields(true)
	var t Teams
	if err := dec.Decode(&t); err != nil {
		terr.Problems = append(terr.Problems, yamlProblems(err)...)
		return nil, terr
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		terr.Problems = append(terr.Problems, Problem{Line: extra.Line, Reason: "more than one YAML document"})
		return nil, terr
	}
	v := validator{root: root.Content[0], err: terr}
	v.validate(&t)
	if len(terr.Problems) > 0 {
		return nil, terr
	}
	return &t, nil
}

// yamlProblems turns a yaml.v3 error into problems with lines.
func yamlProblems(err error) []Problem {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		ps := make([]Problem, 0, len(te.Errors))
		for _, e := range te.Errors {
			ps = append(ps, lineProblem(e))
		}
		return ps
	}
	return []Problem{lineProblem(strings.TrimPrefix(err.Error(), "yaml: "))}
}

// lineProblem splits "line N: reason" (yaml.v3's message format).
func lineProblem(msg string) Problem {
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, reason, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				return Problem{Line: line, Reason: reason}
			}
		}
	}
	return Problem{Line: 1, Reason: msg}
}

// validator checks a decoded teams file, finding lines in its YAML tree.
type validator struct {
	root *yaml.Node
	err  *TeamsError
}

func (v *validator) add(line int, format string, args ...any) {
	v.err.Problems = append(v.err.Problems, Problem{Line: line, Reason: fmt.Sprintf(format, args...)})
}

// line returns the line of the node at path (map keys and list indexes),
// or of the deepest node found on the way.
func (v *validator) line(path ...any) int {
	n := v.root
	for _, p := range path {
		var next *yaml.Node
		switch p := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						next = n.Content[i+1]
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && p < len(n.Content) {
				next = n.Content[p]
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return n.Line
}

// checkName reports a name that is not a valid Kubernetes object name of
// the given kind (DNS-1123 label for namespaces, subdomain otherwise).
func (v *validator) checkName(line int, what, name string, label bool) {
	var errs []string
	if label {
		errs = validation.IsDNS1123Label(name)
	} else {
		errs = validation.IsDNS1123Subdomain(name)
	}
	if len(errs) > 0 {
		v.add(line, "%s %q is not a valid Kubernetes name: %s", what, name, strings.Join(errs, "; "))
	}
}

func (v *validator) validate(t *Teams) {
	if t.Cohort != "" {
		v.checkName(v.line("cohort"), "cohort", t.Cohort, false)
	}
	if len(t.Flavors) == 0 {
		v.add(v.line("flavors"), "no GPU flavors declared")
	}
	flavors := map[string]int{}
	for i, f := range t.Flavors {
		l := v.line("flavors", i, "name")
		v.checkName(l, "flavor", f.Name, false)
		if first, dup := flavors[f.Name]; dup {
			v.add(l, "duplicate flavor %q (first at line %d)", f.Name, first)
		} else {
			flavors[f.Name] = l
		}
		for _, k := range sortedKeys(f.NodeLabels) {
			kl := v.line("flavors", i, "nodeLabels", k)
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				v.add(kl, "flavor %q: node label key %q: %s", f.Name, k, strings.Join(errs, "; "))
			}
			if errs := validation.IsValidLabelValue(f.NodeLabels[k]); len(errs) > 0 {
				v.add(kl, "flavor %q: node label %q value %q: %s", f.Name, k, f.NodeLabels[k], strings.Join(errs, "; "))
			}
		}
	}
	if len(t.Teams) == 0 {
		v.add(v.line("teams"), "no teams declared")
	}
	teams := map[string]int{}
	namespaces := map[string]string{}
	for i, tm := range t.Teams {
		l := v.line("teams", i, "name")
		v.checkName(l, "team", tm.Name, true)
		if first, dup := teams[tm.Name]; dup {
			v.add(l, "duplicate team %q (first at line %d)", tm.Name, first)
		} else {
			teams[tm.Name] = l
		}
		if len(tm.Namespaces) == 0 {
			v.add(v.line("teams", i), "team %q has no namespaces", tm.Name)
		}
		for j, ns := range tm.Namespaces {
			nl := v.line("teams", i, "namespaces", j)
			v.checkName(nl, "namespace", ns, true)
			if owner, dup := namespaces[ns]; dup {
				v.add(nl, "namespace %q belongs to team %q already", ns, owner)
			} else {
				namespaces[ns] = tm.Name
			}
		}
		v.validateQuota(i, tm, flavors)
	}
}

func (v *validator) validateQuota(i int, tm Team, flavors map[string]int) {
	if len(tm.Quota) == 0 {
		v.add(v.line("teams", i), "team %q has no quota", tm.Name)
	}
	seen := map[string]bool{}
	for j, q := range tm.Quota {
		fl := v.line("teams", i, "quota", j, "flavor")
		if _, ok := flavors[q.Flavor]; !ok {
			v.add(fl, "team %q: unknown GPU flavor %q (declared: %s)", tm.Name, q.Flavor, strings.Join(sortedKeys(flavors), ", "))
		}
		if seen[q.Flavor] {
			v.add(fl, "team %q: quota for flavor %q given twice", tm.Name, q.Flavor)
		}
		seen[q.Flavor] = true
		if q.GPUs < 0 {
			v.add(v.line("teams", i, "quota", j, "gpus"), "team %q: negative GPU quota %d", tm.Name, q.GPUs)
		}
		if q.BorrowingLimit != nil && *q.BorrowingLimit < 0 {
			v.add(v.line("teams", i, "quota", j, "borrowingLimit"), "team %q: negative borrowing limit %d", tm.Name, *q.BorrowingLimit)
		}
		for _, r := range []struct{ key, val string }{{"cpu", q.CPU}, {"memory", q.Memory}} {
			if r.val == "" {
				continue
			}
			if qty, err := resource.ParseQuantity(r.val); err != nil || qty.Sign() < 0 {
				v.add(v.line("teams", i, "quota", j, r.key), "team %q: %s quota %q is not a non-negative Kubernetes quantity", tm.Name, r.key, r.val)
			}
		}
	}
}
