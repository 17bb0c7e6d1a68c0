package activities

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/build/generate"
)

// TestBuildCacheScope: a component's build-cache id is its own (another component's differs), cannot
// be derived from the repository alone (another key gives another id), and is a valid cache scope.
func TestBuildCacheScope(t *testing.T) {
	t.Parallel()
	repo := func(s string) name.Repository {
		r, err := name.NewRepository("127.0.0.1:5000/" + s)
		require.NoError(t, err)
		return r
	}
	a := BuildKitConfig{CacheKey: []byte("key-a-0123456789abcdef0123456789")}
	b := BuildKitConfig{CacheKey: []byte("key-b-0123456789abcdef0123456789")}
	web := a.cacheScope(repo("acme/shop/web"))
	require.Equal(t, web, a.cacheScope(repo("acme/shop/web")), "stable")
	require.NotEqual(t, web, a.cacheScope(repo("acme/shop/api")), "per component")
	require.NotEqual(t, web, b.cacheScope(repo("acme/shop/web")), "keyed")
	require.NotContains(t, web, "acme")
	cfg := generate.DefaultConfig("127.0.0.1:5000")
	cfg.CacheScope = web
	require.NoError(t, cfg.Validate())
}
