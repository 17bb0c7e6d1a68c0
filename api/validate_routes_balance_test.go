package api

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
)

func TestCheckedLoadBalance(t *testing.T) {
	t.Parallel()
	spec := contract.ComponentSpec{Ports: []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}, {Name: "dns", Port: 53, Protocol: "UDP"}}}
	lb := func(policy contract.LoadBalancePolicy, hashBy string) *contract.RouteLoadBalance {
		return &contract.RouteLoadBalance{Policy: policy, HashBy: hashBy}
	}
	httpReq := func(b *contract.RouteLoadBalance) routeRequest {
		return routeRequest{Name: "www", Host: "www.example.com", PortName: "http", LoadBalance: b}
	}
	tcpReq := func(b *contract.RouteLoadBalance) routeRequest {
		return routeRequest{Name: "db", Kind: contract.RouteTCP, PortName: "http", ListenPort: 15432, LoadBalance: b}
	}
	udpReq := func(b *contract.RouteLoadBalance) routeRequest {
		return routeRequest{Name: "dns", Kind: contract.RouteUDP, PortName: "dns", ListenPort: 5353, LoadBalance: b}
	}
	long := strings.Repeat("a", maxMatchName+1)
	tests := []struct {
		name    string
		req     routeRequest
		want    *contract.RouteLoadBalance // checked when wantErr is empty
		field   string
		wantErr string // the whole reason of the one error
	}{
		{name: "absent stays absent", req: httpReq(nil)},
		{name: "empty is round-robin", req: httpReq(lb("", "")), want: lb(contract.LoadBalanceRoundRobin, "")},
		{name: "http round-robin", req: httpReq(lb("round-robin", "")), want: lb(contract.LoadBalanceRoundRobin, "")},
		{name: "http least-connections", req: httpReq(lb("least-connections", "")), want: lb(contract.LoadBalanceLeastConnections, "")},
		{name: "http peak-ewma", req: httpReq(lb("peak-ewma", "")), want: lb(contract.LoadBalancePeakEWMA, "")},
		{name: "http hash by client ip", req: httpReq(lb("consistent-hash", "client-ip")), want: lb(contract.LoadBalanceConsistentHash, "client-ip")},
		{name: "http hash by header, name kept", req: httpReq(lb("consistent-hash", "header:x-user")),
			want: lb(contract.LoadBalanceConsistentHash, "header:x-user")},
		{name: "http hash by cookie", req: httpReq(lb("consistent-hash", "cookie:session")), want: lb(contract.LoadBalanceConsistentHash, "cookie:session")},
		{name: "tcp least-connections", req: tcpReq(lb("least-connections", "")), want: lb(contract.LoadBalanceLeastConnections, "")},
		{name: "tcp hash defaults to client ip", req: tcpReq(lb("consistent-hash", "")), want: lb(contract.LoadBalanceConsistentHash, "client-ip")},
		{name: "udp hash by client ip", req: udpReq(lb("consistent-hash", "client-ip")), want: lb(contract.LoadBalanceConsistentHash, "client-ip")},
		{name: "udp round-robin", req: udpReq(lb("round-robin", "")), want: lb(contract.LoadBalanceRoundRobin, "")},

		{name: "http unknown policy", req: httpReq(lb("random", "")), field: "loadBalance.policy",
			wantErr: `"random" is not round-robin, least-connections, consistent-hash or peak-ewma`},
		{name: "policy is case-sensitive", req: httpReq(lb("Round-Robin", "")), field: "loadBalance.policy",
			wantErr: `"Round-Robin" is not round-robin, least-connections, consistent-hash or peak-ewma`},
		{name: "http hash without a key", req: httpReq(lb("consistent-hash", "")), field: "loadBalance.hashBy",
			wantErr: "is required with policy consistent-hash: client-ip, header:<name> or cookie:<name>"},
		{name: "http hash by an unknown key", req: httpReq(lb("consistent-hash", "query:id")), field: "loadBalance.hashBy",
			wantErr: `"query:id" is not client-ip, header:<name> or cookie:<name> (a name: letters, digits and !#$%&'*+-.^_` + "`" + `|~, at most 256)`},
		{name: "http hash by a header without a name", req: httpReq(lb("consistent-hash", "header:")), field: "loadBalance.hashBy",
			wantErr: `"header:" is not client-ip, header:<name> or cookie:<name> (a name: letters, digits and !#$%&'*+-.^_` + "`" + `|~, at most 256)`},
		{name: "http hash by a header name with a space", req: httpReq(lb("consistent-hash", "header:X User")), field: "loadBalance.hashBy",
			wantErr: `"header:X User" is not client-ip, header:<name> or cookie:<name> (a name: letters, digits and !#$%&'*+-.^_` + "`" + `|~, at most 256)`},
		{name: "http hash by a cookie name too long", req: httpReq(lb("consistent-hash", "cookie:"+long)), field: "loadBalance.hashBy",
			wantErr: `"cookie:` + long + `" is not client-ip, header:<name> or cookie:<name> (a name: letters, digits and !#$%&'*+-.^_` + "`" + `|~, at most 256)`},
		{name: "http prefix is lower case", req: httpReq(lb("consistent-hash", "Header:X-User")), field: "loadBalance.hashBy",
			wantErr: `"Header:X-User" is not client-ip, header:<name> or cookie:<name> (a name: letters, digits and !#$%&'*+-.^_` + "`" + `|~, at most 256)`},
		{name: "hash key without consistent-hash", req: httpReq(lb("least-connections", "client-ip")), field: "loadBalance.hashBy",
			wantErr: "is for policy consistent-hash only, not least-connections"},
		{name: "hash key with the default policy", req: httpReq(lb("", "header:X-User")), field: "loadBalance.hashBy",
			wantErr: "is for policy consistent-hash only, not round-robin"},
		{name: "tcp peak-ewma", req: tcpReq(lb("peak-ewma", "")), field: "loadBalance.policy",
			wantErr: "peak-ewma weighs HTTP response latency, which a tcp route does not have: round-robin, least-connections or consistent-hash"},
		{name: "udp peak-ewma", req: udpReq(lb("peak-ewma", "")), field: "loadBalance.policy",
			wantErr: "peak-ewma weighs HTTP response latency, which a udp route does not have: round-robin, least-connections or consistent-hash"},
		{name: "tcp unknown policy", req: tcpReq(lb("fastest", "")), field: "loadBalance.policy",
			wantErr: `"fastest" is not round-robin, least-connections or consistent-hash`},
		{name: "tcp hash by a header", req: tcpReq(lb("consistent-hash", "header:X-User")), field: "loadBalance.hashBy",
			wantErr: `"header:X-User" is not client-ip, the only key of consistent-hash on a tcp route`},
		{name: "udp hash by a cookie", req: udpReq(lb("consistent-hash", "cookie:s")), field: "loadBalance.hashBy",
			wantErr: `"cookie:s" is not client-ip, the only key of consistent-hash on a udp route`},
		{name: "tcp hash key without consistent-hash", req: tcpReq(lb("round-robin", "client-ip")), field: "loadBalance.hashBy",
			wantErr: "is for policy consistent-hash only, not round-robin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var errs fieldErrors
			got := checkedRoute(&errs, tt.req, spec)
			if tt.wantErr == "" {
				require.Empty(t, errs)
				require.Equal(t, tt.want, got.LoadBalance)
				if tt.req.LoadBalance != nil {
					require.NotSame(t, tt.req.LoadBalance, got.LoadBalance, "the request is not aliased")
				}
				return
			}
			require.Equal(t, fieldErrors{{Field: tt.field, Reason: tt.wantErr}}, errs)
		})
	}
}

func TestPolicyList(t *testing.T) {
	t.Parallel()
	require.Equal(t, "round-robin, least-connections, consistent-hash or peak-ewma", policyList(contract.LoadBalancePolicies(contract.RouteHTTP)))
	require.Equal(t, "round-robin, least-connections or consistent-hash", policyList(contract.LoadBalancePolicies(contract.RouteUDP)))
}
