package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

const (
	adminToken = "admin-secret-0123456789"
	aliceToken = "alice-secret-0123456789"
)

// fakeWorkflows behaves as Temporal does for one workflow id: one running run at a time, a second
// start answers a BusyError naming the running operation.
type fakeWorkflows struct {
	mu       sync.Mutex
	started  []api.WorkflowStart       // every workflow started
	starts   []contract.DeployInput    // the inputs of the deploys among them
	running  map[string]*api.BusyError // by workflow id
	startErr error                     // answered by every Start when set
	statuses map[string]api.OperationStatus
	descErr  error
	canceled []string
	runs     int
}

func newFakeWorkflows() *fakeWorkflows {
	return &fakeWorkflows{running: map[string]*api.BusyError{}, statuses: map[string]api.OperationStatus{}}
}

func (f *fakeWorkflows) Start(_ context.Context, w api.WorkflowStart) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return "", f.startErr
	}
	id := contract.ComponentWorkflowID(w.Ref)
	if busy, ok := f.running[id]; ok {
		b := *busy
		return "", &b
	}
	f.runs++
	runID := fmt.Sprintf("run-%d", f.runs)
	f.running[id] = &api.BusyError{WorkflowID: id, RunID: runID, OperationID: w.OperationID, Kind: string(w.Kind)}
	f.statuses[runID] = api.OperationStatus{State: api.StateRunning, OperationID: w.OperationID}
	f.started = append(f.started, w)
	if in, ok := w.Input.(contract.DeployInput); ok {
		f.starts = append(f.starts, in)
	}
	return runID, nil
}

func (f *fakeWorkflows) Describe(_ context.Context, workflowID, runID string) (api.OperationStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.descErr != nil {
		return api.OperationStatus{}, f.descErr
	}
	st, ok := f.statuses[runID]
	if !ok {
		return api.OperationStatus{}, fmt.Errorf("describe %s: %w", workflowID, api.ErrExecutionNotFound)
	}
	return st, nil
}

func (f *fakeWorkflows) Cancel(_ context.Context, workflowID, runID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.canceled = append(f.canceled, workflowID+"/"+runID)
	return nil
}

// finish closes the component's running run with the state.
func (f *fakeWorkflows) finish(workflowID string, st api.OperationStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	run := f.running[workflowID]
	delete(f.running, workflowID)
	st.OperationID = run.OperationID
	f.statuses[run.RunID] = st
}

func (f *fakeWorkflows) startCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.started)
}

// lastStart answers the last workflow started.
func (f *fakeWorkflows) lastStart() api.WorkflowStart {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.started[len(f.started)-1]
}

// fakeImages knows the images in images; others are missing, unless err says the registry fails.
type fakeImages struct {
	mu     sync.Mutex
	images map[string]string
	err    error
}

func (f *fakeImages) CheckImage(_ context.Context, image string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	if d, ok := f.images[image]; ok {
		return d, nil
	}
	return "", fmt.Errorf("check image %s: %w: MANIFEST_UNKNOWN", image, api.ErrImageNotFound)
}

// syncBuffer is a log sink for concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is one API over a fresh SQLite store and fakes.
type env struct {
	t      *testing.T
	st     *store.Store
	wf     *fakeWorkflows
	images *fakeImages
	reg    *prometheus.Registry
	logs   *syncBuffer
	h      http.Handler
}

const webImage = "registry.example:5000/shop/web:1.0"

func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with a real image checker instead of the fake.
func newEnvWith(t *testing.T, images api.ImageChecker) *env {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DSN: filepath.Join(t.TempDir(), "api.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	e := &env{
		t: t, st: st, wf: newFakeWorkflows(),
		images: &fakeImages{images: map[string]string{webImage: "sha256:" + strings.Repeat("a", 64)}},
		reg:    prometheus.NewRegistry(), logs: &syncBuffer{},
	}
	cfg := api.Config{
		AdminToken:    adminToken,
		Tokens:        []api.Token{{Principal: "alice", Secret: aliceToken}},
		Metrics:       e.reg,
		TemporalUIURL: "http://127.0.0.1:8233",
	}
	require.NoError(t, cfg.Validate())
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if images == nil {
		images = e.images
	}
	e.h = api.New(cfg, st, e.wf, images, logger).Handler()
	return e
}

// request is one call to the API; the admin token unless token is set ("-" for none).
type request struct {
	method, path, body, token string
	header                    map[string]string
}

func (e *env) do(req request) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	r := httptest.NewRequestWithContext(e.t.Context(), req.method, req.path, body)
	if req.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	switch req.token {
	case "":
		r.Header.Set("Authorization", "Bearer "+adminToken)
	case "-":
	default:
		r.Header.Set("Authorization", "Bearer "+req.token)
	}
	for k, v := range req.header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	return rec
}

// ok calls the API and requires the status.
func (e *env) ok(status int, req request) *httptest.ResponseRecorder {
	e.t.Helper()
	rec := e.do(req)
	require.Equal(e.t, status, rec.Code, "%s %s answered %s", req.method, req.path, rec.Body.String())
	return rec
}

// seed creates tenant acme, app shop and component web (image webImage, one port) through the API.
func (e *env) seed() {
	e.t.Helper()
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants", body: `{"name":"acme","displayName":"ACME"}`})
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps", body: `{"name":"shop"}`})
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps/shop/components", body: componentBody("web", webImage)})
}

func componentBody(name, image string) string {
	return fmt.Sprintf(`{"name":%q,"spec":{"image":%q,"replicas":1,"ports":[{"name":"http","port":8080}],
		"readiness":{"httpPath":"/healthz","port":8080}}}`, name, image)
}

const webPath = "/v1/tenants/acme/apps/shop/components/web"

// problemOf requires a problem+json answer with the status, and answers it.
func problemOf(t *testing.T, rec *httptest.ResponseRecorder, status int) api.Problem {
	t.Helper()
	require.Equal(t, status, rec.Code, "body: %s", rec.Body.String())
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p api.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, status, p.Status)
	require.True(t, strings.HasPrefix(p.Type, "urn:rainflow:problem:"), "type %q", p.Type)
	require.NotEmpty(t, p.Title)
	require.NotEmpty(t, p.Detail)
	require.NotEmpty(t, p.RequestID)
	require.Equal(t, rec.Header().Get("X-Request-Id"), p.RequestID)
	return p
}

// jsonOf decodes a JSON answer into a map.
func jsonOf(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m))
	return m
}

func fields(p api.Problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}
