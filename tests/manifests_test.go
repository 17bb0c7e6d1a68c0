package tests

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
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
	created := false
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
				if !created {
					_, err := dyn.Resource(m.Resource).Create(ctx, &obj, metav1.CreateOptions{})
					require.NoError(t, err)
					created = true
					t.Cleanup(func() { _ = dyn.Resource(m.Resource).Delete(ctx, ns, metav1.DeleteOptions{}) })
				}
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
	require.True(t, created, "the manifests create their namespace")
}
