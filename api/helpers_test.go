package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
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

// fakeWorkflows behaves as the component queues do: per component, one operation runs (its workflow
// run is "run-N") and the others wait in order; an enqueue equal to a waiting one (same merge key)
// merges into it; a queue holding contract.MaxQueuedOperations waiting ones is full.
type fakeWorkflows struct {
	mu       sync.Mutex
	started  []api.WorkflowStart            // every operation enqueued (not merged)
	starts   []contract.DeployInput         // the inputs of the deploys among them
	queues   map[string]*fakeQueue          // by the component's queue workflow id
	startErr error                          // answered by every Enqueue when set
	statuses map[string]api.OperationStatus // by the operation's workflow id, once it runs
	descErr  error
	queueErr error // answered by Queue when set
	// pending makes Enqueue answer as when no worker answered in time: queued, place unknown.
	pending   bool
	canceled  []string
	runs      int
	apps      []contract.AppOperationInput // every app operation started
	tenantOps []tenantStart                // every tenant operation started
	builds    []contract.BuildInput        // every build started
}

type fakeQueue struct {
	running *api.WorkflowStart
	waiting []api.WorkflowStart
}

func newFakeWorkflows() *fakeWorkflows {
	return &fakeWorkflows{queues: map[string]*fakeQueue{}, statuses: map[string]api.OperationStatus{}}
}

func (f *fakeWorkflows) Enqueue(_ context.Context, w api.WorkflowStart) (api.Enqueued, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return api.Enqueued{}, f.startErr
	}
	if f.pending {
		f.started = append(f.started, w)
		return api.Enqueued{QueueRunID: "queue-run", EnqueueResult: contract.EnqueueResult{OperationID: w.OperationID,
			WorkflowID: contract.OperationWorkflowID(w.Kind, w.Ref, w.OperationID), Pending: true}}, nil
	}
	qid := contract.ComponentWorkflowID(w.Ref)
	q := f.queues[qid]
	if q == nil {
		q = &fakeQueue{}
		f.queues[qid] = q
	}
	answer := func(op api.WorkflowStart, merged bool) api.Enqueued {
		return api.Enqueued{QueueRunID: "queue-run", EnqueueResult: contract.EnqueueResult{
			OperationID: op.OperationID, WorkflowID: contract.OperationWorkflowID(op.Kind, op.Ref, op.OperationID),
			Merged: merged, Position: f.stateOf(q).Position(op.OperationID),
		}}
	}
	if f.stateOf(q).Position(w.OperationID) >= 0 {
		return answer(w, false), nil
	}
	for _, waiting := range q.waiting {
		if w.MergeKey != "" && waiting.MergeKey == w.MergeKey {
			return answer(waiting, true), nil
		}
	}
	if len(q.waiting) >= contract.MaxQueuedOperations {
		return api.Enqueued{}, fmt.Errorf("enqueue: %w: %d operations already wait", api.ErrQueueFull, len(q.waiting))
	}
	f.started = append(f.started, w)
	if in, ok := w.Input.(contract.DeployInput); ok {
		f.starts = append(f.starts, in)
	}
	q.waiting = append(q.waiting, w)
	if q.running == nil {
		f.next(q)
	}
	return answer(w, false), nil
}

// next runs the queue's first waiting operation.
func (f *fakeWorkflows) next(q *fakeQueue) {
	if len(q.waiting) == 0 {
		q.running = nil
		return
	}
	op := q.waiting[0]
	q.waiting = q.waiting[1:]
	q.running = &op
	f.runs++
	wid := contract.OperationWorkflowID(op.Kind, op.Ref, op.OperationID)
	f.statuses[wid] = api.OperationStatus{State: api.StateRunning, RunID: fmt.Sprintf("run-%d", f.runs), OperationID: op.OperationID}
}

