package activities

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/seal"
	"github.com/rainflow/rainflow/store"
)

// Secret env values never leave the Apply activity: its input and result name a version, the values
// are opened from the store here, rendered into the component's Secret, applied, and forgotten. No
// error, heartbeat or log line of this file holds a value.

// ErrTypeSecretEnvUnavailable: the secret env version a deploy runs cannot be opened (the worker
// has no encryption key, or not the one that sealed it, or the version is gone).
const ErrTypeSecretEnvUnavailable = "SecretEnvUnavailable"

// SecretEnvOpener opens a version of a component's secret env; *store.Store is one.
type SecretEnvOpener interface {
	OpenSecretEnv(ctx context.Context, componentID string, version int64) (map[string]string, error)
}

// openSecretEnv opens the secret env version the input names; version 0 is none.
func (k *Kube) openSecretEnv(ctx context.Context, in ApplyInput) (render.SecretEnv, error) {
	if in.SecretEnvVersion == 0 {
		return render.SecretEnv{}, nil
	}
	if in.ComponentID == "" {
		return render.SecretEnv{}, permanent(ErrTypeInvalidSpec,
			fmt.Errorf("apply secret env version %d: the component id is required", in.SecretEnvVersion))
	}
	if k.SecretEnv == nil {
		return render.SecretEnv{}, permanent(ErrTypeSecretEnvUnavailable,
			fmt.Errorf("apply secret env version %d of component %s: this worker has no store to read secret env from", in.SecretEnvVersion, in.ComponentID))
	}
	values, err := k.SecretEnv.OpenSecretEnv(ctx, in.ComponentID, in.SecretEnvVersion)
	switch {
	case err == nil:
		return render.SecretEnv{Version: in.SecretEnvVersion, Values: values}, nil
	case errors.Is(err, store.ErrNotFound):
		return render.SecretEnv{}, permanent(ErrTypeComponentDeleted, fmt.Errorf("read secret env: %w", err))
	case errors.Is(err, store.ErrNoKeyring), errors.Is(err, seal.ErrUnknownKey), errors.Is(err, seal.ErrCorrupt):
		return render.SecretEnv{}, permanent(ErrTypeSecretEnvUnavailable, fmt.Errorf("read secret env: %w", err))
	}
	return render.SecretEnv{}, fmt.Errorf("read secret env: %w", err)
}

// applySecretEnv applies the Secret of the secret env. Kubernetes' error is told by its status
// only: its message may quote what was sent.
func (k *Kube) applySecretEnv(ctx context.Context, s *corev1ac.SecretApplyConfiguration) error {
	ns, name := *s.Namespace, *s.Name
	if _, err := k.Client.CoreV1().Secrets(ns).Apply(ctx, s, applyOptions()); err != nil {
		return classify(fmt.Errorf("apply secret %s/%s: %w", ns, name, withoutMessage(err)))
	}
	return nil
}

// withoutMessage answers a Kubernetes API error with its code and reason but not its message; other
// errors (the connection's) as they are.
func withoutMessage(err error) error {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return err
	}
	st := status.Status()
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: st.Status, Code: st.Code, Reason: st.Reason,
		Message: fmt.Sprintf("the API server answered %d %s (its message is not shown: it may quote a secret value)", st.Code, st.Reason),
	}}
}
