package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rainflow/rainflow/build/buildkit"
	"github.com/rainflow/rainflow/contract"
)

// busyboxHTTPD is the CMD of an image serving /www with busybox httpd on 8080, ending on TERM.
const busyboxHTTPD = `CMD ["/bin/sh","-c","trap 'exit 0' TERM INT; httpd -f -v -p 8080 -h /www & wait"]`

// buildKitComponent makes a tenant with an app "shop" and a component "web" on the seeded demo image,
// and answers the tenant and the component's API path.
func buildKitComponent(t *testing.T, api *apiClient, prefix string) (string, string) {
	t.Helper()
	tenant := uniqueName(prefix)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	comps := "/v1/tenants/" + tenant + "/apps/shop/components"
	spec := webSpec(stack.RegistryAddr + "/rainflow/hello:1")
	spec.Replicas = 1
	api.must(t, http.StatusCreated, "POST", comps, map[string]any{"name": "web", "spec": spec}, nil)
	return tenant, comps + "/web"
}

// buildAndServe builds the archive of files with deploy=true, checks the version's builder, and
// answers what the running built image serves at path on port 8080, and the build's operation.
func buildAndServe(t *testing.T, api *apiClient, tenant, path string, files map[string]string, builder, get string) (string, string) {
	t.Helper()
	acc := uploadBuild(t, path, "?name=src.tar.gz&deploy=true", tarGzOf(t, files))
	op := waitOperation(t, api, tenant, acc.OperationID, 6*time.Minute)
	require.Equal(t, "succeeded", op.State, "build: %s %+v", op.Error, op.Steps)

	var comp componentSpecView
	api.must(t, http.StatusOK, "GET", path, nil, &comp)
	require.True(t, strings.HasPrefix(comp.Spec.Image, stack.RegistryAddr+"/"+tenant+"/shop/web@sha256:"), "component image %s", comp.Spec.Image)
	var versions struct {
		Items []map[string]any `json:"items"`
	}
	api.must(t, http.StatusOK, "GET", path+"/versions", nil, &versions)
	require.NotEmpty(t, versions.Items)
	require.Equal(t, comp.Spec.Image, versions.Items[0]["imageDigest"], "%v", versions.Items[0])
	require.Equal(t, builder, versions.Items[0]["builder"], "%v", versions.Items[0])

	body := servedByBuiltImage(t, tenant, "web", comp.Spec.Image, get)
	return body, acc.OperationID
}

// servedByBuiltImage waits for a ready pod of the component running image and answers what it serves
// at path on port 8080 (a 200).
func servedByBuiltImage(t *testing.T, tenant, component, image, path string) string {
	t.Helper()
	ctx := testContext(t)
	kube := kubeClient(t)
	sel := labels.SelectorFromSet(map[string]string{contract.LabelApp: "shop", contract.LabelComponent: component}).String()
	var pod corev1.Pod
	require.Eventually(t, func() bool {
		pods, err := kube.CoreV1().Pods(tenant).List(ctx, metav1.ListOptions{LabelSelector: sel})
		require.NoError(t, err)
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && podReady(&p) && p.Spec.Containers[0].Image == image {
				pod = p
				return true
			}
		}
		return false
	}, 2*time.Minute, 200*time.Millisecond, "no ready pod runs the built image %s", image)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + pod.Status.PodIP + ":8080" + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	return string(body)
}

// buildLogs answers the operation's build output lines.
func buildLogs(t *testing.T, api *apiClient, tenant, opID string) []string {
	t.Helper()
	var page struct {
		Lines []eventLine `json:"lines"`
	}
	api.must(t, http.StatusOK, "GET", "/v1/tenants/"+tenant+"/operations/"+opID+"/logs?kind=build&limit=1000", nil, &page)
	return messages(page.Lines)
}

// TestBuildKitDockerfile builds a Dockerfile with RUN steps on BuildKit through the API and deploys it:
// the running container serves what RUN wrote, on the port the Dockerfile EXPOSEs.
func TestBuildKitDockerfile(t *testing.T) {
	require.True(t, stack.RealNode, "builds deploy to the real node: %s", stack.RealNodeReason)
	t.Parallel()
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant, path := buildKitComponent(t, api, "bkdf")
	want := "written by RUN for " + tenant
	dockerfile := fmt.Sprintf(`FROM %s/rainflow/base/busybox:1
RUN mkdir -p /www && echo "%s" > /www/index.html
RUN echo "second step ran" > /www/second.txt
EXPOSE 8080
%s
`, stack.RegistryAddr, want, busyboxHTTPD)
	got, opID := buildAndServe(t, api, tenant, path, map[string]string{"Dockerfile": dockerfile}, "dockerfile", "/")
	require.Equal(t, want+"\n", got)
	logs := buildLogs(t, api, tenant, opID)
	require.Contains(t, strings.Join(logs, "\n"), "RUN mkdir -p /www", "build output: %v", logs)
}

