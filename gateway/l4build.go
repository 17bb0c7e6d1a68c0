package gateway

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/rainflow/rainflow/contract"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// L4Route is one TCP or UDP port of the gateway and the ready endpoints it forwards to: what a Service
// annotated with contract.AnnotationListenPort asks for, one per Service port protocol.
type L4Route struct {
	// Port is the gateway's listen port (the annotation's value).
	Port int32 `json:"port"`
	// Protocol is the Service port's: corev1.ProtocolTCP or corev1.ProtocolUDP.
	Protocol corev1.Protocol `json:"protocol"`
	// Service is the namespace/name of the Service, ServicePort its port's name ("" when unnamed) and
	// ServicePortNumber its number.
	Service           string `json:"service"`
	ServicePort       string `json:"servicePort,omitempty"`
	ServicePortNumber int32  `json:"servicePortNumber,omitempty"`
	// Endpoints are the host:port addresses of the ready endpoints, sorted; empty refuses connections.
	Endpoints []string `json:"endpoints,omitempty"`
	// Balance is how new connections (TCP) or client sessions (UDP) are spread over the endpoints: round
	// robin (the zero value), least-connections, or consistent-hash by "client-ip" (parseL4Balance).
	Balance Balance `json:"balance,omitzero"`
}

// key identifies the listener of the route.
func (r L4Route) key() l4Key { return l4Key{port: r.Port, protocol: r.Protocol} }

// l4Key is one listening socket of the gateway: a port and a protocol.
type l4Key struct {
	port     int32
	protocol corev1.Protocol
}

func (k l4Key) String() string { return fmt.Sprintf("%d/%s", k.port, k.protocol) }

// ReasonInvalidListenPort is the Problem reason of a listen-port annotation that is not a port number.
const ReasonInvalidListenPort = "invalid-listen-port"

// BuildL4 turns the watched Services annotated with contract.AnnotationListenPort into the gateway's TCP
// and UDP routes, sorted by port then protocol. It is pure, like Build.
//
// Each TCP or UDP port of such a Service is a route on the annotated port with the port's protocol. Two
// Services claiming one port and protocol: the oldest wins, then the first by namespace/name; the others
// are reported. A bad annotation (listen port, load-balance or hash-by), an ExternalName Service, a
// Service without ports, an SCTP port or a second port of the same protocol in one Service is reported
// and skipped.
func BuildL4(in Objects) ([]L4Route, []Problem) {
	var services []*corev1.Service
	for _, s := range in.Services {
		if _, ok := s.Annotations[contract.AnnotationListenPort]; ok {
			services = append(services, s)
		}
	}
	if len(services) == 0 {
		return nil, nil
	}
	slices.SortFunc(services, func(a, b *corev1.Service) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	slicesBySvc := make(map[string][]*discoveryv1.EndpointSlice)
	for _, es := range in.EndpointSlices {
		if svc := es.Labels[discoveryv1.LabelServiceName]; svc != "" {
			key := es.Namespace + "/" + svc
			slicesBySvc[key] = append(slicesBySvc[key], es)
		}
	}

	var routes []L4Route
	var problems []Problem
	owners := make(map[l4Key]string)
	for _, svc := range services {
		name := svc.Namespace + "/" + svc.Name
		report := func(reason, format string, args ...any) {
			problems = append(problems, Problem{Object: "Service " + name, Reason: reason, Detail: fmt.Sprintf(format, args...), UID: svc.UID})
		}
		value := svc.Annotations[contract.AnnotationListenPort]
		port, err := strconv.ParseInt(strings.TrimSpace(value), 10, 32)
		if err != nil || port < 1 || port > 65535 {
			report(ReasonInvalidListenPort, "annotation %s: %q is not a port number (1-65535)", contract.AnnotationListenPort, value)
			continue
		}
		balance, err := parseL4Balance(svc.Annotations)
		if err != nil {
			report(ReasonInvalidAnnotation, "%v", err)
			continue
		}
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			report(ReasonUnsupported, "ExternalName Services cannot be TCP or UDP routes")
			continue
		}
		if len(svc.Spec.Ports) == 0 {
			report(ReasonServicePortMissing, "the Service has no port")
			continue
		}
		for _, sp := range svc.Spec.Ports {
			protocol := cmp.Or(sp.Protocol, corev1.ProtocolTCP)
			if protocol != corev1.ProtocolTCP && protocol != corev1.ProtocolUDP {
				report(ReasonUnsupported, "port %s is %s; only TCP and UDP are routed", l4PortLabel(sp), protocol)
				continue
			}
			key := l4Key{port: int32(port), protocol: protocol}
			if owner, taken := owners[key]; taken {
				if owner == name {
					report(ReasonConflict, "port %s: a second %s port; the gateway port %s goes to the first", l4PortLabel(sp), protocol, key)
				} else {
					report(ReasonConflict, "gateway port %s is already routed to the older Service %s", key, owner)
				}
				continue
			}
			owners[key] = name
			routes = append(routes, L4Route{
				Port: key.port, Protocol: protocol, Service: name, ServicePort: sp.Name, ServicePortNumber: sp.Port,
				Endpoints: l4Endpoints(slicesBySvc[name], sp.Name, protocol), Balance: balance,
			})
		}
	}
	slices.SortFunc(routes, func(a, b L4Route) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), strings.Compare(string(a.Protocol), string(b.Protocol)))
	})
	return routes, problems
}

