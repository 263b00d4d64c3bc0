package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/servescope/servescope/examples/scenarios"
	"github.com/servescope/servescope/internal/located"
)

// Scenario is one simulated cluster as described by a YAML file in
// examples/scenarios. Sizes are shares of the fleet so that --gpus scales
// any scenario; serving load is per replica and batch-job bursts scale with
// their flavor (see JobSpec), so that behaviour does not change with size.
type Scenario struct {
	Name        string       `yaml:"name"`
	Description string       `yaml:"description"`
	GPUs        int          `yaml:"gpus"` // default fleet size; --gpus overrides
	Nodes       []NodePool   `yaml:"nodes"`
	Exporter    Exporter     `yaml:"exporter"`
	Kueue       KueueConfig  `yaml:"kueue"`
	Teams       []Team       `yaml:"teams"`
	Deployments []Deployment `yaml:"deployments"`
	Jobs        []JobSpec    `yaml:"jobs"`
	Events      []Event      `yaml:"events"`
}

// NodePool is a set of identical GPU nodes that form one Kueue ResourceFlavor.
type NodePool struct {
	Flavor      string  `yaml:"flavor"`        // ResourceFlavor name, e.g. h100
	GPU         string  `yaml:"gpu"`           // H100, H200, A100, L4
	Share       float64 `yaml:"share"`         // share of the fleet's GPUs
	GPUsPerNode int     `yaml:"gpus_per_node"` // default 8
	MIG         string  `yaml:"mig"`           // MIG profile on every GPU, e.g. 3g.40gb
}

// Exporter selects dcgm-exporter quirks.
type Exporter struct {
	// HostnameLabel is "Hostname" (releases up to 4.5.x) or "hostname" (after #655).
	HostnameLabel string `yaml:"hostname_label"`
	// HonorLabels records how the dcgm-exporter job is scraped. false (the
	// Helm default) means the exposed pod/namespace/container labels clash
	// with the target labels published in file_sd and are stored as
	// exported_*; true keeps them and idle GPUs inherit the exporter's
	// namespace/pod.
	HonorLabels bool `yaml:"honor_labels"`
	// Namespace is where the exporter DaemonSet runs (default gpu-operator).
	Namespace string `yaml:"namespace"`
	// DriverVersionLabel adds DCGM_FI_DRIVER_VERSION as a label (container CSV, not Helm).
	DriverVersionLabel bool `yaml:"driver_version_label"`
	// HealthCollectors turns on the exporter's own DCGM_EXP_XID_ERRORS_COUNT
	// and DCGM_EXP_GPU_HEALTH_STATUS (off in dcgm-exporter's default CSV,
	// on in servescope's generated values).
	HealthCollectors bool `yaml:"health_collectors"`
}

// KueueConfig selects which Kueue metrics exist.
type KueueConfig struct {
	LocalQueueMetrics     bool `yaml:"local_queue_metrics"`     // LocalQueueMetrics gate
	ClusterQueueResources bool `yaml:"cluster_queue_resources"` // metrics.enableClusterQueueResources
	Follower              bool `yaml:"follower"`                // a second (HA) replica exporting replica_role="follower"
	Preemption            bool `yaml:"preemption"`              // reclaimWithinCohort: Any
	// Version is the Kueue release rendered (default v0.19.2): it selects
	// which metric families exist (kueueVersionGates).
	Version string `yaml:"version"`
	// WaitForPodsReady turns on Kueue's waitForPodsReady, which adds the
	// ready and admitted-until-ready wait histograms.
	WaitForPodsReady bool `yaml:"wait_for_pods_ready"`
}

// Team is a tenant: one namespace, one LocalQueue and one ClusterQueue.
type Team struct {
	Name           string             `yaml:"name"`
	Namespace      string             `yaml:"namespace"` // default: the team name
	Cohort         string             `yaml:"cohort"`
	Quota          map[string]float64 `yaml:"quota"`           // flavor → share of that flavor's GPUs (nominal)
	BorrowingLimit map[string]float64 `yaml:"borrowing_limit"` // flavor → share; absent = unlimited within the cohort
	LendingLimit   map[string]float64 `yaml:"lending_limit"`   // flavor → share of nominal others may borrow; absent = all
}

