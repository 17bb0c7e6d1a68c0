package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"

	"github.com/rainflow/rainflow/devstack/images"
)

// Stack is a running local stack: where to reach each part.
type Stack struct {
	StateDir          string
	LogDir            string // <StateDir>/logs/<part>.log
	Kubeconfig        string // admin kubeconfig (the caller's own when it gave one); "" without Kubernetes
	RegistryAddr      string // "127.0.0.1:5056" (plain HTTP) or the caller's; "" without registry
	TemporalAddr      string // "127.0.0.1:7233" or the caller's; "" without Temporal
	TemporalUIURL     string // "http://127.0.0.1:8233" for the local dev server
	TemporalNamespace string
	RealNode          bool
	RealNodeReason    string   // why there is no real node, when RealNode is false
	NodeName          string   // the real node's name; pods of the slice run there
	FakeNodes         []string // kwok-node-0..N-1, tainted rainflow.io/fake=true:NoSchedule when there is a real node
	PodCIDR           string   // the real node's bridge subnet; pod IPs there are reachable from the host
	// BuildKitAddr is buildkitd's address ("unix:///.../buildkit/buildkitd.sock"), running whenever the
	// real node does (it needs the same: root, runc, cgroups); "" without.
	BuildKitAddr string
	Reused       []string // parts that were already running and were reused

	run      *runner
	stopOnce sync.Once
	stopErr  error
}

// runner holds what one Start or Shutdown works with.
type runner struct {
	cfg          Config
	p            paths
	sup          *supervisor
	log          *slog.Logger
	tools        hostTools
	registryAddr string
	noBuildKit   atomic.Bool // set when the real node runs without buildkitd (not built)

	mu     sync.Mutex
	reused []string
}

func newRunner(cfg Config) *runner {
	p := newPaths(&cfg)
	r := &runner{cfg: cfg, p: p, log: cfg.Logger, tools: findHostTools()}
	r.sup = newSupervisor(p.logs, p.pids, cfg.StartTimeout, cfg.Logger)
	switch {
	case cfg.RegistryAddr != "":
		r.registryAddr = cfg.RegistryAddr
	case cfg.localRegistry():
		r.registryAddr = "127.0.0.1:" + strconv.Itoa(cfg.Ports.Registry)
	}
	return r
}

func (r *runner) ensure(ctx context.Context, c component) error {
	_, err := r.ensureReused(ctx, c)
	return err
}

// ensureReused is ensure that also tells whether c was already running.
func (r *runner) ensureReused(ctx context.Context, c component) (bool, error) {
	reused, err := r.sup.ensure(ctx, c)
	if reused {
		r.mu.Lock()
		r.reused = append(r.reused, c.name)
		r.mu.Unlock()
	}
	return reused, err
}

// Start starts the parts of the stack that cfg asks for and the caller did not give, and returns when
// every one is healthy: Temporal with its namespace and search attributes, the registry, the control
// plane with its fake nodes Ready, the real node Ready and untainted, and the default ServiceAccount
// present. Parts already running from an earlier Start on the same state are reused, and certificates and
// data on disk are kept, so a second Start is up in seconds. When Start fails it stops the stack again.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("validate config: %w", err)
	}
	for _, d := range []string{cfg.StateDir, newPaths(&cfg).logs, newPaths(&cfg).pids} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create state dir: %w", err)
		}
	}
	begin := time.Now()
	r := newRunner(cfg)
	s := &Stack{
		StateDir: cfg.StateDir, LogDir: r.p.logs, Kubeconfig: cfg.Kubeconfig, RegistryAddr: r.registryAddr,
		TemporalAddr: cfg.TemporalAddr, TemporalNamespace: cfg.TemporalNamespace, run: r,
	}
	if cfg.localTemporal() {
		s.TemporalAddr = r.temporalAddr()
		s.TemporalUIURL = "http://127.0.0.1:" + strconv.Itoa(cfg.Ports.TemporalUI)
	}
	if cfg.localKubernetes() {
		s.Kubeconfig = r.adminKubeconfig()
		for i := range cfg.FakeNodes {
			s.FakeNodes = append(s.FakeNodes, FakeNodeName(i))
		}
		s.RealNode, s.RealNodeReason = r.decideRealNode()
		if cfg.RealNode == RealNodeOn && !s.RealNode {
			return nil, fmt.Errorf("start real node: %s", s.RealNodeReason)
		}
		if s.RealNode {
			s.NodeName, s.PodCIDR = NodeName, PodCIDR
			s.BuildKitAddr = "unix://" + buildKitSocket(r.p)
		}
	} else if cfg.Kubeconfig == "" {
		s.RealNodeReason = "no Kubernetes asked for"
	} else {
		s.RealNodeReason = "an existing cluster was given (Config.Kubeconfig)"
	}
	if err := r.start(ctx, s.RealNode); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if stopErr := r.shutdown(stopCtx); stopErr != nil {
			r.log.Warn("stop after failed start", "err", stopErr)
		}
		return nil, err
	}
	s.Reused = r.reused
	if r.noBuildKit.Load() {
		s.BuildKitAddr = ""
	}
	r.log.Info("stack ready", "took", time.Since(begin).Round(time.Millisecond), "kubeconfig", s.Kubeconfig,
		"temporal", s.TemporalAddr, "registry", s.RegistryAddr, "realNode", s.RealNode, "reused", len(s.Reused))
	return s, nil
}