// parseL4Balance reads the load-balance and hash-by annotations of a TCP or UDP route's Service:
// round-robin (or none), least-connections, or consistent-hash, whose only key at L4 is the client's IP
// (hash-by "client-ip", or no hash-by). peak-ewma is refused: a connection has no response latency to
// weigh.
func parseL4Balance(a map[string]string) (Balance, error) {
	policy, hashBy := a[AnnotationLoadBalance], a[AnnotationHashBy]
	var b Balance
	switch BalancePolicy(policy) {
	case BalanceRoundRobin, L4PolicyRoundRobin:
	case BalanceLeastConnections:
		b.Policy = BalanceLeastConnections
	case BalanceHash:
		if hashBy != "" && hashBy != contract.HashByClientIP {
			return Balance{}, fmt.Errorf("annotation %s: %q is not \"client-ip\", the only key of consistent-hash on TCP and UDP routes",
				AnnotationHashBy, hashBy)
		}
		return Balance{Policy: BalanceHash, HashBy: contract.HashByClientIP}, nil
	case BalancePeakEWMA:
		return Balance{}, fmt.Errorf("annotation %s: %q weighs HTTP response latency, which a TCP or UDP route does not have; "+
			"use round-robin, least-connections or consistent-hash", AnnotationLoadBalance, policy)
	default:
		return Balance{}, fmt.Errorf("annotation %s: %q is not round-robin, least-connections or consistent-hash, "+
			"the policies of TCP and UDP routes", AnnotationLoadBalance, policy)
	}
	if hashBy != "" {
		return Balance{}, fmt.Errorf("annotation %s: %q needs %s: consistent-hash", AnnotationHashBy, hashBy, AnnotationLoadBalance)
	}
	return b, nil
}

// l4PortLabel names a Service port in a problem: its name, else its number.
func l4PortLabel(sp corev1.ServicePort) string {
	if sp.Name != "" {
		return strconv.Quote(sp.Name)
	}
	return strconv.Itoa(int(sp.Port))
}

// l4Endpoints lists the ready addresses of a Service's EndpointSlices on the slice port of this name
// and protocol (slice ports carry the Service port's name), sorted and deduplicated.
func l4Endpoints(slicesOfService []*discoveryv1.EndpointSlice, portName string, protocol corev1.Protocol) []string {
	var out []string
	for _, es := range slicesOfService {
		if es.AddressType != discoveryv1.AddressTypeIPv4 && es.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		var port int32
		for _, p := range es.Ports {
			if p.Port != nil && l4Deref(p.Name, "") == portName && l4Deref(p.Protocol, corev1.ProtocolTCP) == protocol {
				port = *p.Port
				break
			}
		}
		if port <= 0 {
			continue
		}
		for _, e := range es.Endpoints {
			// Ready nil means ready; only the first address has defined semantics.
			if l4Deref(e.Conditions.Ready, true) && len(e.Addresses) > 0 {
				out = append(out, net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(port))))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// l4Deref is *p, or def when p is nil.
func l4Deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
