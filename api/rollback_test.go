package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// release records a release of the component at path's end, as a finished deploy does.
func (e *env) release(t *testing.T, id string, spec contract.ComponentSpec) {
	t.Helper()
	ctx := context.Background()
	tn, err := e.st.GetTenant(ctx, "acme")
	require.NoError(t, err)
	a, err := e.st.GetApp(ctx, tn.ID, "shop")
	require.NoError(t, err)
	c, err := e.st.GetComponent(ctx, a.ID, "web")
	require.NoError(t, err)
	op, err := e.st.CreateOperation(ctx, store.Operation{ID: id, TenantID: tn.ID, ComponentID: c.ID, Kind: contract.OperationDeploy, WorkflowID: "w"})
	require.NoError(t, err)
	_, err = e.st.RecordRelease(ctx, store.Release{ID: id, ComponentID: c.ID, OperationID: op.ID, ImageDigest: "127.0.0.1:5056/web@sha256:1111", Spec: spec})
	require.NoError(t, err)
}

func TestRollback(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	old := contract.ComponentSpec{Image: "127.0.0.1:5056/web:v1", Replicas: 1, Env: []contract.EnvVar{{Name: "V", Value: "1"}}}
	e.release(t, "rel-1", old)
	e.images.mu.Lock()
	e.images.images["127.0.0.1:5056/web@sha256:1111"] = "sha256:1111"
	e.images.mu.Unlock()

	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/rollbacks", body: `{"releaseId": "rel-1"}`})
	in := e.wf.lastStart().Input.(contract.RollbackInput)
	require.Equal(t, "rel-1", in.ToReleaseID)
	require.Equal(t, "127.0.0.1:5056/web@sha256:1111", in.Deploy.Spec.Image, "a rollback runs the release's digest")
	require.Equal(t, old.Env, in.Deploy.Spec.Env, "and its whole spec")
	require.Equal(t, contract.WorkflowRollback, e.wf.lastStart().Workflow)

	var c struct {
		Spec contract.ComponentSpec `json:"spec"`
	}
	rec := e.ok(http.StatusOK, request{method: "GET", path: webPath})
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &c))
	require.Equal(t, old, c.Spec, "the release's spec is the component's spec again")
}

func TestRollbackProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{name: "no body", body: "", status: http.StatusBadRequest},
		{name: "no release id", body: `{}`, status: http.StatusUnprocessableEntity, field: "releaseId"},
		{name: "unknown release", body: `{"releaseId": "nope"}`, status: http.StatusNotFound},
		{name: "unknown field", body: `{"releaseId": "rel-1", "force": true}`, status: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed()
			p := problemOf(t, e.do(request{method: "POST", path: webPath + "/rollbacks", body: tt.body}), tt.status)
			if tt.field != "" {
				require.Contains(t, fields(p), tt.field)
			}
			require.Zero(t, e.wf.startCount(), "a refused rollback starts nothing")
		})
	}
}

func TestDeployOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	p := problemOf(t, e.do(request{method: "POST", path: webPath + "/deploys", body: `{"rolloutTimeoutSeconds": 0}`}), http.StatusUnprocessableEntity)
	require.Contains(t, fields(p), "rolloutTimeoutSeconds")
	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys", body: `{"noRollback": true, "rolloutTimeoutSeconds": 30}`})
	in := e.wf.lastStart().Input.(contract.DeployInput)
	require.True(t, in.NoRollback)
	require.Equal(t, int32(30), in.RolloutTimeoutSeconds)
}
