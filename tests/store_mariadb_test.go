package tests

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/devstack"
	"github.com/rainflow/rainflow/store"
	"github.com/rainflow/rainflow/store/storetest"
)

// TestStoreMariaDB runs the store's conformance suite (the one store_test.go runs on SQLite) against a
// real MariaDB server, in a fresh database.
func TestStoreMariaDB(t *testing.T) {
	ctx := testContext(t)
	db, err := devstack.StartMariaDB(ctx, filepath.Join(stateDir, "mariadb"), 13306)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Stop() })
	name := fmt.Sprintf("rainflow_test_%d", time.Now().UnixNano())
	require.NoError(t, db.CreateDatabase(ctx, name))
	dsn := db.DSN(name)

	// migrations run on the first open; later opens find them applied
	first, err := store.Open(ctx, store.Config{Driver: store.DriverMySQL, DSN: dsn})
	require.NoError(t, err)
	require.NoError(t, first.Close())

	storetest.Run(t, func(t *testing.T) *store.Store {
		st, err := store.Open(t.Context(), store.Config{Driver: store.DriverMySQL, DSN: dsn, Keyring: storetest.Keyring()})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		return st
	})
}
