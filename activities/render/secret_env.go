package render

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/rainflow/rainflow/contract"
)

// SecretEnv is one version of a component's secret environment variables, opened from the store by
// the activity that renders (see contract/secret_env.go). Its values go into the component's Secret
// only; the containers refer to them by name (valueFrom.secretKeyRef), and the pod template carries
// the version, never anything derived from the values.
type SecretEnv struct {
	Version int64
	Values  map[string]string // name → value; empty: the component has no secret env
}

// AnnotationSecretEnvVersion is the secret env version on the pod template: a new version changes
// the template and so rolls the pods, which read their environment only when they start.
const AnnotationSecretEnvVersion = "rainflow.io/secret-env-version"

// SecretEnvName is the name of the component's Secret of secret env.
func SecretEnvName(ref contract.ComponentRef) string { return Name(ref) + "-secret-env" }

// secretEnv is the Secret that holds the secret env; nil when the component has none.
func secretEnv(r Release) *corev1ac.SecretApplyConfiguration {
	if len(r.SecretEnv.Values) == 0 {
		return nil
	}
	data := make(map[string][]byte, len(r.SecretEnv.Values))
	for k, v := range r.SecretEnv.Values {
		data[k] = []byte(v)
	}
	return corev1ac.Secret(SecretEnvName(r.Ref), Namespace(r.Ref.Tenant)).
		WithLabels(objectLabels(r)).
		WithType(corev1.SecretTypeOpaque).
		WithData(data)
}

// secretEnvVars are the containers' variables that read the secret env from its Secret, by name.
func secretEnvVars(r Release) []*corev1ac.EnvVarApplyConfiguration {
	var out []*corev1ac.EnvVarApplyConfiguration
	for _, name := range slices.Sorted(maps.Keys(r.SecretEnv.Values)) {
		out = append(out, corev1ac.EnvVar().WithName(name).WithValueFrom(corev1ac.EnvVarSource().
			WithSecretKeyRef(corev1ac.SecretKeySelector().WithName(SecretEnvName(r.Ref)).WithKey(name))))
	}
	return out
}

// secretEnvAnnotations are the pod template's annotations of the secret env: its version.
func secretEnvAnnotations(r Release) map[string]string {
	if len(r.SecretEnv.Values) == 0 {
		return nil
	}
	return map[string]string{AnnotationSecretEnvVersion: strconv.FormatInt(r.SecretEnv.Version, 10)}
}

// checkSecretEnv refuses secret env Kubernetes would reject or that would shadow the component's own
// env; it names variables, never their values.
func checkSecretEnv(r Release) []error {
	env := r.SecretEnv.Values
	if len(env) == 0 {
		return nil
	}
	var errs []error
	if r.SecretEnv.Version <= 0 {
		errs = append(errs, fmt.Errorf("secret env: values without a version (%d)", r.SecretEnv.Version))
	}
	if len(env) > contract.MaxSecretEnvVars {
		errs = append(errs, fmt.Errorf("secret env: %d variables, more than %d", len(env), contract.MaxSecretEnvVars))
	}
	if n := contract.SecretEnvBytes(env); n > contract.MaxSecretEnvBytes {
		errs = append(errs, fmt.Errorf("secret env: %d bytes in all, more than %d", n, contract.MaxSecretEnvBytes))
	}
	plain := map[string]bool{}
	for _, e := range r.Spec.Env {
		plain[e.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		switch {
		case len(name) > contract.MaxSecretEnvNameLength || len(validation.IsCIdentifier(name)) > 0:
			errs = append(errs, fmt.Errorf("secret env: %q is not a variable name (a C identifier of at most %d characters)",
				name, contract.MaxSecretEnvNameLength))
		case plain[name]:
			errs = append(errs, fmt.Errorf("secret env: %q is also in env", name))
		case len(env[name]) > contract.MaxSecretEnvValueBytes:
			errs = append(errs, fmt.Errorf("secret env: the value of %q is longer than %d bytes", name, contract.MaxSecretEnvValueBytes))
		}
	}
	return errs
}
