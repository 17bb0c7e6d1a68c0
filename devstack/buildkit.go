package devstack

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// BuildKit runs the builds of the local stack: buildkitd (pinned in tools/buildkit) as root with its runc
// worker (Debian's runc, the real node's), no containerd worker, no CDI, its state and sockets under
// <state>/buildkit, the gRPC API on a unix socket only. It pushes to the local registry over plain HTTP.
// It runs whenever the real node does (same requirements: root, runc, cgroups).

// renderBuildKitConfig is buildkitd's TOML config.
func renderBuildKitConfig(root, socket, registryAddr string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "root = %s\n", strconv.Quote(root))
	fmt.Fprintf(&b, "[grpc]\n  address = [%s]\n", strconv.Quote("unix://"+socket))
	b.WriteString("[worker.oci]\n  enabled = true\n  snapshotter = \"auto\"\n  gc = true\n")
	b.WriteString("[worker.containerd]\n  enabled = false\n")
	b.WriteString("[cdi]\n  disabled = true\n")
	if registryAddr != "" {
		fmt.Fprintf(&b, "[registry.%s]\n  http = true\n", strconv.Quote(registryAddr))
	}
	return []byte(b.String())
}

// BuildKitSocket is buildkitd's socket under a state dir.
func buildKitSocket(p paths) string { return p.join("buildkit", "buildkitd.sock") }

func (r *runner) buildKit() component {
	dir := r.p.join("buildkit")
	return component{
		name: "buildkitd",
		bin:  filepath.Join(r.p.bin, "buildkitd"),
		args: []string{
			"--config=" + filepath.Join(dir, "buildkitd.toml"),
			"--otel-socket-path=" + filepath.Join(dir, "otel.sock"),
		},
		env:    []string{"OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none"},
		health: unixProbe(buildKitSocket(r.p)),
	}
}

func (r *runner) writeBuildKitConfig() error {
	dir := r.p.join("buildkit")
	if err := os.MkdirAll(filepath.Join(dir, "root"), 0o700); err != nil {
		return fmt.Errorf("create buildkit dir: %w", err)
	}
	_, err := writeIfChanged(filepath.Join(dir, "buildkitd.toml"),
		renderBuildKitConfig(filepath.Join(dir, "root"), buildKitSocket(r.p), r.registryAddr), 0o644)
	return err
}

// unixProbe passes when the unix socket accepts a connection.
func unixProbe(socket string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err := d.DialContext(ctx, "unix", socket)
		if err != nil {
			return err
		}
		return c.Close()
	}
}
