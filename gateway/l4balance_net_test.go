package gateway

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// The L4 policies against real sockets: loopback backends, and clients on several loopback addresses
// (127.0.0.0/8 is all local on Linux) standing for clients of several IPs.

// l4Balanced is an l4Service balanced with policy (and hash-by, when not "").
func l4Balanced(ns, name string, listenPort int, protocol corev1.Protocol, policy, hashBy string) *corev1.Service {
	svc := l4Service(ns, name, listenPort, protocol)
	svc.Annotations[AnnotationLoadBalance] = policy
	if hashBy != "" {
		svc.Annotations[AnnotationHashBy] = hashBy
	}
	return svc
}

// loopbackIP is 127.0.0.<n>.
func loopbackIP(n int) net.IP { return net.IPv4(127, 0, 0, byte(n)) }

// askFrom sends one line, or one datagram, from a new client socket on the address ip and returns the
// name of the backend that answered.
func askFrom(t *testing.T, protocol corev1.Protocol, ip net.IP, addr string) string {
	t.Helper()
	var answer string
	if protocol == corev1.ProtocolUDP {
		raddr, err := net.ResolveUDPAddr("udp", addr)
		require.NoError(t, err)
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: ip}, raddr)
		require.NoError(t, err)
		defer func() { _ = c.Close() }()
		answer = udpAsk(t, c, "hi")
	} else {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
		c, err := d.Dial("tcp", addr)
		require.NoError(t, err)
		defer func() { _ = c.Close() }()
		answer = tcpLine(t, c, bufio.NewReader(c), "hi")
	}
	name, _, ok := strings.Cut(answer, ":")
	require.True(t, ok, "answer %q", answer)
	return name
}

// TestL4ConsistentHashOverSockets: with consistent-hash by client-ip, every connection (TCP) or session
// (UDP) of one client IP reaches one backend, whatever its source port, and clients of many IPs reach
// both backends.
func TestL4ConsistentHashOverSockets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		protocol corev1.Protocol
		network  string
		backend  func(t *testing.T, name string) string
	}{
		{name: "tcp connections", protocol: corev1.ProtocolTCP, network: "tcp", backend: tcpNameServer},
		{name: "udp sessions", protocol: corev1.ProtocolUDP, network: "udp", backend: udpNameServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := tt.backend(t, "a"), tt.backend(t, "b")
			p := newTestL4Proxy(t, L4Config{})
			port := freePort(t, tt.network)
			p.update(Objects{
				Services:       []*corev1.Service{l4Balanced("play", "game", port, tt.protocol, "consistent-hash", "client-ip")},
				EndpointSlices: l4Slices("play", "game", tt.protocol, a, b),
			})
			addr := p.addr(int32(port), tt.protocol).String()

			one := askFrom(t, tt.protocol, loopbackIP(1), addr)
			for range 8 {
				require.Equal(t, one, askFrom(t, tt.protocol, loopbackIP(1), addr), "one client IP keeps its backend")
			}
			seen := map[string]int{}
			for n := 2; n < 22; n++ {
				first := askFrom(t, tt.protocol, loopbackIP(n), addr)
				require.Equal(t, first, askFrom(t, tt.protocol, loopbackIP(n), addr), "client 127.0.0.%d", n)
				seen[first]++
			}
			// 20 IPs all on one of two backends would happen once in 500,000 runs.
			assert.Positive(t, seen["a"], "clients per backend: %v", seen)
			assert.Positive(t, seen["b"], "clients per backend: %v", seen)
		})
	}
}

// l4Inflight is the count of connections or sessions in progress of each endpoint of the balancer.
func l4Inflight(b *l4Balancer) map[string]int64 {
	out := map[string]int64{}
	for _, u := range b.current.Load().upstreams {
		out[u.Addr] = u.Inflight()
	}
	return out
}

// l4Conn is a client connection kept open, and the backend it reached.
type l4Conn struct {
	c       net.Conn
	backend string
}

