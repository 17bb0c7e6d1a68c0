package tests

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// TestManifests has the real API server validate every object of the shipped Kubernetes manifests
// (deploy/kubernetes): each is created with a server-side dry run (the API server's full validation
// and defaulting, nothing stored), in a namespace of the test's own, so a field Kubernetes would refuse
// fails here rather than at a user's kubectl apply.
func TestManifests(t *testing.T) {
	ctx := testContext(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", stack.Kubeconfig)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	require.NoError(t, err)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))

	ns := uniqueName("manifests")
	files, err := filepath.Glob("../deploy/kubernetes/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	// the namespace first: a file that only uses it may come before the one that makes it
	_, err = kubeClient(t).CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = kubeClient(t).CoreV1().Namespaces().Delete(context.WithoutCancel(ctx), ns, metav1.DeleteOptions{})
	})
	namespaced := false
	for _, file := range files {
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		// the test's own namespace and cluster-wide names, so that runs never meet
		raw = bytes.ReplaceAll(raw, []byte("rainflow-system"), []byte(ns))
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
		for i := 0; ; i++ {
			var obj unstructured.Unstructured
			if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
				break
			} else {
				require.NoError(t, err, "%s: document %d", file, i)
			}
			if len(obj.Object) == 0 {
				continue
			}
			gvk := obj.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			require.NoError(t, err, "%s: %s %s", file, gvk, obj.GetName())
			if gvk.Kind == "Namespace" {
				require.Equal(t, ns, obj.GetName(), "%s: the manifests' namespace is rainflow-system", file)
				namespaced = true
				continue
			}
			if m.Scope.Name() != "namespace" {
				obj.SetName(ns + "-" + obj.GetName())
			}
			res := dyn.Resource(m.Resource)
			var ri dynamic.ResourceInterface = res
			if m.Scope.Name() == "namespace" {
				require.Equal(t, ns, obj.GetNamespace(), "%s: %s %s must name its namespace", file, gvk.Kind, obj.GetName())
				ri = res.Namespace(ns)
			}
			_, err = ri.Create(ctx, &obj, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
			require.NoError(t, err, "%s: %s %s is refused by the API server", file, gvk.Kind, obj.GetName())
		}
	}
	require.True(t, namespaced, "the manifests create their namespace")
}
