package api

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// fieldErrors collects every invalid field of a request, so that one answer lists them all.
type fieldErrors []FieldError

func (e *fieldErrors) add(field, reason string) {
	*e = append(*e, FieldError{Field: field, Reason: reason})
}

// addAll adds each of Kubernetes' validation messages for one field.
func (e *fieldErrors) addAll(field string, reasons []string) {
	for _, r := range reasons {
		e.add(field, r)
	}
}

// validateTenantName: a tenant's name is its Kubernetes namespace, so it is a DNS-1123 label (at most
// 63 characters), and not one of the namespaces Kubernetes keeps for itself.
func validateTenantName(errs *fieldErrors, field, name string) {
	if name == "" {
		errs.add(field, "is required")
		return
	}
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		errs.addAll(field, msgs)
		return
	}
	if name == "default" || strings.HasPrefix(name, "kube-") {
		errs.add(field, "is reserved by Kubernetes (default and kube-* namespaces)")
	}
}

// validateAppName: an app's name is a label value on every object of the app and part of object
// names, so it is a DNS-1123 label.
func validateAppName(errs *fieldErrors, field, name string) {
	if name == "" {
		errs.add(field, "is required")
		return
	}
	errs.addAll(field, validation.IsDNS1123Label(name))
}

// validateComponentName: a component's name becomes its Deployment's and Service's names, and a
// Service's name must be a DNS-1035 label (starting with a letter, at most 63 characters).
func validateComponentName(errs *fieldErrors, field, name string) {
	if name == "" {
		errs.add(field, "is required")
		return
	}
	errs.addAll(field, validation.IsDNS1035Label(name))
}

// validateIdempotencyKey: at most 255 visible ASCII characters.
func validateIdempotencyKey(key string) *Problem {
	if len(key) > 255 {
		return badRequest(idempotencyKeyHeader, "must be at most 255 characters")
	}
	for _, c := range key {
		if c < 0x21 || c > 0x7e {
			return badRequest(idempotencyKeyHeader, "must be visible ASCII characters only")
		}
	}
	return nil
}
