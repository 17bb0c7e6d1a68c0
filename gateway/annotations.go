package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rainflow/rainflow/contract"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Annotations the gateway reads on an Ingress besides contract's (match header/cookie, canary weight,
// force HTTPS): the control plane does not render them today, an operator may set them by hand. They
// apply to every rule of the Ingress; its default backend ignores them.
const (
	// AnnotationRewritePath replaces the matched path before proxying: with path /api and rewrite-path
	// "/", /api/users reaches the backend as /users. An absolute, unescaped path without '?', '#', '%',
	// empty elements or dot segments.
	AnnotationRewritePath = "rainflow.io/rewrite-path"
	// AnnotationConnectTimeout bounds the dial of an upstream: a Go duration, up to 1m. Default 5s.
	AnnotationConnectTimeout = "rainflow.io/connect-timeout"
	// AnnotationReadTimeout bounds the wait for the upstream's response headers (not the body, so
	// streams and WebSockets are not cut): a Go duration, up to 1h. Default none.
	AnnotationReadTimeout = "rainflow.io/read-timeout"
	// AnnotationRetries is how many other upstreams ("0" to "5") an idempotent request without a body
	// is tried on when its upstream cannot be dialed or answers 502.
	AnnotationRetries = "rainflow.io/retries"
	// AnnotationMaxBodySize limits request bodies (413 above it): a Kubernetes quantity ("10Mi", "1000").
	AnnotationMaxBodySize = "rainflow.io/max-body-size"
	// AnnotationStickyCookie names a cookie that pins a client to the upstream that first served it.
	AnnotationStickyCookie = "rainflow.io/sticky-cookie"
	// AnnotationResponseHeaders are headers set on every answer, one "Name: value" per line.
	AnnotationResponseHeaders = "rainflow.io/response-headers"
	// AnnotationLoadBalance is the load-balancing policy: "round-robin" (the default),
	// "least-connections", "consistent-hash" or "peak-ewma".
	AnnotationLoadBalance = contract.AnnotationLoadBalance
	// AnnotationHashBy is what consistent-hash hashes: "client-ip", "header:<name>" or "cookie:<name>".
	AnnotationHashBy = contract.AnnotationHashBy
)

// Bounds of the annotations' values.
const (
	maxConnectTimeout = time.Minute
	maxReadTimeout    = time.Hour
	maxRetries        = 5
)

// reservedResponseHeaders are headers the response-headers annotation may not set: they frame the
// message, belong to the hop, or are the gateway's own.
var reservedResponseHeaders = []string{
	"Connection", "Content-Length", "Keep-Alive", "Proxy-Connection", "Set-Cookie", "Te", "Trailer",
	"Transfer-Encoding", "Upgrade", HeaderRequestID,
}

// ruleAnnotations is what an Ingress's annotations say about each of its rules.
type ruleAnnotations struct {
	header, cookie *ValueMatch
	canary         bool
	weight         int32
	options        RouteOptions
}

// parseAnnotations reads an Ingress's annotations. Each invalid one is a message in errs; the caller
// rejects the Ingress's rules when there is any, so no invalid value ever reaches the proxy.
func parseAnnotations(a map[string]string) (out ruleAnnotations, errs []string) {
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("annotation %s: %s", name, fmt.Sprintf(format, args...)))
	}
	var err error

	out.header = parseMatch(a, contract.AnnotationHeaderName, contract.AnnotationHeaderValue, validHeaderValue, fail)
	if out.header != nil {
		out.header.Name = http.CanonicalHeaderKey(out.header.Name)
	}
	out.cookie = parseMatch(a, contract.AnnotationCookieName, contract.AnnotationCookieValue, validCookieValue, fail)

	if v, ok := a[contract.AnnotationCanaryWeight]; ok {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 || n > 100 {
			fail(contract.AnnotationCanaryWeight, "%q is not an integer from 0 to 100", v)
		} else {
			out.canary, out.weight = true, int32(n)
		}
	}
	if v, ok := a[contract.AnnotationForceHTTPS]; ok {
		switch v {
		case "true":
			out.options.ForceHTTPS = true
		case "false":
		default:
			fail(contract.AnnotationForceHTTPS, "%q is neither \"true\" nor \"false\"", v)
		}
	}
	if v, ok := a[AnnotationRewritePath]; ok {
		if msg := checkRewritePath(v); msg != "" {
			fail(AnnotationRewritePath, "%q %s", v, msg)
		} else {
			out.options.RewritePath = v
		}
	}
	if out.options.ConnectTimeout, err = parseTimeout(a, AnnotationConnectTimeout, maxConnectTimeout); err != nil {
		fail(AnnotationConnectTimeout, "%v", err)
	}
	if out.options.ReadTimeout, err = parseTimeout(a, AnnotationReadTimeout, maxReadTimeout); err != nil {
		fail(AnnotationReadTimeout, "%v", err)
	}
	if v, ok := a[AnnotationRetries]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxRetries {
			fail(AnnotationRetries, "%q is not an integer from 0 to %d", v, maxRetries)
		} else {
			out.options.Retries = n
		}
	}
	if v, ok := a[AnnotationMaxBodySize]; ok {
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() <= 0 || q.Value() <= 0 {
			fail(AnnotationMaxBodySize, "%q is not a positive quantity of bytes", v)
		} else {
			out.options.MaxBodySize = q.Value()
		}
	}
	if v, ok := a[AnnotationStickyCookie]; ok {
		if !validToken(v) {
			fail(AnnotationStickyCookie, "%q is not a valid cookie name", v)
		} else {
			out.options.StickyCookie = v
		}
	}
	if v, ok := a[AnnotationResponseHeaders]; ok {
		headers, msgs := parseResponseHeaders(v)
		for _, msg := range msgs {
			fail(AnnotationResponseHeaders, "%s", msg)
		}
		out.options.ResponseHeaders = headers
	}
	if out.options.Balance, err = parseBalance(a); err != nil {
		fail(AnnotationLoadBalance, "%v", err)
	}
	return out, errs
}

