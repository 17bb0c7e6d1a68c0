package activities

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// TestForgetComponent runs ForgetComponent against a real SQLite store: the record and its releases
// go, its operations stay without it, and a second call (a retry, or a second delete) is success.
func TestForgetComponent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, tenant, c, op := storedComponent(t, "web:1", contract.OperationDeploy)
	var err error
	_, err = st.RecordRelease(ctx, store.Release{ID: op.ID, ComponentID: c.ID, OperationID: op.ID, ImageDigest: "web@sha256:1111"})
	require.NoError(t, err)

	s := &Store{Releases: st}
	res, err := s.ForgetComponent(ctx, ForgetComponentInput{ComponentID: c.ID})
	require.NoError(t, err)
	require.True(t, res.Forgotten)
	_, err = st.GetComponentByID(ctx, c.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = st.GetRelease(ctx, op.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "the component's releases go with it")
	kept, err := st.GetOperation(ctx, tenant.ID, op.ID)
	require.NoError(t, err, "the component's operations stay")
	require.Empty(t, kept.ComponentID)

	res, err = s.ForgetComponent(ctx, ForgetComponentInput{ComponentID: c.ID})
	require.NoError(t, err, "a record already gone is success")
	require.False(t, res.Forgotten)

	// a deploy queued behind the delete fails for good before it applies anything
	_, err = s.LatestRelease(ctx, LatestReleaseInput{ComponentID: c.ID})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrTypeComponentDeleted, appErr.Type())
	require.True(t, appErr.NonRetryable())
	require.Contains(t, appErr.Message(), "was deleted: there is nothing to deploy")
}

// failingForgetter is a store whose DeleteComponent answers err.
type failingForgetter struct {
	ReleaseRecorder
	err error
}

func (f failingForgetter) DeleteComponent(context.Context, string) error { return f.err }

// releasesOnly records releases but cannot delete components.
type releasesOnly struct{ ReleaseRecorder }

func TestForgetComponentFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		store     ReleaseRecorder
		in        ForgetComponentInput
		wantErr   string
		wantRetry bool
	}{
		{name: "no component id", store: failingForgetter{}, in: ForgetComponentInput{},
			wantErr: "the component id is required"},
		{name: "a store that cannot delete components", store: releasesOnly{}, in: ForgetComponentInput{ComponentID: "c1"},
			wantErr: "cannot delete components"},
		{name: "a database that is down is retried", store: failingForgetter{err: errors.New("dial tcp: connection refused")},
			in: ForgetComponentInput{ComponentID: "c1"}, wantErr: "forget component c1: dial tcp: connection refused", wantRetry: true},
		{name: "an invalid id is not retried", store: failingForgetter{err: store.ErrInvalid},
			in: ForgetComponentInput{ComponentID: "c1"}, wantErr: "forget component c1: invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := (&Store{Releases: tt.store}).ForgetComponent(t.Context(), tt.in)
			require.ErrorContains(t, err, tt.wantErr)
			var app *temporal.ApplicationError
			if tt.wantRetry {
				require.False(t, errors.As(err, &app) && app.NonRetryable(), "want a retryable error, got %v", err)
				return
			}
			require.True(t, errors.As(err, &app), "want an application error, got %v", err)
			require.True(t, app.NonRetryable())
			require.Equal(t, ErrTypeInvalidSpec, app.Type())
		})
	}
}
