package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/google/uuid"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// App-level operations (contract/app.go): POST /v1/tenants/{t}/apps/{a}/deploys, /start, /stop and
// /restart run the operation on every component of the app, in dependency order, as one
// AppOperation workflow. Each component's part is an operation of its own (recorded, listed with the
// component's operations, queued in its component's queue when its turn comes).

// maxAppComponents bounds the components one app operation acts on.
const maxAppComponents = 1000

func (s *Server) createAppDeploy(w http.ResponseWriter, r *http.Request) error {
	var req deployRequest
	return s.startAppOperation(w, r, contract.OperationDeploy, &req, req.validate, func() operationKind { return s.deployKind(&req) })
}

func (s *Server) createAppStart(w http.ResponseWriter, r *http.Request) error {
	return s.startAppOperation(w, r, contract.OperationStart, nil, nil, startKind)
}

func (s *Server) createAppStop(w http.ResponseWriter, r *http.Request) error {
	return s.startAppOperation(w, r, contract.OperationStop, nil, nil, stopKind)
}

func (s *Server) createAppRestart(w http.ResponseWriter, r *http.Request) error {
	return s.startAppOperation(w, r, contract.OperationRestart, nil, nil, restartKind)
}

// appOperationAccepted answers a started app operation: its own id, and each component's operation.
type appOperationAccepted struct {
	OperationID string            `json:"operationId"`
	Kind        string            `json:"kind"`
	WorkflowID  string            `json:"workflowId"`
	State       string            `json:"state"`
	Components  map[string]string `json:"components"` // component → its operation's id
	Order       [][]string        `json:"order"`      // the components by dependency level, as they run
	Links       map[string]string `json:"links"`
}

// startAppOperation checks every component of the app as the component operation would (kind makes a
// fresh operationKind per component), checks that the dependencies form no cycle, records the app
// operation and each component's, and starts the AppOperation workflow. Refused, it leaves nothing
// behind.
func (s *Server) startAppOperation(w http.ResponseWriter, r *http.Request, kind contract.OperationKind,
	body any, validate func() error, makeKind func() operationKind) error {
	ctx := r.Context()
	t, a, err := s.appOf(r)
	if err != nil {
		return err
	}
	key := r.Header.Get(idempotencyKeyHeader)
	if key != "" {
		if p := validateIdempotencyKey(key); p != nil {
			return p
		}
		// A retried request finds the app operation its first try started.
		if replayed, err := s.replayAppOperation(ctx, w, t, a, contract.AppOperationKind(kind), key); replayed || err != nil {
			return err
		}
	}
	if err := s.decodeOperationBody(w, r, operationKind{body: body, validate: validate}); err != nil {
		return err
	}
	components, err := s.allComponents(r, a)
	if err != nil {
		return err
	}
	if len(components) == 0 {
		return &Problem{Type: typeValidation, Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("app %q has no components to %s", a.Name, kind)}
	}
	edges := make([]contract.DependencyEdge, len(components))
	for i, c := range components {
		edges[i] = contract.DependencyEdge{Component: c.Name, DependsOn: c.Spec.DependsOn}
	}
	levels, err := contract.DependencyLevels(edges)
	if err != nil {
		return &Problem{Type: typeValidation, Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("app %q cannot %s in dependency order: %v", a.Name, kind, err)}
	}

	kinds := make([]operationKind, len(components))
	for i, c := range components {
		kinds[i] = makeKind()
		if kinds[i].check != nil {
			if err := kinds[i].check(ctx, c); err != nil {
				return err
			}
		}
	}

	principal, _ := PrincipalFrom(ctx)
	appOpID := uuid.NewString()
	var recorded []store.Operation
	forget := func() {
		for _, op := range recorded {
			s.forgetOperation(ctx, op)
		}
	}
	appOp, err := s.store.CreateOperation(ctx, store.Operation{
		ID: appOpID, TenantID: t.ID, AppID: a.ID, Kind: contract.AppOperationKind(kind),
		WorkflowID: contract.AppOperationWorkflowID(kind, t.Name, a.Name, appOpID), RequestedBy: principal.Name,
		IdempotencyKey: key,
	})
	if errors.Is(err, store.ErrAlreadyExists) && key != "" {
		// a concurrent request with the same key recorded its operation first: answer that one
		if replayed, err := s.replayAppOperation(ctx, w, t, a, contract.AppOperationKind(kind), key); replayed || err != nil {
			return err
		}
	}
	if err != nil {
		return fmt.Errorf("record app %s operation: %w", kind, err)
	}
	recorded = append(recorded, appOp)
	in := contract.AppOperationInput{OperationID: appOpID, Tenant: t.Name, App: a.Name, Kind: kind, RequestedBy: principal.Name}
	opIDs := map[string]string{}
	for i, c := range components {
		ref := contract.ComponentRef{Tenant: t.Name, App: a.Name, Component: c.Name}
		id := uuid.NewString()
		op, err := s.store.CreateOperation(ctx, store.Operation{
			ID: id, TenantID: t.ID, ComponentID: c.ID, Kind: kind,
			WorkflowID: contract.OperationWorkflowID(kind, ref, id), RequestedBy: principal.Name,
		})
		if err != nil {
			forget()
			return fmt.Errorf("record the %s of component %q: %w", kind, c.Name, err)
		}
		recorded = append(recorded, op)
		input, err := json.Marshal(kinds[i].input(startingOperation{ID: id, Ref: ref, Component: c, RequestedBy: principal.Name}))
		if err != nil {
			forget()
			return fmt.Errorf("encode the %s of component %q: %w", kind, c.Name, err)
		}
		in.Components = append(in.Components, contract.AppComponentOperation{
			Component: c.Name, DependsOn: c.Spec.DependsOn, OperationID: id, Workflow: kinds[i].workflow, Input: input,
		})
		opIDs[c.Name] = id
	}

	runID, err := s.wf.StartApp(ctx, in)
	if err != nil {
		forget()
		return &Problem{Type: typeWorkflowsUnavailable, Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("start the %s of app %q: %v", kind, a.Name, err)}
	}
	if err := s.store.SetOperationRunID(ctx, appOpID, runID); err != nil {
		return fmt.Errorf("record run %s of operation %s: %w", runID, appOpID, err)
	}
	s.logger.InfoContext(ctx, "started app operation", "tenant", t.Name, "app", a.Name, "operation_id", appOpID,
		"kind", appOp.Kind, "components", len(components), "run_id", runID, "principal", principal.Name,
		"request_id", RequestIDFrom(ctx))

	if kind == contract.OperationStop {
		slices.Reverse(levels) // dependents stop first, as the workflow runs them
	}
	self := operationPath(t.Name, appOpID)
	links := map[string]string{"operation": self, "cancel": self + "/cancel"}
	if ui := s.temporalLink(appOp.WorkflowID, runID); ui != "" {
		links["temporalUI"] = ui
	}
	w.Header().Set("Location", self)
	noteOperation(ctx, appOpID)
	writeJSON(w, http.StatusAccepted, appOperationAccepted{
		OperationID: appOpID, Kind: string(appOp.Kind), WorkflowID: appOp.WorkflowID, State: StateRunning,
		Components: opIDs, Order: levels, Links: links,
	})
	return nil
}

