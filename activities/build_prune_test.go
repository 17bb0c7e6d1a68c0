package activities

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// pruneFixture is a SQLite store and an in-memory registry holding a component's five built
// versions b0..b4 (oldest first): a release ran b1 and the component runs b4.
type pruneFixture struct {
	st        *store.Store
	component store.Component
	images    map[string]string // name -> repository@sha256:...
}

// refuseDeletes answers DELETE as a distribution registry without storage.delete.enabled does.
func refuseDeletes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func newPruneFixture(t *testing.T, deletes bool) pruneFixture {
	t.Helper()
	ctx := t.Context()
	var h http.Handler = registry.New()
	if !deletes {
		h = refuseDeletes(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/acme/shop/web"

	st, _, c, op := storedComponent(t, "nginx:1", contract.OperationBuild)
	var err error

	f := pruneFixture{st: st, component: c, images: map[string]string{}}
	for i, n := range []string{"b0", "b1", "b2", "b3", "b4"} {
		img, err := random.Image(64, 1)
		require.NoError(t, err)
		tag, err := name.ParseReference(repo+":"+n, name.Insecure)
		require.NoError(t, err)
		require.NoError(t, remote.Write(tag, img))
		digest, err := img.Digest()
		require.NoError(t, err)
		f.images[n] = repo + "@" + digest.String()
		time.Sleep(2 * time.Millisecond) // distinct creation times
		_, err = st.RecordVersion(ctx, store.Version{ComponentID: c.ID, ImageDigest: f.images[n], SourceKind: store.SourceGit,
			BuildOperationID: op.ID, OperationID: op.ID, BuildKey: "key-" + string(rune('0'+i))})
		require.NoError(t, err)
	}
	_, err = st.RecordRelease(ctx, store.Release{ID: op.ID, ComponentID: c.ID, OperationID: op.ID, ImageDigest: f.images["b1"]})
	require.NoError(t, err)
	spec := c.Spec
	spec.Image = f.images["b4"]
	f.component, err = st.UpdateComponentSpec(ctx, c.ID, c.Version, spec)
	require.NoError(t, err)
	return f
}

func (f pruneFixture) prune(t *testing.T, in PruneVersionsInput) PruneVersionsResult {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	b := &BuildStore{Versions: f.st}
	env.RegisterActivity(b)
	in.ComponentID = f.component.ID
	val, err := env.ExecuteActivity(b.PruneVersions, in)
	require.NoError(t, err)
	var res PruneVersionsResult
	require.NoError(t, val.Get(&res))
	return res
}

// left answers which of the fixture's versions the store still lists and which images the registry
// still has.
func (f pruneFixture) left(t *testing.T) (rows, images []string) {
	t.Helper()
	vs, _, err := f.st.ListVersions(t.Context(), f.component.ID, store.Page{})
	require.NoError(t, err)
	have := map[string]bool{}
	for _, v := range vs {
		have[v.ImageDigest] = true
	}
	for _, n := range []string{"b0", "b1", "b2", "b3", "b4"} {
		if have[f.images[n]] {
			rows = append(rows, n)
		}
		ref, err := name.ParseReference(f.images[n], name.Insecure)
		require.NoError(t, err)
		if _, err := remote.Head(ref); err == nil {
			images = append(images, n)
		}
	}
	return rows, images
}

func (f pruneFixture) named(res []PrunedVersion) []string {
	out := []string{}
	for _, p := range res {
		for n, img := range f.images {
			if img == p.Image {
				out = append(out, n)
			}
		}
	}
	return out
}

func TestPruneVersions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		deletes     bool // the registry allows deletes
		before      []string
		in          PruneVersionsInput
		wantDeleted []string
		wantKept    []string
		wantLeft    []string // rows and images left
	}{
		{name: "deletes the unreferenced beyond keep", deletes: true, in: PruneVersionsInput{Keep: 2},
			wantDeleted: []string{"b0", "b2"}, wantKept: []string{}, wantLeft: []string{"b1", "b3", "b4"}},
		{name: "an image the registry lost counts as deleted", deletes: true, before: []string{"b0"}, in: PruneVersionsInput{Keep: 2},
			wantDeleted: []string{"b0", "b2"}, wantKept: []string{}, wantLeft: []string{"b1", "b3", "b4"}},
		{name: "never the image about to be deployed", deletes: true, in: PruneVersionsInput{Keep: 2, Except: "b2"},
			wantDeleted: []string{"b0"}, wantKept: []string{}, wantLeft: []string{"b1", "b2", "b3", "b4"}},
		{name: "keep one still spares the released and the current", deletes: true, in: PruneVersionsInput{Keep: 1},
			wantDeleted: []string{"b0", "b2", "b3"}, wantKept: []string{}, wantLeft: []string{"b1", "b4"}},
		{name: "keep zero disables pruning", deletes: true, in: PruneVersionsInput{Keep: 0},
			wantDeleted: []string{}, wantKept: []string{}, wantLeft: []string{"b0", "b1", "b2", "b3", "b4"}},
		{name: "a registry refusing deletes keeps the versions", deletes: false, in: PruneVersionsInput{Keep: 2},
			wantDeleted: []string{}, wantKept: []string{"b0", "b2"}, wantLeft: []string{"b0", "b1", "b2", "b3", "b4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newPruneFixture(t, tt.deletes)
			for _, n := range tt.before {
				ref, err := name.ParseReference(f.images[n], name.Insecure)
				require.NoError(t, err)
				require.NoError(t, remote.Delete(ref))
			}
			in := tt.in
			if in.Except != "" {
				in.Except = f.images[in.Except]
			}
			res := f.prune(t, in)
			require.Equal(t, tt.wantDeleted, f.named(res.Deleted), "deleted")
			require.Equal(t, tt.wantKept, f.named(res.Kept), "kept")
			rows, images := f.left(t)
			require.Equal(t, tt.wantLeft, rows, "rows left")
			wantImages := tt.wantLeft
			if len(tt.before) > 0 {
				wantImages = []string{"b1", "b3", "b4"}
			}
			require.Equal(t, wantImages, images, "images left")

			again := f.prune(t, in)
			require.Empty(t, again.Deleted, "a second run finds nothing more to delete")
		})
	}
}

