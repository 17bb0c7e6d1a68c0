package gateway

import (
	"strconv"
	"testing"

	"github.com/rainflow/rainflow/internal/netnstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestL4ToPodsInNamespaces routes a TCP and a UDP route to two test hosts that, like the pods of one
// component, listen on the same port at addresses of their own, listed in one EndpointSlice.
func TestL4ToPodsInNamespaces(t *testing.T) {
	t.Parallel()
	pods := []*netnstest.Host{netnstest.New(t), netnstest.New(t)}
	const port = 7000
	for i, pod := range pods {
		name := "pod" + strconv.Itoa(i)
		ln, err := pod.Listen("tcp", port)
		require.NoError(t, err)
		t.Cleanup(func() { _ = ln.Close() })
		go serveNameLines(ln, name)
		pc, err := pod.ListenPacket("udp", port)
		require.NoError(t, err)
		t.Cleanup(func() { _ = pc.Close() })
		go serveNameDatagrams(pc, name)
	}
	p := newTestL4Proxy(t, L4Config{})
	tcpPort, udpPort := freePort(t, "tcp"), freePort(t, "udp")
	p.update(Objects{
		Services: []*corev1.Service{
			l4Service("shop", "game", tcpPort, corev1.ProtocolTCP),
			l4Service("shop", "voice", udpPort, corev1.ProtocolUDP),
		},
		EndpointSlices: []*discoveryv1.EndpointSlice{
			podSlice("shop", "game", corev1.ProtocolTCP, port, pods...),
			podSlice("shop", "voice", corev1.ProtocolUDP, port, pods...),
		},
	})

	seen := map[string]bool{}
	for range 4 {
		seen[tcpAsk(t, p.addr(int32(tcpPort), corev1.ProtocolTCP).String(), "hi")] = true
	}
	assert.Equal(t, map[string]bool{"pod0: hi": true, "pod1: hi": true}, seen)
	udpAddr := p.addr(int32(udpPort), corev1.ProtocolUDP).String()
	answers := []string{udpAsk(t, udpClient(t, udpAddr), "a"), udpAsk(t, udpClient(t, udpAddr), "b")}
	assert.ElementsMatch(t, []string{"pod0", "pod1"}, []string{answers[0][:4], answers[1][:4]})
}

// podSlice is one EndpointSlice listing the hosts as ready endpoints on port.
func podSlice(ns, svc string, protocol corev1.Protocol, port int32, hosts ...*netnstest.Host) *discoveryv1.EndpointSlice {
	name := "main"
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc + "-pods",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &protocol}},
	}
	for _, h := range hosts {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{h.Addr.String()}})
	}
	return es
}
