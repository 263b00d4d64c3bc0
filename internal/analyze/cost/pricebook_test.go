package cost

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParsePriceBookErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want string
	}{
		{"negative.bad.yml", `testdata/pricebooks/negative.bad.yml:6: negative price "-0.80"`},
		{"malformed.bad.yml", `testdata/pricebooks/malformed.bad.yml:4: amount "3,00": want a non-negative decimal such as 3.00`},
		{"unknown-key.bad.yml", `testdata/pricebooks/unknown-key.bad.yml:5: field per_hour not found in type cost.Price`},
		{"no-key.bad.yml", `testdata/pricebooks/no-key.bad.yml:3: price without gpu, model_name or flavor`},
		{"float.bad.yml", `testdata/pricebooks/float.bad.yml:4: amount "3.0000001": at most 6 fraction digits`},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			_, err := LoadPriceBook(filepath.Join("testdata", "pricebooks", tc.file))
			var pe *PriceBookError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a PriceBookError", err)
			}
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
		})
	}
}

func TestShippedPriceBook(t *testing.T) {
	t.Parallel()
	pb, err := LoadPriceBook(filepath.Join("..", "..", "..", "examples", "scenarios", "prices.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		flavor, model string
		want          Micros
		ok            bool
	}{
		{"", "NVIDIA H100 80GB HBM3", 3_000_000, true},
		{"", "NVIDIA-H100-80GB-HBM3", 3_000_000, true}, // GPU feature discovery's spelling
		{"", "NVIDIA L4", 800_000, true},
		{"", "NVIDIA-A100-SXM4-80GB", 1_800_000, true},
		{"", "NVIDIA B200", 0, false},
		{"h100", "", 0, false},
	}
	for _, tc := range tests {
		got, ok := pb.Lookup(tc.flavor, tc.model)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Lookup(%q, %q) = %s, %v; want %s, %v", tc.flavor, tc.model, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMicros(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		want  Micros
		cents string
		bad   bool
	}{
		{in: "3.00", want: 3_000_000, cents: "3.00"},
		{in: "0.8", want: 800_000, cents: "0.80"},
		{in: "12", want: 12_000_000, cents: "12.00"},
		{in: "0.000005", want: 5, cents: "0.00"},
		{in: "0.005", want: 5_000, cents: "0.01"},
		{in: "1e3", bad: true},
		{in: ".5", bad: true},
		{in: "-1", bad: true},
		{in: "99999999999999", bad: true},
	}
	for _, tc := range tests {
		got, err := ParseMicros(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseMicros(%q) = %d, %v", tc.in, got, err)
			continue
		}
		if !tc.bad && got.Cents() != tc.cents {
			t.Errorf("%q cents = %s, want %s", tc.in, got.Cents(), tc.cents)
		}
	}
	// Hours are priced exactly: 1/3 h of a 3.00 GPU is 1.000000.
	if got := Micros(3_000_000).times(1.0 / 3); got != 1_000_000 {
		t.Errorf("1/3 h × 3.00 = %s", got)
	}
}

func TestMigWeight(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{
		"nvidia_com_gpu": 1, "nvidia.com/gpu": 1, "": 1,
		"nvidia_com_mig_1g_10gb": 1.0 / 7, "nvidia.com/mig-3g.40gb": 3.0 / 7, "1g.10gb": 1.0 / 7, "7g.80gb": 1,
		"nvidia.com/mig-12g.1gb": 1,
	} {
		if got := migWeight(in); got != want {
			t.Errorf("migWeight(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestParseWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC)
	tests := []struct {
		in         string
		start, end time.Time
		bad        bool
	}{
		{in: "1h", start: now.Add(-time.Hour), end: now},
		{in: "24h", start: now.Add(-24 * time.Hour), end: now},
		{in: "7d", start: now.Add(-7 * 24 * time.Hour), end: now},
		{in: "30d", start: now.Add(-30 * 24 * time.Hour), end: now},
		{in: "today", start: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), end: now},
		{in: "yesterday", start: time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), end: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)},
		{in: "2026-03-01T00:00:00Z,2026-03-02T12:00:00Z", start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), end: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)},
		{in: "2026-03-02T00:00:00Z,2026-03-01T00:00:00Z", bad: true},
		{in: "soon", bad: true},
		{in: "", bad: true},
	}
	for _, tc := range tests {
		s, e, err := ParseWindow(tc.in, now)
		if (err != nil) != tc.bad || !s.Equal(tc.start) || !e.Equal(tc.end) {
			t.Errorf("ParseWindow(%q) = %s, %s, %v", tc.in, s, e, err)
		}
	}
}

// FuzzParsePriceBook checks that no input panics and that every accepted
// price is non-negative and prints back to the amount it was parsed from.
func FuzzParsePriceBook(f *testing.F) {
	for _, p := range []string{"../../../examples/scenarios/prices.yml", "testdata/pricebooks/negative.bad.yml", "testdata/pricebooks/malformed.bad.yml", "testdata/pricebooks/unknown-key.bad.yml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("currency: EUR\ngpus: [{flavor: x, hourly: \"0.000001\"}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pb, err := ParsePriceBook("fuzz.yml", b)
		if err != nil {
			var pe *PriceBookError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a PriceBookError", err)
			}
			return
		}
		for _, p := range pb.GPUs {
			if p.Hourly < 0 {
				t.Fatalf("negative price accepted: %q", p.HourlyText)
			}
			back, err := ParseMicros(p.Hourly.String())
			if err != nil || back != p.Hourly {
				t.Fatalf("%s does not round-trip: %v", p.Hourly, err)
			}
		}
	})
}
