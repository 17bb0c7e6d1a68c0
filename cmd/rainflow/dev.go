package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rainflow/rainflow/devstack"
	"github.com/rainflow/rainflow/seal"
)

type devConfig struct {
	State        string
	Bin          string
	RealNode     string
	FakeNodes    int
	Kubeconfig   string // given: use this cluster instead of the local one
	TemporalAddr string // given: use this Temporal instead of the dev server
	Registry     string // given: use this registry instead of the local one
	MySQLDSN     string // given: use this MySQL/MariaDB instead of the SQLite file
	APIListen    string
	GatewayHTTP  string
	GatewayAdmin string
	GatewayHTTPS string
	Collector    string
	WorkerAdmin  string
	Clean        bool
	PortOffset   int
}

func (c *devConfig) define(f *flags) {
	f.str(&c.State, "state", "", ".rainflow", "state folder: binaries, data, logs, kubeconfig")
	f.str(&c.Bin, "bin", "", "", "folder of the pinned tool binaries (make tools); default <state>/bin")
	f.str(&c.RealNode, "real-node", "", devstack.RealNodeAuto, "run a real kubelet node: auto, on or off (kwok fake nodes only)")
	f.integer(&c.FakeNodes, "fake-nodes", "", 1, "kwok fake nodes (tainted; for scale tests); negative for none")
	f.str(&c.Kubeconfig, "kubeconfig", "RAINFLOW_KUBECONFIG", "", "use this cluster instead of starting a local one")
	f.str(&c.TemporalAddr, "temporal-address", "RAINFLOW_TEMPORAL_ADDRESS", "", "use this Temporal frontend instead of the dev server")
	f.str(&c.Registry, "registry", "RAINFLOW_REGISTRY", "", "use this registry (host:port) instead of the local one")
	f.str(&c.MySQLDSN, "mysql-dsn", "RAINFLOW_MYSQL_DSN", "", "use this MySQL/MariaDB DSN instead of the SQLite file")
	f.str(&c.APIListen, "api-listen", "", "127.0.0.1:7480", "REST API address")
	f.str(&c.GatewayHTTP, "gateway-listen", "", "127.0.0.1:7481", "gateway HTTP address")
	f.str(&c.GatewayAdmin, "gateway-admin-listen", "", "127.0.0.1:7491", "gateway admin address")
	f.str(&c.GatewayHTTPS, "gateway-https-listen", "", "127.0.0.1:7443", "gateway HTTPS address")
	f.str(&c.Collector, "collector-listen", "", "127.0.0.1:7482", "collector address")
	f.str(&c.WorkerAdmin, "worker-admin-listen", "", "127.0.0.1:7483", "worker health and metrics address")
	f.integer(&c.PortOffset, "port-offset", "", 0, "add this to every port of the local stack and the platform, to run a second stack beside a first (kwok-only: the real node's host objects are one per machine)")
	f.BoolVar(&c.Clean, "clean", false, "stop whatever a previous run left and remove its state (keeps the built tools), then exit")
}

