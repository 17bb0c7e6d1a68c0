package api

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
)

func validSpec() contract.ComponentSpec {
	return contract.ComponentSpec{
		Image:    "registry.example:5000/shop/web:1.0",
		Replicas: 2,
		Ports:    []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}, {Name: "dns", Port: 53, Protocol: "UDP"}},
		Env:      []contract.EnvVar{{Name: "MODE", Value: "prod"}},
		Resources: contract.Resources{
			CPURequest: "250m", CPULimit: "1", MemoryRequest: "64Mi", MemoryLimit: "128Mi",
		},
		Readiness:    &contract.Probe{HTTPPath: "/healthz", Port: 8080, PeriodSeconds: 5, FailureThreshold: 3},
		Liveness:     &contract.Probe{Port: 53},
		NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
	}
}

func TestValidateSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(s *contract.ComponentSpec)
		want   map[string]string // field → part of the reason
	}{
		{name: "valid", change: func(*contract.ComponentSpec) {}},
		{name: "image by digest", change: func(s *contract.ComponentSpec) {
			s.Image = "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		}},
		{name: "no image", change: func(s *contract.ComponentSpec) { s.Image = "" },
			want: map[string]string{"spec.image": "is required"}},
		{name: "image does not parse", change: func(s *contract.ComponentSpec) { s.Image = "Registry/UPPER:tag" },
			want: map[string]string{"spec.image": "is not an image reference"}},
		{name: "image with a bad tag", change: func(s *contract.ComponentSpec) { s.Image = "nginx:bad tag" },
			want: map[string]string{"spec.image": "is not an image reference"}},
		{name: "negative replicas", change: func(s *contract.ComponentSpec) { s.Replicas = -1 },
			want: map[string]string{"spec.replicas": "between 0 and 100"}},
		{name: "too many replicas", change: func(s *contract.ComponentSpec) { s.Replicas = 101 },
			want: map[string]string{"spec.replicas": "between 0 and 100"}},
		{name: "zero replicas is a stopped component", change: func(s *contract.ComponentSpec) { s.Replicas = 0 }},
		{name: "port zero", change: func(s *contract.ComponentSpec) { s.Ports[0].Port = 0; s.Readiness.Port = 53 },
			want: map[string]string{"spec.ports[0].port": "between 1 and 65535"}},
		{name: "port too large", change: func(s *contract.ComponentSpec) { s.Ports[0].Port = 65536; s.Readiness = nil },
			want: map[string]string{"spec.ports[0].port": "between 1 and 65535"}},
		{name: "bad protocol", change: func(s *contract.ComponentSpec) { s.Ports[1].Protocol = "SCTP" },
			want: map[string]string{"spec.ports[1].protocol": `must be TCP or UDP, not "SCTP"`}},
		{name: "same port twice", change: func(s *contract.ComponentSpec) {
			s.Ports = append(s.Ports, contract.Port{Name: "http2", Port: 8080, Protocol: "TCP"})
		}, want: map[string]string{"spec.ports[2]": "duplicates spec.ports[0]: port 8080/TCP"}},
		{name: "same port, TCP and UDP", change: func(s *contract.ComponentSpec) {
			s.Ports = append(s.Ports, contract.Port{Name: "dns-tcp", Port: 53, Protocol: "TCP"})
		}},
		{name: "unnamed port among several", change: func(s *contract.ComponentSpec) { s.Ports[1].Name = "" },
			want: map[string]string{"spec.ports[1].name": "is required when a component has more than one port"}},
		{name: "port name not IANA", change: func(s *contract.ComponentSpec) { s.Ports[1].Name = "Dns_Port" },
			want: map[string]string{"spec.ports[1].name": "must contain only alpha-numeric characters"}},
		{name: "duplicate port name", change: func(s *contract.ComponentSpec) { s.Ports[1].Name = "http" },
			want: map[string]string{"spec.ports[1].name": `duplicates spec.ports[0].name "http"`}},
		{name: "env name", change: func(s *contract.ComponentSpec) { s.Env[0].Name = "1MODE" },
			want: map[string]string{"spec.env[0].name": "a valid environment variable name"}},
		{name: "env name empty", change: func(s *contract.ComponentSpec) { s.Env[0].Name = "" },
			want: map[string]string{"spec.env[0].name": "is required"}},
		{name: "env twice", change: func(s *contract.ComponentSpec) { s.Env = append(s.Env, s.Env[0]) },
			want: map[string]string{"spec.env[1].name": `duplicates spec.env[0].name "MODE"`}},
		{name: "cpu quantity", change: func(s *contract.ComponentSpec) { s.Resources.CPULimit = "two" },
			want: map[string]string{"spec.resources.cpuLimit": `"two" is not a Kubernetes quantity`}},
		{name: "memory quantity", change: func(s *contract.ComponentSpec) { s.Resources.MemoryRequest = "64MB!" },
			want: map[string]string{"spec.resources.memoryRequest": "is not a Kubernetes quantity"}},
		{name: "negative quantity", change: func(s *contract.ComponentSpec) { s.Resources.CPURequest = "-1" },
			want: map[string]string{"spec.resources.cpuRequest": "must not be negative"}},
		{name: "request above limit", change: func(s *contract.ComponentSpec) { s.Resources.MemoryRequest = "1Gi" },
			want: map[string]string{"spec.resources.memoryRequest": "must be at most memoryLimit 128Mi"}},
		{name: "probe on an undeclared port", change: func(s *contract.ComponentSpec) { s.Readiness.Port = 9090 },
			want: map[string]string{"spec.readiness.port": "9090 is not one of the component's ports"}},
		{name: "probe without ports", change: func(s *contract.ComponentSpec) { s.Ports = nil; s.Liveness = nil },
			want: map[string]string{"spec.readiness.port": "8080 is not one of the component's ports"}},
		{name: "probe path", change: func(s *contract.ComponentSpec) { s.Readiness.HTTPPath = "healthz" },
			want: map[string]string{"spec.readiness.httpPath": "must start with /"}},
		{name: "probe period", change: func(s *contract.ComponentSpec) { s.Liveness.PeriodSeconds = -5 },
			want: map[string]string{"spec.liveness.periodSeconds": "between 0"}},
		{name: "node selector key", change: func(s *contract.ComponentSpec) { s.NodeSelector = map[string]string{"bad key": "x"} },
			want: map[string]string{`spec.nodeSelector["bad key"]`: "name part must consist of alphanumeric"}},
		{name: "node selector value", change: func(s *contract.ComponentSpec) { s.NodeSelector = map[string]string{"zone": "a b"} },
			want: map[string]string{`spec.nodeSelector["zone"]`: "a valid label must be an empty string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := validSpec()
			tt.change(&spec)
			var errs fieldErrors
			validateSpec(&errs, "spec", spec)
			got := map[string]string{}
			for _, e := range errs {
				got[e.Field] += e.Reason + "; "
			}
			require.Len(t, got, len(tt.want), "errors: %v", errs)
			for field, reason := range tt.want {
				require.Contains(t, got[field], reason, "field %s", field)
			}
		})
	}
}

func TestNormalizeSpec(t *testing.T) {
	t.Parallel()
	spec := contract.ComponentSpec{Ports: []contract.Port{{Port: 80}, {Port: 53, Protocol: "UDP"}}}
	normalizeSpec(&spec)
	require.Equal(t, "TCP", spec.Ports[0].Protocol)
	require.Equal(t, "UDP", spec.Ports[1].Protocol)
}
