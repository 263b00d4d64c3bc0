package sim

import (
	"fmt"
	"strings"
)

// gpuSpec is one accelerator's datasheet figures (dense bf16, no sparsity),
// taken from ../shared/reference/gpu-physics.md.
type gpuSpec struct {
	key          string  // scenario spelling: H100, H200, A100, L4
	modelName    string  // dcgm modelName label
	memoryMiB    float64 // framebuffer
	bandwidth    float64 // HBM bytes/s
	flops        float64 // bf16 tensor FLOP/s
	powerW       float64 // board power
	idlePowerW   float64
	smClockMHz   float64
	memClockMHz  float64
	migSlices    int     // MIG compute slices (7 on H100/H200/A100, 0 when unsupported)
	migMemoryGiB float64 // memory per compute slice
}

// achievedShare is the fraction of datasheet bandwidth and FLOP/s that a
// real kernel reaches: gpu-physics.md measured 4.3 of 4.8 TB/s and 769–798 of
// 989 TFLOP/s on an H200, so 10–20% under the datasheet.
const achievedShare = 0.85

// lookupGPU returns the spec for a scenario GPU name.
func lookupGPU(name string) (gpuSpec, error) {
	switch strings.ToUpper(name) {
	case "H100":
		return gpuSpec{key: "H100", modelName: "NVIDIA H100 80GB HBM3", memoryMiB: 81559, bandwidth: 3.35e12, flops: 989e12, powerW: 700, idlePowerW: 68, smClockMHz: 1980, memClockMHz: 2619, migSlices: 7, migMemoryGiB: 10}, nil
	case "H200":
		return gpuSpec{key: "H200", modelName: "NVIDIA H200", memoryMiB: 143771, bandwidth: 4.8e12, flops: 989e12, powerW: 700, idlePowerW: 75, smClockMHz: 1980, memClockMHz: 3201, migSlices: 7, migMemoryGiB: 18}, nil
	case "A100":
		return gpuSpec{key: "A100", modelName: "NVIDIA A100-SXM4-80GB", memoryMiB: 81920, bandwidth: 2.0e12, flops: 312e12, powerW: 400, idlePowerW: 55, smClockMHz: 1410, memClockMHz: 1593, migSlices: 7, migMemoryGiB: 10}, nil
	case "L4":
		return gpuSpec{key: "L4", modelName: "NVIDIA L4", memoryMiB: 23034, bandwidth: 300e9, flops: 121e12, powerW: 72, idlePowerW: 16, smClockMHz: 2040, memClockMHz: 6251}, nil
	}
	return gpuSpec{}, fmt.Errorf("unknown GPU %q (known: H100, H200, A100, L4)", name)
}

// migSlice returns the spec of one MIG instance of profile (for example
// "3g.40gb"), how many fit on a card and its share of the card: compute,
// bandwidth and power scale with the g share of the card (3g on A100s:
// 3/7), memory is the profile's.
func (g gpuSpec) migSlice(profile string) (s gpuSpec, perGPU int, share float64, err error) {
	if g.migSlices == 0 {
		return gpuSpec{}, 0, 0, fmt.Errorf("GPU %s does not support MIG", g.key)
	}
	var slices, mem int
	if _, err := fmt.Sscanf(profile, "%dg.%dgb", &slices, &mem); err != nil || slices < 1 || slices > g.migSlices || mem < 1 {
		return gpuSpec{}, 0, 0, fmt.Errorf("MIG profile %q: want <n>g.<mem>gb with 1 <= n <= %d", profile, g.migSlices)
	}
	share = float64(slices) / float64(g.migSlices)
	s = g
	s.memoryMiB = float64(mem) * 1024
	s.bandwidth *= share
	s.flops *= share
	s.powerW *= share
	s.idlePowerW *= share
	return s, g.migSlices / slices, share, nil
}

// modelSpec is one served model (bf16 weights), from gpu-physics.md.
type modelSpec struct {
	key         string  // scenario spelling
	servedName  string  // --served-model-name, the model_name label
	params      float64 // parameters
	weightBytes float64
	kvPerToken  float64 // bytes of KV cache per token
	maxModelLen int
}

// lookupModel returns the spec for a scenario model name.
func lookupModel(name string) (modelSpec, error) {
	switch name {
	case "Llama-3.1-8B":
		return modelSpec{key: name, servedName: "meta-llama/Llama-3.1-8B-Instruct", params: 8.0e9, weightBytes: 16e9, kvPerToken: 128 << 10, maxModelLen: 32768}, nil
	case "Llama-3.1-70B":
		return modelSpec{key: name, servedName: "meta-llama/Llama-3.1-70B-Instruct", params: 70.6e9, weightBytes: 141e9, kvPerToken: 320 << 10, maxModelLen: 32768}, nil
	case "Qwen2.5-7B":
		return modelSpec{key: name, servedName: "Qwen/Qwen2.5-7B-Instruct", params: 7.6e9, weightBytes: 15e9, kvPerToken: 56 << 10, maxModelLen: 32768}, nil
	case "Mistral-7B-v0.3":
		return modelSpec{key: name, servedName: "mistralai/Mistral-7B-Instruct-v0.3", params: 7.2e9, weightBytes: 14.5e9, kvPerToken: 128 << 10, maxModelLen: 32768}, nil
	}
	return modelSpec{}, fmt.Errorf("unknown model %q (known: Llama-3.1-8B, Llama-3.1-70B, Qwen2.5-7B, Mistral-7B-v0.3)", name)
}
