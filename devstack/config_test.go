package devstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "defaults",
			cfg:  Config{StateDir: "/tmp/rf-state"},
			check: func(t *testing.T, c Config) {
				if c.BinDir != "/tmp/rf-state/bin" {
					t.Errorf("BinDir = %q", c.BinDir)
				}
				if c.RealNode != RealNodeAuto || c.FakeNodes != 1 || c.TemporalNamespace != "default" {
					t.Errorf("RealNode %q FakeNodes %d namespace %q", c.RealNode, c.FakeNodes, c.TemporalNamespace)
				}
				if c.Ports != DefaultPorts() {
					t.Errorf("Ports = %+v", c.Ports)
				}
				if c.Logger == nil || c.StartTimeout == 0 {
					t.Error("logger or timeout not defaulted")
				}
				if c.KwokStages != "/tmp/rf-state/kwok-stages.yaml" {
					t.Errorf("KwokStages = %q", c.KwokStages)
				}
			},
		},
		{
			name: "relative state dir made absolute",
			cfg:  Config{StateDir: "rel/state"},
			check: func(t *testing.T, c Config) {
				wd, _ := os.Getwd()
				if c.StateDir != filepath.Join(wd, "rel/state") {
					t.Errorf("StateDir = %q", c.StateDir)
				}
			},
		},
		{
			name:  "negative fake nodes means none",
			cfg:   Config{StateDir: "/s", FakeNodes: -1},
			check: func(t *testing.T, c Config) { assertEq(t, c.FakeNodes, 0) },
		},
		{
			name:  "one port changed, the rest defaulted",
			cfg:   Config{StateDir: "/s", Ports: Ports{APIServer: 26443}},
			check: func(t *testing.T, c Config) { assertEq(t, c.Ports.APIServer, 26443); assertEq(t, c.Ports.Etcd, 12379) },
		},
		{name: "bad real node mode", cfg: Config{RealNode: "maybe"}, wantErr: `real node mode "maybe"`},
		{name: "port clash", cfg: Config{Ports: Ports{Registry: 7233}}, wantErr: "port 7233 used twice"},
		{name: "etcd peer clash", cfg: Config{Ports: Ports{Etcd: 16442}}, wantErr: "port 16443 used twice"},
		{name: "port out of range", cfg: Config{Ports: Ports{Kwok: 70000}}, wantErr: "kwok port 70000"},
		{name: "kubeconfig and no kubernetes", cfg: Config{Kubeconfig: "/k", NoKubernetes: true}, wantErr: "pick one"},
		{name: "too many fake nodes", cfg: Config{FakeNodes: 5000}, wantErr: "at most 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.cfg
			err := c.Validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestConfigParts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                     string
		cfg                      Config
		kube, temporal, registry bool
	}{
		{name: "everything local", cfg: Config{}, kube: true, temporal: true, registry: true},
		{name: "given cluster", cfg: Config{Kubeconfig: "/k"}, temporal: true, registry: true},
		{name: "given temporal and registry", cfg: Config{TemporalAddr: "t:7233", RegistryAddr: "r:5000"}, kube: true},
		{name: "nothing", cfg: Config{NoKubernetes: true, NoTemporal: true, NoRegistry: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.cfg
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.localKubernetes() != tt.kube || c.localTemporal() != tt.temporal || c.localRegistry() != tt.registry {
				t.Errorf("local kube/temporal/registry = %v/%v/%v, want %v/%v/%v", c.localKubernetes(),
					c.localTemporal(), c.localRegistry(), tt.kube, tt.temporal, tt.registry)
			}
		})
	}
}

func assertEq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}
