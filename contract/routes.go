package contract

// Routes say how outside traffic reaches a component through the gateway, and certificates hold the
// TLS keys of HTTPS routes. Each route of a deployed component is applied to Kubernetes as objects the
// gateway watches, labelled like the component's other objects:
//
//   - an HTTP route is a networking.k8s.io/v1 Ingress of class IngressClass, one per route, whose one
//     rule sends the route's host and path to the component's Service port; what an Ingress cannot say
//     (header and cookie match, canary weight, forced HTTPS, load balancing) is in the Annotation*
//     annotations below;
//   - a route with a certificate adds the Ingress's spec.tls naming a kubernetes.io/tls Secret that
//     holds the certificate chain and its key, one per component and certificate;
//   - a TCP or UDP route is a headless Service, one per route, selecting the component's pods on the
//     route's port, annotated with AnnotationListenPort: the gateway listens on that port (of its own
//     host) and forwards to the Service's ready endpoints, balanced by AnnotationLoadBalance.
//
// The gateway reads these names from this package; it imports nothing else of the control plane.

// IngressClass is the spec.ingressClassName of every Ingress Rainflow renders, the class the gateway serves.
const IngressClass = "rainflow"

// RouteKind says what a route carries.
type RouteKind string

// Route kinds.
const (
	RouteHTTP RouteKind = "http"
	RouteTCP  RouteKind = "tcp"
	RouteUDP  RouteKind = "udp"
)

// Path types of an HTTP route, as Kubernetes names them.
const (
	PathExact  = "Exact"
	PathPrefix = "Prefix"
)

// Labels of the objects a component's routes render (besides the component's own labels).
const (
	// LabelRoute names the route an Ingress or a TCP/UDP Service was rendered from.
	LabelRoute = "rainflow.io/route"
	// LabelCertificate names the certificate a TLS Secret holds.
	LabelCertificate = "rainflow.io/certificate"
)

// Annotations the gateway reads on a route's Ingress or Service. Values are plain strings; an absent
// annotation is no such rule.
const (
	// AnnotationHeaderName and AnnotationHeaderValue: the request must carry this header with exactly
	// this value (the name compares case-insensitively).
	AnnotationHeaderName  = "rainflow.io/match-header-name"
	AnnotationHeaderValue = "rainflow.io/match-header-value"
	// AnnotationCookieName and AnnotationCookieValue: the request must carry this cookie with exactly
	// this value.
	AnnotationCookieName  = "rainflow.io/match-cookie-name"
	AnnotationCookieValue = "rainflow.io/match-cookie-value"
	// AnnotationCanaryWeight, "0" to "100", makes the Ingress a canary: it takes that percentage of the
	// requests that match its host, path, header and cookie; the Ingress of the same match without the
	// annotation (the primary) takes the rest.
	AnnotationCanaryWeight = "rainflow.io/canary-weight"
	// AnnotationForceHTTPS "true": a plain HTTP request is redirected (308) to HTTPS.
	AnnotationForceHTTPS = "rainflow.io/force-https"
	// AnnotationCertificate names the certificate of the Ingress's TLS Secret, for people reading it.
	AnnotationCertificate = "rainflow.io/certificate"
	// AnnotationListenPort is the gateway port a TCP or UDP route's Service is served on; the protocol
	// is the Service port's.
	AnnotationListenPort = "rainflow.io/listen-port"
	// AnnotationLoadBalance is the load-balancing policy of the route's backend (a LoadBalancePolicy),
	// on an HTTP route's Ingress or a TCP/UDP route's Service; absent is round robin.
	AnnotationLoadBalance = "rainflow.io/load-balance"
	// AnnotationHashBy is what consistent-hash hashes (HashByClientIP, or on HTTP routes HashByHeader or
	// HashByCookie and a name); only with AnnotationLoadBalance consistent-hash.
	AnnotationHashBy = "rainflow.io/hash-by"
)

// LoadBalancePolicy is how the gateway spreads a route's requests (HTTP), connections (TCP) or client
// sessions (UDP) over the ready endpoints, as AnnotationLoadBalance writes it.
type LoadBalancePolicy string

