// Package devstack starts the local real stack that `rainflow dev` (`make run`) and the integration tests
// use: a Temporal dev server, an OCI registry, a loopback Kubernetes control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler), one real node (kubelet + containerd + runc + CNI bridge) and
// tainted kwok fake nodes for scale tests. Everything lives under one state folder and listens on
// loopback only; a second Start on the same state reuses what is running and what is on disk.
package devstack

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// Real node modes.
const (
	RealNodeAuto = "auto" // a real node when this machine can run one, kwok fake nodes only otherwise
	RealNodeOn   = "on"   // a real node or an error that says why not
	RealNodeOff  = "off"  // kwok fake nodes only
)

// Fixed names of the real node and its host objects. There is one real node per machine: the kubelet and
// the CNI bridge use host-wide paths and ports.
const (
	NodeName     = "rainflow-node"
	BridgeName   = "rainflow0"
	CgroupRoot   = "rainflow"
	FakeTaintKey = "rainflow.io/fake"
)

// Ports are the loopback ports of the local parts.
type Ports struct {
	Temporal      int // frontend gRPC
	TemporalUI    int
	Registry      int
	APIServer     int
	Etcd          int // client; peer and metrics use the next two
	Kubelet       int
	KubeletHealth int
	Kwok          int
	KCM           int
	Scheduler     int
}

// DefaultPorts are the ports used when Config.Ports leaves one at zero.
func DefaultPorts() Ports {
	return Ports{
		Temporal: 7233, TemporalUI: 8233, Registry: 5056, APIServer: 16443, Etcd: 12379,
		Kubelet: 10250, KubeletHealth: 10248, Kwok: 10247, KCM: 10257, Scheduler: 10259,
	}
}

// Config says what to start and where. The zero value (after Validate) starts everything under ./.rainflow.
type Config struct {
	StateDir string // default ".rainflow", made absolute; everything lives under it
	BinDir   string // pinned binaries from `make tools`; default <StateDir>/bin
	// KwokStages is kwok's stage file; default <StateDir>/kwok-stages.yaml, else <BinDir>/../kwok-stages.yaml.
	KwokStages string
	RealNode   string // RealNodeAuto (default), RealNodeOn or RealNodeOff
	// FakeNodes is the number of kwok fake nodes (kwok-node-0..N-1), tainted rainflow.io/fake=true:NoSchedule
	// so only scale tests that tolerate it land there. 0 means the default, 1; negative means none.
	FakeNodes int
	Ports     Ports

	// Parts given by the caller replace the local ones: when one is set, that part is not started.
	Kubeconfig   string // an existing cluster: no control plane, no real node, no kwok
	TemporalAddr string // an existing Temporal frontend (host:port)
	RegistryAddr string // an existing registry (host:port)
	// Parts left out entirely (nothing started, nothing given).
	NoKubernetes bool
	NoTemporal   bool
	NoRegistry   bool

	TemporalNamespace string        // default "default"
	StartTimeout      time.Duration // per part health wait; default 90s
	Logger            *slog.Logger  // default slog.Default()
}

// Validate fills in defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.StateDir == "" {
		c.StateDir = ".rainflow"
	}
	abs, err := filepath.Abs(c.StateDir)
	if err != nil {
		return fmt.Errorf("resolve state dir: %w", err)
	}
	c.StateDir = abs
	if c.BinDir == "" {
		c.BinDir = filepath.Join(c.StateDir, "bin")
	}
	if c.BinDir, err = filepath.Abs(c.BinDir); err != nil {
		return fmt.Errorf("resolve bin dir: %w", err)
	}
	if c.KwokStages == "" {
		c.KwokStages = firstExisting(filepath.Join(c.StateDir, "kwok-stages.yaml"),
			filepath.Join(filepath.Dir(c.BinDir), "kwok-stages.yaml"))
	}
	switch c.RealNode {
	case "":
		c.RealNode = RealNodeAuto
	case RealNodeAuto, RealNodeOn, RealNodeOff:
	default:
		return fmt.Errorf("real node mode %q: want %q, %q or %q", c.RealNode, RealNodeAuto, RealNodeOn, RealNodeOff)
	}
	if c.FakeNodes == 0 {
		c.FakeNodes = 1
	}
	if c.FakeNodes < 0 {
		c.FakeNodes = 0
	}
	if c.FakeNodes > 1000 {
		return fmt.Errorf("fake nodes %d: at most 1000", c.FakeNodes)
	}
	if err := c.Ports.fill(); err != nil {
		return err
	}
	if c.Kubeconfig != "" && c.NoKubernetes {
		return errors.New("kubeconfig given and no kubernetes asked for: pick one")
	}
	if c.TemporalAddr != "" && c.NoTemporal {
		return errors.New("temporal address given and no temporal asked for: pick one")
	}
	if c.RegistryAddr != "" && c.NoRegistry {
		return errors.New("registry address given and no registry asked for: pick one")
	}
	if c.TemporalNamespace == "" {
		c.TemporalNamespace = "default"
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 90 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// localKubernetes, localTemporal and localRegistry say which parts this stack starts itself.
func (c *Config) localKubernetes() bool { return c.Kubeconfig == "" && !c.NoKubernetes }
func (c *Config) localTemporal() bool   { return c.TemporalAddr == "" && !c.NoTemporal }
func (c *Config) localRegistry() bool   { return c.RegistryAddr == "" && !c.NoRegistry }

func (p *Ports) fill() error {
	d := DefaultPorts()
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"temporal", &p.Temporal, d.Temporal}, {"temporal UI", &p.TemporalUI, d.TemporalUI},
		{"registry", &p.Registry, d.Registry}, {"kube-apiserver", &p.APIServer, d.APIServer},
		{"etcd", &p.Etcd, d.Etcd}, {"kubelet", &p.Kubelet, d.Kubelet},
		{"kubelet healthz", &p.KubeletHealth, d.KubeletHealth}, {"kwok", &p.Kwok, d.Kwok},
		{"kube-controller-manager", &p.KCM, d.KCM}, {"kube-scheduler", &p.Scheduler, d.Scheduler},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
		if *f.v < 1 || *f.v > 65533 {
			return fmt.Errorf("%s port %d: out of range", f.name, *f.v)
		}
	}
	seen := map[int]string{}
	for _, u := range []struct {
		name string
		v    int
	}{
		{"temporal", p.Temporal}, {"temporal UI", p.TemporalUI}, {"registry", p.Registry},
		{"kube-apiserver", p.APIServer}, {"etcd", p.Etcd}, {"etcd peer", p.Etcd + 1}, {"etcd metrics", p.Etcd + 2},
		{"kubelet", p.Kubelet}, {"kubelet healthz", p.KubeletHealth}, {"kwok", p.Kwok},
		{"kube-controller-manager", p.KCM}, {"kube-scheduler", p.Scheduler},
	} {
		if other, ok := seen[u.v]; ok {
			return fmt.Errorf("port %d used twice: %s and %s", u.v, other, u.name)
		}
		seen[u.v] = u.name
	}
	return nil
}

// paths are the locations under the state folder.
type paths struct {
	state, bin, logs, pids, pki string
}

func newPaths(c *Config) paths {
	return paths{
		state: c.StateDir, bin: c.BinDir,
		logs: filepath.Join(c.StateDir, "logs"),
		pids: filepath.Join(c.StateDir, "pids"),
		pki:  filepath.Join(c.StateDir, "pki"),
	}
}

func (p paths) join(elem ...string) string {
	return filepath.Join(append([]string{p.state}, elem...)...)
}
