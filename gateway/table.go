package gateway

import (
	"net/http"
	"strings"
)

// Table is one immutable routing snapshot: Routes compiled into lookup indexes whose backends point into
// the Pool. The proxy loads it once per request from an atomic.Pointer; it is never modified after Compile.
type Table struct {
	routes    Routes
	exact     map[string]*hostRoutes // by host
	wildcard  map[string]*hostRoutes // by the domain after "*."
	anyHost   *hostRoutes            // rules without a host
	fallback  *backend               // the default backend
	backends  map[string]*backend    // by Backend.Key
	upstreams int                    // distinct endpoint addresses
}

// hostRoutes are the paths of one host.
type hostRoutes struct {
	exact  map[string]*route
	prefix map[string]*route // by the Prefix path without its trailing slash
}

// route is one compiled HTTPRoute.
type route struct {
	HTTPRoute
	backend *backend
}

// backend is a compiled Backend: the upstreams of its endpoints and the policy that picks among them.
type backend struct {
	key       string
	upstreams []*Upstream
	policy    Policy
}

// pick chooses an upstream for r, nil when the backend has no ready endpoint.
func (b *backend) pick(r *http.Request) *Upstream { return b.policy.Pick(b.upstreams, r) }

// Compile indexes routes for lookup, taking per-endpoint and per-backend state from pool.
func Compile(routes Routes, pool *Pool) *Table {
	t := &Table{
		routes:   routes,
		exact:    make(map[string]*hostRoutes),
		wildcard: make(map[string]*hostRoutes),
		anyHost:  newHostRoutes(),
		backends: make(map[string]*backend),
	}
	for _, hr := range routes.HTTP {
		r := &route{HTTPRoute: hr, backend: t.backend(hr.Backend, pool)}
		hosts := t.hostRoutes(hr.Host)
		if hr.PathType == PathExact {
			hosts.exact[hr.Path] = r
		} else {
			hosts.prefix[hr.Path] = r
		}
	}
	if routes.Default != nil {
		t.fallback = t.backend(*routes.Default, pool)
	}
	addrs, _ := t.uses()
	t.upstreams = len(addrs)
	return t
}

func newHostRoutes() *hostRoutes {
	return &hostRoutes{exact: make(map[string]*route), prefix: make(map[string]*route)}
}

func (t *Table) hostRoutes(host string) *hostRoutes {
	index, key := t.exact, host
	switch {
	case host == "":
		return t.anyHost
	case strings.HasPrefix(host, "*."):
		index, key = t.wildcard, host[2:]
	}
	h := index[key]
	if h == nil {
		h = newHostRoutes()
		index[key] = h
	}
	return h
}

func (t *Table) backend(b Backend, pool *Pool) *backend {
	key := b.Key()
	if be := t.backends[key]; be != nil {
		return be
	}
	be := &backend{key: key, policy: pool.roundRobin(key)}
	for _, addr := range b.Endpoints {
		be.upstreams = append(be.upstreams, pool.upstream(addr))
	}
	t.backends[key] = be
	return be
}

// Routes returns the configuration the table was compiled from.
func (t *Table) Routes() Routes { return t.routes }

// uses lists the upstream addresses and backend keys the table points to.
func (t *Table) uses() (addrs, keys map[string]bool) {
	addrs, keys = make(map[string]bool), make(map[string]bool, len(t.backends))
	for key, be := range t.backends {
		keys[key] = true
		for _, u := range be.upstreams {
			addrs[u.Addr] = true
		}
	}
	return addrs, keys
}
