package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/gateway"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// The bench runs every server in a process of its own (this program, re-executed with a mode as its
// first argument), so that each one's CPU time is read from /proc apart from the others'.

// body is what the backend answers: a small page (112 bytes).
const body = "rainflow gateway bench body\nrainflow gateway bench body\n" +
	"rainflow gateway bench body\nrainflow gateway bench body\n"

// runBackend serves the HTTP backend (a small body) and the TCP source (bytes as fast as the reader
// takes them) on ports of 127.0.0.1, prints "ready <http> <tcp>" and serves until ctx is done.
func runBackend(ctx context.Context, out io.Writer) error {
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen backend http: %w", err)
	}
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen backend tcp: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = io.WriteString(w, body)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(httpLn) }()
	go serveSource(tcpLn)
	fmt.Fprintf(out, "ready %s %s\n", httpLn.Addr(), tcpLn.Addr())
	<-ctx.Done()
	_ = tcpLn.Close()
	return srv.Close()
}

// serveSource writes a 256 KiB buffer over and over on every connection until the reader goes away.
func serveSource(ln net.Listener) {
	buf := make([]byte, 256<<10)
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer func() { _ = c.Close() }()
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}()
	}
}

// runGateway runs the gateway on a fake clientset holding an Ingress (any host, prefix /) and a TCP
// route to the backend, prints "ready <http> <admin> <https or ->" once both answer, and serves until
// ctx is done.
func runGateway(ctx context.Context, args []string, out io.Writer) error {
	f := flag.NewFlagSet("gateway", flag.ContinueOnError)
	httpListen := f.String("http", "127.0.0.1:0", "data plane address")
	backend := f.String("backend", "", "backend HTTP host:port")
	source := f.String("source", "", "backend TCP source host:port")
	l4Port := f.Int("l4-port", 0, "listen port of the TCP route")
	cpuProfile := f.String("cpuprofile", "", "write the gateway's CPU profile of the measured rounds to this file")
	collectorURL := f.String("collector-url", "", "send the access log to this collector too")
	httpsListen := f.String("https", "", "HTTPS data plane address (none without)")
	certFile := f.String("cert", "", "HTTPS default certificate file")
	keyFile := f.String("key", "", "HTTPS default key file")
	procs := f.Int("gomaxprocs", 0, "GOMAXPROCS of the gateway (0: the Go default)")
	if err := f.Parse(args); err != nil {
		return err
	}
	if *procs > 0 {
		goruntime.GOMAXPROCS(*procs)
	}
	kube := fake.NewClientset(benchObjects(*backend, *source, *l4Port)...)
	g, err := gateway.New(gateway.Config{HTTPListen: *httpListen, AdminListen: "127.0.0.1:0",
		HTTPSListen: *httpsListen, DefaultCert: *certFile, DefaultKey: *keyFile,
		AccessLog: gateway.AccessLogConfig{CollectorURL: *collectorURL}}, kube, nil)
	if err != nil {
		return fmt.Errorf("create gateway: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	if err := waitReady(ctx, g, *l4Port); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	https := "-"
	if a := g.HTTPSAddr(); a != nil {
		https = a.String()
	}
	fmt.Fprintf(out, "ready %s %s %s\n", g.HTTPAddr(), g.AdminAddr(), https)
	return <-done
}

// waitReady polls until the gateway's HTTP route answers 200 and its TCP route listens.
func waitReady(ctx context.Context, g *gateway.Gateway, l4Port int) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if addr := g.HTTPAddr(); addr != nil && g.L4Addr(int32(l4Port), corev1.ProtocolTCP) != nil {
			if res, err := client.Get("http://" + addr.String() + "/"); err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return errors.New("wait for the gateway: its routes did not answer within 20s")
}

// benchObjects are what the platform renders for one HTTP route and one TCP route of a component.
func benchObjects(backend, source string, l4Port int) []runtime.Object {
	class := contract.IngressClass
	prefix := networkingv1.PathTypePrefix
	tcp := corev1.ProtocolTCP
	slice := func(name, svc, port, addr string) *discoveryv1.EndpointSlice {
		host, p, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(p)
		portNum := int32(n)
		return &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: name,
				Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{host}}},
			Ports:       []discoveryv1.EndpointPort{{Name: &port, Port: &portNum, Protocol: &tcp}},
		}
	}
	return []runtime.Object{
		&networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "web", Labels: map[string]string{
				contract.LabelTenant: "bench", contract.LabelApp: "bench", contract.LabelComponent: "web"}},
			Spec: networkingv1.IngressSpec{IngressClassName: &class, Rules: []networkingv1.IngressRule{{
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix,
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: "web", Port: networkingv1.ServiceBackendPort{Name: "http"}}}}},
				}},
			}}},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "web"},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: tcp}}},
		},
		slice("web-1", "web", "http", backend),
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "stream",
				Annotations: map[string]string{contract.AnnotationListenPort: strconv.Itoa(l4Port)}},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone,
				Ports: []corev1.ServicePort{{Name: "tcp", Port: 9000, Protocol: tcp}}},
		},
		slice("stream-1", "stream", "tcp", source),
	}
}

// startCPUProfile profiles the process into path until the returned stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
