package api_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/contract"
)

// fakeSources records the archives pushed.
type fakeSources struct {
	mu     sync.Mutex
	pushed map[string][]byte
}

func (f *fakeSources) PushArchive(_ context.Context, ref string, archive []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pushed == nil {
		f.pushed = map[string][]byte{}
	}
	f.pushed[ref] = archive
	repo := ref[:strings.LastIndex(ref, ":")] // the tag goes; the registry's port stays
	return repo + "@sha256:" + strings.Repeat("c", 64), nil
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for n, body := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, _ = tw.Write([]byte(body))
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func newBuildEnv(t *testing.T, registry string) (*env, *fakeSources) {
	src := &fakeSources{}
	e := newEnvConfig(t, nil, func(c *api.Config) {
		c.Registry, c.Sources, c.MaxArchiveBytes = registry, src, 64<<10
	})
	e.seed()
	return e, src
}

// upload posts an archive build.
func (e *env) upload(query string, body []byte, header map[string]string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequestWithContext(e.t.Context(), "POST", webPath+"/builds"+query, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/gzip")
	r.Header.Set("Authorization", "Bearer "+adminToken)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	return rec
}

func TestBuildFromArchive(t *testing.T) {
	t.Parallel()
	e, src := newBuildEnv(t, "registry.example:5000")
	archive := tarGz(t, map[string]string{"go.mod": "module x\n", "main.go": "package main\nfunc main(){}\n"})
	rec := e.upload("?name=web.tar.gz&dir=.&builder=ko", archive, nil)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	body := jsonOf(t, rec)
	opID := body["operationId"].(string)
	require.Equal(t, "build/acme/shop/web/"+opID, body["workflowId"])

	require.Len(t, e.wf.builds, 1)
	in := e.wf.builds[0]
	require.Equal(t, opID, in.OperationID)
	require.Equal(t, "registry.example:5000/acme/shop/web", in.Repository, "built images go to the component's repository")
	require.Equal(t, contract.SourceArchive, in.Source.Kind)
	require.Equal(t, "web.tar.gz", in.Source.ArchiveName)
	require.Equal(t, "tar.gz", in.Source.ArchiveFormat)
	require.Contains(t, in.Source.Archive, "@sha256:", "the build reads the archive by digest")
	require.Equal(t, contract.BuildSettings{Dir: ".", Builder: contract.BuilderKo}, in.Settings)
	require.Nil(t, in.Deploy)
	require.Equal(t, archive, src.pushed["registry.example:5000/acme/shop/web/sources:"+opID], "the archive is stored as uploaded")

	op := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + opID}))
	require.Equal(t, "build", op["kind"])
	require.Equal(t, "running", op["state"])
	require.Equal(t, "build-run-1", op["runId"])
	list := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/operations?kind=build"}))
	require.Len(t, list["items"], 1)
}

func TestBuildAndDeploy(t *testing.T) {
	t.Parallel()
	e, _ := newBuildEnv(t, "registry.example:5000")
	rec := e.upload("?deploy=true", tarGz(t, map[string]string{"Dockerfile": "FROM scratch\n"}), map[string]string{"Idempotency-Key": "b-1"})
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	opID := jsonOf(t, rec)["operationId"].(string)
	in := e.wf.builds[0]
	require.NotNil(t, in.Deploy, "the build carries the deploy it runs after")
	require.Equal(t, webImage, in.Deploy.Spec.Image, "the deploy's spec is the component's; the build sets its image")
	deploy := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + in.Deploy.OperationID}))
	require.Equal(t, "deploy", deploy["kind"])
	require.Equal(t, "pending", deploy["state"], "the deploy waits for its build")

	// the same key answers the same build
	again := e.upload("?deploy=true", tarGz(t, map[string]string{"Dockerfile": "FROM scratch\n"}), map[string]string{"Idempotency-Key": "b-1"})
	require.Equal(t, http.StatusAccepted, again.Code, again.Body.String())
	require.Equal(t, opID, jsonOf(t, again)["operationId"])
	require.Len(t, e.wf.builds, 1)
}

