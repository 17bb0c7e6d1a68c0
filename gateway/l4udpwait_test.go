package gateway

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestL4UDPWaitsForEndpoint: the first datagrams of a client arriving while its UDP route has no ready
// endpoint (the Service seen before its EndpointSlice) are held, and sent in order once one arrives;
// when none arrives within the wait, or the route is removed, they are dropped and counted.
func TestL4UDPWaitsForEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		wait time.Duration
		// then changes the route 200 ms after the first datagram; nil changes nothing.
		then func(svc *corev1.Service, server string) Objects
		// want are the answers to the datagrams "1", "2", "3"; none wants them dropped as no_endpoint.
		want []string
	}{
		{
			name: "endpoint arrives during the wait", wait: time.Minute,
			then: func(svc *corev1.Service, server string) Objects {
				return Objects{Services: []*corev1.Service{svc}, EndpointSlices: l4Slices("shop", "late", corev1.ProtocolUDP, server)}
			},
			want: []string{"a: 1", "a: 2", "a: 3"},
		},
		{name: "no endpoint within the wait", wait: time.Second},
		{
			name: "route removed during the wait", wait: time.Minute,
			then: func(*corev1.Service, string) Objects { return Objects{} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			server := udpNameServer(t, "a")
			p := newTestL4Proxy(t, L4Config{EndpointWait: tt.wait})
			port := freePort(t, "udp")
			svc := l4Service("shop", "late", port, corev1.ProtocolUDP)
			p.update(Objects{Services: []*corev1.Service{svc}})
			key := l4Key{port: int32(port), protocol: corev1.ProtocolUDP}
			ln := p.listeners[key].(*udpListener)
			c := udpClient(t, p.addr(int32(port), corev1.ProtocolUDP).String())
			for _, msg := range []string{"1", "2", "3"} {
				_, err := c.Write([]byte(msg))
				require.NoError(t, err)
			}
			require.Eventually(t, func() bool { return ln.stats() == l4ListenerStats{active: 1, waiting: 1} },
				5*time.Second, 5*time.Millisecond, "the client waits")
			if tt.then != nil {
				time.Sleep(200 * time.Millisecond)
				p.update(tt.then(svc, server))
			}

			if tt.want != nil {
				assert.Equal(t, tt.want, udpReadAll(t, c, len(tt.want), 5*time.Second), "the held datagrams, in order")
				assert.Equal(t, "a: 4", udpAsk(t, c, "4"), "the client is a session now")
				assert.Equal(t, l4ListenerStats{active: 1}, ln.stats())
				assert.Zero(t, value(t, p.udpDrops.noEndpoint))
				return
			}
			require.Eventually(t, func() bool { return value(t, p.udpDrops.noEndpoint) == 3 }, 5*time.Second, 5*time.Millisecond,
				"the held datagrams are dropped and counted")
			assert.Zero(t, value(t, p.udpDrops.bufferFull))
			assert.True(t, ln.idle(), "the client no longer waits")
			assert.Empty(t, udpReadAll(t, c, 1, 100*time.Millisecond), "nothing reached an endpoint")
		})
	}
}

