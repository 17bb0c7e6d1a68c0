package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"

	temporalconfig "github.com/rainflow/rainflow/temporal-config"
)

func (r *runner) temporalAddr() string { return "127.0.0.1:" + strconv.Itoa(r.cfg.Ports.Temporal) }

func (r *runner) temporal() component {
	dev := temporalconfig.DevServer{
		DBFile:    r.p.join("temporal", "temporal.db"),
		IP:        "127.0.0.1",
		Port:      r.cfg.Ports.Temporal,
		UIPort:    r.cfg.Ports.TemporalUI,
		Namespace: r.cfg.TemporalNamespace,
		LogLevel:  "warn",
	}
	addr := r.temporalAddr()
	// no periodic version check: it calls a server on the internet, and the stack talks to loopback only
	args := dev.Args()
	return component{
		name:  "temporal",
		bin:   filepath.Join(r.p.bin, "temporal"),
		args:  args,
		env:   []string{"TEMPORAL_VERSION_CHECK_DISABLED=1"},
		ports: []int{r.cfg.Ports.Temporal, r.cfg.Ports.TemporalUI},
		health: func(ctx context.Context) error {
			return withTemporal(ctx, addr, r.cfg.TemporalNamespace, func(ctx context.Context, c client.Client) error {
				_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
				return err
			})
		},
		timeout: max(r.cfg.StartTimeout, 60*time.Second),
	}
}

// setupTemporal registers the namespace and Rainflow's search attributes.
func (r *runner) setupTemporal(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return withTemporal(ctx, r.temporalAddr(), r.cfg.TemporalNamespace, func(ctx context.Context, c client.Client) error {
		if err := temporalconfig.Setup(ctx, c, r.cfg.TemporalNamespace); err != nil {
			return fmt.Errorf("set up temporal: %w", err)
		}
		return nil
	})
}

// withTemporal dials the frontend at addr, runs f and closes the client.
func withTemporal(ctx context.Context, addr, namespace string, f func(context.Context, client.Client) error) error {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  addr,
		Namespace: namespace,
		Logger:    quietTemporalLogger(),
	})
	if err != nil {
		return fmt.Errorf("dial temporal %s: %w", addr, err)
	}
	defer c.Close()
	return f(ctx, c)
}

// quietTemporalLogger drops the SDK's info lines while probing.
func quietTemporalLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}
