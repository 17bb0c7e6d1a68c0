package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rainflow/rainflow/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

func TestL4TCPRoundRobinSkipsDeadEndpoints(t *testing.T) {
	t.Parallel()
	a, b := tcpNameServer(t, "a"), tcpNameServer(t, "b")
	dead := deadAddr(t)
	p := newTestL4Proxy(t, L4Config{DialTimeout: time.Second})
	port := freePort(t, "tcp")
	p.update(Objects{
		Services:       []*corev1.Service{l4Service("shop", "names", port, corev1.ProtocolTCP)},
		EndpointSlices: l4Slices("shop", "names", corev1.ProtocolTCP, a, b, dead),
	})
	addr := p.addr(int32(port), corev1.ProtocolTCP)
	require.NotNil(t, addr)

	seen := map[string]int{}
	for range 6 {
		seen[tcpAsk(t, addr.String(), "hi")]++
	}
	// Every connection is answered although one endpoint in three refuses: its turn goes to the next.
	assert.Equal(t, 6, seen["a: hi"]+seen["b: hi"], "answers: %v", seen)
	assert.Positive(t, seen["a: hi"])
	assert.Positive(t, seen["b: hi"])
}

func TestL4TCPHalfClose(t *testing.T) {
	t.Parallel()
	// The server answers only after the client has finished sending: the proxy must pass the client's
	// half-close on and still carry the answer back.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go acceptEach(ln, func(c net.Conn) {
		in, _ := io.ReadAll(c)
		_, _ = io.WriteString(c, "received "+strconv.Itoa(len(in))+" bytes")
	})
	p := newTestL4Proxy(t, L4Config{})
	port := freePort(t, "tcp")
	p.update(Objects{
		Services:       []*corev1.Service{l4Service("shop", "count", port, corev1.ProtocolTCP)},
		EndpointSlices: l4Slices("shop", "count", corev1.ProtocolTCP, ln.Addr().String()),
	})
	c, err := net.Dial("tcp", p.addr(int32(port), corev1.ProtocolTCP).String())
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	payload := strings.Repeat("x", 1<<20)
	_, err = io.WriteString(c, payload)
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	answer, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, "received 1048576 bytes", string(answer))
}

// TestL4TCPWaitsForEndpoint: a connection accepted while its route has no ready endpoint (the Service
// seen before its EndpointSlice) is held until one arrives, and otherwise closed in order, never reset.
func TestL4TCPWaitsForEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		wait time.Duration
		// then changes the route while the client waits; nil changes nothing.
		then func(svc *corev1.Service, server string) Objects
		want string // the answer line; "" wants EOF
	}{
		{
			name: "endpoint arrives during the wait", wait: time.Minute,
			then: func(svc *corev1.Service, server string) Objects {
				return Objects{Services: []*corev1.Service{svc}, EndpointSlices: l4Slices("shop", "late", corev1.ProtocolTCP, server)}
			},
			want: "a: hi",
		},
		{name: "no endpoint within the wait", wait: 100 * time.Millisecond},
		{
			name: "route removed during the wait", wait: time.Minute,
			then: func(*corev1.Service, string) Objects { return Objects{} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			server := tcpNameServer(t, "a")
			p := newTestL4Proxy(t, L4Config{EndpointWait: tt.wait})
			port := freePort(t, "tcp")
			svc := l4Service("shop", "late", port, corev1.ProtocolTCP)
			p.update(Objects{Services: []*corev1.Service{svc}})
			c, err := net.Dial("tcp", p.addr(int32(port), corev1.ProtocolTCP).String())
			require.NoError(t, err, "the route keeps its port without endpoints")
			defer func() { _ = c.Close() }()
			require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
			_, err = io.WriteString(c, "hi\n") // unread data would make a close send RST
			require.NoError(t, err)
			if tt.then != nil {
				time.Sleep(50 * time.Millisecond) // the connection is accepted and waiting
				p.update(tt.then(svc, server))
			}
			got, err := bufio.NewReader(c).ReadString('\n')
			if tt.want != "" {
				require.NoError(t, err)
				assert.Equal(t, tt.want+"\n", got)
				return
			}
			assert.Empty(t, got)
			assert.ErrorIs(t, err, io.EOF, "the connection is closed in order, not reset")
		})
	}
}

