package devstack

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
)

// Cluster-wide address ranges. Pods of the real node get addresses from the bridge subnet; kwok's fake
// pods from a range of their own that nothing routes, so they never collide with real pods.
const (
	ServiceCIDR  = "10.96.0.0/16"
	PodCIDR      = "10.244.0.0/24"
	FakePodCIDR  = "10.246.0.0/16"
	bridgeHostIP = "10.244.0.1/24"
)

func (r *runner) apiServerURL() string {
	return "https://127.0.0.1:" + strconv.Itoa(r.cfg.Ports.APIServer)
}

func (r *runner) etcd() component {
	port := r.cfg.Ports.Etcd
	url := func(p int) string { return "http://127.0.0.1:" + strconv.Itoa(p) }
	return component{
		name: "etcd",
		bin:  filepath.Join(r.p.bin, "etcd"),
		args: []string{
			"--name=rainflow", "--data-dir=" + r.p.join("etcd"),
			"--listen-client-urls=" + url(port), "--advertise-client-urls=" + url(port),
			"--listen-peer-urls=" + url(port+1), "--initial-advertise-peer-urls=" + url(port+1),
			"--initial-cluster=rainflow=" + url(port+1), "--listen-metrics-urls=" + url(port+2),
			// throwaway dev data: trade durability for speed
			"--unsafe-no-fsync",
			"--log-level=warn",
		},
		ports:  []int{port, port + 1, port + 2},
		health: httpProbe(plainClient(), url(port)+"/health", ""),
	}
}

func (r *runner) apiServer(admin *http.Client) component {
	pki := func(f string) string { return filepath.Join(r.p.pki, f) }
	return component{
		name: "kube-apiserver",
		bin:  filepath.Join(r.p.bin, "kube-apiserver"),
		args: []string{
			"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(r.cfg.Ports.Etcd),
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(r.cfg.Ports.APIServer),
			// a loopback advertise address is refused by the default (lease) endpoint reconciler
			"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
			"--tls-cert-file=" + pki("apiserver.crt"), "--tls-private-key-file=" + pki("apiserver.key"),
			"--client-ca-file=" + pki("ca.crt"),
			"--service-account-key-file=" + pki("sa.pub"), "--service-account-signing-key-file=" + pki("sa.key"),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--requestheader-client-ca-file=" + pki("front-proxy-ca.crt"),
			"--requestheader-allowed-names=front-proxy-client",
			"--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
			"--requestheader-extra-headers-prefix=X-Remote-Extra-",
			"--proxy-client-cert-file=" + pki("front-proxy-client.crt"), "--proxy-client-key-file=" + pki("front-proxy-client.key"),
			"--service-cluster-ip-range=" + ServiceCIDR,
			"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
			"--allow-privileged=true",
			// logs, exec and port-forward: the API server dials the kubelet on the node's InternalIP
			// (127.0.0.1), checks its serving certificate and shows its own client certificate
			"--kubelet-preferred-address-types=InternalIP",
			"--kubelet-certificate-authority=" + pki("ca.crt"),
			"--kubelet-client-certificate=" + pki("apiserver-kubelet-client.crt"),
			"--kubelet-client-key=" + pki("apiserver-kubelet-client.key"),
			"--cert-dir=" + r.p.join("kube", "apiserver-certs"),
			"--profiling=false",
		},
		ports:  []int{r.cfg.Ports.APIServer},
		health: httpProbe(admin, r.apiServerURL()+"/readyz", "ok"),
	}
}

func (r *runner) controllerManager() component {
	kc := r.p.join("kube", "kube-controller-manager.kubeconfig")
	return component{
		name: "kube-controller-manager",
		bin:  filepath.Join(r.p.bin, "kube-controller-manager"),
		args: []string{
			"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(r.cfg.Ports.KCM), "--leader-elect=false",
			"--service-account-private-key-file=" + filepath.Join(r.p.pki, "sa.key"),
			"--root-ca-file=" + filepath.Join(r.p.pki, "ca.crt"),
			"--use-service-account-credentials=true",
			"--cluster-signing-cert-file=" + filepath.Join(r.p.pki, "ca.crt"),
			"--cluster-signing-key-file=" + filepath.Join(r.p.pki, "ca.key"),
			"--service-cluster-ip-range=" + ServiceCIDR,
			// a fresh cluster: one service account and token per controller, made faster than 20/s; and a
			// Deployment with one pod costs the controllers ~10 requests (ReplicaSet, pod, their status
			// updates, events), so 100/s bounded BenchmarkDeployThousandKwok at ~10 deploys/s, where the
			// machine's CPU bounds it too: 400/s leaves the CPU as the only limit
			"--kube-api-qps=400", "--kube-api-burst=800",
			"--profiling=false",
		},
		ports:  []int{r.cfg.Ports.KCM},
		health: httpProbe(insecureClient(), fmt.Sprintf("https://127.0.0.1:%d/healthz", r.cfg.Ports.KCM), "ok"),
	}
}

func (r *runner) scheduler() component {
	kc := r.p.join("kube", "kube-scheduler.kubeconfig")
	return component{
		name: "kube-scheduler",
		bin:  filepath.Join(r.p.bin, "kube-scheduler"),
		args: []string{
			"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(r.cfg.Ports.Scheduler), "--leader-elect=false",
			"--profiling=false",
		},
		ports:  []int{r.cfg.Ports.Scheduler},
		health: httpProbe(insecureClient(), fmt.Sprintf("https://127.0.0.1:%d/readyz", r.cfg.Ports.Scheduler), "ok"),
	}
}

// writeKubeconfigs writes the admin kubeconfig (the one users get) and one per control-plane client.
func (r *runner) writeKubeconfigs() error {
	server := r.apiServerURL()
	for path, cert := range map[string]string{
		r.adminKubeconfig(): "admin",
		r.p.join("kube", "kube-controller-manager.kubeconfig"): "kube-controller-manager",
		r.p.join("kube", "kube-scheduler.kubeconfig"):          "kube-scheduler",
		r.p.join("kube", "kwok.kubeconfig"):                    "kwok",
		r.p.join("kube", "kubelet.kubeconfig"):                 "kubelet-client",
	} {
		if err := writeKubeconfig(path, server, r.p.pki, cert); err != nil {
			return fmt.Errorf("write kubeconfig %s: %w", filepath.Base(path), err)
		}
	}
	return nil
}

func (r *runner) adminKubeconfig() string { return r.p.join("kubeconfig") }
