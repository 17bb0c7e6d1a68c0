package tests

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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

// gitBuildAndServe commits files to a new local git repository and builds it with settings and
// deploy: it checks the version (the commit as its revision, by digest, the component's image now)
// and answers what the running built image serves at get on port 8080, the version, and the build's
// operation.
func gitBuildAndServe(t *testing.T, api *apiClient, tenant, path string, files map[string]string, settings contract.BuildSettings, get string) (string, builtVersion, string) {
	t.Helper()
	repo, dir := newGitRepo(t)
	commit := commitFiles(t, repo, dir, files, "the source")
	var acc accepted
	api.must(t, http.StatusAccepted, "POST", path+"/builds", gitBuildRequest(dir, "main", settings, true), &acc)
	op := waitOperation(t, api, tenant, acc.OperationID, 8*time.Minute)
	require.Equal(t, "succeeded", op.State, "build: %s %+v", op.Error, op.Steps)

	var comp componentSpecView
	api.must(t, http.StatusOK, "GET", path, nil, &comp)
	require.True(t, strings.HasPrefix(comp.Spec.Image, stack.RegistryAddr+"/"+tenant+"/shop/web@sha256:"), "component image %s", comp.Spec.Image)
	v := latestVersion(t, api, path)
	require.Equal(t, comp.Spec.Image, v.ImageDigest, "%+v", v)
	require.Equal(t, commit, v.Revision, "the version records the commit: %+v", v)
	require.Equal(t, "git", v.SourceKind, "%+v", v)

	body := servedByBuiltImage(t, tenant, "web", comp.Spec.Image, get)
	return body, v, acc.OperationID
}

// imageFile answers the content of file (a path without a leading slash) in the image's flattened
// file system, read from the registry, and whether it is there.
func imageFile(t *testing.T, image, file string) (string, bool) {
	t.Helper()
	ref, err := name.ParseReference(image, name.Insecure)
	require.NoError(t, err)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	img, err := remote.Image(ref, remote.WithContext(testContext(t)), remote.WithTransport(tr))
	require.NoError(t, err)
	rc := mutate.Extract(img)
	defer rc.Close()
	r := tar.NewReader(rc)
	for {
		h, err := r.Next()
		if err == io.EOF {
			return "", false
		}
		require.NoError(t, err)
		if strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/") == file {
			b, err := io.ReadAll(r)
			require.NoError(t, err)
			return string(b), true
		}
	}
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

// TestBuildKitDockerfile builds a Dockerfile with RUN steps from a local git repository on BuildKit
// through the API and deploys it: the pushed image holds the files RUN wrote, and the running
// container serves them on the port the Dockerfile EXPOSEs.
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
	got, v, opID := gitBuildAndServe(t, api, tenant, path, map[string]string{"Dockerfile": dockerfile}, contract.BuildSettings{}, "/")
	require.Equal(t, "dockerfile", v.Builder, "%+v", v)
	require.Equal(t, want+"\n", got)
	for file, content := range map[string]string{"www/index.html": want + "\n", "www/second.txt": "second step ran\n"} {
		got, ok := imageFile(t, v.ImageDigest, file)
		require.True(t, ok, "the pushed image %s has no %s", v.ImageDigest, file)
		require.Equal(t, content, got, file)
	}
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

// TestBuildKitStaticSite builds a static site (an index.html only) from a local git repository with
// the generated Dockerfile onto the busybox base and deploys it: the running container serves the page.
func TestBuildKitStaticSite(t *testing.T) {
	require.True(t, stack.RealNode, "builds deploy to the real node: %s", stack.RealNodeReason)
	t.Parallel()
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant, path := buildKitComponent(t, api, "bkstatic")
	page := "<h1>static site of " + tenant + "</h1>\n"
	got, v, _ := gitBuildAndServe(t, api, tenant, path, map[string]string{"index.html": page}, contract.BuildSettings{}, "/index.html")
	require.Equal(t, "generated", v.Builder, "%+v", v)
	require.Equal(t, "static", v.Language, "%+v", v)
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
