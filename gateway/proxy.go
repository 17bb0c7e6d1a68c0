package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// proxy routes each request with the current snapshot and reverse-proxies it to one ready endpoint,
// applying the matched rule's options. Answers of its own: 404 when no rule matches, 503 when the backend
// has no ready endpoint (or no snapshot is published yet), 502 when the chosen endpoint cannot be
// reached, 504 when it does not answer within the rule's timeouts, 308 to HTTPS when the rule forces it,
// 413 when the request body is over the rule's limit.
type proxy struct {
	table     *atomic.Pointer[Table]
	transport *http.Transport
	rp        *httputil.ReverseProxy
	logger    *slog.Logger
}

// defaultConnectTimeout bounds an upstream dial when the rule sets no connect timeout.
const defaultConnectTimeout = 5 * time.Second

// errReadTimeout is the cause of a request context canceled because the upstream's response headers
// did not arrive within the rule's read timeout.
var errReadTimeout = errors.New("upstream read timeout")

func newProxy(table *atomic.Pointer[Table], logger *slog.Logger) *proxy {
	p := &proxy{table: table, transport: newTransport(), logger: logger}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      &retryTransport{base: p.transport},
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BufferPool:     newBufferPool(32 << 10),
	}
	return p
}

// newTransport is the one upstream transport of a gateway: keep-alive pools sized for many endpoints,
// bodies passed through as they are (no transparent compression), no time limit on a response once it
// started (streams and WebSockets). Dials take the rule's connect timeout.
func newTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: defaultConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			// The dial's context keeps the request's values (not its cancellation).
			if ex := exchangeFrom(ctx); ex != nil && ex.route != nil && ex.route.Options.ConnectTimeout > 0 {
				d := *dialer
				d.Timeout = ex.route.Options.ConnectTimeout
				return d.DialContext(ctx, network, addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ReadBufferSize:        32 << 10,
		WriteBufferSize:       32 << 10,
	}
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeFrom(r.Context())
	if ex == nil {
		ex = &exchange{}
		r = r.WithContext(withExchange(r.Context(), ex))
	}
	t := p.table.Load()
	if t == nil {
		plainError(w, http.StatusServiceUnavailable, "gateway not ready: no routing snapshot yet")
		return
	}
	rt, be := t.Match(r.Host, r.URL.Path, r.Header)
	if be == nil {
		plainError(w, http.StatusNotFound, "no route for this host and path")
		return
	}
	ex.backend, ex.be = be.key, be
	var u *Upstream
	if rt != nil {
		ex.ingress, ex.route = rt.Ingress, rt
		o := &rt.Options
		if o.ForceHTTPS && r.TLS == nil {
			redirectHTTPS(w, r)
			return
		}
		if o.MaxBodySize > 0 {
			if r.ContentLength > o.MaxBodySize {
				plainError(w, http.StatusRequestEntityTooLarge, "request body too large")
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, o.MaxBodySize)
			}
		}
		if o.StickyCookie != "" {
			if h, err := strconv.ParseUint(cookieValue(r.Header, o.StickyCookie), 16, 64); err == nil {
				ex.sticky, ex.hasSticky = h, true
				u = be.sticky(h)
			}
		}
		if o.ReadTimeout > 0 {
			ctx, cancel := context.WithCancelCause(r.Context())
			defer cancel(nil)
			ex.readTimer = time.AfterFunc(o.ReadTimeout, func() { cancel(errReadTimeout) })
			defer ex.readTimer.Stop()
			r = r.WithContext(ctx)
		}
	}
	if u == nil {
		u = be.pick(r)
	}
	if u == nil {
		plainError(w, http.StatusServiceUnavailable, "no ready endpoint for service "+be.key)
		return
	}
	ex.upstream = u
	u.begin()
	defer func() { ex.upstream.end() }() // a retry may have moved to another upstream
	p.rp.ServeHTTP(w, r)
}

// redirectHTTPS answers 308 with the same URL over HTTPS on the default port.
func redirectHTTPS(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	w.Header().Set("Location", "https://"+host+r.URL.RequestURI())
	w.WriteHeader(http.StatusPermanentRedirect)
}

