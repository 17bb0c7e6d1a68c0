package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rainflow/rainflow/store"
)

// temporalConfig is how a process reaches Temporal.
type temporalConfig struct {
	Address   string
	Namespace string
	// Metrics receives the SDK's metrics; nil drops them. Set by the process, not by a flag.
	Metrics client.MetricsHandler
}

func (t *temporalConfig) define(f *flags) {
	f.str(&t.Address, "temporal-address", "RAINFLOW_TEMPORAL_ADDRESS", "127.0.0.1:7233", "Temporal frontend host:port")
	f.str(&t.Namespace, "temporal-namespace", "RAINFLOW_TEMPORAL_NAMESPACE", "default", "Temporal namespace")
}

func (t temporalConfig) validate() error {
	if t.Address == "" || t.Namespace == "" {
		return errors.New("temporal address and namespace are required")
	}
	return nil
}

// dialTemporal connects to Temporal, retrying for up to a minute so that processes started together
// with the Temporal server wait for it instead of failing.
func dialTemporal(ctx context.Context, t temporalConfig, logger *slog.Logger) (client.Client, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := client.DialContext(ctx, client.Options{
			HostPort:       t.Address,
			Namespace:      t.Namespace,
			Logger:         sdklog.NewStructuredLogger(logger.With("component", "temporal-sdk")),
			MetricsHandler: t.Metrics,
		})
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("dial temporal at %s: %w", t.Address, err)
		}
		logger.Info("waiting for temporal", "address", t.Address, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// kubeClient builds a clientset from a kubeconfig path, or the in-cluster config when it is empty; the
// process names itself with userAgent.
func kubeClient(kubeconfig, userAgent string) (kubernetes.Interface, *rest.Config, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load kubernetes config %q: %w", kubeconfig, err)
	}
	cfg.UserAgent = userAgent
	// 50 requests/s capped one worker at about 5 no-op deploys/s (about 10 API calls each, measured by
	// BenchmarkOrchestration); 500 let the CPU be the limit.
	cfg.QPS, cfg.Burst = 500, 1000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("create kubernetes client: %w", err)
	}
	return cs, cfg, nil
}

// openStoreAndTemporal opens the metadata store and dials Temporal, as the api and the worker both do;
// closeAll closes both.
func openStoreAndTemporal(ctx context.Context, db store.Config, t temporalConfig, logger *slog.Logger) (*store.Store, client.Client, func(), error) {
	db.Logger = logger
	st, err := store.Open(ctx, db)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open store: %w", err)
	}
	tc, err := dialTemporal(ctx, t, logger)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return st, tc, func() { tc.Close(); st.Close() }, nil
}
