package tests

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/devstack"
	"github.com/rainflow/rainflow/store"
	"github.com/rainflow/rainflow/store/storetest"
)

// postgresPort is the port of the test suite's PostgreSQL server.
const postgresPort = 15433

// startPostgres starts (or reuses) the test suite's PostgreSQL server and stops it when the test ends.
func startPostgres(t *testing.T) *devstack.Postgres {
	t.Helper()
	db, err := devstack.StartPostgres(testContext(t), filepath.Join(stateDir, "postgres"), postgresPort)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Stop() })
	return db
}

// TestStorePostgres runs the store's conformance suite (the one store_test.go runs on SQLite) against a
// real PostgreSQL server, in a fresh database, after several processes starting at once migrated it.
func TestStorePostgres(t *testing.T) {
	ctx := testContext(t)
	db := startPostgres(t)
	name := fmt.Sprintf("rainflow_test_%d", time.Now().UnixNano())
	require.NoError(t, db.CreateDatabase(ctx, name))
	t.Cleanup(func() { _ = db.DropDatabase(ctx, name) })
	dsn := db.DSN(name)

	// processes starting together migrate the new database once (the advisory lock), without errors
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			st, err := store.Open(ctx, store.Config{Driver: store.DriverPostgres, DSN: dsn})
			if err == nil {
				err = st.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	// later opens find the migrations applied
	begin := time.Now()
	storetest.Run(t, func(t *testing.T) *store.Store {
		st, err := store.Open(t.Context(), store.Config{Driver: store.DriverPostgres, DSN: dsn, Keyring: storetest.Keyring()})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		v, err := st.SchemaVersion(t.Context())
		require.NoError(t, err)
		require.Equal(t, store.LatestSchemaVersion(), v)
		return st
	})
	t.Cleanup(func() { t.Logf("conformance suite on PostgreSQL: %s", time.Since(begin).Round(time.Millisecond)) })
}