// Deployment is a serving deployment; each replica is one Kueue workload and one pod.
type Deployment struct {
	Name                 string      `yaml:"name"`
	Team                 string      `yaml:"team"`
	Engine               string      `yaml:"engine"` // vllm (V1, default), vllm-v0, sglang, llamacpp
	Model                string      `yaml:"model"`
	Flavor               string      `yaml:"flavor"`
	TP                   int         `yaml:"tp"`
	DP                   int         `yaml:"dp"`
	Share                float64     `yaml:"share"` // share of the flavor's GPUs
	Priority             int         `yaml:"priority"`
	MaxNumSeqs           int         `yaml:"max_num_seqs"`
	MaxNumBatchedTokens  int         `yaml:"max_num_batched_tokens"`
	GPUMemoryUtilization float64     `yaml:"gpu_memory_utilization"`
	CPUOverhead          Duration    `yaml:"cpu_overhead"` // per engine step
	SpecDecode           *SpecDecode `yaml:"spec_decode"`
	Load                 Load        `yaml:"load"`
	// Prefill/decode disaggregation (scenario_pd.go): Role is prefill or
	// decode (empty: a unified worker); a decode deployment decodes what
	// the prefill deployment PrefillFrom prefilled, its KV arriving by
	// KVTransfer.
	Role        string      `yaml:"role"`
	PrefillFrom string      `yaml:"prefill_from"`
	KVTransfer  *KVTransfer `yaml:"kv_transfer"`
	// Gateway, if set, is an inference gateway in front of the deployment
	// (gateway.go).
	Gateway *GatewaySpec `yaml:"gateway"`
}

// SpecDecode configures speculative decoding.
type SpecDecode struct {
	NumTokens  int     `yaml:"num_tokens"`
	Acceptance float64 `yaml:"acceptance"` // per-token acceptance probability
}

// Load is the request stream offered to each replica.
type Load struct {
	Rate         float64 `yaml:"rate"`    // mean requests/s per replica
	Diurnal      float64 `yaml:"diurnal"` // relative amplitude of a 24 h sine, 0..1
	Bursts       []Burst `yaml:"bursts"`
	PromptTokens Tokens  `yaml:"prompt_tokens"`
	OutputTokens Tokens  `yaml:"output_tokens"`
}

// Burst multiplies the rate for a while.
type Burst struct {
	At     Duration `yaml:"at"`  // offset from the start
	For    Duration `yaml:"for"` // length
	Factor float64  `yaml:"factor"`
	Every  Duration `yaml:"every"` // repeat period; 0 = once
}

// Tokens is a log-normal length distribution.
type Tokens struct {
	Mean   float64 `yaml:"mean"`
	Spread float64 `yaml:"spread"` // sigma of the underlying normal
}

// JobSpec is a stream of batch jobs (for example training) queued in Kueue.
// GPUs and Burst are as written for the scenario's gpus; at another size a
// burst asks for the same share of its flavor: more jobs on a larger fleet,
// smaller jobs (down to one GPU, then fewer) on a smaller one.
type JobSpec struct {
	Name     string   `yaml:"name"`
	Team     string   `yaml:"team"`
	Flavor   string   `yaml:"flavor"`
	GPUs     int      `yaml:"gpus"`     // per job
	Every    Duration `yaml:"every"`    // mean inter-arrival time
	Runtime  Duration `yaml:"runtime"`  // once admitted
	Priority int      `yaml:"priority"` // WorkloadPriorityClass value
	Burst    int      `yaml:"burst"`    // jobs submitted at once (default 1)
	Busy     float64  `yaml:"busy"`     // engine-active share while running (default 0.95)
	// Startup is the time from admission until the job's pods are ready
	// (image pulls, node provisioning): GPUs held, nothing run.
	Startup Duration `yaml:"startup"`
}

