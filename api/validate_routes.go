package api

import (
	"fmt"
	"net"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/rainflow/rainflow/contract"
)

// Bounds of a route.
const (
	maxRoutePath    = 1024
	maxMatchName    = 256
	maxMatchValue   = 1024
	maxRouteWeight  = 100
	maxGatewayPort  = 65535
	defaultPathType = contract.PathPrefix
)

// routeRequest is the body of POST .../routes and PUT .../routes/{route}: a contract.Route without
// what the server fills. The port is named by portName or by number (port), or both when they agree.
type routeRequest struct {
	Name        string               `json:"name"`
	Kind        contract.RouteKind   `json:"kind"`
	Host        string               `json:"host"`
	Path        string               `json:"path"`
	PathType    string               `json:"pathType"`
	Header      *contract.RouteMatch `json:"header"`
	Cookie      *contract.RouteMatch `json:"cookie"`
	Weight      *int32               `json:"weight"`
	Certificate string               `json:"certificate"`
	ForceHTTPS  bool                 `json:"forceHttps"`
	PortName    string               `json:"portName"`
	Port        int32                `json:"port"`
	ListenPort  int32                `json:"listenPort"`

	LoadBalance *contract.RouteLoadBalance `json:"loadBalance"`
}

// checkedRoute normalizes the request (kind http, path "/", path type Prefix by default; host lower
// case; a Prefix path without its trailing slash, as the gateway matches it; a load-balancing policy
// round-robin by default, see checkedLoadBalance) and validates it against
// the component's spec, whose port it resolves. That its certificate exists and covers its host, and
// that no other route claims the same, the store knows.
func checkedRoute(errs *fieldErrors, req routeRequest, spec contract.ComponentSpec) contract.Route {
	r := contract.Route{
		Name: req.Name, Kind: req.Kind, Host: strings.ToLower(req.Host), Path: req.Path, PathType: req.PathType,
		Header: req.Header, Cookie: req.Cookie, Weight: req.Weight, Certificate: req.Certificate, ForceHTTPS: req.ForceHTTPS,
		ListenPort: req.ListenPort,
	}
	if r.Kind == "" {
		r.Kind = contract.RouteHTTP
	}
	switch {
	case r.Name == "":
		errs.add("name", "is required")
	default:
		errs.addAll("name", validation.IsDNS1035Label(r.Name))
	}
	switch r.Kind {
	case contract.RouteHTTP:
		normalizeHTTPRoute(&r)
		validateHTTPRoute(errs, r)
		r.LoadBalance = checkedLoadBalance(errs, r.Kind, req.LoadBalance)
	case contract.RouteTCP, contract.RouteUDP:
		validateL4Route(errs, r)
		r.LoadBalance = checkedLoadBalance(errs, r.Kind, req.LoadBalance)
	default:
		errs.add("kind", fmt.Sprintf("must be %s, %s or %s, not %q", contract.RouteHTTP, contract.RouteTCP, contract.RouteUDP, r.Kind))
	}
	r.PortName, r.Port = resolveRoutePort(errs, req, r.Kind, spec.Ports)
	return r
}

func normalizeHTTPRoute(r *contract.Route) {
	if r.Path == "" {
		r.Path = "/"
	}
	if r.PathType == "" {
		r.PathType = defaultPathType
	}
	if r.PathType == contract.PathPrefix && len(r.Path) > 1 {
		r.Path = strings.TrimRight(r.Path, "/")
		if r.Path == "" {
			r.Path = "/"
		}
	}
}

