package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Problem types (RFC 9457 "type" members). Each names one kind of failure a client can act on.
const (
	problemBase              = "urn:rainflow:problem:"
	typeUnauthorized         = problemBase + "unauthorized"
	typeForbidden            = problemBase + "forbidden"
	typeNotFound             = problemBase + "not-found"
	typeMethodNotAllowed     = problemBase + "method-not-allowed"
	typeMalformedRequest     = problemBase + "malformed-request"
	typeUnsupportedMediaType = problemBase + "unsupported-media-type"
	typeBodyTooLarge         = problemBase + "body-too-large"
	typeValidation           = problemBase + "validation"
	typeAlreadyExists        = problemBase + "already-exists"
	typeNotEmpty             = problemBase + "not-empty"
	typeQueueFull            = problemBase + "queue-full"
	typeOperationNotRunning  = problemBase + "operation-not-running"
	typePreconditionFailed   = problemBase + "precondition-failed"
	typePreconditionRequired = problemBase + "precondition-required"
	typeIdempotencyKeyReused = problemBase + "idempotency-key-reused"
	typeImageNotFound        = problemBase + "image-not-found"
	typeImageDenied          = problemBase + "image-access-denied"
	typeRegistryUnavailable  = problemBase + "registry-unavailable"
	typeWorkflowsUnavailable = problemBase + "workflows-unavailable"
	typeStoreUnavailable     = problemBase + "store-unavailable"
	typeInternal             = problemBase + "internal"
	typeLogsUnavailable      = problemBase + "logs-unavailable"
	typeBuildsUnavailable    = problemBase + "builds-unavailable"

	problemContentType = "application/problem+json"
)

// Problem is an RFC 9457 problem details object: every error the API answers is one.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// RequestID is the request's id, as the access log has it.
	RequestID string `json:"requestId,omitempty"`
	// Errors lists each invalid field of a request, for validation problems.
	Errors []FieldError `json:"errors,omitempty"`
	// Operation names the operation a problem is about.
	Operation *OperationRef `json:"operation,omitempty"`
	// RetryAfter, when positive, is the Retry-After header in seconds: when trying again may succeed.
	RetryAfter int `json:"-"`
}

// FieldError is one invalid field of a request: Field is its path in the body ("spec.ports[1].port"),
// a query parameter ("limit") or a header ("If-Match").
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// OperationRef names an operation and its workflow run.
type OperationRef struct {
	ID         string `json:"id,omitempty"`
	WorkflowID string `json:"workflowId"`
	RunID      string `json:"runId,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Href       string `json:"href,omitempty"`
}

// Error makes a Problem an error that handlers return.
func (p *Problem) Error() string {
	return fmt.Sprintf("%d %s: %s", p.Status, p.Type, p.Detail)
}

// writeProblem answers the problem, filling its title, instance and request id.
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
		if p.Title == "" {
			p.Title = "Error"
		}
	}
	if p.Instance == "" {
		p.Instance = r.URL.Path
	}
	if p.RequestID == "" {
		p.RequestID = RequestIDFrom(r.Context())
	}
	w.Header().Set("Content-Type", problemContentType)
	w.Header().Set("Cache-Control", "no-store")
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// validationProblem answers 422 listing every invalid field.
func validationProblem(what string, errs []FieldError) *Problem {
	detail := fmt.Sprintf("%s is invalid: %s: %s", what, errs[0].Field, errs[0].Reason)
	if len(errs) > 1 {
		detail += fmt.Sprintf(" (and %d more)", len(errs)-1)
	}
	return &Problem{Type: typeValidation, Status: http.StatusUnprocessableEntity, Detail: detail, Errors: errs}
}

// notFound answers 404 naming what is missing.
func notFound(format string, args ...any) *Problem {
	return &Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: fmt.Sprintf(format, args...)}
}

// badRequest answers 400 about one field.
func badRequest(field, reason string) *Problem {
	return &Problem{
		Type: typeMalformedRequest, Status: http.StatusBadRequest,
		Detail: field + ": " + reason, Errors: []FieldError{{Field: field, Reason: reason}},
	}
}