// replayAppOperation answers 202 with the app operation recorded with the idempotency key, if there
// is one for this app and kind (replayed true); a key used for another request is a 422 problem.
func (s *Server) replayAppOperation(ctx context.Context, w http.ResponseWriter, t store.Tenant, a store.App, kind contract.OperationKind, key string) (bool, error) {
	op, err := s.store.GetOperationByIdempotencyKey(ctx, t.ID, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	if op.AppID != a.ID || op.ComponentID != "" || op.Kind != kind {
		return false, &Problem{Type: typeIdempotencyKeyReused, Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("Idempotency-Key %q was used for operation %s (%s); use a new key for a new request", key, op.ID, op.Kind),
			Errors: []FieldError{{Field: idempotencyKeyHeader, Reason: "was used for another request"}}}
	}
	self := operationPath(t.Name, op.ID)
	w.Header().Set("Location", self)
	w.Header().Set("Idempotent-Replayed", "true")
	writeJSON(w, http.StatusAccepted, appOperationAccepted{OperationID: op.ID, Kind: string(op.Kind), WorkflowID: op.WorkflowID,
		State: "accepted", Links: map[string]string{"operation": self, "cancel": self + "/cancel"}})
	return true, nil
}

// allComponents reads every component of the app, up to maxAppComponents.
func (s *Server) allComponents(r *http.Request, a store.App) ([]store.Component, error) {
	var all []store.Component
	page := store.Page{Limit: 100}
	for {
		items, next, err := s.store.ListComponents(r.Context(), a.ID, page)
		if err != nil {
			return nil, listError(err)
		}
		all = append(all, items...)
		if len(all) > maxAppComponents {
			return nil, &Problem{Type: typeValidation, Status: http.StatusUnprocessableEntity,
				Detail: fmt.Sprintf("app %q has more than %d components: operate on them one by one", a.Name, maxAppComponents)}
		}
		if next == "" {
			return all, nil
		}
		page.Cursor = next
	}
}