func TestL4Reconcile(t *testing.T) {
	t.Parallel()
	a, b := tcpNameServer(t, "a"), tcpNameServer(t, "b")
	p := newTestL4Proxy(t, L4Config{})
	port := freePort(t, "tcp")
	svc := l4Service("shop", "names", port, corev1.ProtocolTCP)
	p.update(Objects{Services: []*corev1.Service{svc},
		EndpointSlices: l4Slices("shop", "names", corev1.ProtocolTCP, a)})
	addr := p.addr(int32(port), corev1.ProtocolTCP).String()
	first := p.listeners[l4Key{port: int32(port), protocol: corev1.ProtocolTCP}]

	// A connection open before the endpoints change stays on its endpoint.
	open, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer func() { _ = open.Close() }()
	r := bufio.NewReader(open)
	assert.Equal(t, "a: one", tcpLine(t, open, r, "one"))

	p.update(Objects{Services: []*corev1.Service{svc},
		EndpointSlices: l4Slices("shop", "names", corev1.ProtocolTCP, b)})
	assert.Same(t, first, p.listeners[l4Key{port: int32(port), protocol: corev1.ProtocolTCP}], "the listener is not restarted")
	assert.Equal(t, "b: new", tcpAsk(t, addr, "new"), "a new connection goes to the new endpoint")
	assert.Equal(t, "a: two", tcpLine(t, open, r, "two"), "the open connection keeps its endpoint")

	// The same objects again change nothing.
	p.update(Objects{Services: []*corev1.Service{svc},
		EndpointSlices: l4Slices("shop", "names", corev1.ProtocolTCP, b)})
	assert.Same(t, first, p.listeners[l4Key{port: int32(port), protocol: corev1.ProtocolTCP}])

	// The route is removed: its port is closed, the connection in progress runs on.
	p.update(Objects{})
	assert.Nil(t, p.addr(int32(port), corev1.ProtocolTCP))
	_, err = net.Dial("tcp", addr)
	assert.Error(t, err, "the removed route's port refuses connections")
	assert.Equal(t, "a: three", tcpLine(t, open, r, "three"))
	assert.Len(t, p.retired, 1, "the closed listener is kept while its connection runs")

	// Stopping ends the connections of removed routes too.
	p.stop()
	_, err = r.ReadString('\n')
	assert.ErrorIs(t, err, io.EOF)
}

func TestL4ListenFailureKeepsOtherRoutes(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })
	takenPort := taken.Addr().(*net.TCPAddr).Port
	a := tcpNameServer(t, "a")
	p := newTestL4Proxy(t, L4Config{})
	port := freePort(t, "tcp")
	objs := Objects{
		Services: []*corev1.Service{
			l4Service("shop", "busy", takenPort, corev1.ProtocolTCP),
			l4Service("shop", "names", port, corev1.ProtocolTCP),
		},
		EndpointSlices: l4Slices("shop", "names", corev1.ProtocolTCP, a),
	}
	p.update(objs)
	p.update(objs) // the failure is retried on every build
	assert.Nil(t, p.addr(int32(takenPort), corev1.ProtocolTCP))
	assert.Contains(t, p.failed[l4Key{port: int32(takenPort), protocol: corev1.ProtocolTCP}].err, "address already in use")
	assert.Equal(t, "a: ok", tcpAsk(t, p.addr(int32(port), corev1.ProtocolTCP).String(), "ok"))

	// Once the port is free, the next build serves it.
	require.NoError(t, taken.Close())
	p.update(objs)
	assert.NotNil(t, p.addr(int32(takenPort), corev1.ProtocolTCP))
	assert.Empty(t, p.failed)
}

