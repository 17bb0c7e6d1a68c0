package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"
)

// proxy routes each request with the current snapshot and reverse-proxies it to one ready endpoint.
// Answers of its own: 404 when no rule matches, 503 when the backend has no ready endpoint (or no
// snapshot is published yet), 502 when the chosen endpoint cannot be reached.
type proxy struct {
	table     *atomic.Pointer[Table]
	transport *http.Transport
	rp        *httputil.ReverseProxy
	logger    *slog.Logger
}

func newProxy(table *atomic.Pointer[Table], logger *slog.Logger) *proxy {
	p := &proxy{table: table, transport: newTransport(), logger: logger}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      p.transport,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BufferPool:     newBufferPool(32 << 10),
	}
	return p
}

// newTransport is the one upstream transport of a gateway: keep-alive pools sized for many endpoints,
// bodies passed through as they are (no transparent compression), no time limit on a response once it
// started (streams and WebSockets).
func newTransport() *http.Transport {
	return &http.Transport{
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
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
	rt, be := t.Match(r.Host, r.URL.Path)
	if be == nil {
		plainError(w, http.StatusNotFound, "no route for this host and path")
		return
	}
	if rt != nil {
		ex.ingress = rt.Ingress
	}
	ex.backend = be.key
	u := be.pick(r)
	if u == nil {
		plainError(w, http.StatusServiceUnavailable, "no ready endpoint for service "+be.key)
		return
	}
	ex.upstream = u
	u.begin()
	defer u.end()
	p.rp.ServeHTTP(w, r)
}

// rewrite points the outbound request at the chosen upstream, keeping the client's Host, and sets
// X-Forwarded-For (appended to the client's), X-Forwarded-Host and X-Forwarded-Proto.
func (p *proxy) rewrite(pr *httputil.ProxyRequest) {
	ex := exchangeFrom(pr.In.Context())
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = ex.upstream.Addr
	pr.Out.Host = pr.In.Host
	if prior := pr.In.Header["X-Forwarded-For"]; len(prior) > 0 {
		pr.Out.Header["X-Forwarded-For"] = prior
	}
	pr.SetXForwarded()
}

// modifyResponse records the upstream's status and drops its X-Request-ID, so the answer carries the
// gateway's one only.
func (p *proxy) modifyResponse(res *http.Response) error {
	if ex := exchangeFrom(res.Request.Context()); ex != nil {
		ex.upstreamStatus = res.StatusCode
	}
	res.Header.Del(HeaderRequestID)
	return nil
}

// errorHandler answers 502 when the upstream failed, and nothing when the client went away.
// Retrying another endpoint on a failed dial is the load-balancing issue's job.
func (p *proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ex := exchangeFrom(r.Context())
	if r.Context().Err() != nil || errors.Is(err, context.Canceled) {
		ex.clientGone = true
		return
	}
	upstream := ""
	if ex.upstream != nil {
		upstream = ex.upstream.Addr
	}
	p.logger.Warn("proxy to upstream", "request_id", r.Header.Get(HeaderRequestID), "backend", ex.backend,
		"upstream", upstream, "err", err)
	plainError(w, http.StatusBadGateway, "bad gateway: the upstream did not answer")
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
