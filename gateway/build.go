package gateway

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Objects are the watched objects a build reads. They are never modified.
type Objects struct {
	Ingresses      []*networkingv1.Ingress
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	// Secrets are the kubernetes.io/tls Secrets the Ingresses' spec.tls may name; others are ignored.
	Secrets []*corev1.Secret
}

// Build turns the watched objects into the routing configuration of the Ingresses whose
// spec.ingressClassName is class. It is pure: no clock, no I/O, the same objects give an equal Routes.
//
// Several Ingresses may route the same host, path and path type when they differ by header or cookie
// match (A/B) or are canaries (canary-weight) of the same match. Conflicts (two primary rules of the same
// host, path, path type and match; canaries of one match weighing more than 100 together; two default
// backends) go to the oldest Ingress, then the first by namespace/name; the others are reported. An
// invalid host, path, backend or annotation skips its rules and is reported; a backend whose Service or
// Service port does not exist keeps its rule with no endpoint, so it answers 503 rather than falling
// through to another rule.
func Build(class string, in Objects) (Routes, []Problem) {
	b := builder{
		services: make(map[string]*corev1.Service, len(in.Services)),
		slices:   make(map[string][]*discoveryv1.EndpointSlice),
	}
	for _, s := range in.Services {
		b.services[s.Namespace+"/"+s.Name] = s
	}
	for _, es := range in.EndpointSlices {
		if svc := es.Labels[discoveryv1.LabelServiceName]; svc != "" {
			key := es.Namespace + "/" + svc
			b.slices[key] = append(b.slices[key], es)
		}
	}

	ingresses := make([]*networkingv1.Ingress, 0, len(in.Ingresses))
	for _, ing := range in.Ingresses {
		if ing.Spec.IngressClassName != nil && *ing.Spec.IngressClassName == class {
			ingresses = append(ingresses, ing)
		}
	}
	slices.SortFunc(ingresses, func(a, b *networkingv1.Ingress) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})

	var routes Routes
	seen := make(map[routeKey]string)
	weights := make(map[routeKey]int32)
	for _, ing := range ingresses {
		b.ingress(ing, &routes, seen, weights)
	}
	slices.SortFunc(routes.HTTP, compareRoutes)
	routes.TLS = b.certificates(ingresses, in.Secrets)
	return routes, b.problems
}

// compareRoutes orders rules by host, path and path type, then in matching order: the most specific
// match first (header and cookie, header, cookie, none), canaries before the primary of their match.
func compareRoutes(a, b HTTPRoute) int {
	return cmp.Or(strings.Compare(a.Host, b.Host), strings.Compare(a.Path, b.Path),
		strings.Compare(string(a.PathType), string(b.PathType)),
		cmp.Compare(matchRank(a), matchRank(b)),
		compareMatch(a.Header, b.Header), compareMatch(a.Cookie, b.Cookie),
		-cmpBool(a.Canary, b.Canary), strings.Compare(a.Ingress, b.Ingress),
		// Only canaries of one Ingress listing the same path twice get here.
		strings.Compare(a.Backend.Service, b.Backend.Service), strings.Compare(a.Backend.Port, b.Backend.Port),
		cmp.Compare(a.Weight, b.Weight))
}

// matchRank is 0 for a rule matching a header and a cookie, 1 a header, 2 a cookie, 3 neither.
func matchRank(r HTTPRoute) int {
	rank := 3
	if r.Header != nil {
		rank -= 2
	}
	if r.Cookie != nil {
		rank--
	}
	return rank
}

func compareMatch(a, b *ValueMatch) int {
	switch {
	case a == nil || b == nil:
		return cmpBool(a != nil, b != nil)
	default:
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Value, b.Value))
	}
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// routeKey is what two rules must not share: one primary per host, path, path type and match; the
// canaries of a match share one key (canary true) whose weights add up.
type routeKey struct {
	host, path     string
	pathType       PathType
	header, cookie ValueMatch // zero: no match
	canary         bool
}

