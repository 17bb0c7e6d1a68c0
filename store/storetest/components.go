package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

func testComponents(t *testing.T, open Opener) {
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()

	c := f.component
	require.NotEmpty(t, c.ID)
	require.Equal(t, f.tenant.ID, c.TenantID, "the store fills the tenant from the app")
	require.Equal(t, int64(1), c.Version)
	require.Equal(t, sampleSpec(), c.Spec)
	require.Equal(t, c.CreatedAt, c.UpdatedAt)

	got, err := st.GetComponent(ctx, f.app.ID, "web")
	require.NoError(t, err)
	require.Equal(t, c, got, "the spec reads back exactly as written")
	got, err = st.GetComponentByID(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, c, got)

	otherApp, err := st.CreateApp(ctx, store.App{TenantID: f.tenant.ID, Name: "other"})
	require.NoError(t, err)
	_, err = st.CreateComponent(ctx, store.Component{AppID: otherApp.ID, Name: "web"})
	require.NoError(t, err, "component names are unique per app only")

	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{name: "duplicate name in app", want: store.ErrAlreadyExists, do: func() error {
			_, err := st.CreateComponent(ctx, store.Component{AppID: f.app.ID, Name: "web"})
			return err
		}},
		{name: "unknown app", want: store.ErrNotFound, do: func() error {
			_, err := st.CreateComponent(ctx, store.Component{AppID: "00000000-0000-0000-0000-000000000000", Name: "web"})
			return err
		}},
		{name: "empty name", want: store.ErrInvalid, do: func() error {
			_, err := st.CreateComponent(ctx, store.Component{AppID: f.app.ID})
			return err
		}},
		{name: "get unknown", want: store.ErrNotFound, do: func() error {
			_, err := st.GetComponent(ctx, f.app.ID, "nothing")
			return err
		}},
		{name: "update unknown", want: store.ErrNotFound, do: func() error {
			_, err := st.UpdateComponentSpec(ctx, "00000000-0000-0000-0000-000000000000", 1, sampleSpec())
			return err
		}},
		{name: "update from a stale version", want: store.ErrConflict, do: func() error {
			_, err := st.UpdateComponentSpec(ctx, c.ID, 7, sampleSpec())
			return err
		}},
		{name: "delete unknown", want: store.ErrNotFound, do: func() error {
			return st.DeleteComponent(ctx, "00000000-0000-0000-0000-000000000000")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.do(), tt.want)
		})
	}

	t.Run("update bumps the version", func(t *testing.T) {
		spec := sampleSpec()
		spec.Replicas = 5
		spec.Env = nil
		updated, err := st.UpdateComponentSpec(ctx, c.ID, 1, spec)
		require.NoError(t, err)
		require.Equal(t, int64(2), updated.Version)
		require.Equal(t, spec, updated.Spec)
		require.Equal(t, c.CreatedAt, updated.CreatedAt)
		require.False(t, updated.UpdatedAt.Before(c.UpdatedAt))

		got, err := st.GetComponentByID(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, updated, got)

		_, err = st.UpdateComponentSpec(ctx, c.ID, 1, sampleSpec())
		require.ErrorIs(t, err, store.ErrConflict, "the version read before the update is stale now")
		require.ErrorContains(t, err, "version 2")
	})

	t.Run("pagination", func(t *testing.T) {
		for _, name := range []string{"db", "api", "cache"} {
			_, err := st.CreateComponent(ctx, store.Component{AppID: f.app.ID, Name: name})
			require.NoError(t, err)
		}
		var names []string
		cursor := ""
		for {
			page, next, err := st.ListComponents(ctx, f.app.ID, store.Page{Limit: 3, Cursor: cursor})
			require.NoError(t, err)
			for _, c := range page {
				names = append(names, c.Name)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		require.Equal(t, []string{"api", "cache", "db", "web"}, names)
	})
}

// testComponentConcurrency races writers holding the same version: exactly one wins.
func testComponentConcurrency(t *testing.T, open Opener) {
	f := newFixture(t, open)
	const writers = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		won       int
		conflicts int
		others    []error
	)
	for i := range writers {
		wg.Go(func() {
			spec := sampleSpec()
			spec.Replicas = int32(i)
			_, err := f.st.UpdateComponentSpec(t.Context(), f.component.ID, f.component.Version, spec)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				others = append(others, err)
			}
		})
	}
	wg.Wait()
	require.Empty(t, others)
	require.Equal(t, 1, won, "one writer wins")
	require.Equal(t, writers-1, conflicts, "every other writer sees a conflict")

	got, err := f.st.GetComponentByID(t.Context(), f.component.ID)
	require.NoError(t, err)
	require.Equal(t, f.component.Version+1, got.Version)
}

// testComponentDelete: a deleted component takes its releases; its operations stay, without it.
func testComponentDelete(t *testing.T, open Opener) {
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()
	op, err := st.CreateOperation(ctx, store.Operation{
		TenantID: f.tenant.ID, ComponentID: f.component.ID, Kind: contract.OperationDeploy,
		WorkflowID: "wf-delete", IdempotencyKey: "delete-key",
	})
	require.NoError(t, err)
	rel, err := st.RecordRelease(ctx, store.Release{
		ID: uniq("rel"), ComponentID: f.component.ID, OperationID: op.ID,
		ImageDigest: "registry.example/web@sha256:" + sha("a"), Spec: f.component.Spec,
	})
	require.NoError(t, err)

	require.NoError(t, st.DeleteComponent(ctx, f.component.ID))

	_, err = st.GetComponentByID(ctx, f.component.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = st.GetRelease(ctx, rel.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "releases go with their component")
	kept, err := st.GetOperation(ctx, f.tenant.ID, op.ID)
	require.NoError(t, err, "operations stay as history")
	require.Empty(t, kept.ComponentID)
	require.Equal(t, f.app.ID, kept.AppID)

	_, err = st.CreateComponent(ctx, store.Component{AppID: f.app.ID, Name: f.component.Name})
	require.NoError(t, err, "the name is free again")
}
