package api

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rainflow/rainflow/contract"
)

// checkedLoadBalance normalizes and validates a route's load-balancing policy for its kind, with the
// gateway's rules (contract.AnnotationLoadBalance): an empty policy is round-robin; consistent-hash
// hashes by client-ip, header:<name> or cookie:<name> on an HTTP route (one is required), by client-ip
// only on a TCP or UDP route (the default there); peak-ewma is for HTTP routes only; hashBy is for
// consistent-hash only. Nil stays nil: the route renders no annotation.
func checkedLoadBalance(errs *fieldErrors, kind contract.RouteKind, lb *contract.RouteLoadBalance) *contract.RouteLoadBalance {
	if lb == nil {
		return nil
	}
	out := *lb
	if out.Policy == "" {
		out.Policy = contract.LoadBalanceRoundRobin
	}
	policies := contract.LoadBalancePolicies(kind)
	switch {
	case out.Policy == contract.LoadBalancePeakEWMA && kind != contract.RouteHTTP:
		errs.add("loadBalance.policy", fmt.Sprintf("%s weighs HTTP response latency, which a %s route does not have: %s",
			out.Policy, kind, policyList(policies)))
		return &out
	case !slices.Contains(policies, out.Policy):
		errs.add("loadBalance.policy", fmt.Sprintf("%q is not %s", out.Policy, policyList(policies)))
		return &out
	}
	switch {
	case out.Policy != contract.LoadBalanceConsistentHash:
		if out.HashBy != "" {
			errs.add("loadBalance.hashBy", fmt.Sprintf("is for policy %s only, not %s", contract.LoadBalanceConsistentHash, out.Policy))
		}
	case kind != contract.RouteHTTP:
		if out.HashBy == "" {
			out.HashBy = contract.HashByClientIP
		}
		if out.HashBy != contract.HashByClientIP {
			errs.add("loadBalance.hashBy", fmt.Sprintf("%q is not %s, the only key of %s on a %s route",
				out.HashBy, contract.HashByClientIP, contract.LoadBalanceConsistentHash, kind))
		}
	case out.HashBy == "":
		errs.add("loadBalance.hashBy", fmt.Sprintf("is required with policy %s: %s", contract.LoadBalanceConsistentHash, hashKeys))
	case !validHashBy(out.HashBy):
		errs.add("loadBalance.hashBy", fmt.Sprintf("%q is not %s (a name: letters, digits and !#$%%&'*+-.^_`|~, at most %d)",
			out.HashBy, hashKeys, maxMatchName))
	}
	return &out
}

// hashKeys are the keys of consistent-hash on an HTTP route, as a message says them.
const hashKeys = contract.HashByClientIP + ", " + contract.HashByHeader + "<name> or " + contract.HashByCookie + "<name>"

// validHashBy: client-ip, or header:/cookie: and a token, exactly the gateway's syntax.
func validHashBy(s string) bool {
	if s == contract.HashByClientIP {
		return true
	}
	for _, prefix := range []string{contract.HashByHeader, contract.HashByCookie} {
		if name, ok := strings.CutPrefix(s, prefix); ok {
			return isToken(name) && len(name) <= maxMatchName
		}
	}
	return false
}

// policyList says the policies as a message lists them: "a, b or c".
func policyList(policies []contract.LoadBalancePolicy) string {
	names := make([]string, len(policies))
	for i, p := range policies {
		names[i] = string(p)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
