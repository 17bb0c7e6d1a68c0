package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"
)

// Any replica accepts any request. Forwarding sends the part that belongs to another member to it: an
// ingest batch is split by the owner of each line's (tenant, app), the local part is committed here and
// the other parts are posted to their owners at the same time, and the request is acknowledged only when
// every part is. A read of a stream is served by the replica it enters, over every member's part of the
// stream (union.go); a tail is proxied whole to its owner (httputil.ReverseProxy also carries websocket
// upgrades), which backfills it from every member's part. A forwarded request carries ForwardedHeader and is served where it lands,
// so two replicas with different views of the members never bounce a request between them.

// ForwardedHeader marks a request forwarded by another member (its value is that member's name).
const ForwardedHeader = "X-Rainflow-Forwarded-By"

// cluster is what a replica needs to share the apps with others and to follow runtime output; its zero
// value is a single collector that follows nothing.
type cluster struct {
	// members is this replica's view of the replicas sharing the apps; nil for a single collector.
	members       *membership
	forwardClient *http.Client
	kube          kubernetes.Interface
	// follower is the runtime follower while Run runs (for the handover endpoint); nil otherwise.
	follower atomic.Pointer[follower]
	// openLog replaces the Kubernetes log reads of the follower in tests; nil reads through kube.
	openLog logOpener
}

// UseKubernetes gives the collector the Kubernetes client that following runtime output and finding the
// members through EndpointSlices need. It must be called before Run.
func (c *Collector) UseKubernetes(cs kubernetes.Interface) { c.kube = cs }

// initCluster sets up the member list from the config; New calls it.
func (c *Collector) initCluster() error {
	c.cfg.Partition = c.cfg.Partition.withDefaults() // here, so that Config's defaults stay its own
	c.forwardClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	if !c.cfg.enabled() {
		return nil
	}
	static, err := c.cfg.staticMembers()
	if err != nil {
		return fmt.Errorf("parse members: %w", err)
	}
	c.members = newMembership(c.cfg.Self, static)
	return nil
}

// forwarding wraps the API with forwarding, when this replica shares the apps with others.
func (c *Collector) forwarding(next http.Handler) http.Handler {
	if c.members == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(ForwardedHeader) != "" && !c.members.draining.Load() { // a draining replica passes everything on
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodPost && r.URL.Path == "/v1/ingest" {
			c.forwardIngest(w, r)
			return
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, "/v1/streams/"); ok {
			// reads are served here over every member (union.go); tails are proxied to the owner
			if parts := strings.SplitN(rest, "/", 4); len(parts) == 4 && !strings.HasSuffix(parts[3], "/lines") {
				if owner, local, ok := c.members.owner(parts[1], parts[2]); ok && !local {
					c.proxyTo(owner).ServeHTTP(w, r)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// proxyTo is a reverse proxy to a member; it flushes at once, so that tails stream.
func (c *Collector) proxyTo(m Member) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			target, _ := url.Parse(m.URL) // parsed by ParseMember or built from an endpoint
			pr.SetURL(target)
			pr.Out.Header.Set(ForwardedHeader, c.cfg.Self)
		},
		Transport:     c.forwardClient.Transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			c.logger.Warn("proxy to member", "member", m.Name, "path", r.URL.Path, "err", err)
			writeProblem(w, http.StatusBadGateway, fmt.Sprintf("the collector that owns this app (%s) did not answer: %v", m.Name, err), 0)
		},
	}
}

// part is the share of an ingest batch one member owns.
type part struct {
	owner  Member
	local  bool
	groups []*group
	lines  int
	bytes  int
}

// forwardIngest is POST /v1/ingest on a replica sharing the apps: validated whole here, then split.
func (c *Collector) forwardIngest(w http.ResponseWriter, r *http.Request) {
	rn := c.live(w)
	if rn == nil {
		return
	}
	b, ok := c.readIngest(w, r)
	if !ok {
		return
	}
	parts, err := c.split(b)
	if err != nil {
		writeProblem(w, http.StatusServiceUnavailable, err.Error(), 0)
		return
	}
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() {
			if p.local {
				errs[i] = rn.committer.submit(r.Context(), &batch{groups: p.groups, lines: p.lines, bytes: p.bytes})
				return
			}
			errs[i] = c.postPart(r.Context(), p)
		})
	}
	wg.Wait()
	status, stored := http.StatusOK, 0
	var details []string
	for i, err := range errs {
		if err == nil {
			stored += parts[i].lines
			continue
		}
		c.logger.Warn("ingest part not acknowledged", "member", parts[i].owner.Name, "lines", parts[i].lines, "err", err)
		details = append(details, fmt.Sprintf("%d lines for %s: %v", parts[i].lines, parts[i].owner.Name, err))
		var pe *partError
		switch {
		case errors.As(err, &pe) && pe.status < 500 && pe.status != http.StatusTooManyRequests:
			status = pe.status
		case status == http.StatusOK:
			status = http.StatusServiceUnavailable
		}
	}
	if status != http.StatusOK {
		writeProblem(w, status, fmt.Sprintf("%d of %d lines stored; not stored: %s", stored, b.lines, strings.Join(details, "; ")), 0)
		return
	}
	writeJSON(w, http.StatusOK, IngestResult{Accepted: b.lines})
}