// Load-balancing policies. HTTP routes take all four; TCP and UDP routes all but peak-ewma (a
// connection has no response latency to weigh), see LoadBalancePolicies.
const (
	LoadBalanceRoundRobin       LoadBalancePolicy = "round-robin"
	LoadBalanceLeastConnections LoadBalancePolicy = "least-connections"
	LoadBalanceConsistentHash   LoadBalancePolicy = "consistent-hash"
	LoadBalancePeakEWMA         LoadBalancePolicy = "peak-ewma"
)

// Keys of consistent-hash, as AnnotationHashBy writes them: the client's IP, or (HTTP routes only) a
// request header or cookie named after the prefix ("header:X-User", "cookie:session").
const (
	HashByClientIP = "client-ip"
	HashByHeader   = "header:"
	HashByCookie   = "cookie:"
)

// LoadBalancePolicies answers the policies a route of kind accepts, the default first.
func LoadBalancePolicies(kind RouteKind) []LoadBalancePolicy {
	if kind == RouteHTTP {
		return []LoadBalancePolicy{LoadBalanceRoundRobin, LoadBalanceLeastConnections, LoadBalanceConsistentHash, LoadBalancePeakEWMA}
	}
	return []LoadBalancePolicy{LoadBalanceRoundRobin, LoadBalanceLeastConnections, LoadBalanceConsistentHash}
}

// Route is one route of a component, as the API validated and stored it, and as a release keeps it.
type Route struct {
	Name string    `json:"name"` // a DNS-1035 label, unique in the component
	Kind RouteKind `json:"kind"`

	// HTTP routes: Host (a DNS name, or "*." and one), Path (starting with /) and PathType (PathExact
	// or PathPrefix), optionally narrowed by a header and a cookie.
	Host     string      `json:"host,omitempty"`
	Path     string      `json:"path,omitempty"`
	PathType string      `json:"pathType,omitempty"`
	Header   *RouteMatch `json:"header,omitempty"`
	Cookie   *RouteMatch `json:"cookie,omitempty"`
	// Weight, when set (0 to 100), makes the route a canary taking that percentage of the requests of
	// its match; unset, the route is the primary one of its match.
	Weight *int32 `json:"weight,omitempty"`
	// Certificate names a certificate of the tenant that covers Host: the route answers HTTPS too.
	Certificate string `json:"certificate,omitempty"`
	// ForceHTTPS redirects plain HTTP to HTTPS; it needs a Certificate.
	ForceHTTPS bool `json:"forceHttps,omitempty"`

	// PortName and Port are the component's port the traffic goes to (its Service port); PortName is
	// empty for a component's single unnamed port.
	PortName string `json:"portName,omitempty"`
	Port     int32  `json:"port"`

	// ListenPort is the gateway's port of a TCP or UDP route.
	ListenPort int32 `json:"listenPort,omitempty"`

	// LoadBalance, when set, is the policy spreading the route's traffic over the component's ready
	// endpoints (AnnotationLoadBalance, AnnotationHashBy); unset, the gateway's default (round robin).
	LoadBalance *RouteLoadBalance `json:"loadBalance,omitempty"`
}

// RouteLoadBalance is a route's load-balancing policy and, for consistent-hash, what it hashes.
type RouteLoadBalance struct {
	Policy LoadBalancePolicy `json:"policy"`
	HashBy string            `json:"hashBy,omitempty"`
}

// RouteMatch is one header or cookie a request must carry, with exactly this value.
type RouteMatch struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// WorkflowRoutes names the Routes workflow.
const WorkflowRoutes = "Routes"

// OperationRoutes is the kind of the operation a route change on a deployed component queues.
const OperationRoutes OperationKind = "routes"

// RoutesInput starts a Routes workflow: apply the component's current routes (read from the store when
// it runs, so the last of several queued changes applies them all) to the release that runs, and record
// a new release of the same image and spec with these routes. A component never deployed has nothing
// to apply to: its first deploy applies its routes.
type RoutesInput struct {
	OperationID string       `json:"operationId"`
	Ref         ComponentRef `json:"ref"`
	ComponentID string       `json:"componentId"`
	RequestedBy string       `json:"requestedBy,omitempty"`
}

// RoutesResult is what a finished Routes reports.
type RoutesResult struct {
	// ReleaseID is the release recorded with the routes; empty when the component was not deployed.
	ReleaseID string `json:"releaseId,omitempty"`
	// Applied are the route objects applied, as Kind/name; Pruned those of routes that are gone.
	Applied []string `json:"applied,omitempty"`
	Pruned  []string `json:"pruned,omitempty"`
}
