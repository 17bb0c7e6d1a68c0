package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/devstack/images"
)

// benchBuildCase is one builder BenchmarkBuilds measures.
type benchBuildCase struct {
	name     string
	settings contract.BuildSettings
	files    func(rev string) map[string]string // the source at a revision; nil: an image import
}

// BenchmarkBuilds measures each builder through the API on the stack's buildkitd and registry, from
// the build request to the operation's end (polled every 100 ms), without deploying. Each iteration
// builds on a new component: cold is its first build (no BuildKit cache of the component's own, an
// empty Go build cache mount; the ko builder's Go cache is the worker's, shared by every build, and
// BuildKit's copy of the busybox base is warm after the first case); rebuild is a new commit of the
// same source, with the component's caches warm; equal is the same revision again, answered from the
// version an equal build made. Import copies a new image, then another, then the second again. Run
// it with `make bench-build` (one iteration each, under the stack lock).
func BenchmarkBuilds(b *testing.B) {
	if stack.BuildKitAddr == "" || stack.RegistryAddr == "" {
		b.Skip("no buildkitd or registry in this stack (devstack.Info has no buildkitAddress)")
	}
	ctx := benchContext(b, 40*time.Minute)
	api := benchAPI{base: stack.APIURL, token: stack.APIToken, http: &http.Client{Timeout: 30 * time.Second}}
	tenant := uniqueName("benchbuild")
	require.NoError(b, api.call(ctx, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil))
	require.NoError(b, api.call(ctx, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil))

	dockerfile := func(rev string) map[string]string {
		return map[string]string{"Dockerfile": fmt.Sprintf("FROM %s/rainflow/base/busybox:1\nRUN mkdir -p /www && echo %q > /www/index.html\n"+
			"RUN echo built > /www/built.txt\nEXPOSE 8080\n%s\n", stack.RegistryAddr, rev, busyboxHTTPD)}
	}
	static := func(rev string) map[string]string { return map[string]string{"index.html": "<p>" + rev + "</p>\n"} }
	for _, bc := range []benchBuildCase{
		{name: "dockerfile", files: dockerfile},
		{name: "ko", files: goServer},
		{name: "generated-go", settings: contract.BuildSettings{Builder: contract.BuilderGenerated}, files: goServer},
		{name: "generated-static", files: static},
		{name: "import"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var cold, rebuild, equal time.Duration
			for i := 0; i < b.N; i++ {
				comp := fmt.Sprintf("%s-%d-%d", bc.name, b.N, i)
				path := "/v1/tenants/" + tenant + "/apps/shop/components/" + comp
				require.NoError(b, api.call(ctx, "POST", "/v1/tenants/"+tenant+"/apps/shop/components",
					map[string]any{"name": comp, "spec": webSpec(stack.RegistryAddr + "/rainflow/hello:1")}, nil))
				source := bc.gitSource(b, comp)
				if bc.files == nil {
					source = benchImportSource(b, ctx, tenant+"/"+comp)
				}
				cold += api.build(b, ctx, tenant, path, source("first"), false)
				rebuild += api.build(b, ctx, tenant, path, source("second"), false)
				equal += api.build(b, ctx, tenant, path, source(""), true)
			}
			n := float64(b.N)
			b.ReportMetric(cold.Seconds()/n, "cold-s")
			b.ReportMetric(rebuild.Seconds()/n, "rebuild-s")
			b.ReportMetric(equal.Seconds()/n, "equal-s")
		})
	}
}

// benchSource answers the build request of a revision of a component's source; rev "" asks for the
// last revision again.
type benchSource func(rev string) map[string]any

// gitSource is a new local repository: each revision commits the source at rev on main.
func (bc benchBuildCase) gitSource(b *testing.B, comp string) benchSource {
	repo, dir := newGitRepo(b)
	return func(rev string) map[string]any {
		if rev != "" && bc.files != nil {
			commitFiles(b, repo, dir, bc.files(comp+" "+rev), rev)
		}
		return gitBuildRequest(dir, "main", bc.settings, false)
	}
}

// benchImportSource pushes a new busybox image to the registry for each revision, under repo's
// upstream repository, and answers the import of its tag.
func benchImportSource(b *testing.B, ctx context.Context, repo string) benchSource {
	ref := stack.RegistryAddr + "/upstream/" + repo + ":latest"
	return func(rev string) map[string]any {
		if rev != "" {
			img, err := images.BusyboxImage(map[string][]byte{"www/index.html": []byte(repo + " " + rev + "\n")},
				images.ExitOnTerm("/bin/httpd", "-f", "-v", "-p", "8080", "-h", "/www"))
			require.NoError(b, err)
			_, err = images.Push(ctx, img, ref)
			require.NoError(b, err)
		}
		return map[string]any{"source": map[string]any{"image": ref}}
	}
}

// benchAPI is the REST API for benchmarks (apiClient's helpers take a *testing.T).
type benchAPI struct {
	base, token string
	http        *http.Client
}

// call sends body as JSON and decodes the answer into out; an answer of 300 or more is an error.
func (a benchAPI) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s answered %d: %s", method, path, resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// build runs one build of request and answers the time from the request to the operation's end; it
// fails unless the build succeeded, and reused says whether it must have answered an equal build's
// version.
func (a benchAPI) build(b *testing.B, ctx context.Context, tenant, path string, request map[string]any, reused bool) time.Duration {
	b.Helper()
	begin := time.Now()
	var acc accepted
	require.NoError(b, a.call(ctx, "POST", path+"/builds", request, &acc))
	var op operation
	for {
		require.NoError(b, a.call(ctx, "GET", "/v1/tenants/"+tenant+"/operations/"+acc.OperationID, nil, &op))
		if op.State != "running" && op.State != "pending" && op.State != "queued" && op.State != "starting" {
			break
		}
		require.NoError(b, ctx.Err(), "build %s still %s", acc.OperationID, op.State)
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(begin)
	require.Equal(b, "succeeded", op.State, "build: %s %+v", op.Error, op.Steps)
	require.Equal(b, reused, reusedBuild(op), "an equal build answered: %+v", op.Steps)
	return took
}
