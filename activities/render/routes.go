package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"

	"github.com/rainflow/rainflow/contract"
)

// RouteRelease is what rendering a component's routes needs: the component, the release the objects
// are labelled with, the ports of the spec that runs (the routes' backends), and the routes.
type RouteRelease struct {
	Ref       contract.ComponentRef
	ReleaseID string
	Ports     []contract.Port
	Routes    []contract.Route
}

// RouteObjects are the objects of a component's routes (contract/routes.go), each list by name.
type RouteObjects struct {
	// Ingresses are one per HTTP route, of class contract.IngressClass.
	Ingresses []*networkingv1ac.IngressApplyConfiguration
	// Services are one per TCP or UDP route: headless, annotated with the gateway port.
	Services []*corev1ac.ServiceApplyConfiguration
	// Certificates are the certificates the Ingresses' TLS Secrets must hold, by name: the Secrets
	// themselves carry a private key, so TLSSecret renders them where the key is read, never here.
	Certificates []string
}

// IngressName is the name of the Ingress of an HTTP route: "<name>-<route>" (a DNS subdomain).
func IngressName(ref contract.ComponentRef, route string) string { return Name(ref) + "-" + route }

// RouteServiceName is the name of the Service of a TCP or UDP route, a DNS-1035 label: "<name>-<route>",
// cut and hashed when longer than 63 characters.
func RouteServiceName(ref contract.ComponentRef, route string) string {
	name := Name(ref) + "-" + route
	if len(name) > 63 {
		sum := sha256.Sum256([]byte(ref.App + "/" + ref.Component + "/" + route))
		name = name[:54] + "-" + hex.EncodeToString(sum[:])[:8]
	}
	return name
}

// TLSSecretName is the name of the component's kubernetes.io/tls Secret of a certificate:
// "<name>-tls-<certificate>".
func TLSSecretName(ref contract.ComponentRef, certificate string) string {
	return Name(ref) + "-tls-" + certificate
}

// Routes renders the routes of r. It fails on a route whose port the spec does not have (or has with
// another protocol), or that is not what the API accepts, naming the route.
func Routes(r RouteRelease) (RouteObjects, error) {
	var out RouteObjects
	certs := map[string]bool{}
	for _, route := range r.Routes {
		port, err := routePort(r.Ports, route)
		if err != nil {
			return RouteObjects{}, fmt.Errorf("render route %q of %s: %w", route.Name, Name(r.Ref), err)
		}
		switch route.Kind {
		case contract.RouteHTTP:
			if route.Host == "" || route.Path == "" || (route.PathType != contract.PathExact && route.PathType != contract.PathPrefix) {
				return RouteObjects{}, fmt.Errorf("render route %q of %s: an HTTP route needs a host, a path and a path type (Exact or Prefix)",
					route.Name, Name(r.Ref))
			}
			out.Ingresses = append(out.Ingresses, ingress(r, route, port))
			if route.Certificate != "" && !certs[route.Certificate] {
				certs[route.Certificate] = true
				out.Certificates = append(out.Certificates, route.Certificate)
			}
		case contract.RouteTCP, contract.RouteUDP:
			if route.ListenPort < 1 || route.ListenPort > 65535 {
				return RouteObjects{}, fmt.Errorf("render route %q of %s: listen port %d is not a port", route.Name, Name(r.Ref), route.ListenPort)
			}
			out.Services = append(out.Services, routeService(r, route, port))
		default:
			return RouteObjects{}, fmt.Errorf("render route %q of %s: unknown kind %q", route.Name, Name(r.Ref), route.Kind)
		}
	}
	return out, nil
}

// routePort finds the spec's port a route goes to: by name when the route names one, else by number;
// its protocol must be the route's (HTTP is TCP).
func routePort(ports []contract.Port, route contract.Route) (contract.Port, error) {
	for _, p := range ports {
		if (route.PortName != "" && p.Name == route.PortName) || (route.PortName == "" && p.Port == route.Port) {
			want := corev1.ProtocolTCP
			if route.Kind == contract.RouteUDP {
				want = corev1.ProtocolUDP
			}
			if protocol(p) != want {
				return contract.Port{}, fmt.Errorf("port %s is %s, a %s route needs %s", portName(p), protocol(p), route.Kind, want)
			}
			return p, nil
		}
	}
	if route.PortName != "" {
		return contract.Port{}, fmt.Errorf("the component has no port named %q (deploy the spec that adds it first)", route.PortName)
	}
	return contract.Port{}, fmt.Errorf("the component has no port %d (deploy the spec that adds it first)", route.Port)
}

