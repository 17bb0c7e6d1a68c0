package main

import (
	"context"
	"fmt"

	"github.com/rainflow/rainflow/gateway"
)

func runGateway(ctx context.Context, args []string) error {
	var cfg gateway.Config
	f := newFlags("gateway")
	f.str(&cfg.Kubeconfig, "kubeconfig", "RAINFLOW_KUBECONFIG", "", "kubeconfig path; empty uses the in-cluster config")
	f.str(&cfg.IngressClass, "ingress-class", "", "rainflow", "serve the Ingresses of this class")
	f.str(&cfg.HTTPListen, "http-listen", "", "127.0.0.1:7481", "address of the HTTP data plane")
	f.str(&cfg.HTTPSListen, "https-listen", "", "127.0.0.1:7443", "address of the HTTPS data plane; empty disables it")
	f.str(&cfg.DefaultCert, "default-cert", "", "", "PEM certificate served to unknown server names; empty generates a self-signed one")
	f.str(&cfg.DefaultKey, "default-key", "", "", "PEM key of --default-cert")
	f.str(&cfg.AdminListen, "admin-listen", "", "127.0.0.1:7491", "address of /healthz, /readyz and /metrics")
	f.integer(&cfg.Health.EjectAfter, "eject-after", "", gateway.DefaultEjectAfter, "consecutive upstream failures that eject it")
	f.duration(&cfg.Health.EjectFor, "eject-for", "", gateway.DefaultEjectFor, "how long an ejected upstream is skipped")
	f.duration(&cfg.Resync, "resync", "", 0, "informer resync period (0: the default, 10s)")
	f.duration(&cfg.L4EndpointWait, "l4-endpoint-wait", "", gateway.DefaultL4EndpointWait,
		"how long a TCP connection, or a new UDP client's first datagrams, wait for a route without a ready endpoint to get one")
	f.list(&cfg.Namespaces, "namespaces", "", "", "namespaces to watch; empty watches all")
	f.str(&cfg.AccessLog.CollectorURL, "collector-url", "RAINFLOW_COLLECTOR_URL", "",
		"collector (http://host:port) that receives the access lines of components' routes; empty: the log only")
	f.integer(&cfg.AccessLog.QueueSize, "access-log-queue", "", gateway.DefaultAccessLogQueueSize,
		"access lines waiting for the collector; beyond it lines are dropped and counted, never waited for")
	f.duration(&cfg.AccessLog.BatchInterval, "access-log-interval", "", gateway.DefaultAccessLogBatchInterval,
		"how often access lines are sent to the collector")
	if err := f.parse(args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid gateway config: %w", err)
	}
	logger := newLogger("gateway")
	kube, _, err := kubeClient(cfg.Kubeconfig, "rainflow-gateway")
	if err != nil {
		return err
	}
	g, err := gateway.New(cfg, kube, logger)
	if err != nil {
		return fmt.Errorf("create gateway: %w", err)
	}
	logger.Info("gateway starting", "http", cfg.HTTPListen, "https", cfg.HTTPSListen, "admin", cfg.AdminListen,
		"class", cfg.IngressClass, "collector", cfg.AccessLog.CollectorURL)
	return g.Run(ctx)
}
