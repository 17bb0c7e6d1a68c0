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
	// ErrTypeBuildFailed: the build itself failed (a step of the Dockerfile, the compiler): building
	// again the same source fails the same way. The message says which step, which command, the exit
	// code and the last lines of its output.
	ErrTypeBuildFailed = "BuildFailed"
	// ErrTypeInvalidSource: the source cannot be built as given (an archive that escapes its root or is
	// too large, nothing detected to build, a setting that does not fit the source).
	ErrTypeInvalidSource = "InvalidSource"
)

// permanent wraps err as a non-retryable application error of the given type.
func permanent(typ string, err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), typ, err)
}
