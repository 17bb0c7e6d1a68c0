package tests

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
)

// TestBuildImport imports an image from another repository of the registry (by tag) through the API
// and deploys it: the version records the source image's digest as its revision and the copy in the
// component's repository has that same digest; the running container serves the image's page. The
// same tag again returns that version without copying; an image the registry lacks fails for good,
// at once, with a reason naming it.
func TestBuildImport(t *testing.T) {
	require.True(t, stack.RealNode, "builds deploy to the real node: %s", stack.RealNodeReason)
	t.Parallel()
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant, path := buildKitComponent(t, api, "import")
	body := "imported for " + tenant + "\n"
	upstream := "upstream/" + tenant + "/tool"
	pushed := pushHTTPD(t, testContext(t), upstream, "v1", body)
	_, digest, _ := strings.Cut(pushed, "@")

	request := map[string]any{"source": map[string]any{"image": stack.RegistryAddr + "/" + upstream + ":v1"}, "deploy": map[string]any{}}
	var acc accepted
	api.must(t, http.StatusAccepted, "POST", path+"/builds", request, &acc)
	op := waitOperation(t, api, tenant, acc.OperationID, 4*time.Minute)
	require.Equal(t, "succeeded", op.State, "import: %s %+v", op.Error, op.Steps)

	v := latestVersion(t, api, path)
	require.Equal(t, "import", v.Builder, "%+v", v)
	require.Equal(t, "image", v.SourceKind, "%+v", v)
	require.Equal(t, digest, v.Revision, "the version records the imported digest: %+v", v)
	require.Equal(t, stack.RegistryAddr+"/"+tenant+"/shop/web@"+digest, v.ImageDigest, "the copy keeps the digest: %+v", v)
	var comp componentSpecView
	api.must(t, http.StatusOK, "GET", path, nil, &comp)
	require.Equal(t, v.ImageDigest, comp.Spec.Image)
	require.Equal(t, body, servedByBuiltImage(t, tenant, "web", v.ImageDigest, "/index.html"))

	// the same tag at the same digest: the same version, nothing copied
	delete(request, "deploy")
	api.must(t, http.StatusAccepted, "POST", path+"/builds", request, &acc)
	again := waitOperation(t, api, tenant, acc.OperationID, 2*time.Minute)
	require.Equal(t, "succeeded", again.State, again.Error)
	require.True(t, reusedBuild(again), "the second import copied again: %+v", again.Steps)

	// an image the registry does not have: failed at the source's resolution, naming the image
	missing := stack.RegistryAddr + "/" + upstream + ":no-such-tag"
	api.must(t, http.StatusAccepted, "POST", path+"/builds", map[string]any{"source": map[string]any{"image": missing}}, &acc)
	failed := waitOperation(t, api, tenant, acc.OperationID, 2*time.Minute)
	require.Equal(t, "failed", failed.State, "%+v", failed.Steps)
	require.Contains(t, failed.Error, missing)
	require.Contains(t, failed.Error, "not found")
	var resolve contract.Step
	for _, s := range failed.Steps {
		if s.Name == "resolve source" {
			resolve = s
		}
	}
	require.Equal(t, contract.StepFailed, resolve.State, "the source's resolution fails: %+v", failed.Steps)
}