// rewrite points the outbound request at the chosen upstream, keeping the client's Host, rewrites the
// path when the rule says so, and sets X-Forwarded-For (appended to the client's), X-Forwarded-Host and
// X-Forwarded-Proto (https when the client came over TLS).
func (p *proxy) rewrite(pr *httputil.ProxyRequest) {
	ex := exchangeFrom(pr.In.Context())
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = ex.upstream.Addr
	pr.Out.Host = pr.In.Host
	if rt := ex.route; rt != nil && rt.Options.RewritePath != "" {
		pr.Out.URL.Path = rewritePath(rt, pr.In.URL.Path)
		pr.Out.URL.RawPath = ""
	}
	if prior := pr.In.Header["X-Forwarded-For"]; len(prior) > 0 {
		pr.Out.Header["X-Forwarded-For"] = prior
	}
	pr.SetXForwarded()
}

// rewritePath replaces the part of the request path p that rt matched with rt's rewrite path: an Exact
// rule's whole path, a Prefix rule's prefix (/api with rewrite /v1: /api/users becomes /v1/users).
func rewritePath(rt *route, p string) string {
	to := rt.Options.RewritePath
	if rt.PathType == PathExact {
		return to
	}
	rest := strings.TrimPrefix(cleanPath(p), rt.Path) // "" or starts with "/"
	if rest == "" {
		return to
	}
	return strings.TrimSuffix(to, "/") + rest
}

// modifyResponse records the upstream's status, stops the read timeout, drops the upstream's
// X-Request-ID (the answer carries the gateway's one only), sets the rule's response headers and the
// sticky cookie when the client did not already hold the upstream's one.
func (p *proxy) modifyResponse(res *http.Response) error {
	ex := exchangeFrom(res.Request.Context())
	if ex == nil {
		return nil
	}
	if ex.readTimer != nil {
		ex.readTimer.Stop()
	}
	ex.upstreamStatus = res.StatusCode
	res.Header.Del(HeaderRequestID)
	if rt := ex.route; rt != nil {
		for _, h := range rt.headers {
			res.Header[h.name] = h.values
		}
		if name := rt.Options.StickyCookie; name != "" && (!ex.hasSticky || ex.sticky != ex.upstream.hash) {
			res.Header.Add("Set-Cookie", name+"="+strconv.FormatUint(ex.upstream.hash, 16)+"; Path=/; HttpOnly; SameSite=Lax")
		}
	}
	return nil
}

// errorHandler answers 413 when the body went over the rule's limit, 504 when the upstream did not
// answer in time, nothing when the client went away, and 502 otherwise.
func (p *proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ex := exchangeFrom(r.Context())
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	code, msg := http.StatusBadGateway, "bad gateway: the upstream did not answer"
	switch {
	case errors.As(err, &tooLarge):
		code, msg = http.StatusRequestEntityTooLarge, "request body too large"
	case errors.Is(context.Cause(r.Context()), errReadTimeout):
		code, msg = http.StatusGatewayTimeout, "gateway timeout: the upstream did not answer in time"
	case r.Context().Err() != nil || errors.Is(err, context.Canceled):
		ex.clientGone = true
		return
	case errors.As(err, &netErr) && netErr.Timeout():
		code, msg = http.StatusGatewayTimeout, "gateway timeout: the upstream did not answer in time"
	}
	upstream := ""
	if ex.upstream != nil {
		upstream = ex.upstream.Addr
	}
	p.logger.Warn("proxy to upstream", "request_id", r.Header.Get(HeaderRequestID), "backend", ex.backend,
		"upstream", upstream, "status", code, "err", err)
	plainError(w, code, msg)
}

// plainError writes a short plain-text answer of the gateway's own.
func plainError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}

// bufferPool recycles the copy buffers of proxied bodies.
type bufferPool struct {
	pool sync.Pool
}

func newBufferPool(size int) *bufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, size); return &b }}}
}

func (p *bufferPool) Get() []byte  { return *p.pool.Get().(*[]byte) }
func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }
