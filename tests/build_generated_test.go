package tests

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/devstack/images"
)

// TestBuildGeneratedGo builds a Go module that brings no Dockerfile from a local git repository with
// the generated-Dockerfile builder: its build stage compiles the program in a RUN step on the Go build
// image `rainflow dev` seeds from this machine's toolchain, its run stage is the busybox base. The
// built image runs and answers; it holds the program, not the toolchain.
func TestBuildGeneratedGo(t *testing.T) {
	require.True(t, stack.RealNode, "builds deploy to the real node: %s", stack.RealNodeReason)
	t.Parallel()
	// a fresh stack seeds the Go build image in the background (~20 s, longer under load)
	ref := stack.RegistryAddr + "/" + images.GoToolchainRepo + ":" + strings.TrimPrefix(runtime.Version(), "go")
	ctx := testContext(t)
	require.Eventually(t, func() bool {
		ok, err := images.Exists(ctx, ref)
		return err == nil && ok
	}, 5*time.Minute, time.Second, "rainflow dev did not seed %s", ref)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant, path := buildKitComponent(t, api, "gengo")
	body := "compiled on BuildKit for " + tenant
	got, v, opID := gitBuildAndServe(t, api, tenant, path, goServer(body), contract.BuildSettings{Builder: contract.BuilderGenerated}, "/")
	require.Equal(t, body, got)
	require.Equal(t, "generated", v.Builder, "%+v", v)
	require.Equal(t, "go", v.Language, "%+v", v)

	logs := strings.Join(buildLogs(t, api, tenant, opID), "\n")
	require.Contains(t, logs, "/rainflow/base/go:", "the build stage is on the seeded Go image: %s", logs)
	require.Contains(t, logs, `"go","build"`, "the program is compiled in a RUN step: %s", logs)

	_, ok := imageFile(t, v.ImageDigest, "app")
	require.True(t, ok, "the built image has the program at /app")
	_, ok = imageFile(t, v.ImageDigest, "usr/local/go/bin/go")
	require.False(t, ok, "the built image carries the toolchain")
	t.Logf("generated Go build: image %d bytes", v.SizeBytes)
}
