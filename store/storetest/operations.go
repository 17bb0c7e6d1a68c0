package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

func deployOp(f fixture, key string) store.Operation {
	return store.Operation{
		TenantID: f.tenant.ID, ComponentID: f.component.ID, Kind: contract.OperationDeploy,
		WorkflowID:     contract.ComponentWorkflowID(contract.ComponentRef{Tenant: f.tenant.Name, App: f.app.Name, Component: f.component.Name}),
		IdempotencyKey: key, RequestedBy: "alice",
	}
}

func testOperations(t *testing.T, open Opener) {
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()

	op, err := st.CreateOperation(ctx, deployOp(f, ""))
	require.NoError(t, err)
	require.Len(t, op.ID, 36, "operation ids are UUIDs")
	require.Equal(t, f.app.ID, op.AppID, "the store fills the app from the component")
	require.Empty(t, op.RunID)
	require.False(t, op.CreatedAt.IsZero())

	got, err := st.GetOperation(ctx, f.tenant.ID, op.ID)
	require.NoError(t, err)
	require.Equal(t, op, got)

	require.NoError(t, st.SetOperationRunID(ctx, op.ID, "run-1"))
	require.NoError(t, st.SetOperationRunID(ctx, op.ID, "run-1"), "setting the same run id again is fine")
	got, err = st.GetOperation(ctx, f.tenant.ID, op.ID)
	require.NoError(t, err)
	require.Equal(t, "run-1", got.RunID)

	presetID := uuid.NewString()
	preset, err := st.CreateOperation(ctx, store.Operation{
		ID: presetID, TenantID: f.tenant.ID, Kind: contract.OperationDeploy, WorkflowID: "wf",
	})
	require.NoError(t, err)
	require.Equal(t, presetID, preset.ID, "a caller may choose the id")
	require.Empty(t, preset.ComponentID)
	require.Empty(t, preset.AppID)

	otherTenant, err := st.CreateTenant(ctx, store.Tenant{Name: uniq("ops-other")})
	require.NoError(t, err)

	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{name: "get from another tenant", want: store.ErrNotFound, do: func() error {
			_, err := st.GetOperation(ctx, otherTenant.ID, op.ID)
			return err
		}},
		{name: "get unknown", want: store.ErrNotFound, do: func() error {
			_, err := st.GetOperation(ctx, f.tenant.ID, "00000000-0000-0000-0000-000000000000")
			return err
		}},
		{name: "component of another tenant", want: store.ErrNotFound, do: func() error {
			o := deployOp(f, "")
			o.TenantID = otherTenant.ID
			_, err := st.CreateOperation(ctx, o)
			return err
		}},
		{name: "unknown tenant", want: store.ErrNotFound, do: func() error {
			_, err := st.CreateOperation(ctx, store.Operation{
				TenantID: "00000000-0000-0000-0000-000000000000", Kind: contract.OperationDeploy, WorkflowID: "wf",
			})
			return err
		}},
		{name: "missing workflow id", want: store.ErrInvalid, do: func() error {
			o := deployOp(f, "")
			o.WorkflowID = ""
			_, err := st.CreateOperation(ctx, o)
			return err
		}},
		{name: "duplicate id", want: store.ErrAlreadyExists, do: func() error {
			o := deployOp(f, "")
			o.ID = op.ID
			_, err := st.CreateOperation(ctx, o)
			return err
		}},
		{name: "set run id of unknown", want: store.ErrNotFound, do: func() error {
			return st.SetOperationRunID(ctx, "00000000-0000-0000-0000-000000000000", "run")
		}},
		{name: "delete unknown", want: store.ErrNotFound, do: func() error {
			return st.DeleteOperation(ctx, "00000000-0000-0000-0000-000000000000")
		}},
		{name: "bad cursor", want: store.ErrInvalid, do: func() error {
			_, _, err := st.ListOperations(ctx, f.component.ID, store.Page{Cursor: "eyJ0Ijoibm90IGEgdGltZSJ9"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.do(), tt.want)
		})
	}

	require.Nil(t, op.CanceledAt, "a new operation is not canceled")
	require.NoError(t, st.SetOperationCanceled(ctx, op.ID))
	canceled, err := st.GetOperation(ctx, f.tenant.ID, op.ID)
	require.NoError(t, err)
	require.NotNil(t, canceled.CanceledAt)
	require.WithinDuration(t, time.Now(), *canceled.CanceledAt, time.Minute)
	require.NoError(t, st.SetOperationCanceled(ctx, op.ID), "canceling again is no error")
	again, err := st.GetOperation(ctx, f.tenant.ID, op.ID)
	require.NoError(t, err)
	require.Equal(t, canceled.CanceledAt, again.CanceledAt, "the first cancellation's time stays")
	require.ErrorIs(t, st.SetOperationCanceled(ctx, "no-such-operation"), store.ErrNotFound)

	require.NoError(t, st.DeleteOperation(ctx, op.ID))
	_, err = st.GetOperation(ctx, f.tenant.ID, op.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testIdempotencyKeys(t *testing.T, open Opener) {
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()

	first, err := st.CreateOperation(ctx, deployOp(f, "key-1"))
	require.NoError(t, err)

	_, err = st.CreateOperation(ctx, deployOp(f, "key-1"))
	require.ErrorIs(t, err, store.ErrAlreadyExists, "a key is used once per tenant")

	byKey, err := st.GetOperationByIdempotencyKey(ctx, f.tenant.ID, "key-1")
	require.NoError(t, err)
	require.Equal(t, first, byKey)

	_, err = st.CreateOperation(ctx, deployOp(f, "KEY-1"))
	require.NoError(t, err, "keys compare exactly, case included")
	_, err = st.CreateOperation(ctx, deployOp(f, ""))
	require.NoError(t, err)
	_, err = st.CreateOperation(ctx, deployOp(f, ""))
	require.NoError(t, err, "any number of operations have no key")

	other := newFixture(t, func(*testing.T) *store.Store { return st })
	_, err = st.CreateOperation(ctx, deployOp(other, "key-1"))
	require.NoError(t, err, "keys are scoped to their tenant")

	_, err = st.GetOperationByIdempotencyKey(ctx, f.tenant.ID, "key-2")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = st.GetOperationByIdempotencyKey(ctx, f.tenant.ID, "")
	require.ErrorIs(t, err, store.ErrInvalid)

	require.NoError(t, st.DeleteOperation(ctx, first.ID))
	_, err = st.CreateOperation(ctx, deployOp(f, "key-1"))
	require.NoError(t, err, "a deleted operation frees its key")
}

func testOperationPagination(t *testing.T, open Opener) {
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()
	var created []store.Operation
	for range 7 {
		op, err := st.CreateOperation(ctx, deployOp(f, ""))
		require.NoError(t, err)
		created = append(created, op)
	}
	// another component's operations stay out of the list
	other, err := st.CreateComponent(ctx, store.Component{AppID: f.app.ID, Name: "other"})
	require.NoError(t, err)
	_, err = st.CreateOperation(ctx, store.Operation{TenantID: f.tenant.ID, ComponentID: other.ID, Kind: contract.OperationDeploy, WorkflowID: "wf"})
	require.NoError(t, err)

	want := slices.Clone(created)
	slices.SortFunc(want, func(a, b store.Operation) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})

	var got []store.Operation
	cursor := ""
	for pages := 1; ; pages++ {
		page, next, err := st.ListOperations(ctx, f.component.ID, store.Page{Limit: 3, Cursor: cursor})
		require.NoError(t, err)
		got = append(got, page...)
		if next == "" {
			require.Equal(t, 3, pages, "7 operations in pages of 3")
			break
		}
		cursor = next
	}
	require.Equal(t, want, got, "newest first, each once")
}
