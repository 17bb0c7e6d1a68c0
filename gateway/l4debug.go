package gateway

import (
	"cmp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// L4PolicyRoundRobin is the name of the default balancing policy of TCP and UDP routes: each new
// connection (TCP) or client session (UDP) goes to the next ready endpoint in turn. The others are
// named by their BalancePolicy: least-connections and consistent-hash.
const L4PolicyRoundRobin = "round-robin"

// L4RouteStatus is one TCP or UDP route as /debug/routes shows it under "l4": what it routes where, and
// how its listener is doing.
type L4RouteStatus struct {
	Protocol corev1.Protocol `json:"protocol"`
	// Port is the gateway's listen port; Listen the address it is bound to, empty when the port could
	// not be bound, and Error why.
	Port   int32  `json:"port"`
	Listen string `json:"listen,omitempty"`
	Error  string `json:"error,omitempty"`
	// Service is the namespace/name of the Service routed to, ServicePort its port's name ("" when
	// unnamed) and ServicePortNumber its number.
	Service           string `json:"service"`
	ServicePort       string `json:"servicePort,omitempty"`
	ServicePortNumber int32  `json:"servicePortNumber"`
	// Policy is how connections or sessions are spread over the endpoints: L4PolicyRoundRobin,
	// least-connections or consistent-hash, and HashBy what consistent-hash hashes ("client-ip").
	Policy string `json:"policy"`
	HashBy string `json:"hashBy,omitempty"`
	// Endpoints are the ready endpoints (address:port), sorted; empty while there is none.
	Endpoints []string `json:"endpoints"`
	// Active counts the connections (TCP) or clients (UDP) in progress, and Waiting those of them
	// waiting for an endpoint.
	Active  int `json:"active"`
	Waiting int `json:"waiting"`
}

// status lists the routes of the last build, served or not, sorted by port then protocol.
func (p *l4Proxy) status() []L4RouteStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]L4RouteStatus, 0, len(p.routes)+len(p.failed))
	for key, r := range p.routes {
		st := newL4RouteStatus(r)
		if ln := p.listeners[key]; ln != nil {
			st.Listen = ln.addr().String()
			stats := ln.stats()
			st.Active, st.Waiting = stats.active, stats.waiting
		}
		out = append(out, st)
	}
	for _, f := range p.failed {
		st := newL4RouteStatus(f.route)
		st.Error = f.err
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b L4RouteStatus) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), strings.Compare(string(a.Protocol), string(b.Protocol)))
	})
	return out
}

func newL4RouteStatus(r L4Route) L4RouteStatus {
	return L4RouteStatus{
		Protocol: r.Protocol, Port: r.Port, Service: r.Service, ServicePort: r.ServicePort,
		ServicePortNumber: r.ServicePortNumber, Policy: l4PolicyName(r.Balance), HashBy: r.Balance.HashBy,
		Endpoints: append([]string{}, r.Endpoints...),
	}
}

// L4Status lists the TCP and UDP routes of the last build as /debug/routes shows them: served, or with
// the error that keeps their port from being bound.
func (g *Gateway) L4Status() []L4RouteStatus { return g.l4.status() }