func TestBuildImport(t *testing.T) {
	t.Parallel()
	e, _ := newBuildEnv(t, "registry.example:5000")
	rec := e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/builds",
		body: `{"source":{"image":"other.example/tools/web:1.2"},"deploy":{"noRollback":true}}`})
	_ = rec
	in := e.wf.builds[0]
	require.Equal(t, contract.BuildSource{Kind: contract.SourceImage, Image: "other.example/tools/web:1.2"}, in.Source)
	require.True(t, in.Deploy.NoRollback)
	require.Nil(t, in.KeepVersions, "no keepVersions: the default")
	require.Equal(t, contract.DefaultKeepVersions, in.KeepVersionsOrDefault())

	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/builds",
		body: `{"source":{"image":"other.example/tools/web:1.3"},"keepVersions":0}`})
	require.NotNil(t, e.wf.builds[1].KeepVersions)
	require.Zero(t, *e.wf.builds[1].KeepVersions, "0 turns retention off")
}

func TestBuildProblems(t *testing.T) {
	t.Parallel()
	e, _ := newBuildEnv(t, "registry.example:5000")
	good := tarGz(t, map[string]string{"go.mod": "module x\n"})
	for _, tt := range []struct {
		name   string
		rec    func() *httptest.ResponseRecorder
		status int
		fields []string
	}{
		{"not an archive", func() *httptest.ResponseRecorder { return e.upload("", []byte("hello, not an archive"), nil) },
			http.StatusUnprocessableEntity, []string{"body"}},
		{"too large", func() *httptest.ResponseRecorder { return e.upload("", bytes.Repeat([]byte{0x1f, 0x8b}, 40<<10), nil) },
			http.StatusRequestEntityTooLarge, nil},
		{"empty", func() *httptest.ResponseRecorder { return e.upload("", nil, nil) }, http.StatusBadRequest, nil},
		{"dir outside the source", func() *httptest.ResponseRecorder { return e.upload("?dir=../etc", good, nil) },
			http.StatusUnprocessableEntity, []string{"dir"}},
		{"absolute dockerfile and unknown builder", func() *httptest.ResponseRecorder {
			return e.upload("?dockerfile=/etc/passwd&builder=magic&deploy=maybe&timeoutSeconds=0", good, nil)
		}, http.StatusUnprocessableEntity, []string{"dockerfile", "builder", "deploy", "timeoutSeconds"}},
		{"import without an image", func() *httptest.ResponseRecorder {
			return e.do(request{method: "POST", path: webPath + "/builds", body: `{"source":{}}`})
		}, http.StatusUnprocessableEntity, []string{"source.image"}},
		{"import with build settings", func() *httptest.ResponseRecorder {
			return e.do(request{method: "POST", path: webPath + "/builds", body: `{"source":{"image":"a.example/b:1"},"settings":{"dir":"x"}}`})
		}, http.StatusUnprocessableEntity, []string{"settings"}},
		{"keepVersions below zero", func() *httptest.ResponseRecorder {
			return e.do(request{method: "POST", path: webPath + "/builds", body: `{"source":{"image":"a.example/b:1"},"keepVersions":-1}`})
		}, http.StatusUnprocessableEntity, []string{"keepVersions"}},
		{"keepVersions not a number", func() *httptest.ResponseRecorder { return e.upload("?keepVersions=all", good, nil) },
			http.StatusUnprocessableEntity, []string{"keepVersions"}},
		{"unknown field", func() *httptest.ResponseRecorder {
			return e.do(request{method: "POST", path: webPath + "/builds", body: `{"source":{"image":"a.example/b:1","git":"x"}}`})
		}, http.StatusBadRequest, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := problemOf(t, tt.rec(), tt.status)
			if tt.fields != nil {
				require.ElementsMatch(t, tt.fields, fields(p))
			}
		})
	}
	require.Empty(t, e.wf.builds, "no refused request started a build")
	list := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/operations?kind=build"}))
	require.Empty(t, list["items"], "and none left an operation behind")
}

func TestBuildWithoutRegistry(t *testing.T) {
	t.Parallel()
	e, _ := newBuildEnv(t, "")
	p := problemOf(t, e.upload("", tarGz(t, map[string]string{"a": "b"}), nil), http.StatusServiceUnavailable)
	require.Contains(t, p.Detail, "no registry is configured")
}