// TestBuildKitBrokenDockerfile builds a Dockerfile whose RUN exits 3: the build fails for good with a
// reason naming the step, its exit code and its last output lines.
func TestBuildKitBrokenDockerfile(t *testing.T) {
	t.Parallel()
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant, path := buildKitComponent(t, api, "bkbad")
	dockerfile := fmt.Sprintf(`FROM %s/rainflow/base/busybox:1
RUN echo fine > /ok
RUN echo "about to fail" && exit 3
EXPOSE 8080
`, stack.RegistryAddr)
	acc := uploadBuild(t, path, "?name=broken.tar.gz", tarGzOf(t, map[string]string{"Dockerfile": dockerfile}))
	op := waitOperation(t, api, tenant, acc.OperationID, 4*time.Minute)
	require.Equal(t, "failed", op.State, "%+v", op.Steps)
	require.Contains(t, op.Error, "step build")
	require.Contains(t, op.Error, `[3/3] RUN echo "about to fail" && exit 3`)
	require.Contains(t, op.Error, "exit code 3")
	require.Contains(t, op.Error, "about to fail")
	logs := buildLogs(t, api, tenant, acc.OperationID)
	require.Contains(t, strings.Join(logs, "\n"), "about to fail", "build output: %v", logs)
}

// TestBuildKitStaticSite builds a static site (an index.html only) with the generated Dockerfile onto
// the busybox base and deploys it: the running container serves the page.
func TestBuildKitStaticSite(t *testing.T) {
	require.True(t, stack.RealNode, "builds deploy to the real node: %s", stack.RealNodeReason)
	t.Parallel()
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant, path := buildKitComponent(t, api, "bkstatic")
	page := "<h1>static site of " + tenant + "</h1>\n"
	got, _ := buildAndServe(t, api, tenant, path, map[string]string{"index.html": page}, "generated", "/index.html")
	require.Equal(t, page, got)
}

// BenchmarkBuildKitDockerfile measures a Dockerfile build (FROM the seeded busybox, two RUN steps, a
// COPY) on the stack's buildkitd, pushed to its registry: cold (a RUN that differs every iteration,
// so it and what follows it run again) against cached (the same build again: every step from the
// cache, only the export and push). Run it with
// `flock /tmp/rainflow-stack.lock go test -run '^$' -bench BuildKit -benchtime 5x ./tests/`.
func BenchmarkBuildKitDockerfile(b *testing.B) {
	if stack.BuildKitAddr == "" || stack.RegistryAddr == "" {
		b.Skip("no buildkitd or registry in this stack (devstack.Info has no buildkitAddress)")
	}
	bk, err := buildkit.New(buildkit.Config{Addr: stack.BuildKitAddr})
	require.NoError(b, err)
	dir := b.TempDir()
	require.NoError(b, os.WriteFile(filepath.Join(dir, "page.html"), []byte("bench\n"), 0o644))
	repo := stack.RegistryAddr + "/bench/buildkit/web"
	build := func(b *testing.B, nonce string) buildkit.Result {
		df := fmt.Sprintf("FROM %s/rainflow/base/busybox:1\nRUN echo %q > /nonce\nRUN mkdir -p /www && cp /nonce /www/nonce\nCOPY page.html /www/\n%s\n",
			stack.RegistryAddr, nonce, busyboxHTTPD)
		require.NoError(b, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644))
		res, err := bk.Build(context.Background(), buildkit.Request{ContextDir: dir, Push: repo + ":bench", Insecure: true})
		require.NoError(b, err)
		return res
	}
	b.Run("cold", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			build(b, fmt.Sprintf("%d-%d", time.Now().UnixNano(), i))
		}
	})
	b.Run("cached", func(b *testing.B) {
		build(b, "cached")
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			res := build(b, "cached")
			b.ReportMetric(float64(res.Cached), "cached-steps/op")
		}
	})
}
