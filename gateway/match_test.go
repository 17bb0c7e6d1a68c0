package gateway

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	be := func(name string) Backend { return Backend{Service: "ns/" + name, Port: "80"} }
	routes := Routes{
		HTTP: []HTTPRoute{
			{Host: "shop.example.com", Path: "", PathType: PathPrefix, Backend: be("shop-root")},
			{Host: "shop.example.com", Path: "/foo", PathType: PathPrefix, Backend: be("shop-foo")},
			{Host: "shop.example.com", Path: "/foo/bar", PathType: PathPrefix, Backend: be("shop-foo-bar")},
			{Host: "shop.example.com", Path: "/foo", PathType: PathExact, Backend: be("shop-foo-exact")},
			{Host: "shop.example.com", Path: "/exact/", PathType: PathExact, Backend: be("shop-exact-slash")},
			{Host: "*.example.com", Path: "/wild", PathType: PathPrefix, Backend: be("wild")},
			{Host: "api.example.com", Path: "/v1", PathType: PathPrefix, Backend: be("api-v1")},
			{Host: "", Path: "/any", PathType: PathPrefix, Backend: be("any-host")},
		},
	}
	withDefault := routes
	withDefault.Default = &Backend{Service: "ns/default", Port: "80"}

	tests := []struct {
		name        string
		routes      Routes
		host, path  string
		wantBackend string // Backend.Key, "" for no match
	}{
		{name: "root prefix catches the rest", routes: routes, host: "shop.example.com", path: "/other", wantBackend: "ns/shop-root:80"},
		{name: "empty path is the root", routes: routes, host: "shop.example.com", path: "", wantBackend: "ns/shop-root:80"},
		{name: "exact wins over prefix of the same length", routes: routes, host: "shop.example.com", path: "/foo", wantBackend: "ns/shop-foo-exact:80"},
		{name: "prefix matches with trailing slash", routes: routes, host: "shop.example.com", path: "/foo/", wantBackend: "ns/shop-foo:80"},
		{name: "prefix matches a sub path", routes: routes, host: "shop.example.com", path: "/foo/baz", wantBackend: "ns/shop-foo:80"},
		{name: "prefix is by element, not by string", routes: routes, host: "shop.example.com", path: "/foobar", wantBackend: "ns/shop-root:80"},
		{name: "longest prefix wins", routes: routes, host: "shop.example.com", path: "/foo/bar/baz", wantBackend: "ns/shop-foo-bar:80"},
		{name: "longest prefix is by element too", routes: routes, host: "shop.example.com", path: "/foo/barbaz", wantBackend: "ns/shop-foo:80"},
		{name: "exact path keeps its trailing slash", routes: routes, host: "shop.example.com", path: "/exact/", wantBackend: "ns/shop-exact-slash:80"},
		{name: "exact path without the slash is another path", routes: routes, host: "shop.example.com", path: "/exact", wantBackend: "ns/shop-root:80"},
		{name: "dot segments are cleaned for matching", routes: routes, host: "shop.example.com", path: "/other/../foo/bar/x", wantBackend: "ns/shop-foo-bar:80"},
		{name: "host is case-insensitive and the port is ignored", routes: routes, host: "SHOP.Example.com:8443", path: "/foo/x", wantBackend: "ns/shop-foo:80"},
		{name: "host with a trailing dot", routes: routes, host: "shop.example.com.", path: "/foo/x", wantBackend: "ns/shop-foo:80"},
		{name: "wildcard matches one label", routes: routes, host: "blog.example.com", path: "/wild/x", wantBackend: "ns/wild:80"},
		{name: "wildcard does not match two labels", routes: routes, host: "a.blog.example.com", path: "/wild", wantBackend: ""},
		{name: "wildcard does not match the bare domain", routes: routes, host: "example.com", path: "/wild", wantBackend: ""},
		{name: "exact host falls back to the wildcard when no path matches", routes: routes, host: "api.example.com", path: "/wild", wantBackend: "ns/wild:80"},
		{name: "exact host wins over the wildcard", routes: routes, host: "api.example.com", path: "/v1/users", wantBackend: "ns/api-v1:80"},
		{name: "a rule without host matches any host", routes: routes, host: "whatever.test", path: "/any/thing", wantBackend: "ns/any-host:80"},
		{name: "no match", routes: routes, host: "whatever.test", path: "/none", wantBackend: ""},
		{name: "no match goes to the default backend", routes: withDefault, host: "whatever.test", path: "/none", wantBackend: "ns/default:80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			table := Compile(tt.routes, NewPool())
			_, got := table.Match(tt.host, tt.path, nil)
			if tt.wantBackend == "" {
				assert.Nil(t, got)
				return
			}
			if assert.NotNil(t, got) {
				assert.Equal(t, tt.wantBackend, got.key)
			}
		})
	}
}