// TestL4UDPWaitBounds: what a route holds for its clients waiting for an endpoint is bounded per client
// (datagrams and bytes) and in clients; beyond the bounds datagrams are dropped as buffer_full at once,
// the others still reach the endpoint when it arrives.
func TestL4UDPWaitBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     L4Config
		clients int
		sends   []string // by each client, in order
		want    []string // the answers each client reads once the endpoint arrives
		dropped float64  // counted as buffer_full
	}{
		{
			name: "datagrams per client", clients: 1,
			sends: udpNumbered("d", 20), want: answers("a: ", udpNumbered("d", DefaultUDPWaitDatagrams)),
			dropped: 20 - DefaultUDPWaitDatagrams,
		},
		{
			name: "bytes per client", cfg: L4Config{UDPWaitBytes: 1000}, clients: 1,
			sends:   []string{strings.Repeat("x", 400), strings.Repeat("y", 400), strings.Repeat("z", 400), "w"},
			want:    []string{"a: " + strings.Repeat("x", 400), "a: " + strings.Repeat("y", 400), "a: w"},
			dropped: 1,
		},
		{
			name: "clients waiting", cfg: L4Config{UDPMaxWaiting: 2}, clients: 3,
			sends: []string{"hi"}, want: []string{"a: hi"},
			dropped: 1, // the third client's datagram
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			server := udpNameServer(t, "a")
			tt.cfg.EndpointWait = time.Minute
			p := newTestL4Proxy(t, tt.cfg)
			port := freePort(t, "udp")
			svc := l4Service("shop", "late", port, corev1.ProtocolUDP)
			p.update(Objects{Services: []*corev1.Service{svc}})
			ln := p.listeners[l4Key{port: int32(port), protocol: corev1.ProtocolUDP}].(*udpListener)
			addr := p.addr(int32(port), corev1.ProtocolUDP).String()
			clients := make([]net.Conn, tt.clients)
			for i := range clients {
				clients[i] = udpClient(t, addr)
				for _, msg := range tt.sends {
					_, err := clients[i].Write([]byte(msg))
					require.NoError(t, err)
				}
				// One client after the other: which one is beyond the bound is known.
				require.Eventually(t, func() bool {
					return ln.stats().waiting == min(i+1, ln.wait.clients) &&
						value(t, p.udpDrops.bufferFull)+float64(heldDatagrams(ln)) == float64((i+1)*len(tt.sends))
				}, 5*time.Second, 5*time.Millisecond, "client %d's datagrams are read", i)
			}
			assert.Equal(t, tt.dropped, value(t, p.udpDrops.bufferFull))

			p.update(Objects{Services: []*corev1.Service{svc}, EndpointSlices: l4Slices("shop", "late", corev1.ProtocolUDP, server)})
			waited := min(tt.clients, ln.wait.clients)
			for i, c := range clients[:waited] {
				assert.Equal(t, tt.want, udpReadAll(t, c, len(tt.want), 5*time.Second), "client %d", i)
				assert.Empty(t, udpReadAll(t, c, 1, 100*time.Millisecond), "client %d: the dropped datagrams never arrive", i)
			}
			for i, c := range clients[waited:] {
				assert.Empty(t, udpReadAll(t, c, 1, 100*time.Millisecond), "client %d beyond the bound", waited+i)
			}
			assert.Zero(t, value(t, p.udpDrops.noEndpoint))
		})
	}
}

// TestGatewayL4UDPServiceBeforeEndpoints is how a UDP route appears on a running gateway: the Service
// first, its EndpointSlice a moment later. The first datagram, sent in between, is answered.
func TestGatewayL4UDPServiceBeforeEndpoints(t *testing.T) {
	t.Parallel()
	server := udpNameServer(t, "a")
	port := freePort(t, "udp")
	kube := fake.NewClientset(l4Service("shop", "voice", port, corev1.ProtocolUDP))
	g := runTestGateway(t, Config{}, kube)
	require.Eventually(t, func() bool { return g.L4Addr(int32(port), corev1.ProtocolUDP) != nil }, 10*time.Second, 10*time.Millisecond)

	c := udpClient(t, g.L4Addr(int32(port), corev1.ProtocolUDP).String())
	_, err := c.Write([]byte("first"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st := g.L4Status()
		return len(st) == 1 && st[0].Waiting == 1
	}, 5*time.Second, 5*time.Millisecond, "the client waits: %+v", g.L4Status())
	_, err = kube.DiscoveryV1().EndpointSlices("shop").Create(t.Context(),
		l4Slice("shop", "voice-a", "voice", corev1.ProtocolUDP, server), metav1.CreateOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"a: first"}, udpReadAll(t, c, 1, 10*time.Second), "the first datagram is answered")
}

// udpReadAll reads up to n datagrams from c, for at most d in all.
func udpReadAll(t *testing.T, c net.Conn, n int, d time.Duration) []string {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(d)))
	var out []string
	buf := make([]byte, maxDatagram)
	for len(out) < n {
		k, err := c.Read(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			break
		}
		require.NoError(t, err)
		out = append(out, string(buf[:k]))
	}
	return out
}

// udpNumbered is prefix0, prefix1, ... n of them.
func udpNumbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// answers are the name server's answers to msgs.
func answers(prefix string, msgs []string) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = prefix + m
	}
	return out
}

// heldDatagrams counts the datagrams the listener holds for its waiting clients.
func heldDatagrams(l *udpListener) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, w := range l.waiting {
		n += len(w.queue)
	}
	return n
}
