package api

import (
	"strings"
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

		// startup probe
		{name: "startup probe", change: func(s *contract.ComponentSpec) {
			s.StartupProbe = &contract.Probe{HTTPPath: "/started", Port: 8080, FailureThreshold: 60}
		}},
		{name: "startup probe on an undeclared port", change: func(s *contract.ComponentSpec) { s.StartupProbe = &contract.Probe{Port: 1} },
			want: map[string]string{"spec.startup.port": "1 is not one of the component's ports"}},

		// config files
		{name: "config files", change: func(s *contract.ComponentSpec) {
			s.ConfigFiles = []contract.ConfigFile{{Path: "/etc/web/web.conf", Content: "a=1"}, {Path: "/.env", Content: ""}}
		}},
		{name: "config path relative", change: func(s *contract.ComponentSpec) { s.ConfigFiles = []contract.ConfigFile{{Path: "etc/web.conf"}} },
			want: map[string]string{"spec.configFiles[0].path": "must be absolute"}},
		{name: "config path not clean", change: func(s *contract.ComponentSpec) { s.ConfigFiles = []contract.ConfigFile{{Path: "/etc/../web.conf"}} },
			want: map[string]string{"spec.configFiles[0].path": `must be clean (no //, ., .. or trailing /): "/web.conf"`}},
		{name: "config path trailing slash", change: func(s *contract.ComponentSpec) { s.ConfigFiles = []contract.ConfigFile{{Path: "/etc/"}} },
			want: map[string]string{"spec.configFiles[0].path": "must be clean"}},
		{name: "config path root", change: func(s *contract.ComponentSpec) { s.ConfigFiles = []contract.ConfigFile{{Path: "/"}} },
			want: map[string]string{"spec.configFiles[0].path": "must not be the root folder"}},
		{name: "config path missing", change: func(s *contract.ComponentSpec) { s.ConfigFiles = []contract.ConfigFile{{Content: "x"}} },
			want: map[string]string{"spec.configFiles[0].path": "is required"}},
		{name: "config path twice", change: func(s *contract.ComponentSpec) {
			s.ConfigFiles = []contract.ConfigFile{{Path: "/etc/a"}, {Path: "/etc/b"}, {Path: "/etc/a"}}
		}, want: map[string]string{"spec.configFiles[2].path": `duplicates spec.configFiles[0].path: "/etc/a" is mounted twice`}},
		{name: "config too large", change: func(s *contract.ComponentSpec) {
			s.ConfigFiles = []contract.ConfigFile{{Path: "/a", Content: strings.Repeat("x", 300<<10)}, {Path: "/b", Content: strings.Repeat("y", 300<<10)}}
		}, want: map[string]string{"spec.configFiles": "more than 524288 (512 KiB)"}},
		{name: "config at the limit", change: func(s *contract.ComponentSpec) {
			s.ConfigFiles = []contract.ConfigFile{{Path: "/a", Content: strings.Repeat("x", 512<<10)}}
		}},

		// volumes
		{name: "stateless ReadWriteMany volume with replicas", change: func(s *contract.ComponentSpec) {
			s.Volumes = []contract.Volume{{Name: "shared", Path: "/srv/shared", Size: "10Gi", AccessMode: "ReadWriteMany", StorageClass: "nfs.example.com"}}
		}},
		{name: "stateless ReadWriteOnce volume with one replica", change: func(s *contract.ComponentSpec) {
			s.Replicas = 1
			s.Volumes = []contract.Volume{{Name: "data", Path: "/data", Size: "1Gi", AccessMode: "ReadWriteOnce"}}
		}},
		{name: "stateless ReadWriteOnce volume with replicas", change: func(s *contract.ComponentSpec) {
			s.Volumes = []contract.Volume{{Name: "data", Path: "/data", Size: "1Gi", AccessMode: "ReadWriteOnce"}}
		}, want: map[string]string{"spec.volumes[0].accessMode": "a stateless component with more than one replica (2) needs ReadWriteMany"}},
		{name: "stateless ReadWriteOnce volume, autoscaled beyond one replica", change: func(s *contract.ComponentSpec) {
			s.Replicas = 1
			s.Autoscaling = &contract.Autoscaling{MinReplicas: 1, MaxReplicas: 3}
			s.Volumes = []contract.Volume{{Name: "data", Path: "/data", Size: "1Gi"}}
		}, want: map[string]string{"spec.volumes[0].accessMode": "more than one replica (3)"}},
		{name: "stateful ReadWriteOnce volume with replicas", change: func(s *contract.ComponentSpec) {
			s.Stateful = true
			s.Volumes = []contract.Volume{{Name: "data", Path: "/data", Size: "1Gi", AccessMode: "ReadWriteOnce"}}
		}},
		{name: "volume name not a DNS label", change: func(s *contract.ComponentSpec) {
			s.Stateful = true
			s.Volumes = []contract.Volume{{Name: "Data_1", Path: "/data", Size: "1Gi"}}
		}, want: map[string]string{"spec.volumes[0].name": "a lowercase RFC 1123 label"}},
		{name: "volume name reserved", change: func(s *contract.ComponentSpec) {
			s.Stateful = true
			s.Volumes = []contract.Volume{{Name: "rainflow-config", Path: "/data", Size: "1Gi"}}
		}, want: map[string]string{"spec.volumes[0].name": "is reserved for the config files"}},
		{name: "volume twice", change: func(s *contract.ComponentSpec) {
			s.Stateful = true
			s.Volumes = []contract.Volume{{Name: "data", Path: "/a", Size: "1Gi"}, {Name: "data", Path: "/b", Size: "1Gi"}}
		}, want: map[string]string{"spec.volumes[1].name": `duplicates spec.volumes[0].name "data"`}},
		{name: "volume without name, path or size", change: func(s *contract.ComponentSpec) {
			s.Stateful = true
			s.Volumes = []contract.Volume{{}}
		}, want: map[string]string{"spec.volumes[0].name": "is required", "spec.volumes[0].path": "is required", "spec.volumes[0].size": "is required"}},
		{name: "volume size not a quantity", change: func(s *contract.ComponentSpec) {
			s.Stateful = true
			s.Volumes = []contract.Volume{{Name: "data", Path: "/data", Size: "ten gigs"}}
		}, want: map[string]string{"spec.volumes[0].size": `"ten gigs" is not a Kubernetes quantity`}},
		{name: "volume size zero", change: func(s *contract.ComponentSpec) {
			s.Stateful = true
			s.Volumes = []contract.Volume{{Name: "data", Path: "/data", Size: "0"}}
		}, want: map[string]string{"spec.volumes[0].size": "must be more than 0"}},
		{name: "volume access mode unknown", change: func(s *contract.ComponentSpec) {
			s.Stateful = true
			s.Volumes = []contract.Volume{{Name: "data", Path: "/data", Size: "1Gi", AccessMode: "ReadOnlyMany"}}
		}, want: map[string]string{"spec.volumes[0].accessMode": `must be ReadWriteOnce or ReadWriteMany, not "ReadOnlyMany"`}},
		{name: "volume storage class", change: func(s *contract.ComponentSpec) {
			s.Stateful = true
			s.Volumes = []contract.Volume{{Name: "data", Path: "/data", Size: "1Gi", StorageClass: "Fast SSD"}}
		}, want: map[string]string{"spec.volumes[0].storageClass": "a lowercase RFC 1123 subdomain"}},
		{name: "volume path relative", change: func(s *contract.ComponentSpec) {
			s.Stateful = true
			s.Volumes = []contract.Volume{{Name: "data", Path: "data", Size: "1Gi"}}
		}, want: map[string]string{"spec.volumes[0].path": "must be absolute"}},
		{name: "volume at a config file's path", change: func(s *contract.ComponentSpec) {
			s.Stateful = true
			s.ConfigFiles = []contract.ConfigFile{{Path: "/data"}}
			s.Volumes = []contract.Volume{{Name: "data", Path: "/data", Size: "1Gi"}}
		}, want: map[string]string{"spec.volumes[0].path": `duplicates spec.configFiles[0].path: "/data" is mounted twice`}},
		{name: "a config file inside a volume", change: func(s *contract.ComponentSpec) {
			s.Stateful = true
			s.ConfigFiles = []contract.ConfigFile{{Path: "/data/app.conf"}}
			s.Volumes = []contract.Volume{{Name: "data", Path: "/data", Size: "1Gi"}}
		}},

		// autoscaling
		{name: "autoscaling", change: func(s *contract.ComponentSpec) {
			s.Autoscaling = &contract.Autoscaling{MinReplicas: 2, MaxReplicas: 10, CPUUtilizationPercent: 70}
		}},
		{name: "autoscaling min above max", change: func(s *contract.ComponentSpec) {
			s.Autoscaling = &contract.Autoscaling{MinReplicas: 5, MaxReplicas: 2}
		}, want: map[string]string{"spec.autoscaling.maxReplicas": "must be at least minReplicas (5)"}},
		{name: "autoscaling out of bounds", change: func(s *contract.ComponentSpec) {
			s.Autoscaling = &contract.Autoscaling{MinReplicas: 0, MaxReplicas: 101, CPUUtilizationPercent: 101}
		}, want: map[string]string{"spec.autoscaling.minReplicas": "between 1 and 100", "spec.autoscaling.maxReplicas": "between 1 and 100",
			"spec.autoscaling.cpuUtilizationPercent": "between 1 and 100"}},

		// dependencies
		{name: "depends on", change: func(s *contract.ComponentSpec) { s.DependsOn = []string{"db", "cache"} }},
		{name: "depends on a name that is not a component's", change: func(s *contract.ComponentSpec) { s.DependsOn = []string{"9db"} },
			want: map[string]string{"spec.dependsOn[0]": "a DNS-1035 label"}},
		{name: "depends on an empty name", change: func(s *contract.ComponentSpec) { s.DependsOn = []string{""} },
			want: map[string]string{"spec.dependsOn[0]": "is required"}},
		{name: "depends twice on one", change: func(s *contract.ComponentSpec) { s.DependsOn = []string{"db", "cache", "db"} },
			want: map[string]string{"spec.dependsOn[2]": `duplicates spec.dependsOn[0] "db"`}},
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
	spec := contract.ComponentSpec{Ports: []contract.Port{{Port: 80}, {Port: 53, Protocol: "UDP"}},
		Volumes: []contract.Volume{{Name: "a"}, {Name: "b", AccessMode: "ReadWriteMany"}}}
	normalizeSpec(&spec)
	require.Equal(t, "TCP", spec.Ports[0].Protocol)
	require.Equal(t, "UDP", spec.Ports[1].Protocol)
	require.Equal(t, "ReadWriteOnce", spec.Volumes[0].AccessMode)
	require.Equal(t, "ReadWriteMany", spec.Volumes[1].AccessMode)
}

func TestValidateComponentSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		app, comp string
		change    func(s *contract.ComponentSpec)
		want      map[string]string
	}{
		{name: "valid", app: "shop", comp: "web", change: func(s *contract.ComponentSpec) { s.DependsOn = []string{"db"} }},
		{name: "depends on itself", app: "shop", comp: "web", change: func(s *contract.ComponentSpec) { s.DependsOn = []string{"db", "web"} },
			want: map[string]string{"spec.dependsOn[1]": `"web" is the component itself`}},
		{name: "stateful with names too long", app: strings.Repeat("a", 26), comp: strings.Repeat("b", 26),
			change: func(s *contract.ComponentSpec) { s.Stateful = true },
			want:   map[string]string{"spec.stateful": "at most 51 characters together"}},
		{name: "stateful at the longest", app: strings.Repeat("a", 25), comp: strings.Repeat("b", 26),
			change: func(s *contract.ComponentSpec) { s.Stateful = true }},
		{name: "stateless with long names", app: strings.Repeat("a", 30), comp: strings.Repeat("b", 30),
			change: func(s *contract.ComponentSpec) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := validSpec()
			tt.change(&spec)
			var errs fieldErrors
			validateComponentSpec(&errs, "spec", tt.app, tt.comp, spec)
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