func TestMatchHeaderCookieAndCanary(t *testing.T) {
	t.Parallel()
	be := func(name string) Backend { return Backend{Service: "ns/" + name, Port: "80"} }
	beta := &ValueMatch{Name: "X-Beta", Value: "1"}
	team := &ValueMatch{Name: "team", Value: "blue"}
	// Listed out of matching order on purpose: Compile orders them.
	routes := Routes{HTTP: []HTTPRoute{
		{Host: "a.test", PathType: PathPrefix, Backend: be("root")},
		{Host: "a.test", Path: "/api", PathType: PathPrefix, Backend: be("api")},
		{Host: "a.test", Path: "/api", PathType: PathPrefix, Backend: be("api-beta"), Header: beta},
		{Host: "a.test", Path: "/api", PathType: PathPrefix, Backend: be("api-blue"), Cookie: team},
		{Host: "a.test", Path: "/api", PathType: PathPrefix, Backend: be("api-beta-blue"), Header: beta, Cookie: team},
		{Host: "a.test", Path: "/api", PathType: PathPrefix, Backend: be("api-canary-all"), Canary: true, Weight: 100, Header: &ValueMatch{Name: "X-Canary", Value: "always"}},
		{Host: "a.test", Path: "/api", PathType: PathPrefix, Backend: be("api-canary-none"), Canary: true, Weight: 0},
		// A header match with only a canary of weight 0 and no primary lets every request through.
		{Host: "a.test", Path: "/only-canary", PathType: PathPrefix, Backend: be("only-canary"), Canary: true, Weight: 0},
	}}
	tests := []struct {
		name        string
		path        string
		header      http.Header
		wantBackend string
	}{
		{name: "no header: the primary", path: "/api/x", wantBackend: "ns/api:80"},
		{name: "header match", path: "/api/x", header: http.Header{"X-Beta": {"1"}}, wantBackend: "ns/api-beta:80"},
		{name: "header with another value", path: "/api/x", header: http.Header{"X-Beta": {"2"}}, wantBackend: "ns/api:80"},
		{name: "one of several header values", path: "/api/x", header: http.Header{"X-Beta": {"0", "1"}}, wantBackend: "ns/api-beta:80"},
		{name: "cookie match", path: "/api", header: http.Header{"Cookie": {"a=b; team=blue"}}, wantBackend: "ns/api-blue:80"},
		{name: "cookie on its own line, quoted", path: "/api", header: http.Header{"Cookie": {"a=b", `team="blue"`}}, wantBackend: "ns/api-blue:80"},
		{name: "cookie name is case-sensitive", path: "/api", header: http.Header{"Cookie": {"Team=blue"}}, wantBackend: "ns/api:80"},
		{name: "cookie value prefix does not match", path: "/api", header: http.Header{"Cookie": {"team=blueish"}}, wantBackend: "ns/api:80"},
		{name: "header and cookie: the most specific", path: "/api", header: http.Header{"X-Beta": {"1"}, "Cookie": {"team=blue"}}, wantBackend: "ns/api-beta-blue:80"},
		{name: "canary of weight 100 takes all of its match", path: "/api", header: http.Header{"X-Canary": {"always"}}, wantBackend: "ns/api-canary-all:80"},
		{name: "no primary and no canary hit: shorter path", path: "/only-canary/x", wantBackend: "ns/root:80"},
	}
	table := Compile(routes, NewPool())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for range 20 { // weights 0 and 100 are deterministic
				_, got := table.Match("a.test", tt.path, tt.header)
				if assert.NotNil(t, got) {
					assert.Equal(t, tt.wantBackend, got.key)
				}
			}
		})
	}
}

