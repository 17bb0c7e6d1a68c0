package gateway

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Fixture builders for Ingress, Service and EndpointSlice objects, shared by the tests.

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type ingressOpt func(*networkingv1.Ingress)

func ingress(ns, name string, opts ...ingressOpt) *networkingv1.Ingress {
	class := DefaultIngressClass
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(epoch)},
		Spec:       networkingv1.IngressSpec{IngressClassName: &class},
	}
	for _, o := range opts {
		o(ing)
	}
	return ing
}

func class(c string) ingressOpt {
	return func(ing *networkingv1.Ingress) {
		if c == "" {
			ing.Spec.IngressClassName = nil
			return
		}
		ing.Spec.IngressClassName = &c
	}
}

func created(minutes int) ingressOpt {
	return func(ing *networkingv1.Ingress) {
		ing.CreationTimestamp = metav1.NewTime(epoch.Add(time.Duration(minutes) * time.Minute))
	}
}

func defaultBackend(svc string, port any) ingressOpt {
	return func(ing *networkingv1.Ingress) {
		b := svcBackend(svc, port)
		ing.Spec.DefaultBackend = &b
	}
}

// rule adds one host rule with its paths.
func rule(host string, paths ...networkingv1.HTTPIngressPath) ingressOpt {
	return func(ing *networkingv1.Ingress) {
		ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{
			Host:             host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}},
		})
	}
}

// path is one HTTP path; pathType "" leaves it unset.
func httpPath(p string, pathType networkingv1.PathType, svc string, port any) networkingv1.HTTPIngressPath {
	hp := networkingv1.HTTPIngressPath{Path: p, Backend: svcBackend(svc, port)}
	if pathType != "" {
		hp.PathType = &pathType
	}
	return hp
}

// svcBackend names a service port by number (int) or name (string).
func svcBackend(svc string, port any) networkingv1.IngressBackend {
	b := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc}}
	switch p := port.(type) {
	case int:
		b.Service.Port.Number = int32(p)
	case string:
		b.Service.Port.Name = p
	}
	return b
}

const (
	exact    = networkingv1.PathTypeExact
	prefix   = networkingv1.PathTypePrefix
	implSpec = networkingv1.PathTypeImplementationSpecific
)

// service has one TCP port per (name, port) pair: service(ns, name, "http", 80, "admin", 9000).
func service(ns, name string, namePorts ...any) *corev1.Service {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for i := 0; i+1 < len(namePorts); i += 2 {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name: namePorts[i].(string), Port: int32(namePorts[i+1].(int)), Protocol: corev1.ProtocolTCP,
		})
	}
	return svc
}

// ep is one endpoint address and its readiness.
type ep struct {
	addr  string
	ready bool
}

// slice is an IPv4 EndpointSlice of service svc with one port.
func slice(ns, name, svc, portName string, port int, endpoints ...ep) *discoveryv1.EndpointSlice {
	p := int32(port)
	tcp := corev1.ProtocolTCP
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &p, Protocol: &tcp}},
	}
	for _, e := range endpoints {
		ready := e.ready
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{e.addr},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		})
	}
	return es
}

type corev1Service = corev1.Service

func sliceList(s ...*discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice { return s }

// readyUnset clears every endpoint's ready condition (nil means ready).
func readyUnset(es *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	for i := range es.Endpoints {
		es.Endpoints[i].Conditions.Ready = nil
	}
	return es
}

// resourceBackend turns a path's backend into a resource backend.
func resourceBackend(p networkingv1.HTTPIngressPath) networkingv1.HTTPIngressPath {
	p.Backend = networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{Kind: "Bucket", Name: "b"}}
	return p
}