func (f *fakeWorkflows) stateOf(q *fakeQueue) contract.QueueState {
	st := contract.QueueState{}
	entry := func(op api.WorkflowStart) contract.QueueEntry {
		return contract.QueueEntry{OperationID: op.OperationID, Kind: op.Kind,
			WorkflowID: contract.OperationWorkflowID(op.Kind, op.Ref, op.OperationID), RequestedBy: op.RequestedBy}
	}
	if q.running != nil {
		e := entry(*q.running)
		st.Running = &e
	}
	for _, w := range q.waiting {
		st.Waiting = append(st.Waiting, entry(w))
	}
	return st
}

func (f *fakeWorkflows) Queue(_ context.Context, ref contract.ComponentRef) (contract.QueueState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.descErr != nil {
		return contract.QueueState{}, f.descErr
	}
	if f.queueErr != nil {
		return contract.QueueState{}, f.queueErr
	}
	q := f.queues[contract.ComponentWorkflowID(ref)]
	if q == nil {
		return contract.QueueState{}, nil
	}
	return f.stateOf(q), nil
}

func (f *fakeWorkflows) Dequeue(_ context.Context, ref contract.ComponentRef, operationID string) (contract.DequeueResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.queues[contract.ComponentWorkflowID(ref)]
	if q == nil {
		return contract.DequeueResult{}, nil
	}
	if q.running != nil && q.running.OperationID == operationID {
		return contract.DequeueResult{Running: true}, nil
	}
	for i, w := range q.waiting {
		if w.OperationID == operationID {
			q.waiting = append(q.waiting[:i:i], q.waiting[i+1:]...)
			return contract.DequeueResult{Removed: true}, nil
		}
	}
	return contract.DequeueResult{}, nil
}

func (f *fakeWorkflows) Describe(_ context.Context, workflowID, runID string) (api.OperationStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.descErr != nil {
		return api.OperationStatus{}, f.descErr
	}
	st, ok := f.statuses[workflowID]
	if !ok || (runID != "" && runID != st.RunID) {
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

func (f *fakeWorkflows) StartApp(_ context.Context, in contract.AppOperationInput) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return "", f.startErr
	}
	f.apps = append(f.apps, in)
	f.runs++
	runID := fmt.Sprintf("run-%d", f.runs)
	wid := contract.AppOperationWorkflowID(in.Kind, in.Tenant, in.App, in.OperationID)
	f.statuses[wid] = api.OperationStatus{State: api.StateRunning, RunID: runID, OperationID: in.OperationID}
	return runID, nil
}

func (f *fakeWorkflows) StartTenant(_ context.Context, workflow string, kind contract.OperationKind, in contract.TenantOperationInput) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return "", f.startErr
	}
	f.tenantOps = append(f.tenantOps, tenantStart{workflow: workflow, kind: kind, in: in})
	runID := fmt.Sprintf("tenant-run-%d", len(f.tenantOps))
	wid := contract.TenantOperationWorkflowID(kind, in.Tenant, in.OperationID)
	f.statuses[wid] = api.OperationStatus{State: api.StateRunning, RunID: runID, OperationID: in.OperationID}
	return runID, nil
}

func (f *fakeWorkflows) StartBuild(_ context.Context, in contract.BuildInput) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return "", f.startErr
	}
	f.builds = append(f.builds, in)
	runID := fmt.Sprintf("build-run-%d", len(f.builds))
	f.statuses[contract.BuildWorkflowID(in.Ref, in.OperationID)] = api.OperationStatus{State: api.StateRunning, RunID: runID, OperationID: in.OperationID}
	return runID, nil
}

// tenantStart is one tenant operation StartTenant started.
type tenantStart struct {
	workflow string
	kind     contract.OperationKind
	in       contract.TenantOperationInput
}

// finish ends the component's running operation with the state and runs the next waiting one.
func (f *fakeWorkflows) finish(queueWorkflowID string, st api.OperationStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.queues[queueWorkflowID]
	op := q.running
	wid := contract.OperationWorkflowID(op.Kind, op.Ref, op.OperationID)
	st.OperationID, st.RunID = op.OperationID, f.statuses[wid].RunID
	f.statuses[wid] = st
	f.next(q)
}

