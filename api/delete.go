package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// Deleting a component is an operation like a deploy: DELETE .../components/{component} queues a
// Delete in the component's queue and answers 202 with the operation. Its workflow deletes every
// Kubernetes object of the component, then the component's record and releases; until that last step
// the component is still there (GET shows it). Its operations stay readable after it is gone.

// volumesParam is the query parameter of a delete that says what becomes of the component's volumes:
// volumesKeep (the default) or volumesDelete.
const (
	volumesParam  = "volumes"
	volumesKeep   = "keep"
	volumesDelete = "delete"
)

// typeComponentInUse: the component is a dependency of other components of its app.
const typeComponentInUse = problemBase + "component-in-use"

// createDelete queues a Delete operation of the component. ?volumes=delete deletes its
// PersistentVolumeClaims too (and with them its data); without it, or with ?volumes=keep, they stay. An
// If-Match, when sent, must match the component's ETag.
func (s *Server) createDelete(w http.ResponseWriter, r *http.Request) error {
	deleteVolumes, err := deleteVolumesOf(r)
	if err != nil {
		return err
	}
	return s.startOperation(w, r, s.deleteKind(deleteVolumes))
}

// deleteVolumesOf reads the volumes query parameter: whether the delete takes the volumes too.
func deleteVolumesOf(r *http.Request) (bool, error) {
	values := r.URL.Query()[volumesParam]
	if len(values) > 1 {
		return false, badRequest(volumesParam, fmt.Sprintf("is given %d times; give it once: %s or %s", len(values), volumesKeep, volumesDelete))
	}
	if len(values) == 0 || values[0] == volumesKeep {
		return false, nil
	}
	if values[0] == volumesDelete {
		return true, nil
	}
	return false, badRequest(volumesParam, fmt.Sprintf("%q is neither %s (the default: the component's volume claims and their data stay) "+
		"nor %s (they are deleted with it)", values[0], volumesKeep, volumesDelete))
}

// deleteKind answers how a delete starts: refused while other components depend on the component.
func (s *Server) deleteKind(deleteVolumes bool) operationKind {
	return operationKind{
		kind: contract.OperationDelete, workflow: contract.WorkflowDelete,
		check: s.checkNoDependents,
		input: func(o startingOperation) any {
			return contract.DeleteInput{OperationID: o.ID, Ref: o.Ref, ComponentID: o.Component.ID,
				DeleteVolumes: deleteVolumes, RequestedBy: o.RequestedBy}
		},
	}
}

// checkNoDependents answers 409 when other components of the app name the component in their
// dependsOn: their running pods would lose it and their next deploy would be refused.
func (s *Server) checkNoDependents(ctx context.Context, c store.Component) error {
	var dependents []string
	page := store.Page{Limit: store.MaxPageLimit}
	for {
		comps, next, err := s.store.ListComponents(ctx, c.AppID, page)
		if err != nil {
			return fmt.Errorf("read the components that depend on %q: %w", c.Name, err)
		}
		for _, other := range comps {
			if other.ID != c.ID && slices.Contains(other.Spec.DependsOn, c.Name) {
				dependents = append(dependents, fmt.Sprintf("%q", other.Name))
			}
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	if len(dependents) == 0 {
		return nil
	}
	return &Problem{Type: typeComponentInUse, Status: http.StatusConflict,
		Detail: fmt.Sprintf("component %q cannot be deleted: component(s) %s depend on it (spec.dependsOn); "+
			"delete them first, or remove %q from their dependsOn", c.Name, strings.Join(dependents, ", "), c.Name)}
}
