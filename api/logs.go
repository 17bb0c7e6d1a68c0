package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/rainflow/rainflow/collector"
	"github.com/rainflow/rainflow/contract"
)

// Logs are the collector's: the API checks who may read which stream, then reads it from the collector
// (or follows it there) on the caller's behalf. The streams:
//
//	GET .../operations/{operation}/logs        an operation's event log (each step's start, progress,
//	GET .../operations/{operation}/logs/tail   retry and end; ?kind=build: a build's output), paginated,
//	                                           or followed over a websocket
//	GET .../components/{component}/logs        a component's runtime output (?kind=access: the gateway's
//	GET .../components/{component}/logs/tail   access log of it), paginated, or followed
//
// A read passes since, until, q, limit and cursor on; a tail passes backfill and q. The collector's
// answers come back as they are (its problems as the API's).

// logPage is one page of a stream, as the collector answers it.
type logPage struct {
	// Stream is "kind/tenant/app/name".
	Stream string    `json:"stream"`
	Lines  []logLine `json:"lines"`
	// Cursor continues the read; with more false, reading from it later answers the lines written since.
	Cursor string `json:"cursor"`
	More   bool   `json:"more"`
}

// logLine is one line of a stream: the collector's line, as it answers it.
type logLine = collector.Line

// Stream kinds, as the collector names them.
const (
	streamEvent   = "event"
	streamBuild   = "build"
	streamRuntime = "runtime"
	streamAccess  = "access"
)

// collectorStream is the collector's path of a stream, escaped.
func collectorStream(kind, tenant, app, name string) string {
	return "/v1/streams/" + kind + "/" + url.PathEscape(tenant) + "/" + url.PathEscape(app) + "/" + url.PathEscape(name)
}

// operationStream is the path of an operation's event stream: its tenant, app and id, from its workflow
// id (so that the log of an app deleted since stays readable). Tenant operations have none.
func (s *Server) operationStream(r *http.Request) (string, error) {
	_, op, err := s.operationOf(r)
	if err != nil {
		return "", err
	}
	n, ok := contract.ParseOperationWorkflowID(op.WorkflowID)
	if !ok {
		return "", notFound("operation %s (%s) keeps no event log: only app and component operations do", op.ID, op.Kind)
	}
	kind := streamEvent
	switch k := r.URL.Query().Get("kind"); k {
	case "", streamEvent:
	case streamBuild:
		if op.Kind != contract.OperationBuild {
			return "", badRequest("kind", fmt.Sprintf("operation %s is a %s: only builds have build output", op.ID, op.Kind))
		}
		kind = streamBuild
	default:
		return "", badRequest("kind", fmt.Sprintf("%q is not event or build", k))
	}
	return collectorStream(kind, n.Tenant, n.App, op.ID), nil
}

// componentStream is the path of a component's runtime (or, with ?kind=access, access) stream.
func (s *Server) componentStream(r *http.Request) (string, error) {
	t, a, c, err := s.componentOf(r)
	if err != nil {
		return "", err
	}
	kind := streamRuntime
	switch k := r.URL.Query().Get("kind"); k {
	case "", streamRuntime:
	case streamAccess:
		kind = streamAccess
	default:
		return "", badRequest("kind", fmt.Sprintf("%q is not runtime or access", k))
	}
	return collectorStream(kind, t.Name, a.Name, c.Name), nil
}

func (s *Server) getOperationLogs(w http.ResponseWriter, r *http.Request) error {
	path, err := s.operationStream(r)
	if err != nil {
		return err
	}
	return s.readLogs(w, r, path)
}

func (s *Server) tailOperationLogs(w http.ResponseWriter, r *http.Request) error {
	path, err := s.operationStream(r)
	if err != nil {
		return err
	}
	return s.tailLogs(w, r, path)
}

func (s *Server) getComponentLogs(w http.ResponseWriter, r *http.Request) error {
	path, err := s.componentStream(r)
	if err != nil {
		return err
	}
	return s.readLogs(w, r, path)
}

func (s *Server) tailComponentLogs(w http.ResponseWriter, r *http.Request) error {
	path, err := s.componentStream(r)
	if err != nil {
		return err
	}
	return s.tailLogs(w, r, path)
}

