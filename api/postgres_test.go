package api_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/store"
)

// postgresEnv names the PostgreSQL database the API tests run on instead of SQLite: a postgres:// URL
// whose user may create schemas in it. tests/ sets it to run every API test on a real PostgreSQL.
const postgresEnv = "RAINFLOW_TEST_API_POSTGRES_DSN"

// testPostgresConfig answers a fresh, empty schema of its own for one test in the database dsn names
// (the store works in the schema its search_path names), and drops it when the test ends. A schema
// costs a fraction of a database: PostgreSQL copies a template for each new database and checkpoints
// to drop one.
func testPostgresConfig(t *testing.T, dsn string) store.Config {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err, "$%s must be a postgres:// URL", postgresEnv)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "rf_api_" + hex.EncodeToString(b)
	exec := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	require.NoError(t, exec(t.Context(), `CREATE SCHEMA "`+schema+`"`))
	t.Cleanup(func() { _ = exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`) })
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return store.Config{Driver: store.DriverPostgres, DSN: u.String()}
}