func TestDeleteImage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		deletes  bool
		image    func(repo, digest string) string
		wantGone bool
		wantType string // non-retryable error type; "" for success
	}{
		{name: "deletes by digest", deletes: true, image: func(r, d string) string { return r + "@" + d }},
		{name: "a missing manifest is gone", deletes: true, wantGone: true,
			image: func(r, _ string) string { return r + "@sha256:" + strings.Repeat("0", 64) }},
		{name: "a tag is refused", deletes: true, wantType: ErrTypeInvalidImage, image: func(r, _ string) string { return r + ":v1" }},
		{name: "a registry without deletes", deletes: false, wantType: ErrTypeDeleteUnsupported,
			image: func(r, d string) string { return r + "@" + d }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h http.Handler = registry.New()
			if !tt.deletes {
				h = refuseDeletes(h)
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			repo := strings.TrimPrefix(srv.URL, "http://") + "/web"
			img, err := random.Image(64, 1)
			require.NoError(t, err)
			tag, _ := name.ParseReference(repo+":v1", name.Insecure)
			require.NoError(t, remote.Write(tag, img))
			digest, _ := img.Digest()

			res, err := (&Registry{}).DeleteImage(t.Context(), DeleteImageInput{Image: tt.image(repo, digest.String())})
			if tt.wantType != "" {
				requireNonRetryable(t, err, tt.wantType)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantGone, res.Gone)
			if !tt.wantGone {
				_, err = remote.Head(tag.Context().Digest(digest.String()))
				require.Error(t, err, "the manifest is gone")
			}
		})
	}
}

func requireNonRetryable(t *testing.T, err error, typ string) {
	t.Helper()
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, typ, app.Type())
	require.True(t, app.NonRetryable())
}