// routeLabels are a route object's labels: the release's, and the route's name.
func routeLabels(r RouteRelease, route string) map[string]string {
	labels := merge(Labels(r.Ref), map[string]string{contract.LabelRelease: r.ReleaseID})
	if route != "" {
		labels[contract.LabelRoute] = route
	}
	return labels
}

func ingress(r RouteRelease, route contract.Route, port contract.Port) *networkingv1ac.IngressApplyConfiguration {
	annotations := map[string]string{}
	if h := route.Header; h != nil {
		annotations[contract.AnnotationHeaderName] = h.Name
		annotations[contract.AnnotationHeaderValue] = h.Value
	}
	if c := route.Cookie; c != nil {
		annotations[contract.AnnotationCookieName] = c.Name
		annotations[contract.AnnotationCookieValue] = c.Value
	}
	if route.Weight != nil {
		annotations[contract.AnnotationCanaryWeight] = strconv.Itoa(int(*route.Weight))
	}
	if route.ForceHTTPS {
		annotations[contract.AnnotationForceHTTPS] = "true"
	}
	if route.Certificate != "" {
		annotations[contract.AnnotationCertificate] = route.Certificate
	}
	balanceAnnotations(annotations, route.LoadBalance)
	backend := networkingv1ac.IngressBackend().WithService(networkingv1ac.IngressServiceBackend().
		WithName(Name(r.Ref)).
		WithPort(networkingv1ac.ServiceBackendPort().WithName(portName(port))))
	path := networkingv1ac.HTTPIngressPath().
		WithPath(route.Path).
		WithPathType(networkingv1.PathType(route.PathType)).
		WithBackend(backend)
	spec := networkingv1ac.IngressSpec().
		WithIngressClassName(contract.IngressClass).
		WithRules(networkingv1ac.IngressRule().
			WithHost(route.Host).
			WithHTTP(networkingv1ac.HTTPIngressRuleValue().WithPaths(path)))
	if route.Certificate != "" {
		spec.WithTLS(networkingv1ac.IngressTLS().WithHosts(route.Host).WithSecretName(TLSSecretName(r.Ref, route.Certificate)))
	}
	ing := networkingv1ac.Ingress(IngressName(r.Ref, route.Name), Namespace(r.Ref.Tenant)).
		WithLabels(routeLabels(r, route.Name)).
		WithSpec(spec)
	if len(annotations) > 0 {
		ing.WithAnnotations(annotations)
	}
	return ing
}

// routeService is a TCP or UDP route's Service: headless (the gateway balances over the ready
// endpoints itself), selecting the component's pods on the route's port.
func routeService(r RouteRelease, route contract.Route, port contract.Port) *corev1ac.ServiceApplyConfiguration {
	annotations := map[string]string{contract.AnnotationListenPort: strconv.Itoa(int(route.ListenPort))}
	balanceAnnotations(annotations, route.LoadBalance)
	return corev1ac.Service(RouteServiceName(r.Ref, route.Name), Namespace(r.Ref.Tenant)).
		WithLabels(routeLabels(r, route.Name)).
		WithAnnotations(annotations).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithClusterIP(corev1.ClusterIPNone).
			WithSelector(SelectorLabels(r.Ref)).
			WithPorts(corev1ac.ServicePort().
				WithName(portName(port)).
				WithPort(port.Port).
				WithTargetPort(intstr.FromString(portName(port))).
				WithProtocol(protocol(port))))
}

// balanceAnnotations adds a route's load-balancing policy and hash key, when it has them: a route
// without one renders no annotation, and the gateway balances round robin.
func balanceAnnotations(annotations map[string]string, lb *contract.RouteLoadBalance) {
	if lb == nil || lb.Policy == "" {
		return
	}
	annotations[contract.AnnotationLoadBalance] = string(lb.Policy)
	if lb.HashBy != "" {
		annotations[contract.AnnotationHashBy] = lb.HashBy
	}
}

// TLSSecret is the kubernetes.io/tls Secret of a certificate for the component's Ingresses: the chain
// (leaf first) and the private key, both PEM. It is rendered by the activity that reads the key, and
// the key goes nowhere else.
func TLSSecret(ref contract.ComponentRef, releaseID, certificate string, chainPEM, keyPEM []byte) *corev1ac.SecretApplyConfiguration {
	labels := routeLabels(RouteRelease{Ref: ref, ReleaseID: releaseID}, "")
	labels[contract.LabelCertificate] = certificate
	return corev1ac.Secret(TLSSecretName(ref, certificate), Namespace(ref.Tenant)).
		WithLabels(labels).
		WithType(corev1.SecretTypeTLS).
		WithData(map[string][]byte{corev1.TLSCertKey: chainPEM, corev1.TLSPrivateKeyKey: keyPEM})
}
