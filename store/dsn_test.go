package store

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSQLiteDSN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		dsn         string
		wantPath    string
		wantPragmas []string
		wantTxLock  string
	}{
		{
			name: "plain path", dsn: "/var/lib/rainflow/rainflow.db", wantPath: "/var/lib/rainflow/rainflow.db",
			wantPragmas: []string{"busy_timeout(5000)", "foreign_keys(1)", "synchronous(NORMAL)"},
			wantTxLock:  "immediate",
		},
		{
			name: "caller's pragmas win", dsn: "x.db?_pragma=busy_timeout(100)&_pragma=journal_mode(DELETE)&_txlock=deferred",
			wantPath:    "x.db",
			wantPragmas: []string{"busy_timeout(100)", "journal_mode(DELETE)", "foreign_keys(1)", "synchronous(NORMAL)"},
			wantTxLock:  "deferred",
		},
		{
			name: "memory has no WAL", dsn: ":memory:", wantPath: ":memory:",
			wantPragmas: []string{"busy_timeout(5000)", "foreign_keys(1)"},
			wantTxLock:  "immediate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := sqliteDSN(tt.dsn, 5*time.Second)
			path, rawQuery, _ := strings.Cut(got, "?")
			require.Equal(t, tt.wantPath, path)
			q, err := url.ParseQuery(rawQuery)
			require.NoError(t, err)
			require.ElementsMatch(t, tt.wantPragmas, q["_pragma"])
			require.Equal(t, tt.wantTxLock, q.Get("_txlock"))
		})
	}
}

func TestMySQLDSN(t *testing.T) {
	t.Parallel()
	got, err := mysqlDSN("rainflow:secret@tcp(127.0.0.1:13306)/rainflow")
	require.NoError(t, err)
	require.Contains(t, got, "parseTime=true")
	require.Contains(t, got, "charset=utf8mb4")
	require.Contains(t, got, "collation=utf8mb4_bin")
	require.Contains(t, got, "rainflow:secret@tcp(127.0.0.1:13306)/rainflow")
	require.Contains(t, got, "interpolateParams=true", "one round trip a query")

	got, err = mysqlDSN("rainflow:secret@tcp(127.0.0.1:13306)/rainflow?interpolateParams=false")
	require.NoError(t, err)
	require.NotContains(t, got, "interpolateParams=true", "the DSN's own choice wins")
}