// Event is something that happens at a point in simulated time: a node
// event (xid, gpu_failure, exporter_down, exporter_up) or a pod event
// (relabel). An xid stalls the GPU's pod for 10 minutes; a gpu_failure
// breaks the GPU for good (its XID repeats every 2 minutes, memory XIDs
// remap rows, DCGM's health check fails).
type Event struct {
	At   Duration `yaml:"at"`
	Kind string   `yaml:"kind"` // xid, gpu_failure, exporter_down, exporter_up, relabel
	Node int      `yaml:"node"` // node index in fleet order
	GPU  int      `yaml:"gpu"`  // GPU index on the node (xid, gpu_failure)
	XID  int      `yaml:"xid"`  // XID code (xid: default 79; gpu_failure: default 64, row remapping failure)
	// Nodes applies the event to this many consecutive nodes starting at
	// Node (default 1). Exporter events are written for the scenario's gpus
	// and scale with the fleet's node count (the same share of the nodes,
	// at least one); an XID stays on its one GPU.
	Nodes int `yaml:"nodes"`

	// Deployment or Job selects the pods a relabel changes: those of the
	// deployment or job stream running at At, oldest first.
	Deployment string `yaml:"deployment"`
	Job        string `yaml:"job"`
	// Pods is how many of the selected pods a relabel changes (default all).
	Pods int `yaml:"pods"`
	// Label and Value are the pod label a relabel sets and its new value, as
	// kubectl label --overwrite would: only the team label (default), to a
	// team of the scenario. The pod keeps its namespace, uid and Kueue
	// queue; pods created later carry their template's labels.
	Label string `yaml:"label"`
	Value string `yaml:"value"`
}

// Event kinds.
const (
	EventXID          = "xid"
	EventGPUFailure   = "gpu_failure"
	EventExporterDown = "exporter_down"
	EventExporterUp   = "exporter_up"
	EventRelabel      = "relabel"
)

// Duration is a time.Duration spelt like "15m" in YAML.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: duration %q: %w", n.Line, n.Value, err)
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ScenarioError is an invalid scenario: the file, the line and the reason (the
// project's one located-error type).
type ScenarioError = located.Error

// LoadScenario reads and validates a scenario file.
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario %q: %w", path, err)
	}
	return ParseScenario(path, b)
}

// Shipped lists the names of the scenarios built into the binary (the
// files of examples/scenarios), sorted.
func Shipped() []string {
	entries, err := fs.ReadDir(scenarios.FS, ".")
	if err != nil {
		return nil // the embedded root always reads; nothing shipped otherwise
	}
	var names []string
	for _, e := range entries {
		if e.Name() == scenarios.PriceBook {
			continue
		}
		if name, ok := strings.CutSuffix(e.Name(), ".yml"); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names) // by name, not file name (memory-bound before memory-bound-kv)
	return names
}

// OpenScenario loads a scenario by path (anything with a slash or a .yml or
// .yaml suffix), or by name: from dir when dir is set, else from the
// scenarios built into the binary. An unknown name is an error listing the
// names there are.
func OpenScenario(dir, nameOrPath string) (*Scenario, error) {
	if strings.ContainsAny(nameOrPath, "/\\") || strings.HasSuffix(nameOrPath, ".yml") || strings.HasSuffix(nameOrPath, ".yaml") {
		return LoadScenario(nameOrPath)
	}
	if dir == "" {
		b, err := fs.ReadFile(scenarios.FS, nameOrPath+".yml")
		if err != nil || nameOrPath+".yml" == scenarios.PriceBook {
			return nil, fmt.Errorf("unknown scenario %q: the shipped ones are %s (or give a file path)", nameOrPath, strings.Join(Shipped(), ", "))
		}
		return ParseScenario("examples/scenarios/"+nameOrPath+".yml", b)
	}
	for _, ext := range []string{".yml", ".yaml"} {
		p := filepath.Join(dir, nameOrPath+ext)
		if _, err := os.Stat(p); err == nil {
			return LoadScenario(p)
		}
	}
	var names []string
	for _, pat := range []string{"*.yml", "*.yaml"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat)) // the pattern is well formed
		for _, p := range m {
			names = append(names, strings.TrimSuffix(strings.TrimSuffix(filepath.Base(p), ".yml"), ".yaml"))
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("unknown scenario %q: no scenario files in %s", nameOrPath, dir)
	}
	return nil, fmt.Errorf("unknown scenario %q: %s has %s", nameOrPath, dir, strings.Join(names, ", "))
}

