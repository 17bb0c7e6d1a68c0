package store_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/store"
	"github.com/rainflow/rainflow/store/storetest"
)

func openSQLite(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{Driver: store.DriverSQLite, DSN: path, Keyring: storetest.Keyring()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	return st
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) *store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "rainflow.db"))
	})
}

func TestSQLiteMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) *store.Store { return openSQLite(t, ":memory:") })
}

// TestSQLiteSharedFile runs the suite with every subtest on one database file, as on a shared MariaDB.
func TestSQLiteSharedFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "shared.db")
	storetest.Run(t, func(t *testing.T) *store.Store { return openSQLite(t, path) })
}

// TestOpenConcurrently: processes starting together migrate the same file once, without errors.
func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rainflow.db")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			st, err := store.Open(t.Context(), store.Config{DSN: path})
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
	st := openSQLite(t, path)
	v, err := st.SchemaVersion(t.Context())
	require.NoError(t, err)
	require.Equal(t, store.LatestSchemaVersion(), v)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     store.Config
		wantErr string
	}{
		{name: "defaults to sqlite", cfg: store.Config{DSN: "x.db"}},
		{name: "mysql", cfg: store.Config{Driver: store.DriverMySQL, DSN: "u:p@tcp(127.0.0.1:3306)/rf"}},
		{name: "unknown driver", cfg: store.Config{Driver: "oracle", DSN: "x"}, wantErr: `store driver "oracle" is not one of`},
		{name: "no DSN", cfg: store.Config{}, wantErr: "store DSN is empty"},
		{name: "negative timeout", cfg: store.Config{DSN: "x", BusyTimeout: -1}, wantErr: "busy timeout -1ns is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestOpenRejectsBadMySQLDSN(t *testing.T) {
	t.Parallel()
	_, err := store.Open(t.Context(), store.Config{Driver: store.DriverMySQL, DSN: "not a dsn"})
	require.ErrorContains(t, err, "parse mysql DSN")
}

func TestOpenCreatesTheDirectory(t *testing.T) {
	t.Parallel()
	st := openSQLite(t, filepath.Join(t.TempDir(), "state", "db", "rainflow.db"))
	require.NoError(t, st.Ping(t.Context()))
	require.Equal(t, store.DriverSQLite, st.Driver())
}

func TestSQLiteUsesWAL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dsn  func(dir string) string
		want string
	}{
		{name: "file", dsn: func(dir string) string { return filepath.Join(dir, "a.db") }, want: "wal"},
		{name: "the DSN's own journal mode", dsn: func(dir string) string {
			return filepath.Join(dir, "b.db") + "?_pragma=journal_mode(DELETE)"
		}, want: "delete"},
		{name: "memory", dsn: func(string) string { return ":memory:" }, want: "memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := openSQLite(t, tt.dsn(t.TempDir()))
			mode, err := st.JournalMode(t.Context())
			require.NoError(t, err)
			require.Equal(t, tt.want, mode)
		})
	}
}
