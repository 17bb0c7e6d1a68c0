package api

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
)

func TestCheckedRoute(t *testing.T) {
	t.Parallel()
	spec := contract.ComponentSpec{Ports: []contract.Port{
		{Name: "http", Port: 8080, Protocol: "TCP"}, {Name: "dns", Port: 53, Protocol: "UDP"}, {Name: "dns-tcp", Port: 53, Protocol: "TCP"},
	}}
	weight := func(w int32) *int32 { return &w }
	tests := []struct {
		name       string
		req        routeRequest
		want       contract.Route // checked when wantFields is empty
		wantFields []string
	}{
		{name: "defaults", req: routeRequest{Name: "www", Host: "WWW.Example.COM", PortName: "http"},
			want: contract.Route{Name: "www", Kind: contract.RouteHTTP, Host: "www.example.com", Path: "/", PathType: contract.PathPrefix, PortName: "http", Port: 8080}},
		{name: "prefix path loses its trailing slashes", req: routeRequest{Name: "a", Host: "a.example.com", Path: "/api//", Port: 8080},
			want: contract.Route{Name: "a", Kind: contract.RouteHTTP, Host: "a.example.com", Path: "/api", PathType: contract.PathPrefix, PortName: "http", Port: 8080}},
		{name: "empty segment", req: routeRequest{Name: "a", Host: "a.example.com", Path: "/a//b", Port: 8080}, wantFields: []string{"path"}},
		{name: "prefix path trimmed", req: routeRequest{Name: "a", Host: "a.example.com", Path: "/api/", Port: 8080},
			want: contract.Route{Name: "a", Kind: contract.RouteHTTP, Host: "a.example.com", Path: "/api", PathType: contract.PathPrefix, PortName: "http", Port: 8080}},
		{name: "exact path kept", req: routeRequest{Name: "a", Host: "a.example.com", Path: "/api/", PathType: "Exact", Port: 8080},
			want: contract.Route{Name: "a", Kind: contract.RouteHTTP, Host: "a.example.com", Path: "/api/", PathType: contract.PathExact, PortName: "http", Port: 8080}},
		{name: "wildcard host", req: routeRequest{Name: "a", Host: "*.example.com", PortName: "http", Weight: weight(0)},
			want: contract.Route{Name: "a", Kind: contract.RouteHTTP, Host: "*.example.com", Path: "/", PathType: contract.PathPrefix,
				PortName: "http", Port: 8080, Weight: weight(0)}},
		{name: "udp by number finds the UDP port", req: routeRequest{Name: "d", Kind: "udp", Port: 53, ListenPort: 53},
			want: contract.Route{Name: "d", Kind: contract.RouteUDP, PortName: "dns", Port: 53, ListenPort: 53}},
		{name: "tcp by number finds the TCP port", req: routeRequest{Name: "d", Kind: "tcp", Port: 53, ListenPort: 5353},
			want: contract.Route{Name: "d", Kind: contract.RouteTCP, PortName: "dns-tcp", Port: 53, ListenPort: 5353}},
		{name: "name must start with a letter", req: routeRequest{Name: "1www", Host: "a.example.com", PortName: "http"}, wantFields: []string{"name"}},
		{name: "host with a port", req: routeRequest{Name: "a", Host: "a.example.com:80", PortName: "http"}, wantFields: []string{"host"}},
		{name: "wildcard in the middle", req: routeRequest{Name: "a", Host: "a.*.example.com", PortName: "http"}, wantFields: []string{"host"}},
		{name: "IPv6 host", req: routeRequest{Name: "a", Host: "::1", PortName: "http"}, wantFields: []string{"host"}},
		{name: "query in path", req: routeRequest{Name: "a", Host: "a.example.com", Path: "/a?b", PortName: "http"}, wantFields: []string{"path"}},
		{name: "space in path", req: routeRequest{Name: "a", Host: "a.example.com", Path: "/a b", PortName: "http"}, wantFields: []string{"path"}},
		{name: "negative weight", req: routeRequest{Name: "a", Host: "a.example.com", Weight: weight(-1), PortName: "http"}, wantFields: []string{"weight"}},
		{name: "host header", req: routeRequest{Name: "a", Host: "a.example.com", Header: &contract.RouteMatch{Name: "host", Value: "x"}, PortName: "http"},
			wantFields: []string{"header.name"}},
		{name: "header value with a newline", req: routeRequest{Name: "a", Host: "a.example.com", Header: &contract.RouteMatch{Name: "X-A", Value: "a\nb"}, PortName: "http"},
			wantFields: []string{"header.value"}},
		{name: "cookie name with =", req: routeRequest{Name: "a", Host: "a.example.com", Cookie: &contract.RouteMatch{Name: "a=b", Value: "x"}, PortName: "http"},
			wantFields: []string{"cookie.name"}},
		{name: "certificate name", req: routeRequest{Name: "a", Host: "a.example.com", Certificate: "Bad_Name", PortName: "http"}, wantFields: []string{"certificate"}},
		{name: "http on a UDP port", req: routeRequest{Name: "a", Host: "a.example.com", PortName: "dns"}, wantFields: []string{"portName"}},
		{name: "listen port on HTTP", req: routeRequest{Name: "a", Host: "a.example.com", PortName: "http", ListenPort: 80}, wantFields: []string{"listenPort"}},
		{name: "gateway port out of range", req: routeRequest{Name: "a", Kind: "tcp", PortName: "http", ListenPort: 70000}, wantFields: []string{"listenPort"}},
		{name: "HTTP fields on a udp route", req: routeRequest{Name: "a", Kind: "udp", PortName: "dns", ListenPort: 53, Path: "/", PathType: "Prefix",
			Cookie: &contract.RouteMatch{Name: "a"}, Weight: weight(1), Certificate: "c", ForceHTTPS: true},
			wantFields: []string{"path", "pathType", "cookie", "weight", "certificate", "forceHttps"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var errs fieldErrors
			got := checkedRoute(&errs, tt.req, spec)
			if len(tt.wantFields) == 0 {
				require.Empty(t, errs)
				require.Equal(t, tt.want, got)
				return
			}
			var fields []string
			for _, e := range errs {
				fields = append(fields, e.Field)
			}
			for _, f := range tt.wantFields {
				require.Contains(t, fields, f)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sans []string
		host string
		want bool
	}{
		{name: "exact", sans: []string{"shop.example.com"}, host: "shop.example.com", want: true},
		{name: "case", sans: []string{"Shop.Example.com"}, host: "shop.example.COM", want: true},
		{name: "wildcard one label", sans: []string{"*.example.com"}, host: "shop.example.com", want: true},
		{name: "wildcard not the apex", sans: []string{"*.example.com"}, host: "example.com"},
		{name: "wildcard not two labels", sans: []string{"*.example.com"}, host: "a.shop.example.com"},
		{name: "wildcard host by the same wildcard", sans: []string{"*.example.com"}, host: "*.example.com", want: true},
		{name: "wildcard host not by a name", sans: []string{"a.example.com"}, host: "*.example.com"},
		{name: "other name", sans: []string{"a.example.com", "b.example.com"}, host: "c.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, covers(tt.sans, tt.host))
		})
	}
}
