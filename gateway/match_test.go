package gateway

import (
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
			_, got := table.Match(tt.host, tt.path)
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