// TestMatchCanarySplit draws many requests through a 20% canary: the share lands near 20%.
func TestMatchCanarySplit(t *testing.T) {
	t.Parallel()
	routes := Routes{HTTP: []HTTPRoute{
		{Host: "a.test", PathType: PathPrefix, Ingress: "ns/primary", Backend: Backend{Service: "ns/v1", Port: "80"}},
		{Host: "a.test", PathType: PathPrefix, Ingress: "ns/canary", Canary: true, Weight: 20, Backend: Backend{Service: "ns/v2", Port: "80"}},
	}}
	table := Compile(routes, NewPool())
	const n = 20000
	canary := 0
	for range n {
		r, _ := table.Match("a.test", "/", nil)
		if r.Ingress == "ns/canary" {
			canary++
		}
	}
	// 20% of 20000 is 4000, standard deviation ~57: 3700..4300 is more than 5 sigma either way.
	assert.InDelta(t, 4000, canary, 300)
}

func TestCleanPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{name: "empty", in: "", want: "/"},
		{name: "clean", in: "/a/b", want: "/a/b"},
		{name: "trailing slash kept", in: "/a/b/", want: "/a/b/"},
		{name: "double slash", in: "/a//b", want: "/a/b"},
		{name: "dot dot", in: "/a/../b/", want: "/b/"},
		{name: "dot dot above root", in: "/../../b", want: "/b"},
		{name: "relative", in: "a/b", want: "/a/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, cleanPath(tt.in))
		})
	}
}

// BenchmarkTableMatch is the per-request lookup on a table of 1,000 hosts: a plain prefix rule, and a
// path with a header match, a cookie match and a 10% canary in front of its primary. Neither allocates.
func BenchmarkTableMatch(b *testing.B) {
	var routes Routes
	for i := range 1000 {
		host := "web-" + strconv.Itoa(i) + ".apps.example.com"
		be := Backend{Service: "ns/web-" + strconv.Itoa(i), Port: "80", Endpoints: []string{"10.0.0.1:8080"}}
		routes.HTTP = append(routes.HTTP,
			HTTPRoute{Host: host, PathType: PathPrefix, Backend: be},
			HTTPRoute{Host: host, Path: "/api", PathType: PathPrefix, Backend: be, Header: &ValueMatch{Name: "X-Beta", Value: "1"}},
			HTTPRoute{Host: host, Path: "/api", PathType: PathPrefix, Backend: be, Cookie: &ValueMatch{Name: "team", Value: "blue"}},
			HTTPRoute{Host: host, Path: "/api", PathType: PathPrefix, Backend: be, Canary: true, Weight: 10},
			HTTPRoute{Host: host, Path: "/api", PathType: PathPrefix, Backend: be})
	}
	table := Compile(routes, NewPool())
	header := http.Header{"Cookie": {"session=abc; theme=dark"}, "User-Agent": {"bench"}}
	for _, bc := range []struct{ name, path string }{
		{name: "plain", path: "/static/app.js"},
		{name: "header-cookie-canary", path: "/api/v1/users"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, be := table.Match("web-500.apps.example.com", bc.path, header); be == nil {
					b.Fatal("no match")
				}
			}
		})
	}
}
