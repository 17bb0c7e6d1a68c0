package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"text/template"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/rainflow/rainflow/devstack/images"

	"github.com/rainflow/rainflow/imageref"
)

// containerdConfig is what the containerd config file is rendered from.
type containerdConfig struct {
	Dir          string // <state>/containerd: root, state, sockets, certs.d
	SandboxImage string // the pause image in the local registry
	Runc         string
	CNIBinDir    string
	CNIConfDir   string
}

// restrict_oom_score_adj: without it every sandbox fails with "can't get final child's PID from pipe:
// EOF" where root lacks CAP_SYS_RESOURCE. The stream server (exec, attach, port-forward) listens on a
// random loopback port; the kubelet proxies to it.
const containerdTemplate = `version = 2
root = "{{.Dir}}/root"
state = "{{.Dir}}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "{{.Dir}}/containerd.sock"

[ttrpc]
  address = "{{.Dir}}/containerd.sock.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{{.Dir}}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{.SandboxImage}}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{{.Runc}}"
        Root = "{{.Dir}}/runc-root"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{{.CNIBinDir}}"
    conf_dir = "{{.CNIConfDir}}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{{.Dir}}/certs.d"
`

func renderContainerdConfig(c containerdConfig) ([]byte, error) {
	t, err := template.New("containerd").Option("missingkey=error").Parse(containerdTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse containerd template: %w", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, c); err != nil {
		return nil, fmt.Errorf("render containerd config: %w", err)
	}
	return buf.Bytes(), nil
}

// renderRegistryHosts is containerd's hosts.toml for a registry served over plain HTTP.
func renderRegistryHosts(addr string) []byte {
	return fmt.Appendf(nil, "server = \"http://%s\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n", addr, addr)
}

func (r *runner) containerdDir() string  { return r.p.join("containerd") }
func (r *runner) containerdSock() string { return filepath.Join(r.containerdDir(), "containerd.sock") }

func (r *runner) containerd(tools hostTools) component {
	sock := r.containerdSock()
	return component{
		name: "containerd",
		bin:  tools.containerd,
		args: []string{"--config", filepath.Join(r.containerdDir(), "config.toml")},
		health: func(ctx context.Context) error {
			return criCall(ctx, sock, func(ctx context.Context, rt runtimeapi.RuntimeServiceClient) error {
				_, err := rt.Version(ctx, &runtimeapi.VersionRequest{})
				return err
			})
		},
	}
}

// writeContainerdConfig writes config.toml and the registry's hosts.toml.
func (r *runner) writeContainerdConfig(tools hostTools) error {
	data, err := renderContainerdConfig(containerdConfig{
		Dir:          r.containerdDir(),
		SandboxImage: r.registryAddr + "/" + images.PauseRepo + ":" + images.PauseTag,
		Runc:         tools.runc,
		CNIBinDir:    tools.cniDir,
		CNIConfDir:   r.p.join("cni", "net.d"),
	})
	if err != nil {
		return err
	}
	if _, err := writeIfChanged(filepath.Join(r.containerdDir(), "config.toml"), data, 0o644); err != nil {
		return err
	}
	if imageref.PlainHTTP(r.registryAddr, nil) {
		hosts := filepath.Join(r.containerdDir(), "certs.d", r.registryAddr, "hosts.toml")
		if _, err := writeIfChanged(hosts, renderRegistryHosts(r.registryAddr), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// criCall runs f against the CRI runtime service on sock.
func criCall(ctx context.Context, sock string, f func(context.Context, runtimeapi.RuntimeServiceClient) error) error {
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dial containerd: %w", err)
	}
	defer conn.Close()
	return f(ctx, runtimeapi.NewRuntimeServiceClient(conn))
}

// removeAllPods stops and removes every pod sandbox (and so every container) of the runtime on sock,
// which is what `crictl rmp -fa` does; the kubelet must be stopped first or it starts them again.
func removeAllPods(ctx context.Context, sock string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	n := 0
	err := criCall(ctx, sock, func(ctx context.Context, rt runtimeapi.RuntimeServiceClient) error {
		list, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
		if err != nil {
			return fmt.Errorf("list pod sandboxes: %w", err)
		}
		errs := make(chan error, len(list.Items))
		for _, sb := range list.Items {
			go func() {
				if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
					errs <- fmt.Errorf("stop pod sandbox %s: %w", sb.Metadata.GetName(), err)
					return
				}
				if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
					errs <- fmt.Errorf("remove pod sandbox %s: %w", sb.Metadata.GetName(), err)
					return
				}
				errs <- nil
			}()
		}
		var all []error
		for range list.Items {
			if err := <-errs; err != nil {
				all = append(all, err)
			} else {
				n++
			}
		}
		return errors.Join(all...)
	})
	return n, err
}