// parseMatch reads a name/value annotation pair; both or neither must be set.
func parseMatch(a map[string]string, nameKey, valueKey string, validValue func(string) bool,
	fail func(name, format string, args ...any)) *ValueMatch {
	name, hasName := a[nameKey]
	value, hasValue := a[valueKey]
	switch {
	case !hasName && !hasValue:
		return nil
	case !hasName:
		fail(valueKey, "set without %s", nameKey)
	case !hasValue:
		fail(nameKey, "set without %s", valueKey)
	case !validToken(name):
		fail(nameKey, "%q is not a valid name", name)
	case value == "" || !validValue(value):
		fail(valueKey, "%q is not a valid value", value)
	default:
		return &ValueMatch{Name: name, Value: value}
	}
	return nil
}

func parseTimeout(a map[string]string, key string, upTo time.Duration) (time.Duration, error) {
	v, ok := a[key]
	if !ok {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > upTo {
		return 0, fmt.Errorf("%q is not a duration above 0 and up to %s", v, upTo)
	}
	return d, nil
}

func checkRewritePath(p string) string {
	switch {
	case !strings.HasPrefix(p, "/"):
		return "is not an absolute path"
	case strings.ContainsAny(p, "?#%\\ \t") || !validHeaderValue(p):
		return "holds '?', '#', '%', '\\', a space or a control character"
	case strings.Contains(p, "//") || slices.Contains(strings.Split(p, "/"), "..") || slices.Contains(strings.Split(p, "/"), "."):
		return "holds an empty element or a dot segment"
	}
	return ""
}

// parseResponseHeaders reads "Name: value" lines; blank lines are skipped. Names are canonicalized,
// the result sorted by name.
func parseResponseHeaders(v string) ([]HeaderValue, []string) {
	var out []HeaderValue
	var errs []string
	for i, line := range strings.Split(v, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		value = strings.TrimSpace(value)
		switch {
		case !ok || !validToken(name):
			errs = append(errs, fmt.Sprintf("line %d: not \"Name: value\" with a valid header name", i+1))
			continue
		case !validHeaderValue(value):
			errs = append(errs, fmt.Sprintf("line %d: the value of %s holds a control character", i+1, name))
			continue
		}
		name = http.CanonicalHeaderKey(name)
		if slices.Contains(reservedResponseHeaders, name) {
			errs = append(errs, fmt.Sprintf("line %d: %s may not be set", i+1, name))
			continue
		}
		if slices.ContainsFunc(out, func(h HeaderValue) bool { return h.Name == name }) {
			errs = append(errs, fmt.Sprintf("line %d: %s is set twice", i+1, name))
			continue
		}
		out = append(out, HeaderValue{Name: name, Value: value})
	}
	slices.SortFunc(out, func(a, b HeaderValue) int { return strings.Compare(a.Name, b.Name) })
	return out, errs
}

func parseBalance(a map[string]string) (Balance, error) {
	policy, hashBy := a[AnnotationLoadBalance], a[AnnotationHashBy]
	var b Balance
	switch policy {
	case "", string(contract.LoadBalanceRoundRobin):
	case string(BalanceLeastConnections), string(BalancePeakEWMA):
		b.Policy = BalancePolicy(policy)
	case string(BalanceHash):
		b.Policy = BalanceHash
		kind, name, _ := strings.Cut(hashBy, ":")
		switch {
		case hashBy == contract.HashByClientIP:
		case kind == "header" && validToken(name):
			hashBy = "header:" + http.CanonicalHeaderKey(name)
		case kind == "cookie" && validToken(name):
		default:
			return Balance{}, fmt.Errorf("%s %q is not \"client-ip\", \"header:<name>\" or \"cookie:<name>\"", AnnotationHashBy, hashBy)
		}
		b.HashBy = hashBy
		return b, nil
	default:
		return Balance{}, fmt.Errorf("%q is not round-robin, least-connections, consistent-hash or peak-ewma", policy)
	}
	if hashBy != "" {
		return Balance{}, fmt.Errorf("%s is set but the policy is not consistent-hash", AnnotationHashBy)
	}
	return b, nil
}

// validToken reports whether s is an RFC 9110 token: a valid header or cookie name.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c <= ' ' || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 || c == 0x7f {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s holds no control character other than a tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validCookieValue reports whether s is made of RFC 6265 cookie-octets.
func validCookieValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}