// builder holds the indexes and the problems of one Build call.
type builder struct {
	services map[string]*corev1.Service
	slices   map[string][]*discoveryv1.EndpointSlice
	problems []Problem
}

func (b *builder) report(ing *networkingv1.Ingress, reason, format string, args ...any) {
	b.problems = append(b.problems, Problem{
		Object: "Ingress " + ing.Namespace + "/" + ing.Name,
		Reason: reason,
		Detail: fmt.Sprintf(format, args...),
		UID:    ing.UID,
	})
}

func (b *builder) ingress(ing *networkingv1.Ingress, routes *Routes, seen map[routeKey]string, weights map[routeKey]int32) {
	name := ing.Namespace + "/" + ing.Name
	ann, errs := parseAnnotations(ing.Annotations)
	for _, msg := range errs {
		b.report(ing, ReasonInvalidAnnotation, "%s; the Ingress's rules are skipped", msg)
	}
	if def := ing.Spec.DefaultBackend; def != nil {
		if backend, ok := b.backend(ing, "default backend", *def); ok {
			if routes.Default == nil {
				routes.Default = &backend
			} else {
				b.report(ing, ReasonConflict, "default backend: an older Ingress already declares one")
			}
		}
	}
	if len(errs) > 0 {
		return
	}
	for i, rule := range ing.Spec.Rules {
		host, ok := b.host(ing, i, rule.Host)
		if !ok || rule.HTTP == nil {
			continue
		}
		for j, p := range rule.HTTP.Paths {
			where := fmt.Sprintf("rule %d (host %q) path %d (%q)", i, rule.Host, j, p.Path)
			path, pathType, ok := b.path(ing, where, p)
			if !ok {
				continue
			}
			backend, ok := b.backend(ing, where, p.Backend)
			if !ok {
				continue
			}
			key := routeKey{host: host, path: path, pathType: pathType, canary: ann.canary}
			if ann.header != nil {
				key.header = *ann.header
			}
			if ann.cookie != nil {
				key.cookie = *ann.cookie
			}
			switch owner, dup := seen[key]; {
			case ann.canary && weights[key]+ann.weight > 100:
				b.report(ing, ReasonConflict, "%s: canary weight %d makes the canaries of this host, path, path type and match weigh more than 100",
					where, ann.weight)
				continue
			case !ann.canary && dup:
				b.report(ing, ReasonConflict, "%s: Ingress %s already routes this host, path, path type and match", where, owner)
				continue
			}
			seen[key] = name
			weights[key] += ann.weight
			routes.HTTP = append(routes.HTTP, HTTPRoute{
				Host: host, Path: path, PathType: pathType, Ingress: name, Backend: backend,
				Header: ann.header, Cookie: ann.cookie, Canary: ann.canary, Weight: ann.weight, Options: ann.options,
			})
		}
	}
}

// host validates a rule's host: empty, a DNS-1123 subdomain, or "*." followed by one.
func (b *builder) host(ing *networkingv1.Ingress, i int, host string) (string, bool) {
	if host == "" {
		return "", true
	}
	host = strings.ToLower(host)
	var msgs []string
	if strings.HasPrefix(host, "*") {
		msgs = validation.IsWildcardDNS1123Subdomain(host)
	} else {
		msgs = validation.IsDNS1123Subdomain(host)
		if net.ParseIP(host) != nil {
			msgs = append(msgs, "must be a DNS name, not an IP address")
		}
	}
	if len(msgs) > 0 {
		b.report(ing, ReasonInvalidHost, "rule %d: host %q: %s", i, host, strings.Join(msgs, "; "))
		return "", false
	}
	return host, true
}

