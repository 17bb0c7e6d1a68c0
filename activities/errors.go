// Package activities holds the steps of Rainflow's workflows, grouped by the system they talk to
// (Kubernetes, registry, store). Each activity is idempotent, takes one input struct and returns one
// result struct; permanent failures are non-retryable application errors with a type from this file.
package activities

import (
	"go.temporal.io/sdk/temporal"
)

// Error types of non-retryable failures, so workflows and users can tell them apart.
const (
	ErrTypeInvalidSpec    = "InvalidSpec"
	ErrTypeInvalidImage   = "InvalidImage"
	ErrTypeImageNotFound  = "ImageNotFound"
	ErrTypeForbidden      = "Forbidden"
	ErrTypeRolloutFailed  = "RolloutFailed"
	ErrTypeRolloutStalled = "RolloutStalled"
	// ErrTypeWorkloadNotFound: the component has no workload to start, stop, restart or scale (it was
	// never deployed, or it was deleted).
	ErrTypeWorkloadNotFound = "WorkloadNotFound"
	// ErrTypeComponentDeleted: the component's record is gone (a deploy queued behind its delete).
	ErrTypeComponentDeleted = "ComponentDeleted"
)

// permanent wraps err as a non-retryable application error of the given type.
func permanent(typ string, err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), typ, err)
}