func TestL4UDPSessions(t *testing.T) {
	t.Parallel()
	a, b := udpNameServer(t, "a"), udpNameServer(t, "b")
	p := newTestL4Proxy(t, L4Config{UDPIdleTimeout: 200 * time.Millisecond})
	port := freePort(t, "udp")
	p.update(Objects{
		Services:       []*corev1.Service{l4Service("infra", "dns", port, corev1.ProtocolUDP)},
		EndpointSlices: l4Slices("infra", "dns", corev1.ProtocolUDP, a, b),
	})
	addr := p.addr(int32(port), corev1.ProtocolUDP)
	require.NotNil(t, addr)
	ln := p.listeners[l4Key{port: int32(port), protocol: corev1.ProtocolUDP}].(*udpListener)

	// Each client is one session on one endpoint; two clients are balanced over the two endpoints.
	c1, c2 := udpClient(t, addr.String()), udpClient(t, addr.String())
	first1, first2 := udpAsk(t, c1, "x"), udpAsk(t, c2, "y")
	assert.ElementsMatch(t, []string{"a", "b"}, []string{first1[:1], first2[:1]})
	assert.Equal(t, first1[:1]+": again", udpAsk(t, c1, "again"), "a session stays on its endpoint")
	assert.Equal(t, 2, ln.sessionCount())

	// Idle sessions end; the client's next datagram opens a new one.
	require.Eventually(t, func() bool { return ln.sessionCount() == 0 }, 5*time.Second, 20*time.Millisecond)
	assert.Contains(t, []string{"a: back", "b: back"}, udpAsk(t, c1, "back"))
	assert.Equal(t, 1, ln.sessionCount())
}

func TestL4UDPMaxSessions(t *testing.T) {
	t.Parallel()
	a := udpNameServer(t, "a")
	var logged syncBuffer
	p := newL4Proxy(L4Config{UDPMaxSessions: 1}, slog.New(slog.NewTextHandler(&logged, nil)), newMetrics())
	p.start(t.Context())
	t.Cleanup(p.stop)
	port := freePort(t, "udp")
	p.update(Objects{
		Services:       []*corev1.Service{l4Service("infra", "dns", port, corev1.ProtocolUDP)},
		EndpointSlices: l4Slices("infra", "dns", corev1.ProtocolUDP, a),
	})
	addr := p.addr(int32(port), corev1.ProtocolUDP).String()
	c1, c2 := udpClient(t, addr), udpClient(t, addr)
	assert.Equal(t, "a: x", udpAsk(t, c1, "x"))
	require.NoError(t, c2.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	_, err := c2.Write([]byte("y"))
	require.NoError(t, err)
	_, err = c2.Read(make([]byte, 64))
	var ne net.Error
	assert.True(t, errors.As(err, &ne) && ne.Timeout(), "the second client's datagram is dropped: %v", err)

	// a flood of new clients is counted datagram by datagram but logged once (sessionsFullWarnEvery)
	c3 := udpClient(t, addr)
	for range 5 {
		_, err := c2.Write([]byte("y"))
		require.NoError(t, err)
		_, err = c3.Write([]byte("z"))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return value(t, p.udpDrops.tooManySessions) == 11 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, strings.Count(logged.String(), "too many sessions"), "log: %s", logged.String())
}

// TestGatewayServesL4Routes runs a whole gateway on the fake clientset: an annotated Service becomes a
// TCP route on 127.0.0.1, an endpoint added later receives new connections, and deleting the Service
// closes the port.
func TestGatewayServesL4Routes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := tcpNameServer(t, "a"), tcpNameServer(t, "b")
	port := freePort(t, "tcp")
	kube := fake.NewClientset(
		l4Service("shop", "names", port, corev1.ProtocolTCP),
		l4Slice("shop", "names-a", "names", corev1.ProtocolTCP, a),
	)
	g := runTestGateway(t, Config{}, kube)

	require.Eventually(t, func() bool { return g.L4Addr(int32(port), corev1.ProtocolTCP) != nil }, 10*time.Second, 10*time.Millisecond)
	addr := g.L4Addr(int32(port), corev1.ProtocolTCP).String()
	assert.Equal(t, "127.0.0.1:"+strconv.Itoa(port), addr)
	assert.Equal(t, "a: hello", tcpAsk(t, addr, "hello"))
	assert.Equal(t, []L4Route{{Port: int32(port), Protocol: corev1.ProtocolTCP, Service: "shop/names", ServicePort: "main",
		ServicePortNumber: 1, Endpoints: []string{a}}}, g.L4Routes())

	_, err := kube.DiscoveryV1().EndpointSlices("shop").Create(ctx,
		l4Slice("shop", "names-b", "names", corev1.ProtocolTCP, b), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return len(g.L4Routes()) == 1 && len(g.L4Routes()[0].Endpoints) == 2
	}, 5*time.Second, 10*time.Millisecond)
	seen := map[string]bool{}
	for range 4 {
		seen[tcpAsk(t, addr, "n")] = true
	}
	assert.Equal(t, map[string]bool{"a: n": true, "b: n": true}, seen)

	require.NoError(t, kube.CoreV1().Services("shop").Delete(ctx, "names", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return g.L4Addr(int32(port), corev1.ProtocolTCP) == nil }, 5*time.Second, 10*time.Millisecond)
	_, err = net.Dial("tcp", addr)
	assert.Error(t, err)
}