// collectorURL is the collector's URL of a stream's path plus the named query parameters of r.
func (s *Server) collectorURL(r *http.Request, path string, params ...string) (*url.URL, error) {
	if s.cfg.CollectorURL == "" {
		return nil, &Problem{Type: typeLogsUnavailable, Status: http.StatusServiceUnavailable,
			Detail: "no collector is configured for this API (--collector-url): logs cannot be read"}
	}
	u, err := url.Parse(strings.TrimSuffix(s.cfg.CollectorURL, "/") + path)
	if err != nil {
		return nil, fmt.Errorf("parse collector url: %w", err)
	}
	in, out := r.URL.Query(), url.Values{}
	for _, p := range params {
		if v, ok := in[p]; ok {
			out[p] = v
		}
	}
	u.RawQuery = out.Encode()
	return u, nil
}

// readLogs answers one page of a stream, as the collector answers it.
func (s *Server) readLogs(w http.ResponseWriter, r *http.Request, path string) error {
	u, err := s.collectorURL(r, path+"/lines", "since", "until", "q", "limit", "cursor")
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("build collector request: %w", err)
	}
	res, err := s.collector.Do(req)
	if err != nil {
		return &Problem{Type: typeLogsUnavailable, Status: http.StatusServiceUnavailable, RetryAfter: 1,
			Detail: fmt.Sprintf("read logs from the collector: %v", err)}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return collectorProblem(res)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, res.Body)
	return nil
}

// collectorProblem turns a collector's refusal into the API's problem: its 400s (a bad time, limit or
// cursor) are the caller's, anything else means the logs are unavailable.
func collectorProblem(res *http.Response) *Problem {
	body, _ := io.ReadAll(io.LimitReader(res.Body, 16<<10))
	detail := strings.TrimSpace(string(body))
	var p struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &p) == nil && p.Detail != "" {
		detail = p.Detail
	}
	if res.StatusCode == http.StatusBadRequest {
		return &Problem{Type: typeMalformedRequest, Status: http.StatusBadRequest, Detail: "logs query: " + detail}
	}
	return &Problem{Type: typeLogsUnavailable, Status: http.StatusServiceUnavailable, RetryAfter: 1,
		Detail: fmt.Sprintf("the collector answered %d: %s", res.StatusCode, detail)}
}

// tailLogs follows a stream over a websocket: it dials the collector's tail first (so a refusal is
// still answered as a problem), then accepts the caller's websocket and relays every message of the
// collector's (lines, and notices of lines dropped for a slow reader) until either side closes or the
// API shuts down. The collector's close reason reaches the caller.
func (s *Server) tailLogs(w http.ResponseWriter, r *http.Request, path string) error {
	u, err := s.collectorURL(r, path+"/tail", "backfill", "q")
	if err != nil {
		return err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	upstream, res, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: s.collectorTail})
	if err != nil {
		if res != nil && res.StatusCode != http.StatusSwitchingProtocols {
			return collectorProblem(res)
		}
		return &Problem{Type: typeLogsUnavailable, Status: http.StatusServiceUnavailable, RetryAfter: 1,
			Detail: fmt.Sprintf("follow logs at the collector: %v", err)}
	}
	defer upstream.CloseNow()
	upstream.SetReadLimit(1 << 20)

	// The server's read and write deadlines are for requests; a tail lasts.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	client, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil // Accept answered the caller already
	}
	defer client.CloseNow()
	s.metrics.tails.Inc()
	defer s.metrics.tails.Dec()

	// The caller sends nothing; reading handles its pings and close, and ends the tail when it goes.
	callerGone := client.CloseRead(ctx)
	go func() {
		select {
		case <-callerGone.Done():
		case <-s.stopping:
			client.Close(websocket.StatusGoingAway, "the API is shutting down")
		}
		cancel()
	}()
	for {
		typ, msg, err := upstream.Read(ctx)
		if err != nil {
			if st := websocket.CloseStatus(err); st != -1 {
				var ce websocket.CloseError
				errors.As(err, &ce)
				client.Close(st, ce.Reason)
				return nil
			}
			if ctx.Err() == nil {
				client.Close(websocket.StatusTryAgainLater, "lost the collector: "+truncate(err.Error(), 100))
			}
			return nil
		}
		if err := client.Write(ctx, typ, msg); err != nil {
			upstream.Close(websocket.StatusGoingAway, "the reader went away")
			return nil
		}
	}
}
