package gateway

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestRoutesEqualCoversEveryField changes one field at a time: each change makes the Routes differ, so
// the publisher never skips a snapshot that routes differently.
func TestRoutesEqualCoversEveryField(t *testing.T) {
	t.Parallel()
	base := func() Routes {
		return Routes{
			HTTP: []HTTPRoute{{Host: "a.test", Path: "/x", PathType: PathPrefix, Ingress: "ns/a",
				Backend: Backend{Service: "ns/web", Port: "80", Endpoints: []string{"10.0.0.1:80"}},
				Header:  &ValueMatch{Name: "X-A", Value: "1"}, Cookie: &ValueMatch{Name: "c", Value: "1"},
				Canary: true, Weight: 10,
				Options: RouteOptions{ForceHTTPS: true, RewritePath: "/", ConnectTimeout: time.Second, ReadTimeout: time.Second,
					Retries: 1, MaxBodySize: 10, StickyCookie: "s", ResponseHeaders: []HeaderValue{{Name: "X-B", Value: "2"}},
					Balance: Balance{Policy: BalanceHash, HashBy: "client-ip"}}}},
			Default: &Backend{Service: "ns/def", Port: "80"},
			TLS:     []HostCertificate{{Host: "a.test", Secret: "ns/tls", Chain: []byte("c"), Key: []byte("k")}},
		}
	}
	tests := []struct {
		name   string
		change func(r *Routes)
	}{
		{name: "header value", change: func(r *Routes) { r.HTTP[0].Header = &ValueMatch{Name: "X-A", Value: "2"} }},
		{name: "no header", change: func(r *Routes) { r.HTTP[0].Header = nil }},
		{name: "cookie", change: func(r *Routes) { r.HTTP[0].Cookie = &ValueMatch{Name: "d", Value: "1"} }},
		{name: "canary", change: func(r *Routes) { r.HTTP[0].Canary = false }},
		{name: "weight", change: func(r *Routes) { r.HTTP[0].Weight = 11 }},
		{name: "force https", change: func(r *Routes) { r.HTTP[0].Options.ForceHTTPS = false }},
		{name: "rewrite", change: func(r *Routes) { r.HTTP[0].Options.RewritePath = "/v1" }},
		{name: "connect timeout", change: func(r *Routes) { r.HTTP[0].Options.ConnectTimeout = 2 * time.Second }},
		{name: "read timeout", change: func(r *Routes) { r.HTTP[0].Options.ReadTimeout = 2 * time.Second }},
		{name: "retries", change: func(r *Routes) { r.HTTP[0].Options.Retries = 2 }},
		{name: "max body", change: func(r *Routes) { r.HTTP[0].Options.MaxBodySize = 11 }},
		{name: "sticky", change: func(r *Routes) { r.HTTP[0].Options.StickyCookie = "t" }},
		{name: "response header", change: func(r *Routes) { r.HTTP[0].Options.ResponseHeaders[0].Value = "3" }},
		{name: "balance", change: func(r *Routes) { r.HTTP[0].Options.Balance.HashBy = "header:X-U" }},
		{name: "endpoints", change: func(r *Routes) { r.HTTP[0].Backend.Endpoints = nil }},
		{name: "certificate", change: func(r *Routes) { r.TLS[0].Chain = []byte("d") }},
		{name: "certificate key", change: func(r *Routes) { r.TLS[0].Key = []byte("l") }},
		{name: "no certificate", change: func(r *Routes) { r.TLS = nil }},
	}
	assert.True(t, base().Equal(base()))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			changed := base()
			tt.change(&changed)
			assert.False(t, base().Equal(changed))
			assert.False(t, changed.Equal(base()))
		})
	}
}

// TestCompileChoosesPolicyPerRoute: two rules to one Service under different policies get their own
// balancer over the same upstreams.
func TestCompileChoosesPolicyPerRoute(t *testing.T) {
	t.Parallel()
	be := Backend{Service: "ns/web", Port: "80", Endpoints: []string{"10.0.0.1:80", "10.0.0.2:80"}}
	routes := Routes{HTTP: []HTTPRoute{
		{Host: "a.test", Path: "/rr", PathType: PathPrefix, Backend: be},
		{Host: "a.test", Path: "/lc", PathType: PathPrefix, Backend: be, Options: RouteOptions{Balance: Balance{Policy: BalanceLeastConnections}}},
		{Host: "a.test", Path: "/hash", PathType: PathPrefix, Backend: be, Options: RouteOptions{Balance: Balance{Policy: BalanceHash, HashBy: "client-ip"}}},
		{Host: "a.test", Path: "/ewma", PathType: PathPrefix, Backend: be, Options: RouteOptions{Balance: Balance{Policy: BalancePeakEWMA}}},
	}}
	table := Compile(routes, NewPool())
	tests := []struct {
		path string
		want Policy
	}{
		{path: "/rr", want: &RoundRobin{}},
		{path: "/lc", want: &LeastConnections{}},
		{path: "/hash", want: &ConsistentHash{kind: hashClientIP}},
		{path: "/ewma", want: &PeakEWMA{}},
	}
	var upstreams []*Upstream
	for _, tt := range tests {
		_, got := table.Match("a.test", tt.path, nil)
		assert.IsType(t, tt.want, got.policy, tt.path)
		assert.Equal(t, "ns/web:80", got.key)
		if upstreams == nil {
			upstreams = got.upstreams
		}
		assert.Same(t, upstreams[0], got.upstreams[0], "one Upstream per address")
	}
	assert.Len(t, table.backends, 4)
}