func validateHTTPRoute(errs *fieldErrors, r contract.Route) {
	validateRouteHost(errs, "host", r.Host)
	switch {
	case !strings.HasPrefix(r.Path, "/"):
		errs.add("path", fmt.Sprintf("%q must start with /", r.Path))
	case len(r.Path) > maxRoutePath:
		errs.add("path", fmt.Sprintf("must be at most %d characters", maxRoutePath))
	case strings.ContainsAny(r.Path, "?#") || strings.Contains(r.Path, "//"):
		errs.add("path", fmt.Sprintf("%q must not hold '?', '#' or an empty segment (//)", r.Path))
	case strings.IndexFunc(r.Path, func(c rune) bool { return c <= ' ' || c == 0x7f }) >= 0:
		errs.add("path", "must not hold spaces or control characters")
	}
	if r.PathType != contract.PathExact && r.PathType != contract.PathPrefix {
		errs.add("pathType", fmt.Sprintf("must be %s or %s, not %q", contract.PathExact, contract.PathPrefix, r.PathType))
	}
	if h := r.Header; h != nil {
		if !isToken(h.Name) || len(h.Name) > maxMatchName {
			errs.add("header.name", fmt.Sprintf("%q is not an HTTP header name (letters, digits and !#$%%&'*+-.^_`|~, at most %d)", h.Name, maxMatchName))
		} else if strings.EqualFold(h.Name, "Host") {
			errs.add("header.name", "the host is matched by host, not by a header match")
		}
		if !isHeaderValue(h.Value) || len(h.Value) > maxMatchValue {
			errs.add("header.value", fmt.Sprintf("must be at most %d visible characters, spaces and tabs", maxMatchValue))
		}
	}
	if c := r.Cookie; c != nil {
		if !isToken(c.Name) || len(c.Name) > maxMatchName {
			errs.add("cookie.name", fmt.Sprintf("%q is not a cookie name (letters, digits and !#$%%&'*+-.^_`|~, at most %d)", c.Name, maxMatchName))
		}
		if !isCookieValue(c.Value) || len(c.Value) > maxMatchValue {
			errs.add("cookie.value", fmt.Sprintf("must be at most %d characters, none of them a space, '\"', ',', ';', '\\' or a control character", maxMatchValue))
		}
	}
	if w := r.Weight; w != nil && (*w < 0 || *w > maxRouteWeight) {
		errs.add("weight", fmt.Sprintf("%d is out of range: 0 to %d (the percentage of requests the canary takes)", *w, maxRouteWeight))
	}
	if r.Certificate != "" {
		validateCertificateName(errs, "certificate", r.Certificate)
	}
	if r.ForceHTTPS && r.Certificate == "" {
		errs.add("forceHttps", "needs a certificate: without one the route answers no HTTPS")
	}
	if r.ListenPort != 0 {
		errs.add("listenPort", "is for tcp and udp routes only; an HTTP route is served on the gateway's HTTP(S) ports")
	}
}

// validateRouteHost: a DNS name (lower case), or "*." and one; never an IP address.
func validateRouteHost(errs *fieldErrors, field, host string) {
	switch {
	case host == "":
		errs.add(field, "is required for an HTTP route")
	case net.ParseIP(host) != nil:
		errs.add(field, fmt.Sprintf("%q must be a DNS name, not an IP address", host))
	case strings.HasPrefix(host, "*"):
		errs.addAll(field, validation.IsWildcardDNS1123Subdomain(host))
	default:
		errs.addAll(field, validation.IsDNS1123Subdomain(host))
	}
}

func validateL4Route(errs *fieldErrors, r contract.Route) {
	onlyHTTP := func(field string, set bool) {
		if set {
			errs.add(field, fmt.Sprintf("is for http routes only, not %s", r.Kind))
		}
	}
	onlyHTTP("host", r.Host != "")
	onlyHTTP("path", r.Path != "")
	onlyHTTP("pathType", r.PathType != "")
	onlyHTTP("header", r.Header != nil)
	onlyHTTP("cookie", r.Cookie != nil)
	onlyHTTP("weight", r.Weight != nil)
	onlyHTTP("certificate", r.Certificate != "")
	onlyHTTP("forceHttps", r.ForceHTTPS)
	if r.ListenPort < 1 || r.ListenPort > maxGatewayPort {
		errs.add("listenPort", fmt.Sprintf("is required for a %s route: the gateway's port, 1 to %d", r.Kind, maxGatewayPort))
	}
}

// resolveRoutePort finds the spec's port the request names, by name or number, with the protocol the
// route's kind needs (TCP for http and tcp, UDP for udp), and answers its name and number.
func resolveRoutePort(errs *fieldErrors, req routeRequest, kind contract.RouteKind, ports []contract.Port) (string, int32) {
	want := "TCP"
	if kind == contract.RouteUDP {
		want = "UDP"
	}
	if req.PortName == "" && req.Port == 0 {
		errs.add("portName", "a port is required: portName, or its number as port")
		return "", 0
	}
	var found *contract.Port
	for i, p := range ports {
		if (req.PortName != "" && p.Name == req.PortName) || (req.PortName == "" && p.Port == req.Port && p.Protocol == want) {
			found = &ports[i]
			break
		}
	}
	switch {
	case found == nil && req.PortName != "":
		errs.add("portName", fmt.Sprintf("%q is not one of the component's ports", req.PortName))
	case found == nil:
		errs.add("port", fmt.Sprintf("%d/%s is not one of the component's ports", req.Port, want))
	case req.Port != 0 && found.Port != req.Port:
		errs.add("port", fmt.Sprintf("%d is not the number of port %q (%d)", req.Port, req.PortName, found.Port))
	case found.Protocol != want:
		errs.add("portName", fmt.Sprintf("port %q is %s: a %s route needs a %s port", found.Name, found.Protocol, kind, want))
	default:
		return found.Name, found.Port
	}
	return "", 0
}

// isToken: an RFC 9110 token, what header and cookie names are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// isHeaderValue: visible ASCII, spaces and tabs, not starting or ending with white space.
func isHeaderValue(s string) bool {
	if s != strings.Trim(s, " \t") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

// isCookieValue: RFC 6265 cookie-octets.
func isCookieValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}