func runDev(ctx context.Context, args []string) error {
	var cfg devConfig
	f := newFlags("dev")
	cfg.define(f)
	if err := f.parse(args); err != nil {
		return err
	}
	logger := newLogger("dev")
	state, err := filepath.Abs(cfg.State)
	if err != nil {
		return fmt.Errorf("resolve state folder: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(state, "logs"), 0o755); err != nil {
		return fmt.Errorf("create state folder: %w", err)
	}
	if cfg.Clean {
		if err := devstack.Clean(ctx, devstack.Config{StateDir: state, BinDir: cfg.Bin, Logger: logger}); err != nil {
			return fmt.Errorf("clean local stack: %w", err)
		}
		logger.Info("local stack state removed", "state", state)
		return nil
	}
	infoPath := devstack.InfoPath(state)
	_ = os.Remove(infoPath)

	if cfg.PortOffset != 0 {
		if cfg.PortOffset < 0 || cfg.PortOffset > 1000 {
			return fmt.Errorf("port offset %d: want 0 to 1000", cfg.PortOffset)
		}
		for _, a := range []*string{&cfg.APIListen, &cfg.GatewayHTTP, &cfg.GatewayHTTPS, &cfg.GatewayAdmin, &cfg.Collector, &cfg.WorkerAdmin} {
			if *a, err = shiftPort(*a, cfg.PortOffset); err != nil {
				return err
			}
		}
	}
	ports := devstack.DefaultPorts()
	for _, p := range []*int{&ports.Temporal, &ports.TemporalUI, &ports.Registry, &ports.APIServer, &ports.Etcd,
		&ports.Kubelet, &ports.KubeletHealth, &ports.Kwok, &ports.KCM, &ports.Scheduler} {
		*p += cfg.PortOffset
	}

	t0 := time.Now()
	stack, err := devstack.Start(ctx, devstack.Config{
		StateDir: state, BinDir: cfg.Bin, RealNode: cfg.RealNode, FakeNodes: cfg.FakeNodes, Ports: ports,
		Kubeconfig: cfg.Kubeconfig, TemporalAddr: cfg.TemporalAddr, RegistryAddr: cfg.Registry,
		Logger: logger,
	})
	if err != nil {
		return fmt.Errorf("start local stack: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := stack.Stop(stopCtx); err != nil {
			logger.Error("stop local stack", "err", err)
		}
	}()
	logger.Info("local stack up", "took", time.Since(t0).Round(time.Millisecond), "realNode", stack.RealNode, "reused", stack.Reused)

	token, err := apiToken(state)
	if err != nil {
		return err
	}
	encryptionKeys, err := devEncryptionKeys(state)
	if err != nil {
		return err
	}
	if err := seedImages(ctx, stack); err != nil {
		logger.Warn("seed demo image", "err", err)
	}
	goBuildImage := seedGoToolchain(ctx, stack, logger)

	info := devstack.Info{
		APIURL: "http://" + cfg.APIListen, APIToken: token,
		TemporalAddr: stack.TemporalAddr, TemporalUIURL: stack.TemporalUIURL, Namespace: stack.TemporalNamespace,
		GatewayURL: "http://" + cfg.GatewayHTTP, GatewayAdminURL: "http://" + cfg.GatewayAdmin, CollectorURL: "http://" + cfg.Collector, WorkerURL: "http://" + cfg.WorkerAdmin,
		RegistryAddr: stack.RegistryAddr, Kubeconfig: stack.Kubeconfig,
		RealNode: stack.RealNode, RealNodeReason: stack.RealNodeReason, NodeName: stack.NodeName, PodCIDR: stack.PodCIDR,
		BuildKitAddr: stack.BuildKitAddr,
		DBDriver:     "sqlite", DBDSN: filepath.Join(state, "rainflow.db"), PID: os.Getpid(),
	}
	if cfg.MySQLDSN != "" {
		info.DBDriver, info.DBDSN = "mysql", cfg.MySQLDSN
	}
	env := []string{
		"RAINFLOW_KUBECONFIG=" + stack.Kubeconfig,
		"RAINFLOW_TEMPORAL_ADDRESS=" + stack.TemporalAddr,
		"RAINFLOW_TEMPORAL_NAMESPACE=" + stack.TemporalNamespace,
		"RAINFLOW_DB_DRIVER=" + info.DBDriver,
		"RAINFLOW_DB_DSN=" + info.DBDSN,
		"RAINFLOW_API_ADMIN_TOKEN=" + token,
		"RAINFLOW_ENCRYPTION_KEYS=" + encryptionKeys,
		"RAINFLOW_TEMPORAL_UI_URL=" + stack.TemporalUIURL,
		"RAINFLOW_INSECURE_REGISTRY=" + stack.RegistryAddr,
		"RAINFLOW_COLLECTOR_URL=" + info.CollectorURL,
		"RAINFLOW_REGISTRY=" + stack.RegistryAddr,
		"RAINFLOW_GO_BASE=" + stack.RegistryAddr + "/" + goBaseImage,
		"RAINFLOW_GO_BUILD_IMAGE=" + goBuildImage,
		"RAINFLOW_BUILD_DIR=" + filepath.Join(state, "builds"),
		"RAINFLOW_BUILDKIT_ADDR=" + stack.BuildKitAddr,
	}
	procs := newProcGroup(filepath.Join(state, "logs"), env, logger)
	defer procs.stop(15 * time.Second)
	for _, p := range []procSpec{
		{name: "collector", args: []string{"collector", "--listen", cfg.Collector, "--data-dir", filepath.Join(state, "collector")}, health: "http://" + cfg.Collector + "/healthz"},
		{name: "worker", args: []string{"worker", "--admin-listen", cfg.WorkerAdmin}, health: "http://" + cfg.WorkerAdmin + "/healthz"},
		{name: "api", args: []string{"api", "--listen", cfg.APIListen}, health: info.APIURL + "/readyz"},
		{name: "gateway", args: []string{"gateway", "--http-listen", cfg.GatewayHTTP, "--https-listen", cfg.GatewayHTTPS, "--admin-listen", cfg.GatewayAdmin, "--collector-url", info.CollectorURL}, health: "http://" + cfg.GatewayAdmin + "/healthz"},
	} {
		if err := procs.start(ctx, p); err != nil {
			return err
		}
	}
	if err := procs.waitHealthy(ctx, time.Minute); err != nil {
		return err
	}
	if err := info.Write(infoPath); err != nil {
		return err
	}
	printBanner(info, time.Since(t0))

	select {
	case <-ctx.Done():
		fmt.Println("\nstopping Rainflow ...")
		_ = os.Remove(infoPath)
		return nil
	case err := <-procs.exited:
		_ = os.Remove(infoPath)
		return err
	}
}

// apiToken returns the dev API token, made once and kept in <state>/api-token.
func apiToken(state string) (string, error) {
	path := filepath.Join(state, "api-token")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read api token: %w", err)
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("make api token: %w", err)
	}
	tok := "rf_" + hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write api token: %w", err)
	}
	return tok, nil
}

