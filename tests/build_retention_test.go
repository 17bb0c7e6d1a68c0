package tests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/imageref"
)

// TestBuildRetention builds a component five times keeping two versions (keepVersions=2): the first
// two builds deploy, so a release ran each and the second is the component's image. After the fifth
// build the newest two stay, and so do the two deployed ones; the one unreferenced version beyond the
// newest two is gone, its record and its image in the registry.
func TestBuildRetention(t *testing.T) {
	require.True(t, stack.RealNode, "builds deploy to the real node: %s", stack.RealNodeReason)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant, path := readyComponent(t, api, "keep")

	images := make([]string, 5)
	var last operation
	for i := range images {
		query := "?name=v" + fmt.Sprint(i) + ".tar.gz&keepVersions=2"
		if i < 2 {
			query += "&deploy=true"
		}
		acc := uploadBuild(t, path, query, tarGzOf(t, goServer(fmt.Sprintf("version %d of %s", i, tenant))))
		last = waitOperation(t, api, tenant, acc.OperationID, 6*time.Minute)
		require.Equal(t, "succeeded", last.State, "build %d: %s %+v", i, last.Error, last.Steps)
		var versions versionList
		api.must(t, http.StatusOK, "GET", path+"/versions", nil, &versions)
		require.NotEmpty(t, versions.Items)
		images[i] = versions.Items[0].ImageDigest
	}
	require.True(t, pruneStep(last, "deleted 1"), "the fifth build pruned one version: %+v", last.Steps)

	var versions versionList
	api.must(t, http.StatusOK, "GET", path+"/versions", nil, &versions)
	var left []string
	for _, v := range versions.Items {
		left = append(left, v.ImageDigest)
	}
	// newest first: the two newest, then the component's image (released), then the first release
	require.Equal(t, []string{images[4], images[3], images[1], images[0]}, left)
	var comp componentSpecView
	api.must(t, http.StatusOK, "GET", path, nil, &comp)
	require.Equal(t, images[1], comp.Spec.Image)

	for i, img := range images {
		ref, err := imageref.Parse(img, nil)
		require.NoError(t, err)
		_, err = remote.Head(ref.(name.Digest), remote.WithContext(testContext(t)))
		if i == 2 {
			require.True(t, imageref.IsNotFound(err), "version 2's image is gone from the registry: %v", err)
			continue
		}
		require.NoError(t, err, "version %d's image stays in the registry", i)
	}
}

type versionList struct {
	Items []struct {
		ImageDigest string `json:"imageDigest"`
	} `json:"items"`
}

// pruneStep tells whether the build's prune versions step succeeded with a detail containing want.
func pruneStep(op operation, want string) bool {
	for _, s := range op.Steps {
		if s.Name == "prune versions" {
			return s.State == contract.StepSucceeded && strings.Contains(s.Detail, want)
		}
	}
	return false
}