// TestGatewayL4ServiceBeforeEndpoints is how a route appears on a running gateway: the Service is
// seen first, its EndpointSlice a moment later. A client connecting in between is served once the
// endpoint arrives, not reset.
func TestGatewayL4ServiceBeforeEndpoints(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	server := tcpNameServer(t, "a")
	port := freePort(t, "tcp")
	kube := fake.NewClientset(l4Service("shop", "names", port, corev1.ProtocolTCP))
	g := runTestGateway(t, Config{}, kube)
	require.Eventually(t, func() bool { return g.L4Addr(int32(port), corev1.ProtocolTCP) != nil }, 10*time.Second, 10*time.Millisecond)

	c, err := net.Dial("tcp", g.L4Addr(int32(port), corev1.ProtocolTCP).String())
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(c, "first\n")
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond) // the connection waits on a route without endpoints
	_, err = kube.DiscoveryV1().EndpointSlices("shop").Create(ctx,
		l4Slice("shop", "names-a", "names", corev1.ProtocolTCP, server), metav1.CreateOptions{})
	require.NoError(t, err)
	got, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err, "the first connection is served, not reset")
	assert.Equal(t, "a: first\n", got)
}

// runTestGateway runs a gateway on the kube client with cfg on 127.0.0.1:0 listeners and a 10ms
// throttle, until the test ends.
func runTestGateway(t *testing.T, cfg Config, kube kubernetes.Interface) *Gateway {
	t.Helper()
	cfg.HTTPListen, cfg.AdminListen, cfg.Throttle = "127.0.0.1:0", "127.0.0.1:0", 10*time.Millisecond
	g, err := New(cfg, kube, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		assert.NoError(t, <-done)
	})
	return g
}

// newTestL4Proxy is an L4 side on 127.0.0.1, stopped when the test ends.
func newTestL4Proxy(t *testing.T, cfg L4Config) *l4Proxy {
	t.Helper()
	p := newL4Proxy(cfg, slog.New(slog.DiscardHandler), newMetrics())
	p.start(t.Context())
	t.Cleanup(p.stop)
	return p
}

// l4Service is a TCP or UDP route's Service as the platform renders it: headless, one port named "main".
func l4Service(ns, name string, listenPort int, protocol corev1.Protocol) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Annotations: map[string]string{contract.AnnotationListenPort: strconv.Itoa(listenPort)}},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone,
			Ports: []corev1.ServicePort{{Name: "main", Port: 1, Protocol: protocol}}},
	}
}

// l4Slices are the EndpointSlices of an l4Service, one per ready endpoint at the host:port given (the
// endpoints of one slice share a port, and the test servers all listen on 127.0.0.1).
func l4Slices(ns, svc string, protocol corev1.Protocol, addrs ...string) []*discoveryv1.EndpointSlice {
	out := make([]*discoveryv1.EndpointSlice, 0, len(addrs))
	for i, a := range addrs {
		out = append(out, l4Slice(ns, svc+"-"+strconv.Itoa(i), svc, protocol, a))
	}
	return out
}

// l4Slice is one EndpointSlice of an l4Service with one ready endpoint.
func l4Slice(ns, name, svc string, protocol corev1.Protocol, addr string) *discoveryv1.EndpointSlice {
	portName := "main"
	host, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	port := int32(n)
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{host}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port, Protocol: &protocol}},
	}
}

// freePort is a port of 127.0.0.1 free right now.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		defer func() { _ = c.Close() }()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}