// TestL4LeastConnectionsOverSockets: a new connection goes to the backend with fewer connections in
// progress, and a connection counts until it is closed.
func TestL4LeastConnectionsOverSockets(t *testing.T) {
	t.Parallel()
	addrs := map[string]string{}
	addrs["a"], addrs["b"] = tcpNameServer(t, "a"), tcpNameServer(t, "b")
	p := newTestL4Proxy(t, L4Config{})
	port := freePort(t, "tcp")
	p.update(Objects{
		Services:       []*corev1.Service{l4Balanced("shop", "db", port, corev1.ProtocolTCP, "least-connections", "")},
		EndpointSlices: l4Slices("shop", "db", corev1.ProtocolTCP, addrs["a"], addrs["b"]),
	})
	addr := p.addr(int32(port), corev1.ProtocolTCP).String()
	ln := p.listeners[l4Key{port: int32(port), protocol: corev1.ProtocolTCP}].(*tcpListener)
	inflight := func(backend string) int64 { return l4Inflight(ln.balancer)[addrs[backend]] }
	open := func() l4Conn {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		name, _, _ := strings.Cut(tcpLine(t, c, bufio.NewReader(c), "hi"), ":")
		return l4Conn{c: c, backend: name}
	}

	// Two connections take one backend each; a third goes to either, which then has two.
	first, second := open(), open()
	assert.ElementsMatch(t, []string{"a", "b"}, []string{first.backend, second.backend})
	busy := open().backend
	idle := first.backend
	if idle == busy {
		idle = second.backend
	}
	assert.Equal(t, int64(2), inflight(busy))
	assert.Equal(t, int64(1), inflight(idle))

	// The idle backend's connection ends: it has none, the busy one two. The next two connections both
	// go to it (round robin would have sent one of them to the busy backend).
	onIdle := first
	if first.backend != idle {
		onIdle = second
	}
	require.NoError(t, onIdle.c.Close())
	require.Eventually(t, func() bool { return inflight(idle) == 0 }, 5*time.Second, 5*time.Millisecond,
		"the closed connection is uncounted")
	assert.Equal(t, idle, open().backend)
	assert.Equal(t, idle, open().backend)
	assert.Equal(t, int64(2), inflight(idle))
	assert.Equal(t, int64(2), inflight(busy))
}

// TestL4UDPSessionsCountUntilTheyEnd: least-connections counts a UDP route's sessions per backend, and a
// session that expires is uncounted.
func TestL4UDPSessionsCountUntilTheyEnd(t *testing.T) {
	t.Parallel()
	a, b := udpNameServer(t, "a"), udpNameServer(t, "b")
	p := newTestL4Proxy(t, L4Config{UDPIdleTimeout: 300 * time.Millisecond})
	port := freePort(t, "udp")
	p.update(Objects{
		Services:       []*corev1.Service{l4Balanced("infra", "dns", port, corev1.ProtocolUDP, "least-connections", "")},
		EndpointSlices: l4Slices("infra", "dns", corev1.ProtocolUDP, a, b),
	})
	addr := p.addr(int32(port), corev1.ProtocolUDP).String()
	ln := p.listeners[l4Key{port: int32(port), protocol: corev1.ProtocolUDP}].(*udpListener)
	counts := func() map[string]int64 { return l4Inflight(ln.balancer) }

	// Two clients: one session on each backend, whichever answers first.
	seen := []string{udpAsk(t, udpClient(t, addr), "x")[:1], udpAsk(t, udpClient(t, addr), "y")[:1]}
	assert.ElementsMatch(t, []string{"a", "b"}, seen)
	assert.Equal(t, map[string]int64{a: 1, b: 1}, counts())
	require.Eventually(t, func() bool { return ln.sessionCount() == 0 }, 5*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return counts()[a] == 0 && counts()[b] == 0 }, 5*time.Second, 5*time.Millisecond,
		"expired sessions are uncounted: %v", counts())
}

// TestL4PolicyChangeKeepsListener: a change of the route's policy keeps its listener, and the
// connections in progress; it applies to the new connections.
func TestL4PolicyChangeKeepsListener(t *testing.T) {
	t.Parallel()
	a, b := tcpNameServer(t, "a"), tcpNameServer(t, "b")
	p := newTestL4Proxy(t, L4Config{})
	port := freePort(t, "tcp")
	endpoints := l4Slices("shop", "names", corev1.ProtocolTCP, a, b)
	p.update(Objects{Services: []*corev1.Service{l4Service("shop", "names", port, corev1.ProtocolTCP)}, EndpointSlices: endpoints})
	key := l4Key{port: int32(port), protocol: corev1.ProtocolTCP}
	first := p.listeners[key]
	addr := p.addr(int32(port), corev1.ProtocolTCP).String()

	// Round robin: one client IP reaches both backends.
	open, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer func() { _ = open.Close() }()
	r := bufio.NewReader(open)
	was := tcpLine(t, open, r, "one")
	assert.NotEqual(t, was[:1], askFrom(t, corev1.ProtocolTCP, loopbackIP(1), addr))

	p.update(Objects{Services: []*corev1.Service{l4Balanced("shop", "names", port, corev1.ProtocolTCP, "consistent-hash", "client-ip")},
		EndpointSlices: endpoints})
	assert.Same(t, first, p.listeners[key], "the listener is not restarted")
	assert.Equal(t, Balance{Policy: BalanceHash, HashBy: "client-ip"}, p.routes[key].Balance)
	one := askFrom(t, corev1.ProtocolTCP, loopbackIP(1), addr)
	for range 5 {
		assert.Equal(t, one, askFrom(t, corev1.ProtocolTCP, loopbackIP(1), addr), "new connections are hashed")
	}
	assert.Equal(t, was[:1]+": two", tcpLine(t, open, r, "two"), "the open connection keeps its backend")
}
