package tests

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
)

// goServer is a Go program answering body on :8080.
func goServer(body string) map[string]string {
	return map[string]string{
		"go.mod": "module example.com/hello\n\ngo 1.22\n",
		"main.go": fmt.Sprintf(`package main

import (
	"net/http"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(%q)) })
	_ = http.ListenAndServe(":8080", nil)
}
`, body),
	}
}

func tarGzOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for n, body := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}))
		_, _ = tw.Write([]byte(body))
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// uploadBuild posts an archive build and answers the accepted operation.
func uploadBuild(t *testing.T, path, query string, archive []byte) accepted {
	t.Helper()
	req, err := http.NewRequest("POST", stack.APIURL+path+"/builds"+query, bytes.NewReader(archive))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/gzip")
	req.Header.Set("Authorization", "Bearer "+stack.APIToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "%s", body)
	var acc accepted
	require.NoError(t, jsonUnmarshal(body, &acc))
	return acc
}

// readyComponent creates a tenant named after prefix, its app "shop" and a one-replica component
// "api" with a readiness probe on 8080, and answers the tenant and the component's path: what the
// build tests build into and deploy.
func readyComponent(t *testing.T, api *apiClient, prefix string) (string, string) {
	t.Helper()
	tenant := uniqueName(prefix)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	comps := "/v1/tenants/" + tenant + "/apps/shop/components"
	spec := webSpec(stack.RegistryAddr + "/rainflow/hello:1")
	spec.Replicas = 1
	spec.Readiness = &contract.Probe{HTTPPath: "/", Port: 8080, PeriodSeconds: 1, FailureThreshold: 2}
	api.must(t, http.StatusCreated, "POST", comps, map[string]any{"name": "api", "spec": spec}, nil)
	return tenant, comps + "/api"
}

// TestBuildAndDeploy builds a Go program from an uploaded archive through the API, ko-style, and
// deploys it in the same operation: the built image runs as a real container on the local node and
// answers on the detected port. The same archive again returns the same version without building; a
// program that does not compile fails with a reason naming the step and the compiler's message; the
// build's output is in its log.
func TestBuildAndDeploy(t *testing.T) {
	require.True(t, stack.RealNode, "builds deploy to the real node: %s", stack.RealNodeReason)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant, path := readyComponent(t, api, "build")
	body := "built by rainflow for " + tenant
	archive := tarGzOf(t, goServer(body))

	acc := uploadBuild(t, path, "?name=hello.tar.gz&deploy=true", archive)
	op := waitOperation(t, api, tenant, acc.OperationID, 6*time.Minute)
	require.Equal(t, "succeeded", op.State, "build: %s %+v", op.Error, op.Steps)

	// the component's image is the built one, a version of it, built by ko
	var comp componentSpecView
	api.must(t, http.StatusOK, "GET", path, nil, &comp)
	require.True(t, strings.HasPrefix(comp.Spec.Image, stack.RegistryAddr+"/"+tenant+"/shop/api@sha256:"), "component image %s", comp.Spec.Image)
	var versions struct {
		Items []map[string]any `json:"items"`
	}
	api.must(t, http.StatusOK, "GET", path+"/versions", nil, &versions)
	require.NotEmpty(t, versions.Items)
	require.Equal(t, comp.Spec.Image, versions.Items[0]["imageDigest"], "%v", versions.Items[0])
	require.Equal(t, "ko", versions.Items[0]["builder"], "%v", versions.Items[0])
	require.Equal(t, "archive", versions.Items[0]["sourceKind"], "%v", versions.Items[0])

	// the built program runs on the node and answers
	require.Equal(t, body, servedByBuiltImage(t, tenant, "api", comp.Spec.Image, "/"))

	// the build's output is its log
	var page struct {
		Lines []eventLine `json:"lines"`
	}
	api.must(t, http.StatusOK, "GET", "/v1/tenants/"+tenant+"/operations/"+acc.OperationID+"/logs?kind=build", nil, &page)
	require.True(t, containsPrefix(page.Lines, "go build ."), "build output: %v", messages(page.Lines))

	// the same archive again: the same version, nothing built
	begin := time.Now()
	again := uploadBuild(t, path, "?name=hello.tar.gz", archive)
	op2 := waitOperation(t, api, tenant, again.OperationID, 2*time.Minute)
	require.Equal(t, "succeeded", op2.State, op2.Error)
	t.Logf("second build of the same revision took %s (end to end, polled every 250 ms)", time.Since(begin).Round(time.Millisecond))
	require.True(t, reusedBuild(op2), "the second build built again: %+v", op2.Steps)

	// a program that does not compile fails, saying where
	broken := uploadBuild(t, path, "?name=broken.tar.gz", tarGzOf(t, map[string]string{
		"go.mod": "module example.com/broken\n\ngo 1.22\n", "main.go": "package main\n\nfunc main() { notDefined() }\n",
	}))
	op3 := waitOperation(t, api, tenant, broken.OperationID, 3*time.Minute)
	require.Equal(t, "failed", op3.State)
	require.Contains(t, op3.Error, "step build")
	require.Contains(t, op3.Error, "undefined: notDefined")
}