// split groups a batch's streams by owner, in the order the owners first appear.
func (c *Collector) split(b *batch) ([]*part, error) {
	var parts []*part
	byOwner := make(map[string]*part)
	for _, g := range b.groups {
		owner, local, ok := c.members.owner(g.key.Tenant, g.key.App)
		if !ok {
			return nil, errors.New("no collector replica is live to own these lines; retry later")
		}
		p := byOwner[owner.Name]
		if p == nil {
			p = &part{owner: owner, local: local}
			byOwner[owner.Name] = p
			parts = append(parts, p)
		}
		p.groups = append(p.groups, g)
		p.lines += len(g.lines)
		p.bytes += len(g.records)
	}
	return parts, nil
}

// partError is a member's refusal of a forwarded part.
type partError struct {
	status int
	detail string
}

func (e *partError) Error() string { return fmt.Sprintf("%d %s", e.status, e.detail) }

// postPart sends a part's lines (already validated and normalized) to their owner, gzip'd NDJSON.
func (c *Collector) postPart(ctx context.Context, p *part) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	for _, g := range p.groups {
		for i := range g.lines {
			if err := enc.Encode(&g.lines[i]); err != nil {
				return fmt.Errorf("encode line: %w", err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress lines: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ForwardTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.owner.URL+"/v1/ingest", &buf)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set(ForwardedHeader, c.cfg.Self)
	res, err := c.forwardClient.Do(req)
	if err != nil {
		return fmt.Errorf("forward lines: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode == http.StatusOK {
		return nil
	}
	return newPartError(res.StatusCode, body)
}

// newPartError is a member's refusal from its answer: the problem's detail, or the body as it is.
func newPartError(status int, body []byte) *partError {
	var prob Problem
	detail := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &prob) == nil && prob.Detail != "" {
		detail = prob.Detail
	}
	return &partError{status: status, detail: detail}
}

// readIngest reads and validates an ingest request whole, as handleIngest does, answering the problem
// itself when it fails.
func (c *Collector) readIngest(w http.ResponseWriter, r *http.Request) (*batch, bool) {
	body := http.MaxBytesReader(w, r.Body, int64(c.cfg.MaxBatchBytes))
	var in io.Reader = body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(body)
		if err != nil {
			writeBodyError(w, err, "read gzip body")
			return nil, false
		}
		defer gz.Close()
		in = gz
	default:
		writeProblem(w, http.StatusUnsupportedMediaType, fmt.Sprintf("content encoding %q is not supported; use gzip or none", enc), 0)
		return nil, false
	}
	bodyErr := &errRecorder{r: in}
	limited := &io.LimitedReader{R: bodyErr, N: int64(c.cfg.MaxBatchBytes) + 1}
	b, lineNo, err := parseBatch(limited, c.cfg.MaxLineBytes, time.Now())
	switch {
	case bodyErr.err != nil:
		writeBodyError(w, bodyErr.err, "read body")
	case limited.N <= 0:
		writeProblem(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body is larger than %d bytes (after decoding); send fewer lines per request", c.cfg.MaxBatchBytes), 0)
	case err != nil && lineNo > 0:
		writeProblem(w, http.StatusBadRequest, fmt.Sprintf("line %d: %v; nothing was written", lineNo, err), lineNo)
	case err != nil:
		writeBodyError(w, err, "read body")
	default:
		return b, true
	}
	return nil, false
}