// path validates and normalizes one HTTP path: Prefix loses its trailing slash, ImplementationSpecific
// is read as Prefix (an empty one as "/").
func (b *builder) path(ing *networkingv1.Ingress, where string, p networkingv1.HTTPIngressPath) (string, PathType, bool) {
	if p.PathType == nil {
		b.report(ing, ReasonInvalidPath, "%s: pathType is missing", where)
		return "", "", false
	}
	path := p.Path
	var pathType PathType
	switch *p.PathType {
	case networkingv1.PathTypeExact:
		pathType = PathExact
	case networkingv1.PathTypePrefix:
		pathType = PathPrefix
	case networkingv1.PathTypeImplementationSpecific:
		pathType = PathPrefix
		if path == "" {
			path = "/"
		}
	default:
		b.report(ing, ReasonInvalidPath, "%s: unknown pathType %q", where, *p.PathType)
		return "", "", false
	}
	if !strings.HasPrefix(path, "/") {
		b.report(ing, ReasonInvalidPath, "%s: path must be absolute", where)
		return "", "", false
	}
	if strings.ContainsAny(path, "?#") || strings.Contains(path, "//") {
		b.report(ing, ReasonInvalidPath, "%s: path must not hold '?', '#' or an empty element", where)
		return "", "", false
	}
	if pathType == PathPrefix {
		path = strings.TrimSuffix(path, "/")
	}
	return path, pathType, true
}

// backend resolves an Ingress backend to a Service port and its ready endpoints. It fails (skip the rule)
// only when the backend itself is malformed or unsupported.
func (b *builder) backend(ing *networkingv1.Ingress, where string, ib networkingv1.IngressBackend) (Backend, bool) {
	if ib.Resource != nil {
		b.report(ing, ReasonUnsupported, "%s: resource backends are not supported", where)
		return Backend{}, false
	}
	if ib.Service == nil || ib.Service.Name == "" {
		b.report(ing, ReasonInvalidBackend, "%s: backend has no service name", where)
		return Backend{}, false
	}
	sb := ib.Service
	out := Backend{Service: ing.Namespace + "/" + sb.Name}
	switch {
	case sb.Port.Name != "" && sb.Port.Number != 0:
		b.report(ing, ReasonInvalidBackend, "%s: service port has both a name and a number", where)
		return Backend{}, false
	case sb.Port.Name != "":
		out.Port = sb.Port.Name
	case sb.Port.Number > 0:
		out.Port = strconv.Itoa(int(sb.Port.Number))
	default:
		b.report(ing, ReasonInvalidBackend, "%s: service port is missing", where)
		return Backend{}, false
	}

	svc := b.services[out.Service]
	if svc == nil {
		b.report(ing, ReasonServiceNotFound, "%s: service %s not found", where, out.Service)
		return out, true
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		b.report(ing, ReasonUnsupported, "%s: service %s is of type ExternalName", where, out.Service)
		return out, true
	}
	var port *corev1.ServicePort
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		if (sb.Port.Name != "" && sp.Name == sb.Port.Name) || (sb.Port.Number != 0 && sp.Port == sb.Port.Number) {
			port = sp
			break
		}
	}
	if port == nil {
		b.report(ing, ReasonServicePortMissing, "%s: service %s has no port %s", where, out.Service, out.Port)
		return out, true
	}
	if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
		b.report(ing, ReasonUnsupported, "%s: service %s port %s is %s, not TCP", where, out.Service, out.Port, port.Protocol)
		return out, true
	}
	out.Endpoints = b.endpoints(out.Service, port.Name)
	return out, true
}

// endpoints lists the ready addresses of a Service's EndpointSlices, on the slice port named like the
// Service port (EndpointSlice ports carry the Service port's name; "" for a single unnamed port).
func (b *builder) endpoints(service, portName string) []string {
	var out []string
	for _, es := range b.slices[service] {
		if es.AddressType != discoveryv1.AddressTypeIPv4 && es.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		var port int32
		for _, ep := range es.Ports {
			name := ""
			if ep.Name != nil {
				name = *ep.Name
			}
			tcp := ep.Protocol == nil || *ep.Protocol == corev1.ProtocolTCP
			if name == portName && tcp && ep.Port != nil {
				port = *ep.Port
				break
			}
		}
		if port <= 0 {
			continue
		}
		for _, e := range es.Endpoints {
			// Ready nil means ready; only the first address has defined semantics.
			if (e.Conditions.Ready != nil && !*e.Conditions.Ready) || len(e.Addresses) == 0 {
				continue
			}
			out = append(out, net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(port))))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
