package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/servescope/servescope/internal/analyze/diagnose"
)

// WriteDiagnosisJSON writes a diagnosis as indented JSON (`servescope
// diagnose --output json`).
func WriteDiagnosisJSON(w io.Writer, r *diagnose.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write diagnosis json: %w", err)
	}
	return nil
}
