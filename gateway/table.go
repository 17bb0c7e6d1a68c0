package gateway

import (
	"slices"
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
	backends  map[string]*backend    // by backend state key (Backend.Key and policy)
	upstreams int                    // distinct endpoint addresses
	certs     sniCertificates        // HTTPS certificates by server name
}

// hostRoutes are the paths of one host.
type hostRoutes struct {
	exact  map[string]candidates
	prefix map[string]candidates // by the Prefix path without its trailing slash
}

// candidates are the rules of one host, path and path type, grouped by match in matching order.
type candidates struct {
	groups []group
}

// group is the rules of one header/cookie match: its canaries and its primary (nil when it has none).
type group struct {
	header, cookie *ValueMatch
	canaries       []*route
	primary        *route
}

// route is one compiled HTTPRoute; it points into the Routes the Table keeps.
type route struct {
	*HTTPRoute
	backend *backend
	// headers are Options.ResponseHeaders as header-map values of capacity 1, shared by every answer
	// (an append to one copies it), so setting them allocates nothing.
	headers []responseHeader
	stats   routeStats
}

type responseHeader struct {
	name   string
	values []string
}

func (r *route) compileOptions() {
	for _, h := range r.Options.ResponseHeaders {
		r.headers = append(r.headers, responseHeader{name: h.Name, values: []string{h.Value}[:1:1]})
	}
}

// backend is a compiled Backend under one load-balancing policy: the upstreams of its endpoints and the
// policy that picks among them.
type backend struct {
	key       string // Backend.Key, for logs and metrics
	stateKey  string // the Pool's key of the policy state
	upstreams []*Upstream
	policy    Policy
}

// Compile indexes routes for lookup, taking per-endpoint and per-backend state from pool.
func Compile(routes Routes, pool *Pool) *Table {
	t := &Table{
		routes:   routes,
		exact:    make(map[string]*hostRoutes),
		wildcard: make(map[string]*hostRoutes),
		anyHost:  newHostRoutes(),
		backends: make(map[string]*backend),
	}
	// Rules are added in matching order, in which Build lists them; a hand-made Routes is sorted first.
	ordered := routes.HTTP
	if !slices.IsSortedFunc(ordered, compareRoutes) {
		ordered = slices.Clone(ordered)
		slices.SortStableFunc(ordered, compareRoutes)
	}
	for i := range ordered {
		hr := &ordered[i]
		r := &route{HTTPRoute: hr, backend: t.backend(hr.Backend, hr.Options.Balance, pool)}
		r.compileOptions()
		hosts := t.hostRoutes(hr.Host)
		index := hosts.prefix
		if hr.PathType == PathExact {
			index = hosts.exact
		}
		c := index[hr.Path]
		c.add(r)
		index[hr.Path] = c
	}
	if routes.Default != nil {
		t.fallback = t.backend(*routes.Default, Balance{}, pool)
	}
	addrs, _ := t.uses()
	t.upstreams = len(addrs)
	t.certs = compileCertificates(routes.TLS)
	return t
}

func newHostRoutes() *hostRoutes {
	return &hostRoutes{exact: make(map[string]candidates), prefix: make(map[string]candidates)}
}

// add appends r to the group of its match (the last one, as rules come in matching order). A second
// primary of one match (only in a hand-made Routes) is ignored.
func (c *candidates) add(r *route) {
	n := len(c.groups)
	if n == 0 || !sameMatch(c.groups[n-1].header, r.Header) || !sameMatch(c.groups[n-1].cookie, r.Cookie) {
		c.groups = append(c.groups, group{header: r.Header, cookie: r.Cookie})
		n++
	}
	g := &c.groups[n-1]
	switch {
	case r.Canary:
		g.canaries = append(g.canaries, r)
	case g.primary == nil:
		g.primary = r
	}
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

func (t *Table) backend(b Backend, balance Balance, pool *Pool) *backend {
	key := b.Key()
	policy, stateKey := pool.policy(key, balance)
	if be := t.backends[stateKey]; be != nil {
		return be
	}
	be := &backend{key: key, stateKey: stateKey, policy: policy}
	for _, addr := range b.Endpoints {
		be.upstreams = append(be.upstreams, pool.upstream(addr))
	}
	t.backends[stateKey] = be
	return be
}

// Routes returns the configuration the table was compiled from.
func (t *Table) Routes() Routes { return t.routes }

// uses lists the upstream addresses and backend keys the table points to.
func (t *Table) uses() (addrs, keys map[string]bool) {
	addrs, keys = make(map[string]bool), make(map[string]bool, len(t.backends))
	for key, be := range t.backends { // key is the backend's state key
		keys[key] = true
		for _, u := range be.upstreams {
			addrs[u.Addr] = true
		}
	}
	return addrs, keys
}