// decideRealNode applies Config.RealNode: checks the machine and prepares its host objects (cgroup root,
// pod bridge, config files). In auto mode a failure means fake nodes only, with the reason.
func (r *runner) decideRealNode() (bool, string) {
	if r.cfg.RealNode == RealNodeOff {
		return false, "turned off (RealNode=off)"
	}
	reason := r.realNodePreflight(r.tools)
	if reason == "" {
		if err := r.prepareNodeHost(); err != nil {
			reason = err.Error()
		}
	}
	if reason == "" {
		return true, ""
	}
	r.log.Warn("no real node: kwok fake nodes only; pods will not run for real", "reason", reason)
	return false, reason
}

func (r *runner) prepareNodeHost() error {
	if err := prepareCgroups("/sys/fs/cgroup"); err != nil {
		return err
	}
	if err := prepareBridge(r.tools.ip); err != nil {
		return err
	}
	if err := r.writeContainerdConfig(r.tools); err != nil {
		return err
	}
	return r.writeNodeConfig()
}

// start brings every part up, in parallel where nothing orders them.
func (r *runner) start(ctx context.Context, realNode bool) error {
	g, ctx := errgroup.WithContext(ctx)
	apiUp, pauseUp, containerdUp := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var kc kubernetes.Interface
	wait := func(ch chan struct{}) error {
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if r.cfg.localTemporal() {
		g.Go(func() error {
			if err := os.MkdirAll(r.p.join("temporal"), 0o755); err != nil {
				return fmt.Errorf("create temporal dir: %w", err)
			}
			if err := r.ensure(ctx, r.temporal()); err != nil {
				return err
			}
			return r.setupTemporal(ctx)
		})
	}
	if r.cfg.localRegistry() || (realNode && r.registryAddr != "") {
		g.Go(func() error {
			if r.cfg.localRegistry() {
				if err := r.writeRegistryConfig(); err != nil {
					return err
				}
				if err := r.ensure(ctx, r.registry()); err != nil {
					return err
				}
			}
			if realNode {
				if _, err := images.EnsurePause(ctx, r.p.join("images"), r.registryAddr); err != nil {
					return fmt.Errorf("provide pause image: %w", err)
				}
				close(pauseUp)
				if _, err := os.Stat(r.buildKit().bin); err != nil {
					// builds need it, nothing else does: the rest of the stack still comes up
					r.log.Warn("no buildkitd: builds will fail; run `make tools`", "err", err)
					r.noBuildKit.Store(true)
					return nil
				}
				if err := r.writeBuildKitConfig(); err != nil {
					return err
				}
				if err := r.ensure(ctx, r.buildKit()); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if !r.cfg.localKubernetes() {
		return g.Wait()
	}
	g.Go(func() error {
		if err := ensurePKI(r.p.pki, NodeName); err != nil {
			return fmt.Errorf("create certificates: %w", err)
		}
		if err := r.writeKubeconfigs(); err != nil {
			return err
		}
		if err := r.ensure(ctx, r.etcd()); err != nil {
			return err
		}
		admin, err := adminClient(r.p.pki)
		if err != nil {
			return err
		}
		if err := r.ensure(ctx, r.apiServer(admin)); err != nil {
			return err
		}
		if kc, err = r.kubeClient(); err != nil {
			return err
		}
		close(apiUp)
		return nil
	})
	g.Go(func() error {
		if err := wait(apiUp); err != nil {
			return err
		}
		if err := r.ensure(ctx, r.controllerManager()); err != nil {
			return err
		}
		if err := waitDefaultServiceAccount(ctx, kc, r.cfg.StartTimeout); err != nil {
			return err
		}
		r.log.Info("default ServiceAccount present")
		return nil
	})
	g.Go(func() error {
		if err := wait(apiUp); err != nil {
			return err
		}
		return r.ensure(ctx, r.scheduler())
	})
	if r.cfg.FakeNodes > 0 {
		g.Go(func() error {
			if err := wait(apiUp); err != nil {
				return err
			}
			return r.startKwok(ctx, kc, realNode)
		})
	}
	if realNode {
		g.Go(func() error {
			if err := r.ensure(ctx, r.containerd(r.tools)); err != nil {
				return err
			}
			close(containerdUp)
			return nil
		})
		g.Go(func() error {
			for _, ch := range []chan struct{}{apiUp, containerdUp, pauseUp} {
				if err := wait(ch); err != nil {
					return err
				}
			}
			return r.startKubelet(ctx, kc)
		})
	}
	return g.Wait()
}

// startKubelet starts the kubelet and waits until its node is initialized, Ready (with a heartbeat of
// this kubelet, not a stale status from an earlier run) and free of taints.
func (r *runner) startKubelet(ctx context.Context, kc kubernetes.Interface) error {
	since := time.Now().Truncate(time.Second)
	c := r.kubelet()
	reused, err := r.ensureReused(ctx, c)
	if err != nil {
		return err
	}
	if reused {
		since = time.Time{} // a running kubelet's heartbeats are current
	}
	withLog := func(err error) error {
		return fmt.Errorf("%w; last lines of %s:\n%s", err, r.sup.logFile(c.name), tailFile(r.sup.logFile(c.name), 20))
	}
	if err := waitNodeRegistered(ctx, kc, NodeName, r.cfg.StartTimeout); err != nil {
		return withLog(err)
	}
	if err := initializeNode(ctx, kc, NodeName); err != nil {
		return err
	}
	if err := waitNodeReadySince(ctx, kc, NodeName, since, r.cfg.StartTimeout); err != nil {
		return withLog(err)
	}
	r.log.Info("real node Ready", "node", NodeName)
	if err := waitNodeSchedulable(ctx, kc, NodeName, r.cfg.StartTimeout); err != nil {
		return err
	}
	r.log.Info("real node schedulable", "node", NodeName)
	return nil
}

// Stop stops every part this stack runs (the ones it started and the ones it reused), in reverse
// order, and cleans up after the real node: pods removed, leftover shims and container processes
// killed, mounts under the state folder unmounted. Data and certificates stay for the next Start.
func (s *Stack) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.run.shutdown(ctx) })
	return s.stopErr
}

// Shutdown stops whatever a Start with cfg left running under cfg.StateDir, found by pid files, for
// example after the process that called Start was killed.
func Shutdown(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("validate config: %w", err)
	}
	return newRunner(cfg).shutdown(ctx)
}

func (r *runner) shutdown(ctx context.Context) error {
	begin := time.Now()
	var g errgroup.Group // every branch runs to its end: one failure must not leave the rest running
	var errs []error
	var mu sync.Mutex
	record := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	if r.cfg.localKubernetes() {
		g.Go(func() error { record(r.stopKubernetes(ctx)); return nil })
		g.Go(func() error { record(r.sup.stop(ctx, "buildkitd", r.buildKit().bin, 15*time.Second)); return nil })
	}
	if r.cfg.localRegistry() {
		g.Go(func() error { record(r.sup.stop(ctx, "registry", r.registry().bin, 10*time.Second)); return nil })
	}
	if r.cfg.localTemporal() {
		g.Go(func() error { record(r.sup.stop(ctx, "temporal", r.temporal().bin, 20*time.Second)); return nil })
	}
	_ = g.Wait()
	r.log.Info("stack stopped", "took", time.Since(begin).Round(time.Millisecond))
	return errors.Join(errs...)
}

func (r *runner) stopKubernetes(ctx context.Context) error {
	var errs []error
	parallel := func(names ...component) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, c := range names {
			wg.Go(func() {
				if err := r.sup.stop(ctx, c.name, c.bin, 15*time.Second); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	parallel(r.kwok(), r.kubelet())
	errs = append(errs, r.stopRuntime(ctx))
	parallel(r.scheduler(), r.controllerManager())
	parallel(r.apiServer(nil))
	parallel(r.etcd())
	return errors.Join(errs...)
}

// Env is the stack as environment variables for child processes and shells: KUBECONFIG,
// TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (the Temporal CLI's names), RAINFLOW_REGISTRY and BUILDKIT_HOST (buildctl's).
func (s *Stack) Env() []string {
	var env []string
	for _, kv := range [][2]string{
		{"KUBECONFIG", s.Kubeconfig}, {"TEMPORAL_ADDRESS", s.TemporalAddr},
		{"TEMPORAL_NAMESPACE", s.TemporalNamespace}, {"RAINFLOW_REGISTRY", s.RegistryAddr},
		{"BUILDKIT_HOST", s.BuildKitAddr},
	} {
		if kv[1] != "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	return env
}
