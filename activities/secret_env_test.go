package activities

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/seal"
	"github.com/rainflow/rainflow/store"
)

const secretValue = "hunter2-in-plaintext"

// fakeSecretEnv opens the versions it holds, by component id and version.
type fakeSecretEnv struct {
	versions map[int64]map[string]string
	err      error
}

func (f *fakeSecretEnv) OpenSecretEnv(_ context.Context, componentID string, version int64) (map[string]string, error) {
	if f.err != nil {
		return nil, f.err
	}
	v, ok := f.versions[version]
	if componentID != "c1" || !ok {
		return nil, store.ErrNotFound
	}
	return v, nil
}

func withSecretEnv(version int64) ApplyInput {
	in := releaseInput(2)
	in.ComponentID, in.SecretEnvVersion = "c1", version
	return in
}

// Apply writes the values into the component's Secret only, refers to them from the pods, rolls the
// pods when the version changes, and removes the Secret when the secret env goes.
func TestApplySecretEnv(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs := fake.NewClientset()
	k := &Kube{Client: cs, SecretEnv: &fakeSecretEnv{versions: map[int64]map[string]string{
		1: {"TOKEN": secretValue, "API_KEY": "k1"},
		2: {"TOKEN": secretValue + "-2"},
		3: {},
	}}}
	secretData := func() map[string]string {
		t.Helper()
		s, err := cs.CoreV1().Secrets("acme").Get(ctx, "shop-web-secret-env", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for key, v := range s.Data {
			out[key] = string(v)
		}
		return out
	}
	template := func() (annotation string, secretRefs []string) {
		t.Helper()
		dep, err := cs.AppsV1().Deployments("acme").Get(ctx, "shop-web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				secretRefs = append(secretRefs, e.Name+"="+e.ValueFrom.SecretKeyRef.Name+"/"+e.ValueFrom.SecretKeyRef.Key)
			}
			if strings.Contains(e.Value, secretValue) {
				t.Fatalf("the deployment holds a secret value in env %s", e.Name)
			}
		}
		return dep.Spec.Template.Annotations[render.AnnotationSecretEnvVersion], secretRefs
	}

	out, err := k.Apply(ctx, withSecretEnv(1))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(out); strings.Contains(string(b), secretValue) {
		t.Fatalf("the apply result holds a secret value: %s", b)
	}
	if got := secretData(); len(got) != 2 || got["TOKEN"] != secretValue || got["API_KEY"] != "k1" {
		t.Fatalf("secret data %v", got)
	}
	v, refs := template()
	if v != "1" || !slices.Equal(refs, []string{"API_KEY=shop-web-secret-env/API_KEY", "TOKEN=shop-web-secret-env/TOKEN"}) {
		t.Fatalf("template annotation %q, secret refs %v", v, refs)
	}

	if _, err := k.Apply(ctx, withSecretEnv(2)); err != nil {
		t.Fatal(err)
	}
	if got := secretData(); len(got) != 1 || got["TOKEN"] != secretValue+"-2" {
		t.Fatalf("secret data after version 2 %v: a removed variable must leave the Secret", got)
	}
	if v, refs := template(); v != "2" || len(refs) != 1 {
		t.Fatalf("after version 2: annotation %q, refs %v", v, refs)
	}

	for _, version := range []int64{3, 0} {
		if _, err := k.Apply(ctx, withSecretEnv(2)); err != nil {
			t.Fatal(err)
		}
		out, err := k.Apply(ctx, withSecretEnv(version))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(out.Pruned, "Secret/shop-web-secret-env") {
			t.Fatalf("version %d: pruned %v, want the Secret", version, out.Pruned)
		}
		if _, err := cs.CoreV1().Secrets("acme").Get(ctx, "shop-web-secret-env", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("version %d: the Secret remains (err %v)", version, err)
		}
		if v, refs := template(); v != "" || len(refs) != 0 {
			t.Fatalf("version %d: annotation %q, refs %v remain", version, v, refs)
		}
	}

	t.Run("delete removes the Secret", func(t *testing.T) {
		if _, err := k.Apply(ctx, withSecretEnv(1)); err != nil {
			t.Fatal(err)
		}
		got, err := runDelete(t, &Kube{Client: cs}, DeleteComponentInput{Ref: webRef}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(got.Deleted, "Secret/shop-web-secret-env") {
			t.Fatalf("deleted %v", got.Deleted)
		}
	})
}

func TestApplySecretEnvErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opener    SecretEnvOpener
		in        ApplyInput
		wantType  string // "" for a retryable error
		wantError string
	}{
		{name: "a worker without a store", in: withSecretEnv(1), wantType: ErrTypeSecretEnvUnavailable, wantError: "no store"},
		{name: "no component id", opener: &fakeSecretEnv{}, in: func() ApplyInput { in := withSecretEnv(1); in.ComponentID = ""; return in }(),
			wantType: ErrTypeInvalidSpec, wantError: "component id is required"},
		{name: "a store without a key", opener: &fakeSecretEnv{err: store.ErrNoKeyring}, in: withSecretEnv(1),
			wantType: ErrTypeSecretEnvUnavailable, wantError: "no encryption key"},
		{name: "a key the worker lacks", opener: &fakeSecretEnv{err: seal.ErrUnknownKey}, in: withSecretEnv(1),
			wantType: ErrTypeSecretEnvUnavailable},
		{name: "a version that is gone", opener: &fakeSecretEnv{}, in: withSecretEnv(7), wantType: ErrTypeComponentDeleted},
		{name: "the database down", opener: &fakeSecretEnv{err: errors.New("connection refused")}, in: withSecretEnv(1),
			wantError: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs := fake.NewClientset()
			_, err := (&Kube{Client: cs, SecretEnv: tt.opener}).Apply(context.Background(), tt.in)
			if tt.wantType != "" {
				requirePermanent(t, err, tt.wantType)
			} else {
				requireRetryable(t, err)
			}
			if !strings.Contains(err.Error(), tt.wantError) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantError)
			}
			if acts := cs.Actions(); len(acts) != 0 {
				t.Fatalf("the apply reached Kubernetes before it had its secret env: %v", acts)
			}
		})
	}
}

// Kubernetes' message about a refused Secret may quote the Secret: the activity's error keeps its
// code and reason only.
func TestApplySecretEnvHidesKubernetesMessage(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	cs.PrependReactor("patch", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "shop-web-secret-env",
			field.ErrorList{field.Invalid(field.NewPath("data", "TOKEN"), secretValue, "refused")})
	})
	k := &Kube{Client: cs, SecretEnv: &fakeSecretEnv{versions: map[int64]map[string]string{1: {"TOKEN": secretValue}}}}
	_, err := k.Apply(context.Background(), withSecretEnv(1))
	requirePermanent(t, err, ErrTypeInvalidSpec)
	if strings.Contains(err.Error(), secretValue) {
		t.Fatalf("the error holds the secret value: %v", err)
	}
	if !strings.Contains(err.Error(), "422 Invalid") {
		t.Fatalf("err = %v, want the status", err)
	}
}