// devEncryptionKeys returns the dev stack's key for secrets at rest, made once and kept in
// <state>/encryption-keys (mode 0600), in the form of --encryption-keys.
func devEncryptionKeys(state string) (string, error) {
	path := filepath.Join(state, "encryption-keys")
	if b, err := os.ReadFile(path); err == nil {
		keys := strings.TrimSpace(string(b))
		if _, err := seal.ParseKeys(keys); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		return keys, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read encryption keys: %w", err)
	}
	key, err := seal.NewKey("dev-1")
	if err != nil {
		return "", err
	}
	keys := seal.FormatKey(key)
	if err := os.WriteFile(path, []byte(keys+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write encryption keys: %w", err)
	}
	return keys, nil
}

func printBanner(info devstack.Info, took time.Duration) {
	node := "real node " + info.NodeName + " (pods on " + info.PodCIDR + ")"
	if !info.RealNode {
		node = "kwok fake nodes only: " + info.RealNodeReason
	}
	fmt.Printf(`
Rainflow is up (%s).

  REST API          %s   (Authorization: Bearer %s)
  Temporal Web UI   %s
  Temporal          %s   namespace %s
  gateway           %s
  collector         %s
  worker            %s   (health and metrics)
  registry          %s   (plain HTTP)
  buildkit          %s
  kubeconfig        %s
  Kubernetes        %s
  metadata          %s %s

Try:
  curl -s -H 'Authorization: Bearer %s' %s/v1/tenants

Ctrl-C stops everything this command started.
`, took.Round(100*time.Millisecond), info.APIURL, info.APIToken, orDash(info.TemporalUIURL), info.TemporalAddr, info.Namespace,
		info.GatewayURL, info.CollectorURL, info.WorkerURL, info.RegistryAddr, orDash(info.BuildKitAddr), info.Kubeconfig, node, info.DBDriver, info.DBDSN,
		info.APIToken, info.APIURL)
}

// shiftPort adds offset to the port of a host:port address.
func shiftPort(addr string, offset int) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return "", fmt.Errorf("address %q: port: %w", addr, err)
	}
	return net.JoinHostPort(host, strconv.Itoa(n+offset)), nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
