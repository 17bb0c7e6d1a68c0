package gateway

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// TestDebugRoutesShowsL4Routes: /debug/routes keeps the HTTP table's fields as they are and adds the
// TCP and UDP routes under "l4": protocol, port, Service and port, the route's balancing policy (and
// hash key), ready endpoints, and the error of a route whose port could not be bound.
func TestDebugRoutesShowsL4Routes(t *testing.T) {
	t.Parallel()
	tcpServer, udpServer := tcpNameServer(t, "t"), udpNameServer(t, "u")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })
	takenPort := taken.Addr().(*net.TCPAddr).Port
	tcpPort, udpPort := freePort(t, "tcp"), freePort(t, "udp")

	p := newTestL4Proxy(t, L4Config{})
	p.update(Objects{
		Services: []*corev1.Service{
			l4Balanced("shop", "db", tcpPort, corev1.ProtocolTCP, "least-connections", ""),
			l4Balanced("infra", "dns", udpPort, corev1.ProtocolUDP, "consistent-hash", "client-ip"),
			l4Service("shop", "busy", takenPort, corev1.ProtocolTCP),
		},
		EndpointSlices: append(l4Slices("shop", "db", corev1.ProtocolTCP, tcpServer),
			l4Slices("infra", "dns", corev1.ProtocolUDP, udpServer)...),
	})
	routes := Routes{HTTP: []HTTPRoute{{Host: "shop.example.com", Path: "", PathType: PathPrefix, Ingress: "shop/web",
		Backend: Backend{Service: "shop/web", Port: "http", Endpoints: []string{"10.0.0.1:8080"}}}}}
	var table atomic.Pointer[Table]
	table.Store(Compile(routes, NewPool()))
	admin := httptest.NewServer(newAdminHandler(&table, newMetrics(), p.status))
	t.Cleanup(admin.Close)

	resp, err := http.Get(admin.URL + "/debug/routes")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)

	var got struct {
		HTTP []HTTPRoute     `json:"http"`
		L4   []L4RouteStatus `json:"l4"`
	}
	require.NoError(t, json.Unmarshal(body, &got))
	assert.Equal(t, routes.HTTP, got.HTTP, "the HTTP table's fields are unchanged")
	want := []L4RouteStatus{
		{Protocol: corev1.ProtocolTCP, Port: int32(tcpPort), Listen: "127.0.0.1:" + strconv.Itoa(tcpPort),
			Service: "shop/db", ServicePort: "main", ServicePortNumber: 1, Policy: "least-connections", Endpoints: []string{tcpServer}},
		{Protocol: corev1.ProtocolUDP, Port: int32(udpPort), Listen: "127.0.0.1:" + strconv.Itoa(udpPort),
			Service: "infra/dns", ServicePort: "main", ServicePortNumber: 1, Policy: "consistent-hash", HashBy: "client-ip",
			Endpoints: []string{udpServer}},
		{Protocol: corev1.ProtocolTCP, Port: int32(takenPort), Service: "shop/busy", ServicePort: "main", ServicePortNumber: 1,
			Policy: "round-robin", Endpoints: []string{}},
	}
	require.Len(t, got.L4, len(want), "%s", body)
	for i := range got.L4 {
		if got.L4[i].Port == int32(takenPort) {
			assert.Contains(t, got.L4[i].Error, "address already in use")
			got.L4[i].Error = ""
		}
	}
	assert.ElementsMatch(t, want, got.L4)
	var fields struct {
		L4 []map[string]any `json:"l4"`
	}
	require.NoError(t, json.Unmarshal(body, &fields))
	for _, r := range fields.L4 {
		_, hashed := r["hashBy"]
		assert.Equal(t, r["policy"] == "consistent-hash", hashed, "hashBy is shown with consistent-hash only: %v", r)
	}

	// A connection in progress, and the UDP client session, show as active.
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(tcpPort))
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	assert.Equal(t, "u: x", udpAsk(t, udpClient(t, "127.0.0.1:"+strconv.Itoa(udpPort)), "x"))
	assert.Eventually(t, func() bool {
		st := p.status()
		return len(st) == 3 && st[0].Active+st[1].Active+st[2].Active == 2
	}, 5*time.Second, 5*time.Millisecond, "%+v", p.status())
}

// TestDebugRoutesWithoutL4Routes: "l4" is an empty list, never absent, when there is no TCP or UDP
// route, and /debug/routes answers 503 before the first snapshot.
func TestDebugRoutesWithoutL4Routes(t *testing.T) {
	t.Parallel()
	var table atomic.Pointer[Table]
	admin := httptest.NewServer(newAdminHandler(&table, newMetrics(), newTestL4Proxy(t, L4Config{}).status))
	t.Cleanup(admin.Close)
	resp, err := http.Get(admin.URL + "/debug/routes")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	table.Store(Compile(Routes{}, NewPool()))
	resp, err = http.Get(admin.URL + "/debug/routes")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var got map[string]json.RawMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	assert.JSONEq(t, "[]", string(got["l4"]))
	assert.Contains(t, got, "http")
}
