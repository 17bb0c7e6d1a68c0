package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

func TestBuildL4(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string // also the fixture: testdata/l4/<name>.yaml
		want     []L4Route
		problems []Problem
	}{
		{
			name: "tcp-ready-endpoints",
			want: []L4Route{{Port: 15432, Protocol: corev1.ProtocolTCP, Service: "shop/db", ServicePort: "pg", ServicePortNumber: 5432,
				Endpoints: []string{"10.0.0.1:5432", "10.0.0.2:5432"}}},
		},
		{
			name: "tcp-and-udp-one-port",
			want: []L4Route{
				{Port: 5353, Protocol: corev1.ProtocolTCP, Service: "infra/dns", ServicePort: "dns-tcp", ServicePortNumber: 53,
					Endpoints: []string{"10.1.0.1:2053"}},
				{Port: 5353, Protocol: corev1.ProtocolUDP, Service: "infra/dns", ServicePort: "dns-udp", ServicePortNumber: 53,
					Endpoints: []string{"10.1.0.1:1053", "[fd00::1]:1053"}},
			},
		},
		{
			name: "invalid-annotation",
			problems: []Problem{
				{Object: "Service shop/a-word", Reason: ReasonInvalidListenPort,
					Detail: `annotation rainflow.io/listen-port: "http" is not a port number (1-65535)`},
				{Object: "Service shop/b-zero", Reason: ReasonInvalidListenPort,
					Detail: `annotation rainflow.io/listen-port: "0" is not a port number (1-65535)`},
				{Object: "Service shop/c-too-big", Reason: ReasonInvalidListenPort,
					Detail: `annotation rainflow.io/listen-port: "70000" is not a port number (1-65535)`},
				{Object: "Service shop/d-empty", Reason: ReasonInvalidListenPort,
					Detail: `annotation rainflow.io/listen-port: "" is not a port number (1-65535)`},
			},
		},
		{
			name: "conflict-oldest-wins",
			want: []L4Route{
				{Port: 9000, Protocol: corev1.ProtocolTCP, Service: "shop/z-oldest", ServicePortNumber: 2000},
				{Port: 9000, Protocol: corev1.ProtocolUDP, Service: "shop/udp", ServicePortNumber: 4000},
			},
			problems: []Problem{
				{Object: "Service shop/a-newer", Reason: ReasonConflict,
					Detail: "gateway port 9000/TCP is already routed to the older Service shop/z-oldest"},
				{Object: "Service shop/b-newer", Reason: ReasonConflict,
					Detail: "gateway port 9000/TCP is already routed to the older Service shop/z-oldest"},
			},
		},
		{
			name: "unsupported-services",
			want: []L4Route{
				{Port: 7003, Protocol: corev1.ProtocolTCP, Service: "shop/sctp", ServicePort: "tcp", ServicePortNumber: 3869},
				{Port: 7004, Protocol: corev1.ProtocolTCP, Service: "shop/two-tcp", ServicePort: "first", ServicePortNumber: 1},
			},
			problems: []Problem{
				{Object: "Service shop/external", Reason: ReasonUnsupported,
					Detail: "ExternalName Services cannot be TCP or UDP routes"},
				{Object: "Service shop/portless", Reason: ReasonServicePortMissing, Detail: "the Service has no port"},
				{Object: "Service shop/sctp", Reason: ReasonUnsupported,
					Detail: `port "sig" is SCTP; only TCP and UDP are routed`},
				{Object: "Service shop/two-tcp", Reason: ReasonConflict,
					Detail: `port "second": a second TCP port; the gateway port 7004/TCP goes to the first`},
			},
		},
		{
			name: "balance-round-robin",
			want: []L4Route{{Port: 1883, Protocol: corev1.ProtocolTCP, Service: "iot/mqtt", ServicePort: "mqtt", ServicePortNumber: 1883,
				Endpoints: []string{"10.2.0.1:1883", "10.2.0.2:1883"}}},
		},
		{
			name: "balance-least-connections",
			want: []L4Route{
				{Port: 15432, Protocol: corev1.ProtocolTCP, Service: "shop/db", ServicePort: "pg", ServicePortNumber: 5432,
					Endpoints: []string{"10.0.0.1:5432", "10.0.0.2:5432"}, Balance: Balance{Policy: BalanceLeastConnections}},
				{Port: 15432, Protocol: corev1.ProtocolUDP, Service: "shop/db", ServicePort: "stats", ServicePortNumber: 5433,
					Endpoints: []string{"10.0.0.1:5433", "10.0.0.2:5433"}, Balance: Balance{Policy: BalanceLeastConnections}},
			},
		},
		{
			name: "balance-consistent-hash",
			want: []L4Route{{Port: 27015, Protocol: corev1.ProtocolUDP, Service: "play/game", ServicePort: "game", ServicePortNumber: 27015,
				Endpoints: []string{"10.3.0.1:27015", "10.3.0.2:27015"}, Balance: Balance{Policy: BalanceHash, HashBy: "client-ip"}}},
		},
		{
			name: "balance-consistent-hash-default-key",
			want: []L4Route{{Port: 27016, Protocol: corev1.ProtocolTCP, Service: "play/game", ServicePort: "game", ServicePortNumber: 27016,
				Balance: Balance{Policy: BalanceHash, HashBy: "client-ip"}}},
		},
		{
			name: "invalid-load-balance-peak-ewma",
			problems: []Problem{{Object: "Service shop/tcp-ewma", Reason: ReasonInvalidAnnotation,
				Detail: `annotation rainflow.io/load-balance: "peak-ewma" weighs HTTP response latency, which a TCP or UDP route ` +
					`does not have; use round-robin, least-connections or consistent-hash`}},
		},
		{
			name: "invalid-load-balance-unknown",
			want: []L4Route{{Port: 9100, Protocol: corev1.ProtocolTCP, Service: "shop/b-newer", ServicePortNumber: 9101}},
			problems: []Problem{{Object: "Service shop/a-random", Reason: ReasonInvalidAnnotation,
				Detail: `annotation rainflow.io/load-balance: "random" is not round-robin, least-connections or consistent-hash, ` +
					`the policies of TCP and UDP routes`}},
		},
		{
			name: "invalid-hash-by-header",
			problems: []Problem{{Object: "Service shop/tcp-header", Reason: ReasonInvalidAnnotation,
				Detail: `annotation rainflow.io/hash-by: "header:X-User" is not "client-ip", the only key of consistent-hash on TCP and UDP routes`}},
		},
		{
			name: "invalid-hash-by-cookie",
			problems: []Problem{{Object: "Service shop/tcp-cookie", Reason: ReasonInvalidAnnotation,
				Detail: `annotation rainflow.io/hash-by: "cookie:session" is not "client-ip", the only key of consistent-hash on TCP and UDP routes`}},
		},
		{
			name: "invalid-hash-by-unknown",
			problems: []Problem{{Object: "Service shop/tcp-source", Reason: ReasonInvalidAnnotation,
				Detail: `annotation rainflow.io/hash-by: "source-port" is not "client-ip", the only key of consistent-hash on TCP and UDP routes`}},
		},
		{
			name: "invalid-hash-by-without-hash",
			problems: []Problem{{Object: "Service shop/tcp-lc", Reason: ReasonInvalidAnnotation,
				Detail: `annotation rainflow.io/hash-by: "client-ip" needs rainflow.io/load-balance: consistent-hash`}},
		},
		{
			name: "no-endpoints",
			want: []L4Route{
				{Port: 8001, Protocol: corev1.ProtocolTCP, Service: "shop/lonely", ServicePortNumber: 8000},
				{Port: 8002, Protocol: corev1.ProtocolUDP, Service: "shop/mismatch", ServicePortNumber: 8000},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := loadL4Fixture(t, filepath.Join("testdata", "l4", tt.name+".yaml"))
			got, problems := BuildL4(in)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.problems, problems)

			// Pure: the same objects in another order give the same result.
			reversed := Objects{Services: l4Reversed(in.Services), EndpointSlices: l4Reversed(in.EndpointSlices)}
			again, _ := BuildL4(reversed)
			assert.Equal(t, got, again)
		})
	}
}

func l4Reversed[T any](s []T) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// loadL4Fixture reads a multi-document YAML fixture of Ingresses, Services and EndpointSlices.
func loadL4Fixture(t *testing.T, path string) Objects {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var out Objects
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		require.NoError(t, err, "decode a document of %s", path)
		switch o := obj.(type) {
		case *corev1.Service:
			out.Services = append(out.Services, o)
		case *discoveryv1.EndpointSlice:
			out.EndpointSlices = append(out.EndpointSlices, o)
		case *networkingv1.Ingress:
			out.Ingresses = append(out.Ingresses, o)
		default:
			t.Fatalf("%s: unexpected object %T", path, obj)
		}
	}
	return out
}