// ParseScenario decodes data strictly (unknown keys are errors), applies
// defaults and validates; file names the source in errors.
func ParseScenario(file string, data []byte) (*Scenario, error) {
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ScenarioError{File: file, Reason: "empty scenario"}
		}
		return nil, located.FromYAML(file, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, located.FromYAML(file, err)
	}
	s.defaults()
	if p, reason := s.validate(); reason != "" {
		return nil, &ScenarioError{File: file, Line: lineOf(&root, p), Reason: reason}
	}
	return &s, nil
}

// lineOf walks a path of mapping keys (string) and sequence indexes (int)
// and returns the line of the deepest node found.
func lineOf(root *yaml.Node, path []any) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						line = n.Content[i].Line
						next = n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

func (s *Scenario) defaults() {
	if s.GPUs == 0 {
		s.GPUs = 64
	}
	for i := range s.Nodes {
		if s.Nodes[i].GPUsPerNode == 0 {
			s.Nodes[i].GPUsPerNode = 8
		}
	}
	if s.Exporter.HostnameLabel == "" {
		s.Exporter.HostnameLabel = "Hostname"
	}
	if s.Exporter.Namespace == "" {
		s.Exporter.Namespace = "gpu-operator"
	}
	for i := range s.Teams {
		if s.Teams[i].Namespace == "" {
			s.Teams[i].Namespace = s.Teams[i].Name
		}
	}
	for i := range s.Deployments {
		d := &s.Deployments[i]
		if d.Engine == "" {
			d.Engine = EngineVLLM
		}
		if d.TP == 0 {
			d.TP = 1
		}
		if d.DP == 0 {
			d.DP = 1
		}
		if d.MaxNumSeqs == 0 {
			d.MaxNumSeqs = 256
		}
		if d.MaxNumBatchedTokens == 0 {
			d.MaxNumBatchedTokens = 8192
		}
		if d.GPUMemoryUtilization == 0 {
			d.GPUMemoryUtilization = 0.9
		}
		if d.CPUOverhead == 0 {
			d.CPUOverhead = Duration(3 * time.Millisecond)
		}
		if d.Priority == 0 {
			d.Priority = 100
		}
	}
	if s.Kueue.Version == "" {
		s.Kueue.Version = defaultKueueVersion
	}
	s.defaultsPD()
	for i := range s.Jobs {
		if s.Jobs[i].Burst == 0 {
			s.Jobs[i].Burst = 1
		}
		if s.Jobs[i].Busy == 0 {
			s.Jobs[i].Busy = 0.95
		}
	}
	for i := range s.Events {
		e := &s.Events[i]
		if e.Kind == EventRelabel {
			if e.Label == "" {
				e.Label = "team"
			}
			continue
		}
		if e.Nodes == 0 {
			e.Nodes = 1
		}
		if e.XID == 0 && e.Kind == EventGPUFailure {
			e.XID = 64
		}
		if e.XID == 0 {
			e.XID = 79
		}
	}
}

// Engine kinds.
const (
	EngineVLLM     = "vllm"      // vLLM V1 (current names)
	EngineVLLM010  = "vllm-0.10" // V1 that still emits the deprecated gpu_cache_usage_perc and time_per_output_token_seconds
	EngineVLLMV0   = "vllm-v0"   // V0-era names: gpu_cache_usage_perc, time_per_output_token_seconds, no engine label
	EngineSGLang   = "sglang"    // sglang:* families
	EngineLlamaCpp = "llamacpp"  // llamacpp:* families
)
