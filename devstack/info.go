package devstack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// InfoPath is where `rainflow dev` with state folder state writes its Info.
func InfoPath(state string) string { return filepath.Join(state, "dev.json") }

// Info is what `rainflow dev` writes to InfoPath once the platform is up: every address a user or a
// test needs. Tests read it to drive the platform.
type Info struct {
	APIURL        string `json:"apiUrl"`
	APIToken      string `json:"apiToken"`
	TemporalAddr  string `json:"temporalAddress"`
	TemporalUIURL string `json:"temporalUiUrl,omitempty"`
	Namespace     string `json:"temporalNamespace"`
	GatewayURL    string `json:"gatewayUrl"`
	// GatewayAdminURL serves the gateway's /healthz, /readyz, /metrics and /debug/routes.
	GatewayAdminURL string `json:"gatewayAdminUrl,omitempty"`
	CollectorURL    string `json:"collectorUrl"`
	WorkerURL       string `json:"workerUrl"`
	RegistryAddr    string `json:"registry"`
	Kubeconfig      string `json:"kubeconfig"`
	RealNode        bool   `json:"realNode"`
	RealNodeReason  string `json:"realNodeReason,omitempty"`
	NodeName        string `json:"nodeName,omitempty"`
	PodCIDR         string `json:"podCidr,omitempty"`
	BuildKitAddr    string `json:"buildkitAddress,omitempty"`
	DBDriver        string `json:"dbDriver"`
	DBDSN           string `json:"dbDsn"`
	PID             int    `json:"pid"`
}

// Write writes the Info to path, readable by its owner only (it holds the API token).
func (i Info) Write(path string) error {
	b, err := json.MarshalIndent(i, "", "  ")
	if err != nil {
		return fmt.Errorf("encode dev info: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadInfo reads the Info of a running `rainflow dev`.
func ReadInfo(path string) (Info, error) {
	var info Info
	b, err := os.ReadFile(path)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("decode %s: %w", path, err)
	}
	return info, nil
}
