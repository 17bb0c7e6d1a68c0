package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

// buildFixture is one case of testdata/build/*.yaml: the watched objects, written as Kubernetes writes
// them, and what Build must make of them.
type buildFixture struct {
	// Class is the ingress class built; default "rainflow".
	Class          string                      `json:"class"`
	Ingresses      []networkingv1.Ingress      `json:"ingresses"`
	Services       []corev1.Service            `json:"services"`
	EndpointSlices []discoveryv1.EndpointSlice `json:"endpointSlices"`
	Secrets        []corev1.Secret             `json:"secrets"`
	Want           Routes                      `json:"want"`
	Problems       []fixtureProblem            `json:"problems"`
}

// fixtureProblem is an expected Problem; Detail need only be contained in the problem's detail.
type fixtureProblem struct {
	Object string `json:"object"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

// TestBuildFixtures runs every testdata/build/*.yaml case: one file per case, holding the input objects
// and the expected Routes and problems (in order).
func TestBuildFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "build", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var fx buildFixture
			require.NoError(t, yaml.UnmarshalStrict(raw, &fx), "parse %s", file)

			var in Objects
			for i := range fx.Ingresses {
				in.Ingresses = append(in.Ingresses, &fx.Ingresses[i])
			}
			for i := range fx.Services {
				in.Services = append(in.Services, &fx.Services[i])
			}
			for i := range fx.EndpointSlices {
				in.EndpointSlices = append(in.EndpointSlices, &fx.EndpointSlices[i])
			}
			for i := range fx.Secrets {
				in.Secrets = append(in.Secrets, &fx.Secrets[i])
			}
			class := fx.Class
			if class == "" {
				class = DefaultIngressClass
			}
			got, problems := Build(class, in)
			// Certificates and keys are not written in the expected Routes: they are the Secrets' data.
			for i, c := range got.TLS {
				assert.NotEmpty(t, c.Chain, "certificate of %s", c.Host)
				assert.NotEmpty(t, c.Key, "key of %s", c.Host)
				got.TLS[i].Chain, got.TLS[i].Key = nil, nil
			}
			assert.Equal(t, fx.Want, got)
			assert.True(t, got.Equal(fx.Want), "Routes.Equal")
			if assert.Len(t, problems, len(fx.Problems), "problems: %+v", problems) {
				for i, want := range fx.Problems {
					assert.Equal(t, want.Object, problems[i].Object, "problem %d", i)
					assert.Equal(t, want.Reason, problems[i].Reason, "problem %d", i)
					assert.Contains(t, problems[i].Detail, want.Detail, "problem %d", i)
				}
			}
		})
	}
}
