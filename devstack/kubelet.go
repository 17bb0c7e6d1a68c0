package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"text/template"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// kubeletConfig is what the kubelet's config file is rendered from.
type kubeletConfig struct {
	Port, HealthPort int
	PKI              string
	ContainerdSock   string
	CgroupRoot       string
	PodLogsDir       string
	VolumePluginDir  string
}

// Settings this machine needs (measured): failCgroupV1 false (cgroup v1 here), cgroupfs driver, failSwapOn
// false, makeIPTablesUtilChains false. The kubelet listens on loopback only, authenticates the API server
// by its client certificate and asks it (Webhook) whether a caller may read logs or exec.
const kubeletTemplate = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: {{.Port}}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {{.HealthPort}}
tlsCertFile: {{.PKI}}/kubelet-server.crt
tlsPrivateKeyFile: {{.PKI}}/kubelet-server.key
serverTLSBootstrap: false
rotateCertificates: false
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: {{.PKI}}/ca.crt
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://{{.ContainerdSock}}
imageServiceEndpoint: unix://{{.ContainerdSock}}
cgroupDriver: cgroupfs
cgroupRoot: /{{.CgroupRoot}}
cgroupsPerQOS: true
enforceNodeAllocatable: ["pods"]
failCgroupV1: false
failSwapOn: false
podLogsDir: {{.PodLogsDir}}
volumePluginDir: {{.VolumePluginDir}}
resolvConf: ""
serializeImagePulls: false
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "2%"
  imagefs.available: "2%"
  nodefs.inodesFree: "2%"
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
maxPods: 110
makeIPTablesUtilChains: false
nodeStatusUpdateFrequency: 1s
nodeStatusReportFrequency: 1m
syncFrequency: 10s
shutdownGracePeriod: 0s
`

func renderKubeletConfig(c kubeletConfig) ([]byte, error) {
	t, err := template.New("kubelet").Option("missingkey=error").Parse(kubeletTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse kubelet template: %w", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, c); err != nil {
		return nil, fmt.Errorf("render kubelet config: %w", err)
	}
	return buf.Bytes(), nil
}

// cniConflist is the pod network: the pre-created bridge, host-local addresses from the pod subnet.
type cniConflist struct {
	CNIVersion string      `json:"cniVersion"`
	Name       string      `json:"name"`
	Plugins    []cniPlugin `json:"plugins"`
}

type cniPlugin struct {
	Type        string   `json:"type"`
	Bridge      string   `json:"bridge"`
	IsGateway   bool     `json:"isGateway"`
	IPMasq      bool     `json:"ipMasq"`
	HairpinMode bool     `json:"hairpinMode"`
	IPAM        *cniIPAM `json:"ipam"`
}

type cniIPAM struct {
	Type    string       `json:"type"`
	Ranges  [][]cniRange `json:"ranges"`
	DataDir string       `json:"dataDir"`
}

type cniRange struct {
	Subnet     string `json:"subnet"`
	RangeStart string `json:"rangeStart"`
	RangeEnd   string `json:"rangeEnd"`
}

// renderCNIConfig is the conflist of the bridge network over subnet (host .1, pods .10 to .250).
func renderCNIConfig(subnet, ipamDir string) ([]byte, error) {
	ip, ipnet, err := net.ParseCIDR(subnet)
	if err != nil || ip.To4() == nil {
		return nil, fmt.Errorf("parse pod subnet %q: want an IPv4 CIDR", subnet)
	}
	base := ipnet.IP.To4()
	at := func(last byte) string { return net.IPv4(base[0], base[1], base[2], last).String() }
	conf := cniConflist{
		CNIVersion: "1.0.0",
		Name:       "rainflow",
		Plugins: []cniPlugin{{
			Type: "bridge", Bridge: BridgeName,
			IPAM: &cniIPAM{
				Type:    "host-local",
				Ranges:  [][]cniRange{{{Subnet: ipnet.String(), RangeStart: at(10), RangeEnd: at(250)}}},
				DataDir: ipamDir,
			},
		}},
	}
	out, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render cni config: %w", err)
	}
	return append(out, '\n'), nil
}

func (r *runner) kubeletDir() string { return r.p.join("kubelet") }

// writeNodeConfig writes the kubelet's config and the CNI conflist.
func (r *runner) writeNodeConfig() error {
	data, err := renderKubeletConfig(kubeletConfig{
		Port: r.cfg.Ports.Kubelet, HealthPort: r.cfg.Ports.KubeletHealth,
		PKI: r.p.pki, ContainerdSock: r.containerdSock(), CgroupRoot: CgroupRoot,
		PodLogsDir: r.p.join("pod-logs"), VolumePluginDir: filepath.Join(r.kubeletDir(), "volume-plugins"),
	})
	if err != nil {
		return err
	}
	if _, err := writeIfChanged(filepath.Join(r.kubeletDir(), "config.yaml"), data, 0o644); err != nil {
		return err
	}
	cni, err := renderCNIConfig(PodCIDR, r.p.join("cni", "ipam"))
	if err != nil {
		return err
	}
	_, err = writeIfChanged(r.p.join("cni", "net.d", "10-rainflow.conflist"), cni, 0o644)
	return err
}

// kubelet runs with --cloud-provider=external and without --node-ip: the kubelet refuses a loopback
// node IP, and would otherwise report this machine's own interface address. With an external cloud
// provider it keeps the addresses someone else sets, and initializeNode (the "cloud provider" of this
// stack) sets InternalIP 127.0.0.1, so the API server reaches the kubelet on loopback without /etc/hosts.
func (r *runner) kubelet() component {
	return component{
		name: "kubelet",
		bin:  filepath.Join(r.p.bin, "kubelet"),
		args: []string{
			"--config=" + filepath.Join(r.kubeletDir(), "config.yaml"),
			"--kubeconfig=" + r.p.join("kube", "kubelet.kubeconfig"),
			"--root-dir=" + filepath.Join(r.kubeletDir(), "root"),
			"--hostname-override=" + NodeName,
			"--cloud-provider=external",
			"--node-labels=rainflow.io/real-node=true",
			"--v=1",
		},
		ports: []int{r.cfg.Ports.Kubelet, r.cfg.Ports.KubeletHealth},
		health: httpProbe(plainClient(),
			"http://127.0.0.1:"+strconv.Itoa(r.cfg.Ports.KubeletHealth)+"/healthz", "ok"),
	}
}

// cloudTaint is the taint the kubelet puts on a node it registers under an external cloud provider.
const cloudTaint = "node.cloudprovider.kubernetes.io/uninitialized"

// initializeNode does a cloud controller's job for the real node: its addresses (InternalIP 127.0.0.1)
// and the removal of the uninitialized taint.
func initializeNode(ctx context.Context, kc kubernetes.Interface, name string) error {
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"addresses": []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
		{Type: corev1.NodeHostName, Address: name},
	}}})
	if err != nil {
		return fmt.Errorf("encode node address patch: %w", err)
	}
	if _, err := kc.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("set addresses of node %s: %w", name, err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		kept := n.Spec.Taints[:0]
		for _, t := range n.Spec.Taints {
			if t.Key != cloudTaint {
				kept = append(kept, t)
			}
		}
		if len(kept) == len(n.Spec.Taints) {
			return nil
		}
		n.Spec.Taints = kept
		_, err = kc.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("remove %s taint from node %s: %w", cloudTaint, name, err)
	}
	return nil
}
