package devstack

import (
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/rainflow/rainflow/imageref"
)

func TestRenderContainerdConfig(t *testing.T) {
	t.Parallel()
	out, err := renderContainerdConfig(containerdConfig{
		Dir: "/s/containerd", SandboxImage: "127.0.0.1:5056/pause:1", Runc: "/usr/sbin/runc",
		CNIBinDir: "/usr/lib/cni", CNIConfDir: "/s/cni/net.d",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`root = "/s/containerd/root"`,
		`address = "/s/containerd/containerd.sock"`,
		`sandbox_image = "127.0.0.1:5056/pause:1"`,
		`restrict_oom_score_adj = true`,
		`stream_server_address = "127.0.0.1"`,
		`BinaryName = "/usr/sbin/runc"`,
		`SystemdCgroup = false`,
		`conf_dir = "/s/cni/net.d"`,
		`config_path = "/s/containerd/certs.d"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("containerd config lacks %q", want)
		}
	}
	if strings.Contains(string(out), "<no value>") {
		t.Error("unfilled template field")
	}
}

func TestRenderKubeletConfig(t *testing.T) {
	t.Parallel()
	out, err := renderKubeletConfig(kubeletConfig{
		Port: 10250, HealthPort: 10248, PKI: "/s/pki", ContainerdSock: "/s/containerd/containerd.sock",
		CgroupRoot: "rainflow", PodLogsDir: "/s/pod-logs", VolumePluginDir: "/s/kubelet/volume-plugins",
	})
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("kubelet config is not YAML: %v\n%s", err, out)
	}
	tests := []struct {
		name string
		path []string
		want any
	}{
		{"loopback only", []string{"address"}, "127.0.0.1"},
		{"port", []string{"port"}, float64(10250)},
		{"cgroup v1 allowed", []string{"failCgroupV1"}, false},
		{"cgroupfs driver", []string{"cgroupDriver"}, "cgroupfs"},
		{"swap allowed", []string{"failSwapOn"}, false},
		{"no iptables chains", []string{"makeIPTablesUtilChains"}, false},
		{"cgroup root", []string{"cgroupRoot"}, "/rainflow"},
		{"no anonymous", []string{"authentication", "anonymous", "enabled"}, false},
		{"client CA", []string{"authentication", "x509", "clientCAFile"}, "/s/pki/ca.crt"},
		{"webhook authz", []string{"authorization", "mode"}, "Webhook"},
		{"serving cert", []string{"tlsCertFile"}, "/s/pki/kubelet-server.crt"},
		{"runtime", []string{"containerRuntimeEndpoint"}, "unix:///s/containerd/containerd.sock"},
		{"pod logs", []string{"podLogsDir"}, "/s/pod-logs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any = cfg
			for _, k := range tt.path {
				m, ok := v.(map[string]any)
				if !ok {
					t.Fatalf("%v: not a map at %s", tt.path, k)
				}
				v = m[k]
			}
			if v != tt.want {
				t.Errorf("%v = %v, want %v", tt.path, v, tt.want)
			}
		})
	}
}

func TestRenderCNIConfig(t *testing.T) {
	t.Parallel()
	out, err := renderCNIConfig("10.244.0.0/24", "/s/cni/ipam")
	if err != nil {
		t.Fatal(err)
	}
	var got cniConflist
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	p := got.Plugins[0]
	if p.Type != "bridge" || p.Bridge != BridgeName || p.IsGateway || p.IPMasq {
		t.Errorf("bridge plugin = %+v", p)
	}
	r := p.IPAM.Ranges[0][0]
	if r.Subnet != "10.244.0.0/24" || r.RangeStart != "10.244.0.10" || r.RangeEnd != "10.244.0.250" || p.IPAM.DataDir != "/s/cni/ipam" {
		t.Errorf("ipam = %+v %+v", p.IPAM, r)
	}
	for _, bad := range []string{"nonsense", "fd00::/64"} {
		if _, err := renderCNIConfig(bad, "/x"); err == nil {
			t.Errorf("renderCNIConfig(%q) accepted", bad)
		}
	}
}

func TestRenderSmallFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		got   []byte
		wants []string
	}{
		{"registry hosts.toml", renderRegistryHosts("127.0.0.1:5056"),
			[]string{`server = "http://127.0.0.1:5056"`, `[host."http://127.0.0.1:5056"]`, `"pull", "resolve"`}},
		{"registry config", renderRegistryConfig("/s/registry/data", 5056),
			[]string{"rootdirectory: /s/registry/data", "addr: 127.0.0.1:5056"}},
		{"kubeconfig", renderKubeconfig("https://127.0.0.1:16443", []byte("CA"), []byte("CERT"), []byte("KEY"), "admin"),
			[]string{"server: https://127.0.0.1:16443", "certificate-authority-data: Q0E=", "client-key-data: S0VZ", "current-context: rainflow"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, w := range tt.wants {
				if !strings.Contains(string(tt.got), w) {
					t.Errorf("missing %q in:\n%s", w, tt.got)
				}
			}
			var anyYAML any
			if !strings.HasSuffix(tt.name, ".toml") {
				if err := yaml.Unmarshal(tt.got, &anyYAML); err != nil {
					t.Errorf("not YAML: %v", err)
				}
			}
		})
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		addr string
		want bool
	}{
		{"ipv4", "127.0.0.1:5056", true},
		{"other loopback", "127.1.2.3:80", true},
		{"localhost", "localhost:5000", true},
		{"ipv6", "[::1]:5000", true},
		{"remote", "registry.example.com:443", false},
		{"private", "10.0.0.1:5000", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assertEq(t, imageref.PlainHTTP(tt.addr, nil), tt.want)
		})
	}
}

func TestRenderBuildKitConfig(t *testing.T) {
	t.Parallel()
	out := string(renderBuildKitConfig("/s/buildkit/root", "/s/buildkit/buildkitd.sock", "127.0.0.1:5056"))
	for _, want := range []string{
		`root = "/s/buildkit/root"`,
		`address = ["unix:///s/buildkit/buildkitd.sock"]`,
		"[worker.oci]\n  enabled = true",
		"[worker.containerd]\n  enabled = false",
		"[cdi]\n  disabled = true",
		"[registry.\"127.0.0.1:5056\"]\n  http = true",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("buildkitd config lacks %q:\n%s", want, out)
		}
	}
}