// runningWorkflowID answers the workflow id of the component's running operation.
func (f *fakeWorkflows) runningWorkflowID(queueWorkflowID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	op := f.queues[queueWorkflowID].running
	return contract.OperationWorkflowID(op.Kind, op.Ref, op.OperationID)
}

func (f *fakeWorkflows) startCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.started)
}

// lastStart answers the last operation enqueued.
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
	return newEnvConfig(t, images, nil)
}

// newEnvConfig is newEnvWith with the API's config changed by edit (when not nil).
func newEnvConfig(t *testing.T, images api.ImageChecker, edit func(*api.Config)) *env {
	t.Helper()
	dbCfg := testStoreConfig(t)
	dbCfg.Keyring = testKeyring(t) // for secret env (secret_env_test.go)
	st, err := store.Open(t.Context(), dbCfg)
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
	if edit != nil {
		edit(&cfg)
	}
	require.NoError(t, cfg.Validate())
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if images == nil {
		images = e.images
	}
	e.h = api.New(cfg, st, e.wf, images, logger).Handler()
	return e
}

// mysqlEnv names the MariaDB/MySQL server the API tests run on instead of SQLite: a DSN without a
// database, whose user may create databases. tests/ sets it to run every API test on a real MariaDB.
const mysqlEnv = "RAINFLOW_TEST_API_MYSQL_DSN"

// testStoreConfig answers a fresh, empty database for one test: a SQLite file, or a new database on
// the server $RAINFLOW_TEST_API_MYSQL_DSN (or $RAINFLOW_TEST_API_POSTGRES_DSN, postgres_test.go) names.
func testStoreConfig(t *testing.T) store.Config {
	t.Helper()
	if dsn := os.Getenv(postgresEnv); dsn != "" {
		return testPostgresConfig(t, dsn)
	}
	dsn := os.Getenv(mysqlEnv)
	if dsn == "" {
		return store.Config{DSN: filepath.Join(t.TempDir(), "api.db")}
	}
	cfg, err := mysqldriver.ParseDSN(dsn)
	require.NoError(t, err, "$%s", mysqlEnv)
	db, err := sql.Open("mysql", cfg.FormatDSN())
	require.NoError(t, err)
	defer db.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	cfg.DBName = "rf_api_" + hex.EncodeToString(b)
	_, err = db.ExecContext(t.Context(), "CREATE DATABASE `"+cfg.DBName+"` CHARACTER SET utf8mb4")
	require.NoError(t, err)
	t.Cleanup(func() {
		db, err := sql.Open("mysql", dsn)
		if err == nil {
			_, _ = db.ExecContext(context.Background(), "DROP DATABASE `"+cfg.DBName+"`")
			_ = db.Close()
		}
	})
	return store.Config{Driver: store.DriverMySQL, DSN: cfg.FormatDSN()}
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

// member makes the user (creating it when new) a member of the tenant with the role, through the API.
func (e *env) member(user, tenant, role string) {
	e.t.Helper()
	if rec := e.do(request{method: "GET", path: "/v1/users/" + user}); rec.Code == http.StatusNotFound {
		e.ok(http.StatusCreated, request{method: "POST", path: "/v1/users", body: fmt.Sprintf(`{"name":%q}`, user)})
	}
	rec := e.do(request{method: "PUT", path: "/v1/tenants/" + tenant + "/members/" + user, body: fmt.Sprintf(`{"role":%q}`, role)})
	require.Contains(e.t, []int{http.StatusOK, http.StatusCreated}, rec.Code, rec.Body.String())
}

// token makes a new API token of the user through the API and answers its secret.
func (e *env) token(user string) string {
	e.t.Helper()
	rec := e.ok(http.StatusCreated, request{method: "POST", path: "/v1/users/" + user + "/tokens",
		body: fmt.Sprintf(`{"name":"t-%d"}`, time.Now().UnixNano())})
	secret, _ := jsonOf(e.t, rec)["token"].(string)
	require.NotEmpty(e.t, secret)
	return secret
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
